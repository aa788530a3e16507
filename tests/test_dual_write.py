"""dual-write: a database write and a broker publish in one function with no outbox."""
from __future__ import annotations

import textwrap

import pytest

from dbowner.analysis import analyze
from dbowner.manifest import load_manifest

MANIFEST = """
version: 1
services:
  orders:
    paths: ["orders/**"]
    database: orders_db
    tables: [orders, outbox, order_outbox]
"""


def dual_writes(make_repo, code: str, extra: dict[str, str] | None = None):
    repo = make_repo({"dbowner.yaml": MANIFEST, "orders/app/events.py": textwrap.dedent(code), **(extra or {})})
    analysis = analyze(load_manifest(repo / "dbowner.yaml"))
    assert not [d for d in analysis.diagnostics if d.kind in ("parse-error", "internal-error")]
    return [f for f in analysis.findings if f.name == "dual-write"]


WRITE = 'await conn.execute("UPDATE orders SET status = \'paid\' WHERE id = $1", order_id)'


@pytest.mark.parametrize("publish, broker", [
    ('await producer.send_and_wait("orders", b"paid")', "kafka"),
    ('kafka_producer.produce("orders", value=b"paid")', "kafka"),
    ('channel.basic_publish(exchange="orders", routing_key="paid", body=b"paid")', "rabbitmq"),
    ('await exchange.publish(message, routing_key="paid")', "message broker"),
    ('await nc.publish("orders.paid", b"paid")', "message broker"),
    ('await js.publish("orders.paid", b"paid")', "message broker"),
    ('await redis.publish("orders", "paid")', "message broker"),
    ('await redis.xadd("orders", {"status": "paid"})', "redis streams"),
    ('celery_app.send_task("billing.invoice", args=[order_id])', "celery"),
    ('send_invoice.delay(order_id)', "celery"),
    ('send_invoice.apply_async(args=[order_id])', "celery"),
    ('sns.publish(TopicArn=TOPIC, Message="paid")', "sns"),
    ('client.publish(TopicArn=TOPIC, Message="paid")', "sns"),
    ('sqs.send_message(QueueUrl=QUEUE, MessageBody="paid")', "sqs"),
    ('events.put_events(Entries=[{"Detail": "paid"}])', "eventbridge"),
    ('await self.event_bus.publish(OrderPaid(order_id))', "message broker"),
    ('publisher.publish(topic_path, b"paid")', "message broker"),
])
def test_write_then_publish_is_a_dual_write(make_repo, publish, broker):
    code = f"""
    async def mark_paid(self, conn, producer, order_id):
        {WRITE}
        {publish}
    """
    [f] = dual_writes(make_repo, code)
    assert f.line == 3 and f.table == "orders" and f.service == "orders"
    assert f.message.startswith("mark_paid writes orders (line 2) and publishes with ")
    assert f"({broker}) (line 3) without an outbox" in f.message


def test_publish_before_the_write_commits_is_also_a_dual_write(make_repo):
    code = f"""
    async def mark_paid(conn, producer, order_id):
        async with conn.transaction():
            await producer.send_and_wait("orders", b"paid")
            {WRITE}
    """
    assert len(dual_writes(make_repo, code)) == 1


def test_outbox_insert_is_not_a_dual_write(make_repo):
    code = f"""
    async def mark_paid(conn, order_id):
        async with conn.transaction():
            {WRITE}
            await conn.execute("INSERT INTO order_outbox (aggregate_id, type) VALUES ($1, 'paid')", order_id)
    """
    assert dual_writes(make_repo, code) == []


def test_outbox_relay_publishes_and_marks_rows_sent(make_repo):
    code = """
    async def relay(conn, producer):
        for row in await conn.fetch("SELECT id, payload FROM outbox WHERE sent_at IS NULL"):
            await producer.send_and_wait("orders", row["payload"])
            await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = $1", row["id"])
    """
    assert dual_writes(make_repo, code) == []


def test_orm_outbox_model_is_an_outbox(make_repo):
    code = """
    def mark_paid(session, producer, order):
        order.status = "paid"
        session.add(OutboxMessage(type="order.paid", payload=order.id))
        session.commit()
        producer.send("orders", b"paid")
    """
    assert dual_writes(make_repo, code) == []


def test_read_then_publish_is_not_a_dual_write(make_repo):
    code = """
    async def republish(conn, producer, order_id):
        row = await conn.fetchrow("SELECT * FROM orders WHERE id = $1", order_id)
        await producer.send_and_wait("orders", row["payload"])
    """
    assert dual_writes(make_repo, code) == []


def test_write_without_publish_and_non_broker_publish_are_fine(make_repo):
    code = f"""
    async def mark_paid(conn, article, socket, order_id):
        {WRITE}
        article.publish()
        await socket.send("paid")
        await asyncio.sleep(1).delay
    """
    assert dual_writes(make_repo, code) == []


def test_orm_write_then_celery_task(make_repo):
    code = """
    def place(session, cart):
        order = Order(cart_id=cart.id)
        session.add(order)
        session.commit()
        send_confirmation.delay(order.id)
    """
    [f] = dual_writes(make_repo, code)
    assert f.line == 5 and "writes model Order (line 3)" in f.message and f.table == ""


def test_publish_in_a_helper_is_reported_at_the_writer_not_its_callers(make_repo):
    code = f"""
    async def mark_paid(conn, producer, order_id):
        {WRITE}
        await announce(producer, order_id)


    async def announce(producer, order_id):
        await producer.send_and_wait("orders", str(order_id).encode())


    async def handle(conn, producer, order_id):
        await mark_paid(conn, producer, order_id)
    """
    [f] = dual_writes(make_repo, code)
    assert f.line == 2
    assert "publishes with producer.send_and_wait (kafka) (line 7, in announce)" in f.message


def test_django_save_and_changed_loaded_object_are_writes(make_repo):
    code = """
    def confirm(order_id):
        order = Order.objects.get(id=order_id)
        order.status = "confirmed"
        order.save()
        send_receipt.delay(order_id)


    def rename(session, producer, user_id, name):
        user = session.get(User, user_id)
        user.name = name
        session.commit()
        producer.send("users", name.encode())


    def export(img, producer):
        img.save("/tmp/x.png")
        producer.send("images", b"done")
    """
    found = dual_writes(make_repo, code)
    assert [(f.line, f.table) for f in found] == [(5, ""), (12, "")]
    assert "writes model Order (line 3)" in found[0].message
    assert "writes model User (line 10)" in found[1].message
