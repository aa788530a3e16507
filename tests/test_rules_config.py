"""Rule configuration: the manifest's `rules:` section and the command-line options over it."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dbowner.analysis import SelectionError, analyze, resolve_settings
from dbowner.cli import main
from dbowner.manifest import ManifestError, RulesConfig, load_manifest
from dbowner.model import Severity

SERVICES = """
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
"""
FILES = {
    "services/orders/app/read.py": "def f(c):\n    return c.fetch('SELECT * FROM customers')\n",
    "services/orders/scripts/fix.sql": "DELETE FROM customers WHERE id = 1;\nSELECT * FROM audit_log;\n",
}


def findings(make_repo, rules_yaml: str = "", **cli):
    root = make_repo({"dbowner.yaml": SERVICES + rules_yaml, **FILES})
    m = load_manifest(root / "dbowner.yaml")
    a = analyze(m, settings=resolve_settings(m.rules, **cli))
    return sorted((f.name, f.path, f.severity.value) for f in a.findings)


def test_manifest_rules_section_loads(make_repo):
    root = make_repo({"dbowner.yaml": SERVICES + """
rules:
  select: [DBO1]
  ignore: [unowned-table]
  severity: {cross-service-read: warning, DBO102: info}
  require_reasons: true
  per_path_ignores:
    "services/*/scripts/**": [cross-service-write]
"""})
    m = load_manifest(root / "dbowner.yaml")
    assert m.rules == RulesConfig(select=("DBO1",), ignore=("unowned-table",),
                                  severity=(("cross-service-read", "warning"), ("DBO102", "info")),
                                  require_reasons=True,
                                  per_path_ignores=(("services/*/scripts/**", ("cross-service-write",)),))


def test_without_rules_section_everything_runs_at_default_severity(make_repo):
    assert findings(make_repo) == [
        ("cross-service-read", "services/orders/app/read.py", "error"),
        ("cross-service-write", "services/orders/scripts/fix.sql", "error"),
        ("unowned-table", "services/orders/scripts/fix.sql", "warning"),
    ]


def test_select_ignore_and_severity_from_the_manifest(make_repo):
    got = findings(make_repo, "rules:\n  select: [DBO1]\n  ignore: [DBO105]\n"
                              "  severity: {DBO1: warning, cross-service-write: info}\n")
    assert got == [("cross-service-read", "services/orders/app/read.py", "warning"),
                   ("cross-service-write", "services/orders/scripts/fix.sql", "info")]


def test_per_path_ignores_apply_only_to_matching_files(make_repo):
    got = findings(make_repo, 'rules:\n  per_path_ignores:\n    "services/*/scripts/**": [DBO102, unowned-table]\n')
    assert got == [("cross-service-read", "services/orders/app/read.py", "error")]


def test_command_line_wins_over_the_manifest(make_repo):
    rules = "rules:\n  select: [cross-service-read]\n  ignore: [DBO105]\n  severity: {DBO101: warning}\n"
    # --select replaces the manifest's select and ignore
    assert findings(make_repo, rules, select=["DBO105"]) == [
        ("unowned-table", "services/orders/scripts/fix.sql", "warning")]
    # --ignore adds to the manifest's ignore
    assert findings(make_repo, rules, ignore=["DBO101"]) == []
    # --severity wins over rules.severity
    assert findings(make_repo, rules, severity=["cross-service-read=error"]) == [
        ("cross-service-read", "services/orders/app/read.py", "error")]


def test_exact_rule_beats_prefix_whatever_the_order(make_repo):
    cfg = RulesConfig(severity=(("DBO101", "info"), ("DBO1", "warning")))
    s = resolve_settings(cfg)
    assert s.severity["cross-service-read"] is Severity.INFO
    assert s.severity["cross-service-write"] is Severity.WARNING
    s = resolve_settings(cfg, severity=["DBO1=error"])
    assert s.severity["cross-service-read"] is Severity.ERROR        # command line over manifest


@pytest.mark.parametrize("bad, message", [
    (["cross-service-raed=error"], "unknown rule 'cross-service-raed' (did you mean 'cross-service-read'?)"),
    (["DBO101"], "--severity expects RULE=error|warning|info, got 'DBO101'"),
    (["DBO101=fatal"], "--severity expects RULE=error|warning|info, got 'DBO101=fatal'"),
])
def test_bad_command_line_severity(bad, message):
    with pytest.raises(SelectionError) as exc:
        resolve_settings(RulesConfig(), severity=bad)
    assert str(exc.value).startswith(message)


@pytest.mark.parametrize("rules_yaml, problem", [
    ("rules:\n  select: [DBO101, cross-service-raed]\n",
     "dbowner.yaml:12: rules.select[1]: unknown rule 'cross-service-raed' (did you mean 'cross-service-read'?) "
     "(see `dbowner explain --list`)"),
    ("rules:\n  severity:\n    DBO101: fatal\n",
     "dbowner.yaml:13: rules.severity.DBO101: expected one of error, warning, info, got a string ('fatal')"),
    ("rules:\n  severity:\n    nope: error\n",
     "dbowner.yaml:13: rules.severity.nope: unknown rule 'nope' (see `dbowner explain --list`)"),
    ("rules:\n  require_reasons: yes please\n",
     "dbowner.yaml:12: rules.require_reasons: expected true or false, got a string ('yes please')"),
    ("rules:\n  per_path_ignores:\n    \"scripts/**\": [D0102]\n",
     "dbowner.yaml:13: rules.per_path_ignores.scripts/**[0]: unknown rule 'D0102' (see `dbowner explain --list`)"),
    ("rules:\n  selct: [DBO1]\n", "dbowner.yaml:12: rules.selct: unknown key 'selct' (did you mean 'select'?)"),
    ("rules:\n  ignore: DBO1\n", "dbowner.yaml:12: rules.ignore: expected a list, got a string ('DBO1')"),
])
def test_rules_section_errors_name_file_line_and_key(make_repo, rules_yaml, problem):
    root = make_repo({"dbowner.yaml": SERVICES + rules_yaml})
    with pytest.raises(ManifestError) as exc:
        load_manifest(root / "dbowner.yaml")
    assert exc.value.problems == [problem]


def test_severity_option_changes_the_exit_status(make_repo):
    root = make_repo({"dbowner.yaml": SERVICES, **FILES})

    def check(*args: str) -> int:
        return CliRunner().invoke(main, ["check", str(root), *args], catch_exceptions=False).exit_code

    assert check() == 1
    assert check("--severity", "DBO101=warning,DBO102=warning") == 0
    (root / "dbowner.yaml").write_text(SERVICES + "rules:\n  severity: {DBO1: info}\n")
    assert check() == 0
    assert check("--severity", "cross-service-write=error") == 1


def test_shipped_schema_documents_the_rules_section():
    import json
    schema = json.loads((Path(__file__).resolve().parent.parent / "dbowner/manifest/schema.json").read_text())
    rules = schema["$defs"]["rules"]["properties"]
    assert sorted(rules) == ["ignore", "per_path_ignores", "require_reasons", "select", "severity"]
