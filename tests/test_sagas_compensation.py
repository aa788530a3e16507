"""saga-missing-compensation and how sagas are found: the pivot, read-only and post-pivot steps,
failure paths of orchestrators, compensation lists in both orders, declared pairs, the manifest."""
from __future__ import annotations

from dbowner.analysis import analyze
from dbowner.manifest import load_manifest
from dbowner.sagas import saga_report

MANIFEST = """
version: 1
services:
  orders:
    paths: ["orders/**"]
    database: orders_db
    tables: [orders, tickets, invoices, saga_state]
"""


def run(make_repo, files: dict[str, str], manifest: str = MANIFEST):
    repo = make_repo({"dbowner.yaml": manifest, **files})
    analysis = analyze(load_manifest(repo / "dbowner.yaml"))
    bad = [d for d in analysis.diagnostics if d.kind in ("parse-error", "internal-error")]
    assert not bad, bad
    missing = [f for f in analysis.findings if f.name == "saga-missing-compensation"]
    return missing, saga_report(analysis.graph), analysis


def lines(found) -> list[int]:
    return sorted(f.line for f in found)


# --------------------------------------------------------------------------- pivot

BUILDER = """
from sagas import SagaBuilder
from clients import kitchen, customers, delivery


def create_order(order):
    saga = SagaBuilder.create()
    saga.add_step(lambda: kitchen.create_ticket(order), {c1})
    saga.add_step(lambda: customers.reserve_credit(order), {c2})
    saga.add_step(lambda: kitchen.approve_ticket(order), None)
    saga.add_step(lambda: delivery.schedule_delivery(order), None)
    saga.add_step(lambda: customers.send_receipt(order), None)
    return saga.build()
"""


def builder(c1: str = "lambda: kitchen.reject_ticket(order)", c2: str = "lambda: customers.release_credit(order)"):
    return {"orders/app/saga.py": BUILDER.format(c1=c1, c2=c2)}


def test_last_three_uncompensated_steps_are_pivot_and_retriable(make_repo):
    missing, report, _ = run(make_repo, builder())
    assert missing == []
    [saga] = report.sagas
    assert saga.pivot == 2 and not saga.pivot_declared


def test_uncompensated_step_followed_by_a_compensated_one_is_flagged_at_its_declaration(make_repo):
    missing, _, _ = run(make_repo, builder(c1="None"))
    [f] = missing
    assert (f.path, f.line, f.service) == ("orders/app/saga.py", 7, "orders")
    assert f.message.startswith("saga 'create_order': step 1 (kitchen.create_ticket) calls another service's command "
                                "but has no compensation, and step 2 (customers.reserve_credit) after it is compensated")
    assert f.severity.value == "error"


def test_declared_pivot_makes_earlier_uncompensated_steps_findings(make_repo):
    files = {"orders/app/saga.py": """
        from sagas import SagaBuilder
        from clients import kitchen, customers

        def create_order(order):
            saga = SagaBuilder.create()
            saga.add_step(lambda: kitchen.create_ticket(order), lambda: kitchen.reject_ticket(order))
            saga.add_step(lambda: customers.reserve_credit(order), None)
            saga.add_step(lambda: kitchen.approve_ticket(order), None, pivot=True)
            return saga.build()
    """}
    missing, report, _ = run(make_repo, files)
    assert lines(missing) == [7]
    assert "it comes before the pivot, step 3 (kitchen.approve_ticket)" in missing[0].message
    assert report.sagas[0].pivot_declared


def test_read_only_and_query_steps_need_no_compensation(make_repo):
    files = {"orders/app/saga.py": """
        from sagas import SagaBuilder
        from clients import kitchen, customers

        async def load_order(db, order_id):
            return await db.fetchrow("SELECT * FROM orders WHERE id = $1", order_id)

        def create_order(db, order):
            saga = SagaBuilder.create()
            saga.add_step(lambda: load_order(db, order.id), None)
            saga.add_step(lambda: customers.get_credit_limit(order), None)
            saga.add_step(lambda: kitchen.create_ticket(order), lambda: kitchen.reject_ticket(order))
            saga.add_step(lambda: kitchen.approve_ticket(order), None)
            return saga.build()
    """}
    missing, report, _ = run(make_repo, files)
    assert missing == []
    assert [s.action.effect for s in report.sagas[0].steps][:2] == ["read-only", "query (not analysed)"]


def test_step_whose_body_writes_is_state_changing(make_repo):
    files = {"orders/app/saga.py": """
        from sagas import SagaBuilder
        from clients import customers

        async def create_invoice(db, order):
            await db.execute("INSERT INTO invoices (order_id) VALUES ($1) ON CONFLICT DO NOTHING", order.id)

        def create_order(db, order):
            saga = SagaBuilder.create()
            saga.add_step(lambda: create_invoice(db, order), None)
            saga.add_step(lambda: customers.reserve_credit(order), lambda: customers.release_credit(order))
            saga.add_step(lambda: customers.confirm(order), None)
            return saga.build()
    """}
    missing, _, _ = run(make_repo, files)
    assert lines(missing) == [9] and "writes the database" in missing[0].message


def test_unknown_unresolved_step_is_not_a_finding(make_repo):
    missing, _, _ = run(make_repo, builder(c1="None").copy() | {
        "orders/app/saga.py": BUILDER.format(c1="None", c2="lambda: customers.release_credit(order)").replace(
            "kitchen.create_ticket(order)", "kitchen.ticket_for(order)")})
    assert missing == []


def test_saga_only_with_no_compensation_anywhere_is_not_a_saga(make_repo):
    files = {"orders/app/saga.py": BUILDER.format(c1="None", c2="None")}
    missing, report, _ = run(make_repo, files)
    assert missing == [] and report.sagas == []


# --------------------------------------------------------------------------- orchestrators

ORCHESTRATOR = '''
from clients import kitchen, customers
from app.state import fail_saga


async def create_order(db, order):
    ticket = await kitchen.create_ticket(order)
    if not ticket.ok:
        return await fail_saga(db, order)
    credit = await customers.reserve_credit(order)
    if not credit.ok:
        {undo_ticket}
        return await fail_saga(db, order)
    approval = await kitchen.approve_ticket(order)
    if not approval.ok:
        await customers.release_credit(order)
        {undo_ticket_2}
        return await fail_saga(db, order)
    return True
'''
STATE = """
async def fail_saga(db, order):
    await db.execute("UPDATE saga_state SET status = 'failed' WHERE id = $1", order.saga_id)
"""


def orchestrator(undo_ticket="await kitchen.reject_ticket(order)", undo_ticket_2="await kitchen.reject_ticket(order)"):
    return {"orders/app/saga.py": ORCHESTRATOR.format(undo_ticket=undo_ticket, undo_ticket_2=undo_ticket_2),
            "orders/app/state.py": STATE}


SEED_TRANSFER = """
async def transfer(account_service, account_a, account_b, saga_state):
    # Step 1
    result1 = await account_service.debit(account_a, 100)
    if not result1.success:
        return fail_saga("Insufficient funds")

    saga_state["steps_completed"].append("debit_a")

    # Step 2
    result2 = await account_service.credit(account_b, 100)
    if not result2.success:
        # Compensate step 1
        await account_service.credit(account_a, 100)
        return fail_saga("Account B invalid")

    saga_state["status"] = "completed"
    return success_saga()
"""


def test_the_design_docs_transfer_saga(make_repo):
    missing, report, _ = run(make_repo, {"orders/app/transfer.py": SEED_TRANSFER})
    assert missing == []
    [saga] = report.sagas
    assert [(s.action.text, s.compensation.text if s.compensation else None) for s in saga.steps] == [
        ("account_service.debit", "account_service.credit"), ("account_service.credit", None)]
    assert saga.steps[0].compensation_line == 13 and saga.pivot == 1


def test_orchestrator_that_compensates_on_every_path_is_clean(make_repo):
    missing, report, _ = run(make_repo, orchestrator())
    assert missing == []
    [saga] = report.sagas
    assert saga.style == "orchestrator"
    assert [(s.action.text, s.compensation.text if s.compensation else None) for s in saga.steps] == [
        ("kitchen.create_ticket", "kitchen.reject_ticket"), ("customers.reserve_credit", "customers.release_credit"),
        ("kitchen.approve_ticket", None)]


def test_failure_path_that_forgets_a_compensation_is_flagged_at_the_path(make_repo):
    missing, _, _ = run(make_repo, orchestrator(undo_ticket_2="pass"))
    [f] = missing
    assert f.line == 14
    assert "the failure path of step 3 (kitchen.approve_ticket) (line 14) does not run kitchen.reject_ticket" in f.message


def test_opaque_call_on_a_failure_path_suppresses_the_finding(make_repo):
    files = orchestrator(undo_ticket_2="await compensation_engine.run_all(order)")
    missing, _, _ = run(make_repo, files)
    assert missing == []


def test_compensation_run_through_a_helper_counts(make_repo):
    files = orchestrator(undo_ticket_2="await undo_everything(order)")
    files["orders/app/saga.py"] += '''

async def undo_everything(order):
    await kitchen.reject_ticket(order)
'''
    missing, report, _ = run(make_repo, files)
    assert missing == []


def test_try_except_orchestrator(make_repo):
    files = {"orders/app/saga.py": """
        from clients import inventory, payments, shipping

        async def fulfil(order):
            try:
                await inventory.reserve_stock(order)
                await payments.charge_card(order)
                await shipping.ship_parcel(order)
            except Exception:
                await payments.refund_card(order)
                raise
    """}
    missing, report, _ = run(make_repo, files)
    [saga] = report.sagas
    assert [s.compensation.text if s.compensation else None for s in saga.steps] == [None, "payments.refund_card", None]
    assert lines(missing) == [5]


def test_plain_functions_with_error_checks_are_not_sagas(make_repo):
    files = {"orders/app/views.py": """
        async def show(db, request):
            user = await get_user(request)
            if not user:
                return 404
            order = await load_order(db, request)
            if not order:
                await notify_admin(user)
                return 404
            return order
    """}
    _, report, _ = run(make_repo, files)
    assert report.sagas == []


# --------------------------------------------------------------------------- compensation lists

WORKFLOW = """
from temporalio import workflow
from app.activities import create_invoice, reserve_stock, release_stock, charge_card, refund_card, ship


@workflow.defn
class OrderWorkflow:
    @workflow.run
    async def run(self, order):
        compensations = []
        try:
{body}
        except Exception:
            for undo in reversed(compensations):
                await workflow.execute_activity(undo, order, start_to_close_timeout=T)
            raise
"""
ACTIVITIES = """
from temporalio import activity

@activity.defn
async def create_invoice(db, order):
    await db.execute("INSERT INTO invoices (order_id) VALUES ($1) ON CONFLICT DO NOTHING", order.id)

@activity.defn
async def reserve_stock(order):
    await inventory_client.post("/reservations", json=order)

@activity.defn
async def release_stock(order):
    await inventory_client.delete(f"/reservations/{order.id}")

@activity.defn
async def charge_card(order):
    await payments_client.post("/charges", json=order)

@activity.defn
async def refund_card(order):
    await payments_client.post("/refunds", json=order)

@activity.defn
async def ship(order):
    await shipping_client.post("/parcels", json=order)
"""


def workflow(*lines_: str):
    body = "\n".join(" " * 12 + line for line in lines_)
    return {"orders/app/workflow.py": WORKFLOW.format(body=body), "orders/app/activities.py": ACTIVITIES}


def pairs(report):
    [saga] = report.sagas
    return [(s.action.text, s.compensation.text if s.compensation else None) for s in saga.steps]


def test_append_before_each_activity(make_repo):
    _, report, _ = run(make_repo, workflow(
        "compensations.append(release_stock)",
        "await workflow.execute_activity(reserve_stock, order, start_to_close_timeout=T)",
        "compensations.append(refund_card)",
        "await workflow.execute_activity(charge_card, order, start_to_close_timeout=T)",
        "await workflow.execute_activity(ship, order, start_to_close_timeout=T)"))
    assert pairs(report) == [("reserve_stock", "release_stock"), ("charge_card", "refund_card"), ("ship", None)]


def test_append_after_each_activity(make_repo):
    _, report, _ = run(make_repo, workflow(
        "await workflow.execute_activity(reserve_stock, order, start_to_close_timeout=T)",
        "compensations.append(release_stock)",
        "await workflow.execute_activity(charge_card, order, start_to_close_timeout=T)",
        "compensations.append(refund_card)",
        "await workflow.execute_activity(ship, order, start_to_close_timeout=T)"))
    assert pairs(report) == [("reserve_stock", "release_stock"), ("charge_card", "refund_card"), ("ship", None)]


def test_registered_by_activity_name_strings(make_repo):
    _, report, _ = run(make_repo, workflow(
        'compensations.append("release_stock")',
        'await workflow.execute_activity("reserve_stock", order, start_to_close_timeout=T)',
        'compensations.append("refund_card")',
        'await workflow.execute_activity("charge_card", order, start_to_close_timeout=T)'))
    [saga] = report.sagas
    assert str(saga.steps[0].compensation.ref) == "orders/app/activities.py:release_stock"
    assert str(saga.steps[1].action.ref) == "orders/app/activities.py:charge_card"


def test_activity_without_registration_before_a_compensated_one(make_repo):
    missing, report, _ = run(make_repo, workflow(
        "await workflow.execute_activity(create_invoice, order, start_to_close_timeout=T)",
        "compensations.append(release_stock)",
        "await workflow.execute_activity(reserve_stock, order, start_to_close_timeout=T)",
        "await workflow.execute_activity(ship, order, start_to_close_timeout=T)"))
    assert pairs(report)[:2] == [("create_invoice", None), ("reserve_stock", "release_stock")]
    assert lines(missing) == [11]


def test_list_that_is_never_run_in_reverse_is_not_a_compensation_list(make_repo):
    files = {"orders/app/report.py": """
        def render(rows):
            parts = []
            for row in rows:
                parts.append(format_row(row))
                write_line(row)
            return "\\n".join(reversed(parts))
    """}
    _, report, _ = run(make_repo, files)
    assert report.sagas == []


# --------------------------------------------------------------------------- declared pairs

def test_step_list_with_keywords_and_read_only_step(make_repo):
    files = {"orders/app/saga.py": """
        from simple_saga import SagaStep
        from clients import kitchen, customers

        async def validate(db, order):
            return await db.fetchrow("SELECT 1 FROM orders WHERE id = $1", order.id)

        STEPS = [
            SagaStep("validate", action=validate, compensation=None),
            SagaStep("ticket", action=kitchen.create_ticket, compensation=kitchen.reject_ticket),
            SagaStep("credit", action=customers.reserve_credit, compensation=None),
            SagaStep("approve", action=kitchen.approve_ticket, compensation=kitchen.reject_ticket),
            SagaStep("notify", action=customers.notify, compensation=None),
        ]
    """}
    missing, report, _ = run(make_repo, files)
    [saga] = report.sagas
    assert saga.name == "STEPS" and [s.name for s in saga.steps] == ["validate", "ticket", "credit", "approve", "notify"]
    assert lines(missing) == [10]


def test_fluent_with_compensation(make_repo):
    files = {"orders/app/saga.py": """
        from clients import kitchen, customers

        def build(saga, order):
            return (saga.step(lambda: kitchen.create_ticket(order)).with_compensation(lambda: kitchen.reject_ticket(order))
                        .step(lambda: customers.reserve_credit(order))
                        .step(lambda: kitchen.approve_ticket(order)).on_failure(lambda: kitchen.reject_ticket(order)))
    """}
    missing, report, _ = run(make_repo, files)
    assert pairs(report) == [("kitchen.create_ticket", "kitchen.reject_ticket"),
                             ("customers.reserve_credit", None),
                             ("kitchen.approve_ticket", "kitchen.reject_ticket")]
    assert lines(missing) == [4]


def test_decorated_class_with_compensate_decorator(make_repo):
    files = {"orders/app/saga.py": """
        from sagakit import Saga, step, compensate
        from clients import kitchen

        class CreateOrder(Saga):
            @step(name="ticket")
            async def create_ticket(self, order):
                await kitchen.create_ticket(order)

            @compensate("ticket")
            async def reject_ticket(self, order):
                await kitchen.reject_ticket(order)

            @step()
            async def approve(self, order):
                await kitchen.approve_ticket(order)
    """}
    missing, report, _ = run(make_repo, files)
    [saga] = report.sagas
    assert saga.name == "CreateOrder"
    assert str(saga.steps[0].compensation.ref) == "orders/app/saga.py:CreateOrder.reject_ticket"
    assert missing == []


def test_generic_step_calls_without_a_builder_are_not_sagas(make_repo):
    files = {"orders/app/train.py": """
        def train(optimizer, scheduler, model, batches):
            for batch in batches:
                optimizer.step(model, batch)
                scheduler.step(batch, model)
            return action(model, batch)
    """}
    _, report, _ = run(make_repo, files)
    assert report.sagas == []


# --------------------------------------------------------------------------- the manifest

CLOSURE = """
async def freeze_account(db, customer_id):
    await db.execute("UPDATE orders SET status = 'frozen' WHERE customer_id = $1", customer_id)

async def unfreeze_account(db, customer_id):
    await db.execute("UPDATE orders SET status = 'open' WHERE customer_id = $1", customer_id)

async def close_tickets(db, customer_id):
    await db.execute("DELETE FROM tickets WHERE customer_id = $1", customer_id)

async def anonymize(db, customer_id):
    await db.execute("UPDATE orders SET customer_name = NULL WHERE customer_id = $1", customer_id)
"""


def test_manifest_saga_with_pivot(make_repo):
    manifest = MANIFEST + """
sagas:
  close:
    steps:
      - action: orders/app/closure.py:freeze_account
        compensation: orders/app/closure.py:unfreeze_account
      - action: orders/app/closure.py:close_tickets
      - action: orders/app/closure.py:anonymize
        pivot: true
"""
    missing, report, _ = run(make_repo, {"orders/app/closure.py": CLOSURE}, manifest)
    [f] = missing
    assert (f.path, f.line, f.service) == ("dbowner.yaml", 13, "orders")
    assert "step 2 (close_tickets) writes the database" in f.message
    [saga] = report.sagas
    assert saga.style == "manifest" and saga.pivot == 2


def test_manifest_saga_refines_a_code_saga_instead_of_adding_one(make_repo):
    files = {"orders/app/closure.py": CLOSURE + """

def build(db, customer_id):
    saga = SagaBuilder.create()
    saga.add_step(lambda: freeze_account(db, customer_id), lambda: unfreeze_account(db, customer_id))
    saga.add_step(lambda: close_tickets(db, customer_id), None)
    saga.add_step(lambda: anonymize(db, customer_id), None)
    return saga.build()
"""}
    missing, report, _ = run(make_repo, files)
    assert missing == []                           # close_tickets is the inferred pivot
    manifest = MANIFEST + """
sagas:
  close:
    steps:
      - action: orders/app/closure.py:anonymize
        pivot: true
"""
    missing, report, _ = run(make_repo, files, manifest)
    [saga] = report.sagas
    assert saga.manifest == "close" and saga.pivot == 2 and saga.pivot_declared
    assert lines(missing) == [17]


def test_manifest_step_in_a_file_no_service_analyses_is_a_diagnostic(make_repo):
    manifest = MANIFEST + """
sagas:
  close:
    steps:
      - action: scripts/closure.py:freeze_account
"""
    _, _, analysis = run(make_repo, {"scripts/closure.py": CLOSURE}, manifest)
    [d] = [d for d in analysis.diagnostics if d.kind == "saga-reference"]
    assert d.message == ("sagas.close.steps[0].action: scripts/closure.py is not analysed "
                         "(outside every service, excluded, or not Python)")


def test_manifest_step_naming_a_missing_function_is_a_diagnostic(make_repo):
    manifest = MANIFEST + """
sagas:
  close:
    steps:
      - action: orders/app/closure.py:freeze_acount
"""
    _, report, analysis = run(make_repo, {"orders/app/closure.py": CLOSURE}, manifest)
    [d] = [d for d in analysis.diagnostics if d.kind == "saga-reference"]
    assert (d.path, d.line) == ("dbowner.yaml", 11)
    assert d.message == "sagas.close.steps[0].action: no function freeze_acount in orders/app/closure.py"


def test_opening_and_closing_files_is_not_a_saga(make_repo):
    # Found in CPython's dbm.whichdb: open/close with an except branch that opens and closes again.
    source = '''
import io


def whichdb(filename):
    try:
        f = io.open(filename + ".pag", "rb")
        f.close()
        return "ndbm"
    except OSError:
        try:
            f = io.open(filename + ".db", "rb")
            f.close()
        except OSError:
            pass
    return None
'''
    missing, report, _ = run(make_repo, {"orders/app/files.py": source})
    assert missing == [] and report.sagas == []
