"""saga-step-not-idempotent / saga-compensation-not-idempotent: which writes are safe to run twice,
and which guards make an unsafe one safe, as a user sees the findings."""
from __future__ import annotations

import textwrap

import pytest

from dbowner.analysis import analyze
from dbowner.manifest import load_manifest

MANIFEST = """
version: 1
services:
  pay:
    paths: ["pay/**"]
    database: pay_db
    tables: [accounts, transactions, processed_events, outbox, saga_state, payments, refunds, orders]
"""

# A builder saga whose first step is `step` and whose compensation is `undo` (pay/app/steps.py).
SAGA = """
from sagas import SagaBuilder

from app.steps import step, undo


def build(db, account_id, amount, saga_id):
    saga = SagaBuilder.create()
    saga.add_step(lambda: step(db, account_id, amount, saga_id), lambda: undo(db, account_id, amount, saga_id))
    saga.add_step(lambda: ship_order(account_id), None)
    return saga.build()
"""

NOOP_UNDO = """

async def undo(db, account_id, amount, saga_id):
    return None
"""


def findings(make_repo, steps: str, rule: str = "saga-step-not-idempotent", dialect: str = "postgres"):
    repo = make_repo({
        "dbowner.yaml": MANIFEST + f"dialect: {dialect}\n",
        "pay/app/saga.py": SAGA,
        "pay/app/steps.py": textwrap.dedent(steps) + ("" if "def undo" in steps else NOOP_UNDO),
    })
    analysis = analyze(load_manifest(repo / "dbowner.yaml"))
    assert not [d for d in analysis.diagnostics if d.kind in ("parse-error", "internal-error")], analysis.diagnostics
    return [f for f in analysis.findings if f.name == rule]


def lines(found) -> list[int]:
    return sorted(f.line for f in found)


# --------------------------------------------------------------------------- the design doc's debit

SEED_DEBIT = """
async def step(db, account_id, amount, saga_id):
    # Check if already processed
    existing = await db.fetchone(
        "SELECT * FROM transactions WHERE saga_id = $1 AND operation = 'debit'",
        saga_id
    )
    if existing:
        return {"success": True, "transaction_id": existing.id}

    # Process debit
    result = await db.execute(
        "UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance >= $1",
        amount, account_id
    )

    if result.rowcount == 0:
        return {"success": False, "error": "Insufficient funds"}

    # Record transaction
    await db.execute(
        "INSERT INTO transactions (saga_id, account_id, amount, operation) VALUES ($1, $2, $3, 'debit')",
        saga_id, account_id, amount
    )

    return {"success": True}
"""


def test_seed_debit_with_saga_id_lookup_is_clean(make_repo):
    assert findings(make_repo, SEED_DEBIT) == []


def test_seed_debit_without_the_lookup_is_flagged_with_table_write_and_fix(make_repo):
    unguarded = SEED_DEBIT.replace("""    existing = await db.fetchone(
        "SELECT * FROM transactions WHERE saga_id = $1 AND operation = 'debit'",
        saga_id
    )
    if existing:
        return {"success": True, "transaction_id": existing.id}
""", "")
    found = findings(make_repo, unguarded)
    assert [(f.path, f.table) for f in found] == [("pay/app/steps.py", "accounts"), ("pay/app/steps.py", "transactions")]
    update, insert = sorted(found, key=lambda f: f.line)
    assert "step runs step 1 (step) of saga 'build'" in update.message
    assert "`UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance >= $1`" in update.message
    assert "a relative update (balance = balance …)" in update.message
    assert "look up saga_id first and return early" in update.message
    assert "a plain INSERT without conflict handling" in insert.message
    assert "ON CONFLICT (saga_id) DO NOTHING" in insert.message
    assert update.severity.value == "warning"


def test_lookup_that_returns_when_nothing_was_found_is_not_a_guard(make_repo):
    wrong_way_round = SEED_DEBIT.replace("    if existing:\n", "    if not existing:\n")
    assert len(findings(make_repo, wrong_way_round)) == 2


def test_lookup_keyed_by_a_business_id_is_not_a_guard(make_repo):
    by_account = SEED_DEBIT.replace("WHERE saga_id = $1 AND operation = 'debit'\",\n        saga_id",
                                    "WHERE account_id = $1\",\n        account_id")
    assert len(findings(make_repo, by_account)) == 2


# --------------------------------------------------------------------------- SQL shapes

@pytest.mark.parametrize("sql", [
    "INSERT INTO payments (saga_id, amount) VALUES ($1, $2) ON CONFLICT (saga_id) DO NOTHING",
    "INSERT INTO payments (saga_id, amount) VALUES ($1, $2) ON CONFLICT (saga_id) DO UPDATE SET amount = excluded.amount",
    "INSERT INTO payments (saga_id, amount) SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM payments WHERE saga_id = $1)",
    "MERGE INTO payments p USING (SELECT $1 AS saga_id) s ON p.saga_id = s.saga_id WHEN NOT MATCHED THEN INSERT (saga_id) VALUES (s.saga_id)",
    "UPDATE payments SET status = 'cancelled', updated_at = now() WHERE id = $1",
    "DELETE FROM payments WHERE id = $1",
    "UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND saga_id = $3",
    "UPDATE accounts SET balance = balance - $1, status = 'debited' WHERE id = $2 AND status = 'open'",
    "UPDATE accounts SET balance = balance + $1, refunded = true WHERE id = $2 AND NOT refunded",
    "SELECT balance FROM accounts WHERE id = $1",
])
def test_writes_that_are_safe_to_repeat(make_repo, sql):
    code = f'''
    async def step(db, account_id, amount, saga_id):
        await db.execute("{sql}", account_id)
    '''
    assert findings(make_repo, code) == []


@pytest.mark.parametrize("sql, why", [
    ("UPDATE accounts SET balance = balance - $1 WHERE id = $2", "a relative update (balance = balance …)"),
    ("UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance >= $1", "a relative update"),
    ("UPDATE accounts SET balance = COALESCE(balance, 0) + $1 WHERE id = $2", "a relative update"),
    ("INSERT INTO transactions (saga_id, amount) VALUES ($1, $2)", "a plain INSERT"),
    ("INSERT INTO accounts (id, balance) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + excluded.balance",
     "an upsert whose update reads balance itself"),
    ("UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND status = 'open'", "a relative update"),
])
def test_writes_that_apply_twice(make_repo, sql, why):
    code = f'''
    async def step(db, account_id, amount, saga_id):
        await db.execute("{sql}", amount, account_id)
    '''
    [f] = findings(make_repo, code)
    assert why in f.message and f.line == 2


def test_mysql_insert_ignore_and_on_duplicate_key(make_repo):
    code = '''
    def step(db, account_id, amount, saga_id):
        db.execute("INSERT IGNORE INTO payments (saga_id, amount) VALUES ('s1', 10)")
        db.execute("INSERT INTO payments (saga_id, amount) VALUES ('s1', 10) ON DUPLICATE KEY UPDATE amount = VALUES(amount)")
        db.execute("INSERT INTO payments (saga_id, amount) VALUES ('s1', 10) ON DUPLICATE KEY UPDATE amount = amount + VALUES(amount)")
        db.execute("REPLACE INTO payments (saga_id, amount) VALUES ('s1', 10)")
    '''
    assert lines(findings(make_repo, code, dialect="mysql")) == [4]


# --------------------------------------------------------------------------- guards

def test_claim_with_on_conflict_do_nothing_returning_guards_the_block(make_repo):
    code = '''
    async def step(db, account_id, amount, saga_id):
        async with db.transaction():
            inserted = await db.fetchval(
                "INSERT INTO transactions (saga_id, account_id, amount) VALUES ($1, $2, $3) "
                "ON CONFLICT (saga_id) DO NOTHING RETURNING id",
                saga_id, account_id, amount,
            )
            if inserted is not None:
                await db.execute("UPDATE accounts SET balance = balance + $1 WHERE id = $2", amount, account_id)
    '''
    assert findings(make_repo, code) == []


def test_processed_message_claim_with_early_return(make_repo):
    code = '''
    MARK = "INSERT INTO processed_events (event_id) VALUES ($1) ON CONFLICT (event_id) DO NOTHING RETURNING event_id"

    async def step(db, account_id, amount, saga_id, event_id=None):
        if await db.fetchval(MARK, event_id) is None:
            return
        await db.execute("UPDATE accounts SET balance = balance + $1 WHERE id = $2", amount, account_id)
    '''
    assert findings(make_repo, code) == []


def test_write_before_the_guard_is_still_flagged(make_repo):
    code = '''
    async def step(db, account_id, amount, saga_id):
        await db.execute("UPDATE accounts SET balance = balance - $1 WHERE id = $2", amount, account_id)
        existing = await db.fetchrow("SELECT 1 FROM transactions WHERE saga_id = $1", saga_id)
        if existing:
            return
    '''
    assert lines(findings(make_repo, code)) == [2]


def test_guard_through_a_lookup_helper_named_by_the_key(make_repo):
    code = '''
    async def step(db, account_id, amount, saga_id):
        if await repo.find_by_idempotency_key(saga_id):
            return
        await db.execute("INSERT INTO payments (saga_id, amount) VALUES ($1, $2)", saga_id, amount)
    '''
    assert findings(make_repo, code) == []


def test_unique_violation_caught_around_an_insert(make_repo):
    code = '''
    from sqlalchemy.exc import IntegrityError

    def step(session, account_id, amount, saga_id):
        try:
            session.add(Payment(saga_id=saga_id, amount=amount))
            session.commit()
        except IntegrityError:
            session.rollback()
    '''
    assert findings(make_repo, code) == []


def test_guard_in_the_step_covers_the_helper_it_calls(make_repo):
    code = '''
    async def step(db, account_id, amount, saga_id):
        done = await db.fetchrow("SELECT 1 FROM transactions WHERE saga_id = $1", saga_id)
        if done:
            return
        await _apply(db, account_id, amount)


    async def _apply(db, account_id, amount):
        await db.execute("UPDATE accounts SET balance = balance - $1 WHERE id = $2", amount, account_id)
    '''
    assert findings(make_repo, code) == []


def test_unguarded_helper_is_reported_at_the_helper_with_the_call_path(make_repo):
    code = '''
    async def step(db, account_id, amount, saga_id):
        await _apply(db, account_id, amount)


    async def _apply(db, account_id, amount):
        await db.execute("UPDATE accounts SET balance = balance - $1 WHERE id = $2", amount, account_id)
    '''
    [f] = findings(make_repo, code)
    assert f.line == 6 and f.message.startswith("_apply via step → _apply runs step 1 (step) of saga 'build'")


# --------------------------------------------------------------------------- ORM shapes

def test_django_relative_update_guarded_by_orm_lookup(make_repo):
    code = '''
    from django.db.models import F

    def step(db, account_id, amount, saga_id):
        if Payment.objects.filter(saga_id=saga_id).exists():
            return
        Account.objects.filter(id=account_id).update(balance=F("balance") - amount)
    '''
    assert findings(make_repo, code) == []


def test_django_relative_update_and_create_without_guard(make_repo):
    code = '''
    from django.db.models import F

    def step(db, account_id, amount, saga_id):
        Account.objects.filter(id=account_id).update(balance=F("balance") - amount)
        Payment.objects.create(saga_id=saga_id, amount=amount)
        Account.objects.filter(id=account_id).update(status="debited")
        Payment.objects.get_or_create(saga_id=saga_id, defaults={"amount": amount})
        Payment.objects.update_or_create(saga_id=saga_id, defaults={"amount": amount})
    '''
    found = findings(make_repo, code)
    assert lines(found) == [4, 5]
    assert "model Account" in found[0].message and "a relative update (balance = balance …)" in found[0].message
    assert found[0].table == ""


def test_sqlalchemy_session_add_and_attribute_decrement(make_repo):
    code = '''
    def step(session, account_id, amount, saga_id):
        account = session.get(Account, account_id)
        account.balance -= amount
        session.add(Payment(saga_id=saga_id, amount=amount))
        session.commit()
    '''
    found = findings(make_repo, code)
    assert lines(found) == [3, 4]
    assert "model Payment" in found[1].message and "a plain insert (add)" in found[1].message


def test_attribute_arithmetic_spelled_out_is_relative(make_repo):
    code = '''
    def step(session, account_id, amount, saga_id):
        account = session.get(Account, account_id)
        account.balance = account.balance - amount
        account.status = "debited"
        session.commit()
    '''
    found = findings(make_repo, code)
    assert lines(found) == [3] and "a relative update (balance = balance …)" in found[0].message


def test_attribute_decrement_without_persisting_is_not_a_write(make_repo):
    code = '''
    def step(session, account_id, amount, saga_id):
        totals = Totals()
        totals.count += 1
        node = load_node(account_id)
        node.next = node.next.next
        seen.add(node)
        return totals
    '''
    assert findings(make_repo, code) == []


def test_saving_a_loaded_object_is_an_update_not_an_insert(make_repo):
    code = '''
    def step(session, account_id, amount, saga_id):
        order = session.get(Order, account_id)
        order.status = "paid"
        session.add(order)
        session.commit()
    '''
    assert findings(make_repo, code) == []


def test_sqlalchemy_core_update_and_upsert(make_repo):
    code = '''
    from sqlalchemy import insert, update
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    def step(session, account_id, amount, saga_id):
        session.execute(update(Account).where(Account.id == account_id).values(balance=Account.balance - amount))
        session.execute(pg_insert(Payment).values(saga_id=saga_id).on_conflict_do_nothing())
        session.execute(insert(Payment).values(saga_id=saga_id))
    '''
    assert lines(findings(make_repo, code)) == [5, 7]


# --------------------------------------------------------------------------- compensations

def test_compensation_rule_is_separate_and_names_the_step(make_repo):
    code = SEED_DEBIT + '''

async def undo(db, account_id, amount, saga_id):
    await db.execute("UPDATE accounts SET balance = balance + $1 WHERE id = $2", amount, account_id)
'''
    assert findings(make_repo, code) == []
    [f] = findings(make_repo, code, rule="saga-compensation-not-idempotent")
    assert "runs the compensation of step 1 (step) of saga 'build'" in f.message


def test_outbox_and_saga_bookkeeping_writes_are_not_reported(make_repo):
    code = '''
    async def step(db, account_id, amount, saga_id):
        await db.execute("INSERT INTO outbox (aggregate_id, payload) VALUES ($1, $2)", account_id, amount)
        await db.execute("UPDATE saga_state SET current_step = current_step + 1 WHERE id = $1", saga_id)
    '''
    assert findings(make_repo, code) == []


def test_steps_whose_body_is_not_in_the_repository_are_not_judged(make_repo):
    repo = make_repo({
        "dbowner.yaml": MANIFEST,
        "pay/app/saga.py": """
            from sagas import SagaBuilder
            from payments_client import charge, refund

            def build(order):
                saga = SagaBuilder.create()
                saga.add_step(lambda: charge(order), lambda: refund(order))
                return saga.build()
        """,
    })
    analysis = analyze(load_manifest(repo / "dbowner.yaml"))
    assert [f for f in analysis.findings if "idempotent" in f.name] == []
