"""Structure facts of one Python file (extract/functions.py) and SQL write shapes
(StatementDetail): what extraction records, and that it survives a JSON round trip."""
from __future__ import annotations

import json
import textwrap

import pytest

from dbowner.codefacts import StatementDetail
from dbowner.extract import extract_file
from dbowner.extract.python import extract_python_file
from dbowner.extract.sql import parse_sql
from dbowner.model import FileFacts


def facts(src: str) -> FileFacts:
    return extract_python_file("svc/app.py", textwrap.dedent(src).lstrip("\n"))


def fn(src: str, name: str):
    return next(f for f in facts(src).code.functions if f.name == name)


def test_round_trip_through_json_keeps_code_facts_and_statement_detail():
    ff = facts("""
        from .accounts import credit as give_back
        import app.clients as clients

        class Saga(Base):
            async def run(self, db, saga_id):
                existing = await db.fetchrow("SELECT 1 FROM t WHERE saga_id = $1", saga_id)
                if existing:
                    return
                await db.execute("UPDATE a SET n = n + 1 WHERE id = $1 AND status = 'x'", 1)
                await producer.send("topic", b"x")
                compensations = []
                try:
                    compensations.append(give_back)
                    await workflow.execute_activity(clients.debit, saga_id)
                except Exception:
                    for c in reversed(compensations):
                        await workflow.execute_activity(c, saga_id)
                    raise
    """)
    again = FileFacts.from_dict(json.loads(json.dumps(ff.to_dict())))
    assert again == ff
    assert again.code.sagas and again.statements[1].detail.self_referencing == ("n",)
    assert FileFacts.from_dict(json.loads(json.dumps(FileFacts("x.sql").to_dict()))) == FileFacts("x.sql")
    empty = facts("")
    assert empty.code is not None and FileFacts.from_dict(json.loads(json.dumps(empty.to_dict()))) == empty


def test_imports_classes_and_qualified_function_names():
    ff = facts("""
        import a.b.c
        import d as e
        from ..pkg import f as g, h
        class Outer(Base, mixins.Audit):
            class Inner:
                def m(self):
                    def local():
                        pass
    """)
    code = ff.code
    assert {(i.name, i.module, i.attr, i.level) for i in code.imports} == {
        ("a", "a", "", 0), ("a.b.c", "a.b.c", "", 0), ("e", "d", "", 0), ("g", "pkg", "f", 2), ("h", "pkg", "h", 2)}
    assert [(c.name, c.bases) for c in code.classes] == [("Outer", ("Base", "mixins.Audit")), ("Outer.Inner", ())]
    assert [f.name for f in code.functions] == ["Outer.Inner.m", "Outer.Inner.m.local"]


def test_calls_record_callee_await_runs_and_literal():
    f = fn("""
        async def saga(client, order):
            await client.post(f"/orders/{order.id}/debits", json={})
            await workflow.execute_activity(reserve, order)
            retry(partial(release, order))
            lambda: ignored(order)
    """, "saga")
    assert [(c.callee, c.awaited, c.runs, c.literal) for c in f.calls] == [
        ("client.post", True, "", "/orders/{}/debits"),
        ("workflow.execute_activity", True, "reserve", ""),
        ("retry", False, "", ""),
        ("partial", False, "release", ""),
    ]


@pytest.mark.parametrize("test, polarity", [
    ("row", "found"), ("row is not None", "found"), ("not row", "missing"), ("row is None", "missing"),
    ("row == 'UPDATE 0'", "missing"), ("row.rowcount == 0", "missing"), ("row and flag", ""),
])
def test_gate_polarity(test, polarity):
    f = fn(f"""
        async def step(db, saga_id):
            row = await db.fetchrow("SELECT 1 FROM t WHERE saga_id = $1", saga_id)
            if {test}:
                return
    """, "step")
    [g] = f.gates
    assert (g.polarity, g.exits, g.call_lines) == (polarity, True, (2,))
    assert "saga_id" in g.names


def test_unique_violation_handlers_and_params():
    f = fn("""
        def step(session, payment, *, idempotency_key):
            try:
                session.add(payment)
                session.flush()
            except (ValueError, sa.exc.IntegrityError):
                pass
    """, "step")
    assert f.unique_catches == ((3, 4),)
    assert f.params == ("session", "payment", "idempotency_key")


def test_unparsable_python_is_one_diagnostic_and_no_code_facts():
    ff = extract_file("svc/bad.py", b"def broken(:\n    pass\n")
    assert [d.kind for d in ff.diagnostics] == ["parse-error"] and ff.code is None


def test_deeply_nested_code_does_not_crash():
    src = "def f():\n    x = " + "(" * 90 + "1" + ")" * 90 + "\n    g(x)\n"
    ff = extract_python_file("svc/deep.py", src)
    assert [d.kind for d in ff.diagnostics if d.kind == "internal-error"] == []


# --------------------------------------------------------------------------- SQL write shapes

@pytest.mark.parametrize("sql, detail", [
    ("INSERT INTO t (a, saga_id) VALUES (1, $1) ON CONFLICT (saga_id) DO NOTHING",
     StatementDetail(on_conflict="nothing", columns=("a", "saga_id"))),
    ("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET b = t.b + excluded.b",
     StatementDetail(on_conflict="update", columns=("a",), self_referencing=("b",))),
    ("INSERT INTO t (a) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM t WHERE a = 1)",
     StatementDetail(not_exists=True, columns=("a",))),
    ("UPDATE t SET n = n - $1, status = 'done' WHERE id = $2 AND status = 'open' AND n >= $1",
     StatementDetail(columns=("n", "status"), self_referencing=("n",), where_equals=("id", "status"),
                     where_pinned=("status",))),
    ("UPDATE t SET s = 'x' WHERE (k IN (1, 2)) AND deleted_at IS NULL AND NOT archived",
     StatementDetail(columns=("s",), where_equals=("archived", "deleted_at", "k"),
                     where_pinned=("archived", "deleted_at", "k"))),
    ("DELETE FROM t WHERE id = $1", StatementDetail(where_equals=("id",))),
    ("SELECT * FROM t WHERE saga_id = $1 OR x = 1", StatementDetail()),
])
def test_statement_detail(sql, detail):
    [st] = parse_sql(sql).statements
    assert st.detail == detail


def test_mysql_and_sqlite_conflict_clauses():
    assert parse_sql("INSERT IGNORE INTO t (a) VALUES (1)", dialect="mysql").statements[0].detail.on_conflict == "nothing"
    assert parse_sql("REPLACE INTO t (a) VALUES (1)", dialect="mysql").statements[0].detail.on_conflict == "update"
    assert parse_sql("INSERT OR IGNORE INTO t (a) VALUES (1)", dialect="sqlite").statements[0].detail.on_conflict == "nothing"
    assert parse_sql("CREATE TABLE t (a int)").statements[0].detail is None
