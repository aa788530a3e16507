"""`dbowner verify` against a real PostgreSQL, as a user runs it.

The fixture builds a small shop: three services (orders, payments, users), each in a schema of its
own with its own role, plus the kinds of drift only the database shows: a hand-made grant, a role
membership that carries write access, a PUBLIC grant, a table owned by the wrong service's role,
a cross-owner foreign key and view, an unowned table. Then each role runs queries, so that
pg_stat_statements holds what really ran (dynamic SQL in a DO block included). verify connects as
a least-privilege role (LOGIN + pg_read_all_stats, nothing else).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from postgres_harness import get_server

psycopg = pytest.importorskip("psycopg")

ROOT = Path(__file__).resolve().parent.parent
DB = "dbowner_shop"
PLAIN_DB = "dbowner_plain"          # no pg_stat_statements extension
SERVICE_ROLES = ["orders_svc", "payments_svc", "users_svc", "app_writer", "payments_app", "bi_reader",
                 "verifier", "weak_verifier"]
PASSWORD = "Pw-for-tests-7f3b9c"    # every test role's password: must never appear in dbowner's output


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL server for the whole test session (see tests/postgres_harness.py), or a skip
    that says why there is none."""
    server = get_server()
    if isinstance(server, str):
        pytest.skip(f"no PostgreSQL for the verify tests: {server}")
    yield server
    if server.stop:
        server.stop()


MANIFEST = """\
version: 1
services:
  orders:
    paths: ["services/orders/**"]
    database: shop
    schemas: [orders]
    event_store: [orders.order_events]
    roles: [orders_svc]
  payments:
    paths: ["services/payments/**"]
    database: shop
    schemas: [payments]
    tables: [payments.refunds]
    roles: [payments_svc]
  users:
    paths: ["services/users/**"]
    database: shop
    schemas: [users]
    reads: [orders.orders]
    roles: [users_svc]
"""

SETUP = f"""
CREATE EXTENSION pg_stat_statements;
CREATE SCHEMA orders AUTHORIZATION orders_svc;
CREATE SCHEMA payments AUTHORIZATION payments_svc;
CREATE SCHEMA users AUTHORIZATION users_svc;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

SET ROLE orders_svc;
CREATE TABLE orders.orders (id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL);
CREATE TABLE orders.order_items (order_id int REFERENCES orders.orders (id), sku text, qty int);
CREATE TABLE orders.order_events (id bigint, happened date NOT NULL, body text) PARTITION BY RANGE (happened);
CREATE TABLE orders.order_events_2024 PARTITION OF orders.order_events
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE MATERIALIZED VIEW orders.order_stats AS SELECT status, count(*) AS n FROM orders.orders GROUP BY status;
GRANT USAGE ON SCHEMA orders TO payments_svc, users_svc, bi_reader;
GRANT SELECT ON orders.orders TO users_svc, bi_reader;                  -- right: users declares the read
GRANT UPDATE, SELECT (id, status) ON orders.orders TO payments_svc;   -- wrong: payments writes orders
GRANT SELECT ON orders.order_items TO payments_svc;                     -- wrong: an undeclared read
RESET ROLE;

SET ROLE users_svc;
CREATE TABLE users.customers (id int PRIMARY KEY, name text);
CREATE VIEW users.customer_orders AS
    SELECT c.id, c.name, o.status FROM users.customers c JOIN orders.orders o ON o.customer_id = c.id;
GRANT USAGE ON SCHEMA users TO app_writer;
GRANT INSERT, DELETE, SELECT (id) ON users.customers TO app_writer;   -- wrong, through a group role
RESET ROLE;
CREATE TABLE users.user_flags (user_id int, flag text);
ALTER TABLE users.user_flags OWNER TO orders_svc;                       -- wrong: orders' role owns it

SET ROLE payments_svc;
CREATE TABLE payments.charges (id int PRIMARY KEY, order_id int, amount int);
CREATE TABLE payments.ledger (id int, entry text);
GRANT SELECT ON payments.ledger TO PUBLIC;                              -- wrong: anyone may read it
CREATE VIEW payments.charge_report AS
    SELECT c.id, c.amount, o.status FROM payments.charges c JOIN orders.orders o ON o.id = c.order_id;
GRANT USAGE ON SCHEMA payments TO payments_app;
RESET ROLE;

ALTER TABLE payments.charges ADD FOREIGN KEY (order_id) REFERENCES orders.orders (id);  -- from a console
CREATE TABLE public.legacy_notes (id int, note text);                  -- nobody owns it

INSERT INTO orders.orders VALUES (1, 1, 'new'), (2, 1, 'new');
INSERT INTO users.customers VALUES (1, 'Ada');
INSERT INTO payments.charges VALUES (10, 1, 500);
"""

WORKLOAD = {
    "orders_svc": [
        "SELECT id, status FROM orders.orders WHERE id = 1",
        "INSERT INTO orders.order_events VALUES (1, '2024-05-01', 'created')",
        "UPDATE orders.order_events SET body = 'edited' WHERE id = 1",      # an event store mutated
    ],
    "payments_app": [   # a login role acting for payments through membership in payments_svc
        "UPDATE orders.orders SET status = 'paid' WHERE id = 1",
        "SELECT c.id, o.status FROM payments.charges c JOIN orders.orders o ON o.id = c.order_id",
        "DO $$ BEGIN EXECUTE 'DELETE FROM users.customers WHERE id = ' || 42; END $$",   # dynamic SQL
        f"ALTER ROLE payments_app PASSWORD '{PASSWORD}'",     # a secret in pg_stat_statements
    ],
    "users_svc": ["SELECT id, status FROM orders.orders WHERE customer_id = 1"],
    "bi_reader": ["SELECT count(*) FROM orders.orders"],
}


def _roles_sql() -> str:
    out = []
    for role in SERVICE_ROLES:
        out.append(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
    out += ["GRANT payments_svc TO payments_app", "GRANT app_writer TO payments_svc",
            "GRANT pg_read_all_stats TO verifier"]
    return ";\n".join(out) + ";"


@pytest.fixture(scope="module")
def shop(pg_server, tmp_path_factory):
    """The shop database, its workload run, and a folder holding the manifest."""
    admin = psycopg.connect(pg_server.dsn(), autocommit=True)
    try:
        for db in (DB, PLAIN_DB):
            admin.execute(f"DROP DATABASE IF EXISTS {db}")
        for role in SERVICE_ROLES:
            if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                pytest.fail(f"role {role} already exists on the test server: use a disposable server")
        admin.execute(f"CREATE DATABASE {DB}")
        admin.execute(f"CREATE DATABASE {PLAIN_DB}")
        with psycopg.connect(pg_server.dsn(DB), autocommit=True) as conn:
            conn.execute(_roles_sql())      # run in the shop database: pg_stat_statements sees the passwords
            for stmt in SETUP.split(";\n"):
                if stmt.strip():
                    conn.execute(stmt)
        with psycopg.connect(pg_server.dsn(DB), autocommit=True) as conn:
            if conn.execute("SELECT count(*) FROM pg_stat_statements").fetchone()[0] == 0:
                pytest.skip("the test server does not preload pg_stat_statements")
            # forget the set-up the service roles ran (SET ROLE above); keep the admin's CREATE ROLE
            # ... PASSWORD statements, which must never reach dbowner's output
            conn.execute("SELECT pg_stat_statements_reset(r.oid, 0, 0) FROM pg_roles r WHERE r.rolname = ANY(%s)",
                         (SERVICE_ROLES,))
        for role, statements in WORKLOAD.items():
            with psycopg.connect(pg_server.dsn(DB, user=role, password=PASSWORD), autocommit=True) as conn:
                for stmt in statements:
                    conn.execute(stmt)
                    conn.execute(stmt) if role == "payments_app" else None   # calls are counted
        with psycopg.connect(pg_server.dsn(PLAIN_DB), autocommit=True) as conn:
            conn.execute("CREATE TABLE stray (id int)")
        folder = tmp_path_factory.mktemp("shop")
        (folder / "dbowner.yaml").write_text(MANIFEST, "utf-8")
        yield folder
    finally:
        for db in (DB, PLAIN_DB):
            admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        for role in reversed(SERVICE_ROLES):
            if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                admin.execute(f"DROP ROLE {role}")
        admin.close()


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dbowner", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def url(server, user: str = "verifier", db: str = DB) -> str:
    return server.url(db, user, PASSWORD)


@pytest.fixture(scope="module")
def verified(pg_server, shop, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "live.json"
    proc = run_cli("verify", str(shop), "--dsn-env", "SHOP_DSN", "--database", "shop", "--format", "json",
                   "-o", str(out), env={"SHOP_DSN": url(pg_server)})
    return proc, json.loads(out.read_text("utf-8"))


EXPECTED = [
    # (rule, severity, path, service, table)
    ("missing-table", "warning", "dbowner.yaml", "payments", "payments.refunds"),
    ("cross-service-grant", "error", "pg_catalog:orders.orders", "payments", "orders.orders"),
    ("cross-service-grant", "warning", "pg_catalog:orders.order_items", "payments", "orders.order_items"),
    ("cross-service-grant", "warning", "pg_catalog:payments.ledger", "payments", "payments.ledger"),
    ("cross-service-grant", "error", "pg_catalog:users.customers", "payments", "users.customers"),
    ("cross-service-grant", "error", "pg_catalog:users.user_flags", "orders", "users.user_flags"),
    ("cross-service-foreign-key", "error", "pg_catalog:payments.charges", "payments", "orders.orders"),
    ("cross-service-read", "error", "pg_catalog:payments.charge_report", "payments", "orders.orders"),
    ("unowned-table", "warning", "pg_catalog:public.legacy_notes", "", "public.legacy_notes"),
]


def _runtime(doc: dict) -> list[tuple]:
    return sorted((f["name"], f["service"], f["table"]) for f in doc["findings"]
                  if f["path"].startswith("pg_stat_statements:"))


def test_catalog_findings_are_exactly_the_planted_ones(verified):
    proc, doc = verified
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""       # the report went to -o; stderr only says so
    assert proc.stderr.startswith("dbowner: wrote json report to ") and proc.stderr.count("\n") == 1
    got = sorted((f["name"], f["severity"], f["path"], f["service"] or "", f["table"])
                 for f in doc["findings"] if not f["path"].startswith("pg_stat_statements:"))
    assert got == sorted(EXPECTED)


def test_catalog_messages_say_how_the_access_comes(verified):
    _, doc = verified
    messages = {(f["path"], f["name"]): f["message"] for f in doc["findings"]}
    assert messages[("pg_catalog:orders.orders", "cross-service-grant")] == \
        "payments can UPDATE table orders.orders, owned by orders (granted to payments_svc)"
    assert messages[("pg_catalog:users.customers", "cross-service-grant")] == \
        "payments can DELETE, INSERT table users.customers, owned by users (granted to app_writer, of which " \
        "payments_svc is a member)"
    assert messages[("pg_catalog:users.user_flags", "cross-service-grant")] == \
        "table users.user_flags belongs to users, but in the database it is owned by orders_svc (a role of " \
        "orders), so orders can alter, drop and write it"
    assert messages[("pg_catalog:payments.ledger", "cross-service-grant")].startswith("PUBLIC can SELECT")
    assert "foreign key charges_order_id_fkey from payments.charges (payments) to orders.orders" in \
        messages[("pg_catalog:payments.charges", "cross-service-foreign-key")]


def test_statements_that_ran_are_judged_as_their_services_code(verified):
    _, doc = verified
    assert _runtime(doc) == sorted([
        ("cross-service-write", "payments", "orders.orders"),           # UPDATE by payments_app
        ("cross-service-read", "payments", "orders.orders"),            # the join's read
        ("cross-service-join", "payments", "orders.orders"),
        ("cross-service-write", "payments", "users.customers"),         # dynamic SQL inside DO
        ("event-store-mutation", "orders", "orders.order_events"),
    ])
    write = next(f for f in doc["findings"] if f["name"] == "cross-service-write" and f["table"] == "orders.orders")
    assert write["message"].endswith("(ran 2 time(s) as role payments_app)")
    runtime = doc["live"]["runtime"]
    assert {"role": "bi_reader", "statements": 1, "calls": 1} in runtime["unattributed_roles"]
    orders_usage = next(t for t in runtime["tables"] if t["table"] == "orders.orders")
    assert orders_usage["services"]["payments"]["write"] == 2
    assert orders_usage["services"]["users"] == {"read": 1}


def test_live_section_records_what_was_read(verified):
    _, doc = verified
    live = doc["live"]
    assert live["database"] == DB and live["logical_database"] == "shop" and live["connected_as"] == "verifier"
    assert all(src["read"] for src in live["sources"]), live["sources"]
    assert live["roles"]["payments_app"] == "payments" and live["roles"]["orders_svc"] == "orders"
    assert "bi_reader" not in live["roles"]
    relations = {(r["schema"], r["name"]): r for r in live["facts"]["relations"]}
    assert relations[("orders", "order_events_2024")]["partition_of"] == "orders.order_events"
    assert relations[("orders", "order_stats")]["kind"] == "materialized view"
    assert not [r for r in relations if r[0] == "public" and r[1].startswith("pg_stat_statements")]
    assert doc["diagnostics"] == []
    assert {s["role"] for s in live["facts"]["statements"]} == {"orders_svc", "payments_app", "users_svc"}


def test_without_database_name_missing_table_is_skipped_and_said(pg_server, shop):
    proc = run_cli("verify", str(shop), "--dsn", url(pg_server), "--format", "json")
    doc = json.loads(proc.stdout)
    assert not [f for f in doc["findings"] if f["name"] == "missing-table"]
    assert any(d["kind"] == "check-skipped" and "missing-table" in d["message"] and "--database" in d["message"]
               for d in doc["diagnostics"])


def test_a_role_without_pg_read_all_stats_skips_statements_and_says_why(pg_server, shop):
    proc = run_cli("verify", str(shop), "--dsn", url(pg_server, "weak_verifier"), "--database", "shop")
    assert proc.returncode == 1
    assert "GRANT pg_read_all_stats TO weak_verifier" in proc.stdout
    assert "check-skipped" in proc.stdout
    assert "pg_stat_statements:" not in proc.stdout.replace("pg_stat_statements  check-skipped", "")
    assert PASSWORD not in proc.stdout + proc.stderr


def test_a_database_without_the_extension_is_still_checked(pg_server, shop):
    proc = run_cli("verify", str(shop), "--dsn", url(pg_server, db=PLAIN_DB), "--database", "shop",
                   "--format", "json")
    doc = json.loads(proc.stdout)
    assert [(f["name"], f["table"]) for f in doc["findings"] if f["name"] == "unowned-table"] == \
        [("unowned-table", "public.stray")]
    reason = next(s["reason"] for s in doc["live"]["sources"] if s["name"] == "statements")
    assert "pg_stat_statements extension is not installed" in reason


def _snapshot(server) -> list:
    """Catalog rows that any write (DDL, grant, role change, data) would change."""
    with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
        catalog = conn.execute("""
            SELECT c.oid::regclass::text, c.relkind::text, c.relowner, coalesce(c.relacl::text, ''),
                   c.relpages, c.reltuples, (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1""").fetchall()
        roles = conn.execute("SELECT rolname, rolsuper, rolcanlogin, rolpassword FROM pg_authid ORDER BY 1").fetchall()
        members = conn.execute("SELECT roleid, member FROM pg_auth_members ORDER BY 1, 2").fetchall()
        other = conn.execute("SELECT (SELECT count(*) FROM pg_constraint), (SELECT count(*) FROM pg_depend),"
                             " (SELECT count(*) FROM pg_extension), (SELECT count(*) FROM pg_namespace)").fetchall()
        data = [conn.execute(f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t").fetchone()
                for table in ("orders.orders", "orders.order_events", "users.customers", "payments.charges",
                              "public.legacy_notes")]
    return [catalog, roles, members, other, data]


def test_verify_writes_nothing_and_prints_no_password(pg_server, shop, tmp_path):
    before = _snapshot(pg_server)
    outputs = []
    for fmt in ("text", "json"):
        proc = run_cli("verify", str(shop), "--dsn", url(pg_server), "--database", "shop", "--format", fmt)
        outputs += [proc.stdout, proc.stderr]
        assert proc.returncode == 1 and proc.stderr == ""
    assert "10 error(s), 4 warning(s)\ndatabase dbowner_shop (PostgreSQL " in outputs[0]
    target = tmp_path / "out.json"
    run_cli("verify", str(shop), "--dsn-env", "SHOP_DSN", "-o", str(target), "--format", "json",
            env={"SHOP_DSN": url(pg_server)})
    outputs.append(target.read_text("utf-8"))
    bad_password = run_cli("verify", str(shop), "--dsn", server_url_with(pg_server, "not-" + PASSWORD))
    outputs += [bad_password.stdout, bad_password.stderr]
    assert bad_password.returncode == 2 and "cannot connect" in bad_password.stderr
    assert bad_password.stderr.count("\n") == 1           # one line, no traceback
    assert _snapshot(pg_server) == before
    for text in outputs:
        assert PASSWORD not in text
    # and every statement the verifying role ran was a read: catalog SELECTs and the read-only transaction
    with psycopg.connect(pg_server.dsn(DB), autocommit=True) as conn:
        ran = [q for (q,) in conn.execute(
            "SELECT query FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid "
            "WHERE r.rolname = 'verifier'").fetchall()]
    assert ran
    for query in ran:
        head = query.lstrip().split(None, 1)[0].upper()
        assert head in {"SELECT", "BEGIN", "ROLLBACK", "SAVEPOINT", "RELEASE"}, query


def server_url_with(server, password: str) -> str:
    return server.url(DB, "verifier", password)



def test_roles_of_services_in_different_databases_sharing_a_schema_is_a_shared_database(pg_server, shop):
    from dbowner.introspect import collect
    from dbowner.manifest import load_manifest
    from dbowner.verify import verify

    apart = shop / "apart"
    apart.mkdir(exist_ok=True)
    (apart / "dbowner.yaml").write_text(MANIFEST.replace("database: shop\n    schemas: [payments]",
                                                         "database: payments_db\n    schemas: [payments]"), "utf-8")
    analysis = verify(load_manifest(apart / "dbowner.yaml"), collect(url(pg_server)), database="shop")
    shared = [(f.path, f.line, f.service, f.table, f.message) for f in analysis.findings
              if f.name == "shared-database"]
    tail = "in database dbowner_shop: they share it, though the manifest gives them different databases"
    assert shared == [
        ("dbowner.yaml", 11, "payments", "orders", "services orders (shop), payments (payments_db), users (shop) "
                                                   f"all hold privileges on tables of schema 'orders' {tail}"),
        ("dbowner.yaml", 11, "payments", "users", "services orders (shop), payments (payments_db), users (shop) "
                                                  f"all hold privileges on tables of schema 'users' {tail}")]
    # payments is not in this database's scope any more, so its missing table is not reported here
    assert not [f for f in analysis.findings if f.name == "missing-table"]
