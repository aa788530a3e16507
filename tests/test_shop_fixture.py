"""End to end: `dbowner check fixtures/shop` reports exactly the planted findings, as a user runs it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "fixtures" / "shop"


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dbowner", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_json_reports_exactly_the_planted_findings():
    proc = run_cli("check", "fixtures/shop", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    doc = json.loads(proc.stdout)
    got = sorted((f["name"], f["path"], f["line"], f["table"], f["service"]) for f in doc["findings"])
    expected = sorted((e["rule"], e["path"], e["line"], e["table"], e["service"])
                      for e in yaml.safe_load((SHOP / "EXPECTED.yaml").read_text("utf-8")))
    assert got == expected
    assert doc["diagnostics"] == []
    files = doc["summary"]["files"]
    assert files["outside_services"] == 1 and files["excluded"] == 1 and files["skipped"] == 0


def test_json_findings_have_the_documented_fields_and_are_sorted():
    doc = json.loads(run_cli("check", "fixtures/shop", "--format", "json").stdout)
    keys = {"code", "name", "severity", "path", "line", "end_line", "service", "table", "message", "hint"}
    for f in doc["findings"]:
        assert set(f) == keys
        assert f["end_line"] >= f["line"] >= 1
        assert f["hint"]
    order = [(f["path"], f["line"], f["code"]) for f in doc["findings"]]
    assert order == sorted(order)
    severities = {f["name"]: f["severity"] for f in doc["findings"]}
    assert severities["shared-database"] == "warning" and severities["cross-service-write"] == "error"


def test_output_is_identical_across_runs_and_working_directories():
    a = run_cli("check", "fixtures/shop", "--format", "json").stdout
    b = run_cli("check", ".", "--format", "json", cwd=SHOP / "services" / "orders").stdout
    assert a == b


def test_text_output_groups_by_service_and_summarises():
    proc = run_cli("check", "fixtures/shop")
    out = proc.stdout
    assert proc.returncode == 1
    assert "services/orders/app/checkout.py:41  DBO102 cross-service-write [error]" in out
    assert "orders writes inventory.stock (UPDATE), a table owned by inventory" in out
    assert "hint: Let the owner make the change" in out
    assert out.count("DBO101 cross-service-read") == 2 and out.count("hint: Call the owner's API") == 1
    assert "Tables touched by more than one service" in out
    assert "9 error(s), 2 warning(s)" in out
    assert "1 outside every service (not analysed)" in out
    headers = [line for line in out.splitlines() if line in ("orders", "payments", "reporting", "users")]
    assert headers == ["orders", "payments", "reporting", "users"]


def test_select_and_ignore_by_code_name_and_prefix():
    doc = json.loads(run_cli("check", "fixtures/shop", "--format", "json", "--select", "DBO1",
                             "--ignore", "cross-service-read,DBO105").stdout)
    assert sorted({f["name"] for f in doc["findings"]}) == ["cross-service-foreign-key", "cross-service-join",
                                                          "cross-service-write"]
    proc = run_cli("check", "fixtures/shop", "--select", "unowned-table")
    assert proc.returncode == 0          # only a warning is left
    proc = run_cli("check", "fixtures/shop", "--select", "no-such-rule")
    assert proc.returncode == 2 and proc.stderr.strip() == ("dbowner: unknown rule 'no-such-rule' "
                                                            "(see `dbowner explain --list`)")


def test_tables_command_lists_owner_readers_writers():
    proc = run_cli("tables", "fixtures/shop", "--format", "json")
    assert proc.returncode == 0
    rows = {r["table"]: r for r in json.loads(proc.stdout)["tables"]}
    assert rows["inventory.stock"]["owner"] == "inventory"
    assert rows["inventory.stock"]["writers"] == ["inventory", "orders"]
    assert rows["customers"]["readers"] == ["orders", "reporting", "users"]
    assert rows["login_audit"]["owner"] is None
    text = run_cli("tables", "fixtures/shop").stdout
    assert "inventory.stock" in text and "orders*" in text


def test_explain_prints_the_catalog_entry():
    proc = run_cli("explain", "DBO102")
    assert proc.returncode == 0
    assert proc.stdout.startswith("DBO102 cross-service-write  [error]")
    assert "Why" in proc.stdout and "Bad example" in proc.stdout and "Good example" in proc.stdout
    assert run_cli("explain", "cross-service-write").stdout == proc.stdout
    bad = run_cli("explain", "nope")
    assert bad.returncode == 2 and "unknown rule 'nope'" in bad.stderr


def test_config_errors_exit_2_with_one_line_and_no_traceback(tmp_path):
    (tmp_path / "dbowner.yaml").write_text("version: 1\nservices:\n  a:\n    paths: [x]\n    tabels: [t]\n")
    proc = run_cli("check", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr == ("dbowner: dbowner.yaml:5: services.a.tabels: unknown key 'tabels' "
                           "(did you mean 'tables'?)\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "dbowner.yaml").unlink()
    proc = run_cli("check", str(empty))
    assert proc.returncode == 2 and "no dbowner.yaml here or in any parent folder" in proc.stderr
    assert "Traceback" not in proc.stderr
