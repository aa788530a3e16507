"""`dbowner verify`'s judging, on hand-written catalog facts (no database needed), and its command
line where no database is reached. tests/test_verify_postgres.py runs it against a real server."""
from __future__ import annotations

import socket
import textwrap

import pytest
from click.testing import CliRunner

from dbowner.cli import main
from dbowner.introspect import _SECRET_STATEMENT, mask_secrets
from dbowner.livefacts import LiveFacts
from dbowner.manifest import ManifestError, load_manifest
from dbowner.verify import verify

MANIFEST = """\
version: 1
services:
  orders:
    paths: ["services/orders/**"]
    database: {orders_db}
    schemas: [orders]
    event_store: [orders.order_events]
    roles: [orders_svc]
  payments:
    paths: ["services/payments/**"]
    database: {payments_db}
    schemas: [payments]
    tables: ["payments.saga_*"]
    reads: [orders.order_totals]
    roles: [payments_svc]
"""

ORDERS = {"schema": "orders", "name": "orders", "kind": "table", "owner_role": "orders_svc"}
CHARGES = {"schema": "payments", "name": "charges", "kind": "table", "owner_role": "payments_svc"}
EVENTS = {"schema": "orders", "name": "order_events", "kind": "table", "owner_role": "orders_svc"}
ROLES = [{"name": "orders_svc", "login": True}, {"name": "payments_svc", "login": True}]


def manifest(make_repo, orders_db: str = "shop", payments_db: str = "shop"):
    root = make_repo({"dbowner.yaml": MANIFEST.format(orders_db=orders_db, payments_db=payments_db)})
    return load_manifest(root / "dbowner.yaml")


def run(m, database: str | None = None, **facts):
    facts.setdefault("database", "shop")
    facts.setdefault("relations", [ORDERS, EVENTS, CHARGES])
    facts.setdefault("roles", ROLES)
    return verify(m, LiveFacts.from_dict(facts), database=database)


def found(analysis, rule: str | None = None) -> list[tuple]:
    return sorted((f.name, f.severity.value, f.service, f.table) for f in analysis.findings
                  if rule is None or f.name == rule)


def test_a_clean_database_has_no_findings(make_repo):
    analysis = run(manifest(make_repo))
    assert found(analysis) == [] and analysis.diagnostics == []


def test_membership_carries_privileges_unless_it_neither_inherits_nor_sets(make_repo):
    grants = [{"schema": "orders", "table": "orders", "grantee": "writers", "privilege": "INSERT"}]
    roles = ROLES + [{"name": "writers"}]
    member = {"member": "payments_svc", "role": "writers", "inherit": False, "set": True}
    analysis = run(manifest(make_repo), grants=grants, roles=roles, memberships=[member])
    assert found(analysis) == [("cross-service-grant", "error", "payments", "orders.orders")]
    assert "granted to writers, of which payments_svc is a member" in analysis.findings[0].message
    inert = {**member, "set": False}      # PostgreSQL 16: GRANT writers TO payments_svc WITH INHERIT FALSE, SET FALSE
    assert found(run(manifest(make_repo), grants=grants, roles=roles, memberships=[inert])) == []


def test_the_owning_service_and_declared_reads_are_not_findings(make_repo):
    totals = {"schema": "orders", "name": "order_totals", "kind": "view", "owner_role": "orders_svc"}
    grants = [{"schema": "orders", "table": "orders", "grantee": "orders_svc", "privilege": "UPDATE"},
              {"schema": "orders", "table": "order_totals", "grantee": "payments_svc", "privilege": "SELECT"},
              {"schema": "orders", "table": "orders", "grantee": "payments_svc", "privilege": "SELECT"}]
    analysis = run(manifest(make_repo), relations=[ORDERS, EVENTS, CHARGES, totals], grants=grants)
    assert found(analysis) == [("cross-service-grant", "warning", "payments", "orders.orders")]
    assert "not declared in services.payments.reads" in analysis.findings[0].message


def test_column_privileges_count_and_are_named(make_repo):
    grants = [{"schema": "orders", "table": "orders", "grantee": "payments_svc", "privilege": "UPDATE",
               "column": "status"}]
    analysis = run(manifest(make_repo), grants=grants)
    assert [f.message for f in analysis.findings] == [
        "payments can UPDATE(status) table orders.orders, owned by orders (granted to payments_svc)"]


def test_role_wide_rights_are_one_finding_per_role(make_repo):
    roles = [{"name": "orders_svc", "superuser": True}, {"name": "payments_svc"}, {"name": "pg_read_all_data"}]
    memberships = [{"member": "payments_svc", "role": "pg_read_all_data"}]
    analysis = run(manifest(make_repo), roles=roles, memberships=memberships)
    assert sorted((f.path, f.severity.value, f.service) for f in analysis.findings) == [
        ("pg_catalog:roles/orders_svc", "error", "orders"),
        ("pg_catalog:roles/payments_svc", "warning", "payments")]


def test_public_write_is_an_error_once_per_table(make_repo):
    grants = [{"schema": "orders", "table": "orders", "grantee": "PUBLIC", "privilege": "DELETE"}]
    analysis = run(manifest(make_repo), grants=grants)
    assert found(analysis) == [("cross-service-grant", "error", "orders", "orders.orders")]


def test_partitions_belong_to_their_parent_table(make_repo):
    events = {"schema": "orders", "name": "order_events", "kind": "partitioned table", "owner_role": "orders_svc"}
    part = {"schema": "orders", "name": "order_events_2024", "kind": "table", "owner_role": "orders_svc",
            "partition_of": "orders.order_events"}
    stray = {"schema": "public", "name": "events_2024", "kind": "table", "owner_role": "payments_svc",
             "partition_of": "public.events"}
    events_parent = {"schema": "public", "name": "events", "kind": "partitioned table", "owner_role": "payments_svc"}
    analysis = run(manifest(make_repo), relations=[ORDERS, CHARGES, events, part, stray, events_parent])
    assert found(analysis) == [("unowned-table", "warning", "payments", "public.events")]


def test_cross_owner_foreign_keys_and_views(make_repo):
    report = {"schema": "payments", "name": "report", "kind": "materialized view", "owner_role": "payments_svc"}
    totals = {"schema": "orders", "name": "order_totals", "kind": "view", "owner_role": "orders_svc"}
    analysis = run(manifest(make_repo), relations=[ORDERS, EVENTS, CHARGES, report, totals],
                   foreign_keys=[{"schema": "payments", "table": "charges", "name": "charges_order_fk",
                                  "ref_schema": "orders", "ref_table": "orders"},
                                 {"schema": "orders", "table": "orders", "name": "self_fk",
                                  "ref_schema": "orders", "ref_table": "orders"}],
                   view_dependencies=[{"schema": "payments", "view": "report", "ref_schema": "orders",
                                       "ref_name": "orders"},
                                      {"schema": "payments", "view": "report", "ref_schema": "orders",
                                       "ref_name": "order_totals"},     # declared in reads
                                      {"schema": "payments", "view": "report", "ref_schema": "payments",
                                       "ref_name": "charges"}])
    assert found(analysis) == [("cross-service-foreign-key", "error", "payments", "orders.orders"),
                               ("cross-service-read", "error", "payments", "orders.orders")]
    read = next(f for f in analysis.findings if f.name == "cross-service-read")
    assert read.path == "pg_catalog:payments.report"
    assert read.message.startswith("materialized view payments.report of payments reads orders.orders")


def test_missing_tables_and_schemas_but_not_globs(make_repo):
    analysis = run(manifest(make_repo), relations=[ORDERS])
    assert [(f.line, f.message) for f in analysis.findings] == [
        (7, "services.orders.event_store[0]: table 'orders.order_events' does not exist in database shop"),
        (12, "services.payments.schemas[0]: schema 'payments' has no tables in database shop (or does not exist)")]
    assert all(f.path == "dbowner.yaml" and f.name == "missing-table" for f in analysis.findings)


def test_missing_table_needs_to_know_which_manifest_database_this_is(make_repo):
    m = manifest(make_repo, orders_db="orders_db", payments_db="payments_db")
    analysis = run(m, relations=[])
    assert found(analysis, "missing-table") == []
    assert [d.message for d in analysis.diagnostics] == [
        "missing-table: no service in the manifest has database 'shop' (its databases: orders_db, payments_db); "
        "pass --database to say which one this is"]
    named = run(m, database="orders_db", relations=[ORDERS])
    assert [f.table for f in named.findings] == ["orders.order_events"]     # payments lives elsewhere


def test_shared_schema_is_evidence_of_a_shared_database_only_when_the_manifest_says_otherwise(make_repo):
    grants = [{"schema": "orders", "table": "orders", "grantee": "payments_svc", "privilege": "SELECT"}]
    apart = run(manifest(make_repo, orders_db="orders_db", payments_db="payments_db"), grants=grants,
                database="orders_db")
    assert found(apart, "shared-database") == [("shared-database", "error", "payments", "orders")]
    finding = next(f for f in apart.findings if f.name == "shared-database")
    assert (finding.path, finding.line) == ("dbowner.yaml", 11)
    assert "services orders (orders_db), payments (payments_db) all hold privileges on tables of schema 'orders'" \
        in finding.message
    assert found(run(manifest(make_repo), grants=grants), "shared-database") == []   # the manifest says: shared


def test_unreadable_facts_skip_their_checks_and_say_so(make_repo):
    analysis = run(manifest(make_repo), relations=[], unavailable={
        "relations": "permission denied (permission denied for table pg_class)",
        "statements": "the pg_stat_statements extension is not installed in database shop"})
    assert found(analysis) == []         # no missing-table flood from an empty relation list
    kinds = {(d.kind, d.message.split(":")[0]) for d in analysis.diagnostics}
    assert ("check-skipped", "missing-table not checked") in kinds
    assert ("check-skipped", "statements that ran were not checked") in kinds
    rules = {r["name"]: r for r in analysis.live["rules"]}
    assert rules["missing-table"]["catalog"].startswith("skipped: relations: permission denied")
    assert rules["cross-service-write"]["statements"].startswith("skipped: the pg_stat_statements")


def test_statements_are_judged_as_the_code_of_the_service_whose_role_ran_them(make_repo):
    roles = ROLES + [{"name": "payments_app", "login": True}, {"name": "bi"}]
    statements = [
        {"queryid": "7", "role": "payments_app", "calls": 5, "text": "UPDATE orders.orders SET status = $1 WHERE id = $2"},
        {"queryid": "7", "role": "orders_svc", "calls": 9, "text": "UPDATE orders.orders SET status = $1 WHERE id = $2"},
        {"queryid": "8", "role": "bi", "calls": 3, "text": "SELECT * FROM orders.orders JOIN payments.charges USING (id)"},
        {"queryid": "9", "role": "payments_svc", "calls": 1, "text": "SELECT * FROM orders.order_totals"},
        {"queryid": "10", "role": "payments_svc", "calls": 1, "text": "SELECT * FROM orders.orders WHERE id IN ($1, $2, $3,"},  # cut at track_activity_query_size
        {"queryid": "11", "role": "orders_svc", "calls": 2, "text": "PREPARE TRANSACTION 'tx1'"},
    ]
    analysis = run(manifest(make_repo), roles=roles, statements=statements,
                   memberships=[{"member": "payments_app", "role": "payments_svc"}])
    assert sorted((f.name, f.path, f.service) for f in analysis.findings) == [
        ("cross-service-write", "pg_stat_statements:7", "payments"),
        ("two-phase-commit", "pg_stat_statements:11", "orders")]
    write = next(f for f in analysis.findings if f.name == "cross-service-write")
    assert write.message.endswith("(ran 5 time(s) as role payments_app)")
    assert [(d.path, d.kind) for d in analysis.diagnostics] == [("pg_stat_statements:10", "parse-error")]
    runtime = analysis.live["runtime"]
    assert runtime["unattributed_roles"] == [{"role": "bi", "statements": 1, "calls": 3}]
    assert runtime["unparsable"] == 1
    assert {s["role"] for s in analysis.live["facts"]["statements"]} == {"payments_app", "orders_svc",
                                                                         "payments_svc"}


def test_live_facts_round_trip_through_json():
    facts = LiveFacts.from_dict({"database": "shop", "relations": [ORDERS], "roles": ROLES,
                                 "memberships": [{"member": "a", "role": "b", "inherit": False}],
                                 "unavailable": {"statements": "why"}})
    assert LiveFacts.from_dict(facts.to_dict()) == facts
    with pytest.raises(ValueError, match="unknown key in live facts: tables"):
        LiveFacts.from_dict({"tables": []})


def test_passwords_are_masked_in_messages():
    url = "postgresql://verifier:s3cr%3Dt@db.internal:5432/shop"
    assert "s3cr" not in mask_secrets(f"could not parse {url}", url)
    kv = "host=db user=v password='pa ss' dbname=shop"
    assert "pa ss" not in mask_secrets(f"bad: {kv}", kv)
    assert mask_secrets("FATAL: password authentication failed for user v", url) == \
        "FATAL: password authentication failed for user v"


@pytest.mark.parametrize("text,secret", [
    ("ALTER ROLE app PASSWORD 'x'", True),
    ("create user mapping for app server s options (user 'a', password 'b')", True),
    ("CREATE ROLE r", True),
    ("SELECT password_hash FROM users.accounts WHERE id = $1", False),
    ("UPDATE users.accounts SET password = $1 WHERE id = $2", False),
])
def test_statements_holding_secrets_are_never_kept(text, secret):
    assert bool(_SECRET_STATEMENT.search(text)) is secret


def test_manifest_roles_are_validated_with_lines(make_repo):
    root = make_repo({"dbowner.yaml": textwrap.dedent("""\
        version: 1
        services:
          a:
            paths: [a/**]
            roles: [shared_role]
          b:
            paths: [b/**]
            roles: [b_role, shared_role, b_role]
        """)})
    with pytest.raises(ManifestError) as exc:
        load_manifest(root / "dbowner.yaml")
    assert exc.value.problems == [
        "dbowner.yaml:8: services.b.roles[1]: role 'shared_role' is already a role of service a",
        "dbowner.yaml:8: services.b.roles[2]: role 'b_role' is listed twice"]
    root = make_repo({"dbowner.yaml": "version: 1\nservices:\n  a:\n    paths: [a/**]\n    roles: orders_svc\n"})
    with pytest.raises(ManifestError, match=r"dbowner.yaml:5: services.a.roles: expected a list, got a string"):
        load_manifest(root / "dbowner.yaml")


# ---------------------------------------------------------------- command line, no database reached
def cli(make_repo, *args, env=None):
    root = make_repo({"dbowner.yaml": MANIFEST.format(orders_db="shop", payments_db="shop")})
    return CliRunner().invoke(main, ["verify", str(root), *args], env=env)


def test_a_database_must_be_named(make_repo):
    result = cli(make_repo)
    assert result.exit_code == 2
    assert result.output == "dbowner: say which database to verify: --dsn URL or --dsn-env VAR\n"
    result = cli(make_repo, "--dsn-env", "NOT_SET_ANYWHERE", env={"NOT_SET_ANYWHERE": ""})
    assert result.exit_code == 2 and "NOT_SET_ANYWHERE (from --dsn-env) is not set or empty" in result.output


def test_a_refused_connection_is_one_line_without_the_password(make_repo):
    with socket.socket() as s:                 # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = cli(make_repo, "--dsn", f"postgresql://v:TopSecret42@127.0.0.1:{port}/shop")
    assert result.exit_code == 2
    assert result.output.startswith("dbowner: cannot connect: ") and result.output.count("\n") == 1
    assert "TopSecret42" not in result.output


def test_without_psycopg_the_error_says_what_to_install(make_repo, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "psycopg", None)     # import psycopg now raises ImportError
    result = cli(make_repo, "--dsn", "postgresql://v:pw@127.0.0.1:1/shop")
    assert result.exit_code == 2
    assert result.output == "dbowner: dbowner verify needs psycopg 3: pip install 'dbowner[verify]'\n"


def test_check_refuses_to_select_a_rule_only_verify_runs(make_repo):
    root = make_repo({"dbowner.yaml": MANIFEST.format(orders_db="shop", payments_db="shop")})
    result = CliRunner().invoke(main, ["check", str(root), "--select", "cross-service-grant"])
    assert result.exit_code == 2
    assert "rule 'cross-service-grant' is not checked by this command" in result.output
    result = CliRunner().invoke(main, ["check", str(root), "--ignore", "missing-table"])
    assert result.exit_code == 0 and "shared-database" in result.output   # a warning: both in shop, own schemas

