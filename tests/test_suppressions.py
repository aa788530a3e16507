"""Suppression comments: what they cover, by name and code, in Python, SQL and the manifest, and
the two rules about the comments themselves (unused-suppression, suppression-without-reason)."""
from __future__ import annotations

import pytest

from dbowner.analysis import analyze, resolve_settings
from dbowner.extract import extract_file
from dbowner.extract.suppressions import scan_suppressions
from dbowner.manifest import load_manifest
from dbowner.model import FileFacts, Suppression

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
  inventory:
    paths: ["services/inventory/**"]
    database: inventory_db
    tables: [stock]
"""


def run(make_repo, files: dict[str, str], manifest: str = MANIFEST, **settings):
    root = make_repo({"dbowner.yaml": manifest, **files})
    m = load_manifest(root / "dbowner.yaml")
    return analyze(m, settings=resolve_settings(m.rules, **settings) if settings else None)


def reported(analysis) -> list[tuple[str, str, int]]:
    return [(f.name, f.path, f.line) for f in analysis.findings]


def silenced(analysis) -> list[tuple[str, str, int, str]]:
    return [(s.finding.name, s.finding.path, s.finding.line, s.by.reason) for s in analysis.suppressed]


# --------------------------------------------------------------------------- reading the comments
def test_python_comment_covers_every_line_of_its_statement():
    src = (
        'def f(conn):\n'
        '    conn.execute(\n'
        '        """\n'
        '        SELECT * FROM customers\n'
        '        """,\n'
        '    )  # dbowner: ignore[cross-service-read, DBO103] the API is not ready (ORD-1)\n'
    )
    [s] = extract_file("a.py", src.encode()).suppressions
    assert s == Suppression(line=6, rules=("cross-service-read", "dbo103"), reason="the API is not ready (ORD-1)",
                            file_level=False, start_line=2, end_line=6)


def test_python_header_comment_covers_only_the_header_of_a_with_block():
    src = ("async def f(conn):\n"
           "    async with conn.transaction():  # dbowner: ignore[cross-service-transaction] moving to a saga\n"
           "        await conn.execute('UPDATE stock SET n = 1')\n")
    [s] = extract_file("a.py", src.encode()).suppressions
    assert (s.start_line, s.end_line) == (2, 2)


def test_reason_stops_at_another_tools_pragma_and_separators_are_dropped():
    [s] = scan_suppressions("a.py", "x = 1  # noqa: E501  # dbowner: ignore[DBO101]: legacy  # type: ignore\n")[0]
    assert s.rules == ("dbo101",) and s.reason == "legacy"
    [s] = scan_suppressions("a.sql", "SELECT 1; -- dbowner: ignore[unowned-table] - audit table\n")[0]
    assert s.reason == "audit table"


def test_sql_comment_covers_its_line_and_file_level_must_be_in_the_header():
    text = ("-- migration 12\n"
            "-- dbowner: ignore-file[unowned-table] legacy schema, dropped in 0014\n"
            "CREATE TABLE t (a int); -- dbowner: ignore[unowned-table]\n"
            "-- dbowner: ignore-file[cross-service-read] too late\n")
    sups, problems = scan_suppressions("m.sql", text)
    assert [(s.line, s.file_level, s.start_line, s.end_line, s.reason) for s in sups] == [
        (2, True, 0, 0, "legacy schema, dropped in 0014"), (3, False, 3, 3, "")]
    assert [(d.line, d.kind) for d in problems] == [(4, "bad-suppression")]
    assert "must be in the file's header" in problems[0].message


def test_python_file_level_may_follow_the_docstring_but_not_code():
    ok = '#!/usr/bin/env python\n"""Module doc."""\n# dbowner: ignore-file[DBO101] generated\nimport os\n'
    assert scan_suppressions("a.py", ok)[0][0].file_level
    late = 'import os\n# dbowner: ignore-file[DBO101] generated\n'
    sups, problems = scan_suppressions("a.py", late)
    assert sups == [] and problems[0].line == 2


@pytest.mark.parametrize("comment, problem", [
    ("# dbowner: ignore", "not a suppression"),
    ("# dbowner: ignore[]", "name at least one rule"),
    ("# dbowner: ignore[cross service read]", "is not a rule name or code"),
    ("# dbowner: skip[DBO101]", "not a suppression"),
])
def test_malformed_comments_are_diagnostics_with_a_line(comment, problem):
    sups, problems = scan_suppressions("a.py", f"x = 1\n{comment}\n")
    assert sups == []
    assert [(d.line, d.kind) for d in problems] == [(2, "bad-suppression")] and problem in problems[0].message


def test_text_inside_strings_is_not_a_comment():
    assert scan_suppressions("a.py", 'X = "# dbowner: ignore[DBO101] no"\n') == ([], [])


def test_suppressions_round_trip_through_the_fact_cache_format():
    src = b"-- dbowner: ignore-file[DBO105] generated\nSELECT * FROM t; -- dbowner: ignore[DBO101]\n"
    facts = extract_file("a.sql", src)
    assert len(facts.suppressions) == 2
    assert FileFacts.from_dict(facts.to_dict()) == facts
    old_cache_entry = {k: v for k, v in facts.to_dict().items() if k != "suppressions"}
    assert FileFacts.from_dict(old_cache_entry).suppressions == []


# --------------------------------------------------------------------------- applying them
READ_PY = 'def f(conn):\n    return conn.fetchrow("SELECT name FROM customers WHERE id = $1", 1){comment}\n'


@pytest.mark.parametrize("token", ["cross-service-read", "DBO101", "dbo101"])
def test_suppression_by_name_or_code(make_repo, token):
    a = run(make_repo, {"services/orders/a.py": READ_PY.format(comment=f"  # dbowner: ignore[{token}] ORD-1")})
    assert reported(a) == []
    assert silenced(a) == [("cross-service-read", "services/orders/a.py", 2, "ORD-1")]


def test_suppression_of_another_rule_does_not_silence(make_repo):
    a = run(make_repo, {"services/orders/a.py": READ_PY.format(comment="  # dbowner: ignore[DBO102] wrong rule")})
    assert ("cross-service-read", "services/orders/a.py", 2) in reported(a)
    unused = [f for f in a.findings if f.name == "unused-suppression"]
    assert [(f.line, f.message) for f in unused] == [
        (2, "suppression of dbo102 matches no finding here; remove the comment")]


def test_several_rules_in_one_comment(make_repo):
    py = ('def f(conn):\n'
          '    return conn.fetch(\n'
          '        "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id"\n'
          '    )  # dbowner: ignore[cross-service-join, cross-service-read] report moves to the read model\n')
    a = run(make_repo, {"services/orders/a.py": py})
    assert reported(a) == []
    assert sorted(name for name, *_ in silenced(a)) == ["cross-service-join", "cross-service-read"]


def test_comment_on_the_first_line_of_a_sql_statement_covers_the_statement(make_repo):
    sql = ("SELECT o.id -- dbowner: ignore[cross-service-read] nightly export, owner agreed\n"
           "  FROM orders o\n"
           "  JOIN customers c ON c.id = o.customer_id;\n"
           "SELECT * FROM customers;\n")
    a = run(make_repo, {"services/orders/export.sql": sql}, select=["DBO101"])
    assert silenced(a) == [("cross-service-read", "services/orders/export.sql", 3, "nightly export, owner agreed")]
    assert reported(a) == [("cross-service-read", "services/orders/export.sql", 4)]


def test_comment_on_the_call_covers_sql_in_a_constant_defined_elsewhere(make_repo):
    py = ('QUERY = """\n'
          '    SELECT name\n'
          '    FROM customers\n'
          '"""\n'
          'def f(conn):\n'
          '    return conn.fetch(QUERY)  # dbowner: ignore[cross-service-read] cached copy comes in ORD-7\n'
          'def g(conn):\n'
          '    return conn.fetch(QUERY)\n')
    a = run(make_repo, {"services/orders/a.py": py})
    assert [(n, line) for n, _, line, _ in silenced(a)] == [("cross-service-read", 3)]
    assert [f.end_line for f in a.findings] == [8]            # g's call is still reported


def test_file_level_suppression_in_sql_and_python(make_repo):
    a = run(make_repo, {
        "services/orders/legacy.sql": "-- dbowner: ignore-file[cross-service-read] legacy views, removed in Q3\n"
                                      "SELECT * FROM customers;\n\nSELECT id FROM customers;\n",
        "services/orders/a.py": "# dbowner: ignore-file[DBO101]\n" + READ_PY.format(comment=""),
    })
    assert reported(a) == []
    assert [(s.finding.path, s.finding.line, s.by.file_level) for s in a.suppressed] == [
        ("services/orders/a.py", 3, True),
        ("services/orders/legacy.sql", 2, True), ("services/orders/legacy.sql", 4, True)]


def test_manifest_finding_suppressed_on_its_manifest_line(make_repo):
    manifest = MANIFEST.replace("    database: inventory_db\n",
                                "    database: orders_db  # dbowner: ignore[shared-database] split in 2025\n")
    a = run(make_repo, {}, manifest=manifest)
    assert reported(a) == []
    assert silenced(a) == [("shared-database", "dbowner.yaml", 13, "split in 2025")]


def test_suppressions_without_reason_are_counted(make_repo):
    from dbowner.output.summary import summary
    a = run(make_repo, {"services/orders/a.py": READ_PY.format(comment="  # dbowner: ignore[DBO101]"),
                        "services/orders/b.sql": "SELECT 1 FROM customers; -- dbowner: ignore[DBO101] agreed\n"})
    s = summary(a)
    assert (s["findings"], s["suppressed"], s["suppressed_without_reason"]) == (0, 2, 1)


def test_require_reasons_reports_bare_comments_but_still_suppresses(make_repo):
    files = {"services/orders/a.py": READ_PY.format(comment="  # dbowner: ignore[DBO101]")}
    a = run(make_repo, files, manifest=MANIFEST + "rules:\n  require_reasons: true\n")
    assert reported(a) == [("suppression-without-reason", "services/orders/a.py", 2)]
    assert a.findings[0].code == "DBO902" and a.failed
    assert len(a.suppressed) == 1
    off = run(make_repo, files, manifest=MANIFEST + "rules:\n  require_reasons: true\n", require_reasons=False)
    assert reported(off) == []


# --------------------------------------------------------------------------- unused suppressions
def test_unused_suppression_is_reported_with_code_and_location(make_repo):
    a = run(make_repo, {"services/orders/a.py": "def f(conn):\n"
                        "    return conn.fetch('SELECT * FROM orders')  # dbowner: ignore[cross-service-read] old\n"})
    [f] = a.findings
    assert (f.code, f.name, f.path, f.line, f.service) == ("DBO901", "unused-suppression", "services/orders/a.py", 2,
                                                           "orders")
    assert f.message == "suppression of cross-service-read matches no finding here; remove the comment"
    assert a.failed


def test_unused_part_of_a_comment_and_unknown_rules(make_repo):
    a = run(make_repo, {"services/orders/a.py": READ_PY.format(
        comment="  # dbowner: ignore[cross-service-read, unowned-table, cross-service-raed] ORD-1")})
    [f] = a.findings
    assert f.message == ("unowned-table in this suppression matches no finding here; remove it from the brackets; "
                         "'cross-service-raed' is not a dbowner rule (did you mean 'cross-service-read'?)")
    assert len(a.suppressed) == 1


def test_unused_file_level_suppression(make_repo):
    a = run(make_repo, {"services/orders/a.sql": "-- dbowner: ignore-file[DBO104] none here\nSELECT * FROM orders;\n"})
    assert [(f.name, f.line, f.message) for f in a.findings] == [
        ("unused-suppression", 1, "suppression of dbo104 matches no finding in this file; remove the comment")]


def test_not_reported_for_rules_that_did_not_run(make_repo):
    files = {"services/orders/a.py": "def f(conn):\n"
             "    return conn.fetch('SELECT * FROM orders')  # dbowner: ignore[cross-service-read] old\n"}
    assert reported(run(make_repo, files, select=["DBO102", "unused-suppression"])) == []
    assert reported(run(make_repo, files, ignore=["cross-service-read"])) == []
    assert reported(run(make_repo, files, ignore=["unused-suppression"])) == []
    per_path = MANIFEST + 'rules:\n  per_path_ignores:\n    "services/orders/**": [DBO101]\n'
    assert reported(run(make_repo, files, manifest=per_path)) == []
    assert reported(run(make_repo, files, select=["DBO101", "DBO901"])) == [
        ("unused-suppression", "services/orders/a.py", 2)]


def test_unused_suppression_in_the_manifest(make_repo):
    manifest = MANIFEST.replace("    tables: [customers]", "    tables: [customers]  # dbowner: ignore[DBO001] x")
    a = run(make_repo, {}, manifest=manifest)
    assert [(f.name, f.path, f.line) for f in a.findings] == [("unused-suppression", "dbowner.yaml", 6)]


def test_bad_comment_is_a_diagnostic_and_the_finding_stays(make_repo):
    a = run(make_repo, {"services/orders/a.py": READ_PY.format(comment="  # dbowner: ignore cross-service-read")})
    assert reported(a) == [("cross-service-read", "services/orders/a.py", 2)]
    assert [(d.path, d.line, d.kind) for d in a.diagnostics] == [("services/orders/a.py", 2, "bad-suppression")]


def test_text_and_json_summaries_count_suppressed_findings(make_repo):
    import json

    from click.testing import CliRunner

    from dbowner.cli import main
    root = make_repo({"dbowner.yaml": MANIFEST,
                      "services/orders/a.py": READ_PY.format(comment="  # dbowner: ignore[DBO101]"),
                      "services/orders/b.sql": "SELECT 1 FROM customers; -- dbowner: ignore[DBO101] agreed\n"
                                               "DELETE FROM customers;\n"})

    def check(*args):
        return CliRunner().invoke(main, ["check", str(root), *args], catch_exceptions=False)

    proc = check()
    assert proc.exit_code == 1
    assert "1 error(s), 0 warning(s); 2 suppressed (1 without a reason)" in proc.stdout
    doc = json.loads(check("--format", "json").stdout)
    assert [f["name"] for f in doc["findings"]] == ["cross-service-write"]
    assert [(s["path"], s["line"], s["suppression"]) for s in doc["suppressed"]] == [
        ("services/orders/a.py", 2, {"line": 2, "file_level": False, "reason": None}),
        ("services/orders/b.sql", 1, {"line": 1, "file_level": False, "reason": "agreed"})]
    assert (doc["summary"]["suppressed"], doc["summary"]["suppressed_without_reason"]) == (2, 1)
    assert doc["baselined"] == [] and doc["stale_baseline"] == []
