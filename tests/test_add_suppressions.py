"""`dbowner check --add-suppressions`: a comment per finding, formatting kept, and a rerun reports
those findings as suppressed."""
from __future__ import annotations

from pathlib import Path

from cli_inprocess import dbowner
from dbowner.analysis import analyze
from dbowner.manifest import load_manifest
from dbowner.policy.add_suppressions import add_suppressions

MANIFEST = """
version: 1
services:
  users:
    paths: ["services/users/**"]
    database: users_db
    tables: [customers]
  orders:
    paths: ["services/orders/**"]
    database: orders_db
    tables: [orders]
  billing:
    paths: ["services/billing/**"]
    database: orders_db
    tables: [invoices]
"""

PY = '''\
"""Checkout."""
from   django.db import transaction   # odd spacing stays


QUERY = """
    SELECT name
      FROM customers
"""


def names(conn):
    return conn.fetch(QUERY)


async def place(conn, oid):
    async with conn.transaction():
        await conn.execute("INSERT INTO orders (id) VALUES ($1)", oid)
        await conn.execute(
            """
            UPDATE customers
               SET last_order = $1
            """,
            oid,
        )  # noqa: E501


@transaction.atomic
def pay(cur):
    cur.execute("INSERT INTO orders (id) VALUES (1)"); cur.execute("DELETE FROM invoices")
'''

PY_EXPECTED = '''\
"""Checkout."""
from   django.db import transaction   # odd spacing stays


QUERY = """
    SELECT name
      FROM customers
"""  # dbowner: ignore[cross-service-read] TODO: reason


def names(conn):
    return conn.fetch(QUERY)


async def place(conn, oid):
    async with conn.transaction():  # dbowner: ignore[cross-service-transaction] TODO: reason
        await conn.execute("INSERT INTO orders (id) VALUES ($1)", oid)
        await conn.execute(
            """
            UPDATE customers
               SET last_order = $1
            """,
            oid,
        )  # noqa: E501  # dbowner: ignore[cross-service-write] TODO: reason


@transaction.atomic  # dbowner: ignore[cross-service-transaction] TODO: reason
def pay(cur):
    cur.execute("INSERT INTO orders (id) VALUES (1)"); cur.execute("DELETE FROM invoices")  # dbowner: ignore[cross-service-write] TODO: reason
'''

SQL = ("CREATE TABLE payments (\n"
       "    id int PRIMARY KEY,\n"
       "    customer_id int REFERENCES customers (id)\n"
       ");\r\n"
       "INSERT INTO audit_log (note) VALUES ('multi\n"
       "line'); SELECT 1 FROM customers;\n")

SQL_EXPECTED = ("CREATE TABLE payments ( -- dbowner: ignore[unowned-table] TODO: reason\n"
                "    id int PRIMARY KEY,\n"
                "    customer_id int REFERENCES customers (id) -- dbowner: ignore[cross-service-foreign-key] TODO: reason\n"
                ");\r\n"
                "INSERT INTO audit_log (note) VALUES ('multi\n"
                "line'); SELECT 1 FROM customers; -- dbowner: ignore[cross-service-read] TODO: reason\n")


def repo(make_repo) -> Path:
    root = make_repo({"dbowner.yaml": MANIFEST, "services/orders/app/checkout.py": "", "services/orders/m.sql": ""})
    (root / "services/orders/app/checkout.py").write_bytes(PY.encode())
    (root / "services/orders/m.sql").write_bytes(SQL.encode())
    return root


def test_comments_go_where_they_cover_the_finding_and_nothing_else_changes(make_repo):
    root = repo(make_repo)
    analysis = analyze(load_manifest(root / "dbowner.yaml"))
    report = add_suppressions(root, analysis.findings)
    assert (root / "services/orders/app/checkout.py").read_bytes().decode() == PY_EXPECTED
    assert (root / "services/orders/m.sql").read_bytes().decode() == SQL_EXPECTED
    manifest = (root / "dbowner.yaml").read_text()
    assert "    database: orders_db  # dbowner: ignore[shared-database] TODO: reason\n" in manifest
    assert report.skipped == [("services/orders/m.sql", 5, "the line ends inside a string or block comment")]
    assert report.files == ["dbowner.yaml", "services/orders/app/checkout.py", "services/orders/m.sql"]


def test_rerun_reports_them_as_suppressed_and_adds_nothing_more(make_repo):
    root = repo(make_repo)
    before = analyze(load_manifest(root / "dbowner.yaml"))
    proc = dbowner("check", "--add-suppressions", cwd=root)
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == [
        "dbowner: services/orders/m.sql:5: no suppression comment added: the line ends inside a string or "
        "block comment",
        "dbowner: added 9 suppression comment(s) to 3 file(s); replace each 'TODO: reason' with the reason for "
        "the exception",
    ]
    after = analyze(load_manifest(root / "dbowner.yaml"))
    assert [(f.name, f.path, f.line) for f in after.findings] == [("unowned-table", "services/orders/m.sql", 5)]
    still = ("services/orders/m.sql", 5)
    assert [s.finding for s in after.suppressed] == [f for f in before.findings if (f.path, f.line) != still]
    assert {s.by.reason for s in after.suppressed} == {"TODO: reason"}
    text = (root / "services/orders/app/checkout.py").read_bytes()
    again = dbowner("check", "--add-suppressions", cwd=root)
    assert "added 0 suppression comment(s) to 0 file(s)" in again.stderr
    assert (root / "services/orders/app/checkout.py").read_bytes() == text


def test_findings_of_the_suppression_rules_get_no_comment(make_repo):
    root = make_repo({"dbowner.yaml": MANIFEST.replace("database: orders_db\n    tables: [invoices]",
                                                       "database: billing_db\n    tables: [invoices]"),
                      "services/orders/a.py": "X = 1  # dbowner: ignore[DBO101] gone\n"})
    analysis = analyze(load_manifest(root / "dbowner.yaml"))
    assert [f.name for f in analysis.findings] == ["unused-suppression"]
    report = add_suppressions(root, analysis.findings)
    assert report.comments == 0 and (root / "services/orders/a.py").read_text() == "X = 1  # dbowner: ignore[DBO101] gone\n"
