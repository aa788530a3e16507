"""Every row of the recognised-shapes tables (dbowner/extract/conventions.py and
dbowner/sagas/conventions.py) has a sample here that it must recognise. A new row without a
sample fails test_every_row_has_a_sample."""
from __future__ import annotations

import ast
import textwrap

import pytest

from dbowner.extract import conventions as cv
from dbowner.extract.functions import collect_code
from dbowner.sagas import conventions as names


def code(src: str):
    return collect_code(ast.parse(textwrap.dedent(src)))


# --------------------------------------------------------------------------- declared pairs

PAIR_SAMPLES = {
    "add_step(action, compensation)": """
        builder = OrchestrationBuilder()
        builder.add_step(reserve_credit, release_credit)
        builder.add_step(approve_order, None)
    """,
    "action(action, compensation)": """
        saga = SagaBuilder.create().action(lambda: reserve_credit(o), lambda: release_credit(o)) \\
            .action(lambda: approve_order(o), lambda: None).build()
    """,
    "step(action, compensation)": """
        with SyncSaga() as saga:
            saga.step(action=lambda: reserve_credit(o), compensation=lambda: release_credit(o))
            saga.step(action=lambda: approve_order(o))
    """,
    "invoke(action).with_compensation(undo)": """
        definition = step().invoke_participant(reserve_credit).with_compensation(release_credit) \\
            .step().invoke_local(approve_order)
    """,
    "SagaStep(action, compensation)": """
        STEPS = [SyncStep(reserve_credit, release_credit), AsyncStep(approve_order, None)]
    """,
    "Step(action, compensation)": """
        saga = Saga()
        saga.add(Step("reserve", reserve_credit, release_credit))
        steps = Pipeline().then(Step("reserve", reserve_credit, release_credit)).then(Step("approve", approve_order, None))
    """,
    "@step(compensate=undo)": """
        class CreateOrder(Saga):
            @step(compensate="release_credit")
            def reserve_credit(self, o): ...
            def release_credit(self, o): ...
            @step(pivot=True)
            def approve_order(self, o): ...
    """,
    "@compensate('step')": """
        @saga_step(name="reserve")
        def reserve_credit(o): ...

        @compensate("reserve")
        def release_credit(o): ...

        @saga_step()
        def approve_order(o): ...
    """,
}


@pytest.mark.parametrize("row", cv.PAIR_CONVENTIONS, ids=lambda r: r.label)
def test_pair_convention_row_is_recognised(row):
    sagas = [s for s in code(PAIR_SAMPLES[row.label]).sagas if s.style == "declared"]
    assert sagas, row.label
    labelled = [s for s in sagas if row.label in s.convention]
    assert labelled, [s.convention for s in sagas]
    steps = labelled[0].steps
    reserve = next(s for s in steps if s.action.endswith("reserve_credit"))
    assert reserve.compensation.endswith("release_credit")


def test_declared_pivot_keyword_is_read():
    [saga] = code(PAIR_SAMPLES["@step(compensate=undo)"]).sagas
    assert [s.pivot for s in saga.steps] == [False, True]


# --------------------------------------------------------------------------- compensation lists

REGISTRATION_SAMPLES = {
    "compensations.append(undo) + reversed(compensations)": """
        async def run(order):
            compensations = []
            try:
                await reserve_credit(order)
                compensations.append(lambda: release_credit(order))
                await approve_order(order)
            except Exception:
                for undo in reversed(compensations):
                    await undo()
                raise
    """,
    "saga.add_compensation(undo) + saga.compensate()": """
        def run(saga, order):
            try:
                reserve_credit(order)
                saga.add_compensation(release_credit, order)
                approve_order(order)
            except Exception:
                saga.compensate()
                raise
    """,
}


@pytest.mark.parametrize("row", cv.REGISTRATION_CONVENTIONS, ids=lambda r: r.label)
def test_registration_convention_row_is_recognised(row):
    [saga] = code(REGISTRATION_SAMPLES[row.label]).sagas
    assert saga.style == "compensation-list" and saga.convention == row.label
    assert [s.action for s in saga.steps] == ["reserve_credit", "approve_order"]
    assert [r.runs for r in saga.registrations] == ["release_credit"]


def test_while_pop_runner_and_tuple_registrations():
    [saga] = code("""
        async def run(order):
            undo_stack = []
            try:
                await reserve_credit(order)
                undo_stack.append((release_credit, order))
                await approve_order(order)
            except Exception:
                while undo_stack:
                    fn, arg = undo_stack.pop()
                    await fn(arg)
                raise
    """).sagas
    assert [r.runs for r in saga.registrations] == ["release_credit"]


def test_reversed_list_in_the_main_path_is_not_a_runner():
    assert code("""
        def render(rows):
            out = []
            for r in rows:
                out.append(fmt(r))
            for item in reversed(out):
                emit(item)
    """).sagas == ()


# --------------------------------------------------------------------------- brokers

PUBLISH_SAMPLES = {
    ("kafka", "send"): "producer.send('t', b'x')",
    ("kafka", "send_and_wait"): "self.kafka.send_and_wait('t', b'x')",
    ("kafka", "produce"): "producer.produce('t', b'x')",
    ("rabbitmq", "basic_publish"): "ch.basic_publish(exchange='e', routing_key='k', body=b'x')",
    ("sns", "publish"): "client.publish(TopicArn=arn, Message='x')",
    ("sns", "publish_batch"): "client.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[])",
    ("message broker", "publish"): "exchange.publish(msg, routing_key='k')",
    ("message broker", "publish_message"): "self.broker.publish_message(msg)",
    ("message broker", "publish_event"): "event_bus.publish_event(evt)",
    ("message broker", "publish_batch"): "publisher.publish_batch(msgs)",
    ("sqs", "send_message"): "sqs.send_message(QueueUrl=url, MessageBody='x')",
    ("sqs", "send_message_batch"): "queue.send_message_batch(Entries=[])",
    ("eventbridge", "put_events"): "events.put_events(Entries=[])",
    ("kinesis", "put_record"): "kinesis.put_record(StreamName='s', Data=b'x', PartitionKey='k')",
    ("kinesis", "put_records"): "kinesis_client.put_records(StreamName='s', Records=[])",
    ("redis streams", "xadd"): "r.xadd('orders', {'a': 1})",
    ("celery", "send_task"): "app.send_task('tasks.add', args=[1])",
    ("celery", "delay"): "send_email.delay(1)",
    ("celery", "apply_async"): "send_email.apply_async(args=[1])",
}


def test_every_row_has_a_sample():
    assert set(PAIR_SAMPLES) == {r.label for r in cv.PAIR_CONVENTIONS}
    assert set(REGISTRATION_SAMPLES) == {r.label for r in cv.REGISTRATION_CONVENTIONS}
    assert set(PUBLISH_SAMPLES) >= {(r.broker, m) for r in cv.PUBLISH_CONVENTIONS for m in r.methods}


@pytest.mark.parametrize("key", sorted(PUBLISH_SAMPLES), ids=lambda k: f"{k[0]}:{k[1]}")
def test_publish_row_is_recognised(key):
    [fn] = code(f"def f():\n    {PUBLISH_SAMPLES[key]}\n").functions
    assert [p.broker for p in fn.publishes] == [key[0]]


@pytest.mark.parametrize("call", [
    "article.publish()", "socket.send(b'x')", "mail.send(msg)", "asyncio.sleep(1)", "time.delay(1)",
    "client.send_message(chat_id, 'hi')", "publish(x)", "self.send(x)",
])
def test_calls_that_are_not_publishes(call):
    [fn] = code(f"def f():\n    {call}\n").functions
    assert fn.publishes == ()


# --------------------------------------------------------------------------- names

@pytest.mark.parametrize("step, comp", [(a, b) for a, b in names.ANTONYMS] + [(b, a) for a, b in names.ANTONYMS])
def test_antonym_pairs_undo_each_other(step, comp):
    assert names.undoes(f"{comp}_order", f"{step}_order")


@pytest.mark.parametrize("comp, step", [
    ("undo_reserve_credit", "reserve_credit"), ("compensate_debit", "debit_account"),
    ("reserve_credit_compensation", "reserve_credit"), ("cancel_shipment", "create_shipment"),
    ("releaseCredit", "reserveCredit"), ("credits", "debits"), ("unlink_card", "link_card"),
    ("reject_ticket", "create_ticket"),
])
def test_compensation_names(comp, step):
    assert names.undoes(comp, step)


@pytest.mark.parametrize("comp, step", [
    ("notify_admin", "get_user"), ("credit_account", "credit_account"), ("send_email", "cancel_order"),
    ("release_credit", "reserve_stock"), ("fail_saga", "debit_account"),
])
def test_not_compensation_names(comp, step):
    assert not names.undoes(comp, step)


@pytest.mark.parametrize("key", names.IDEMPOTENCY_KEY_SUFFIXES)
def test_idempotency_keys(key):
    snake = {"sagaid": "saga_id", "idempotencykey": "idempotency_key"}.get(key, key)
    assert names.is_idempotency_key(snake) and names.is_idempotency_key("payment_" + key)


@pytest.mark.parametrize("name", ["id", "account_id", "order_id", "balance", "status", "correlation_id"])
def test_not_idempotency_keys(name):
    assert not names.is_idempotency_key(name)


def test_verbs():
    assert names.verb_kind("reserve_credit") == "command"
    assert names.verb_kind("getCreditLimit") == "query"
    assert names.verb_kind("ticket_for") == ""


@pytest.mark.parametrize("step, comp", sorted(names.RESOURCE_PAIRS))
def test_bare_resource_verbs_do_not_pair_but_named_ones_do(step, comp):
    # f = io.open(p); f.close(): resource handling, not a saga step and its compensation
    assert not names.undoes(comp, step) and not names.undoes(step, comp)
    assert names.undoes(f"{comp}_account", f"{step}_account")
