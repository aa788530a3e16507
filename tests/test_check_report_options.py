"""`check --output`, `--exit-zero` and `--statistics`, as a CI job uses them."""
from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "fixtures" / "shop"


def test_output_writes_the_report_file_and_nothing_to_stdout(dbowner_cli, tmp_path):
    target = tmp_path / "reports" / "ci" / "dbowner.sarif"          # missing folders are created
    proc = dbowner_cli("check", SHOP, "--format", "sarif", "--output", target)
    assert proc.exit_code == 1
    assert proc.stdout == ""
    assert proc.stderr == f"dbowner: wrote sarif report to {target} (9 error(s), 2 other finding(s))\n"
    assert target.read_text("utf-8") == dbowner_cli("check", SHOP, "--format", "sarif").stdout
    assert os.listdir(target.parent) == ["dbowner.sarif"]             # no temporary file left behind
    target.chmod(0o640)
    proc = dbowner_cli("check", SHOP, "--select", "DBO2", "--format", "json", "-o", target)   # replaced whole
    assert json.loads(target.read_text("utf-8"))["summary"]["findings"] == 2
    assert target.stat().st_mode & 0o777 == 0o640


def test_text_report_to_a_file_has_no_colour_codes(dbowner_cli, tmp_path):
    target = tmp_path / "report.txt"
    proc = dbowner_cli("check", SHOP, "-o", target)
    assert proc.exit_code == 1 and proc.stdout == ""
    text = target.read_text("utf-8")
    assert "services/orders/app/checkout.py:41  DBO102 cross-service-write [error]" in text
    assert "\x1b[" not in text and text.rstrip().endswith("excluded by the manifest")


def test_unwritable_output_is_a_one_line_usage_error(dbowner_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = dbowner_cli("check", SHOP, "--format", "json", "--output", blocker / "report.json")
    assert proc.exit_code == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"dbowner: cannot write {blocker / 'report.json'}: ")
    assert proc.stderr.count("\n") == 1
    directory = dbowner_cli("check", SHOP, "--output", tmp_path)
    assert directory.exit_code == 2 and "is a directory" in directory.stderr


def test_exit_zero_passes_with_errors_but_not_with_a_bad_manifest(dbowner_cli, tmp_path):
    proc = dbowner_cli("check", SHOP, "--format", "json", "--exit-zero")
    assert proc.exit_code == 0
    assert json.loads(proc.stdout)["summary"]["errors"] == 9          # the findings are still reported
    (tmp_path / "dbowner.yaml").write_text("version: 1\nservices: {a: {tabels: [t]}}\n")
    bad = dbowner_cli("check", tmp_path, "--exit-zero")
    assert bad.exit_code == 2 and "unknown key 'tabels'" in bad.stderr


def test_statistics_follow_the_findings_in_text(dbowner_cli):
    proc = dbowner_cli("check", SHOP, "--statistics")
    out = proc.stdout
    assert "services/orders/app/checkout.py:41  DBO102 cross-service-write [error]" in out
    stats = out[out.index("\nFindings per rule:") + 1:]
    assert "excluded by the manifest\n\nFindings per rule:" in out
    assert out.index("DBO102 cross-service-write [error]") < out.index("Findings per rule:")
    assert stats.splitlines() == [
        "Findings per rule:",
        "   2  DBO101  cross-service-read",
        "   1  DBO001  manifest-conflict",
        "   1  DBO002  shared-database",
        "   1  DBO102  cross-service-write",
        "   1  DBO103  cross-service-join",
        "   1  DBO104  cross-service-foreign-key",
        "   1  DBO105  unowned-table",
        "   1  DBO201  cross-service-transaction",
        "   1  DBO202  two-phase-commit",
        "   1  DBO301  event-store-mutation",
        "  11  total",
    ]
    assert proc.stderr == ""


def test_statistics_keep_machine_output_parseable(dbowner_cli, tmp_path):
    proc = dbowner_cli("check", SHOP, "--format", "json", "--statistics", "--select", "DBO1")
    assert json.loads(proc.stdout)["summary"]["findings"] == 6
    assert proc.stderr.startswith("Findings per rule:\n  2  DBO101  cross-service-read\n")
    target = tmp_path / "r.txt"
    dbowner_cli("check", SHOP, "--statistics", "--select", "DBO2", "-o", target)
    assert target.read_text("utf-8").endswith("Findings per rule:\n  1  DBO201  cross-service-transaction\n"
                                              "  1  DBO202  two-phase-commit\n  2  total\n")
    clean = dbowner_cli("check", SHOP, "--statistics", "--select", "DBO301", "--ignore", "DBO301")
    assert clean.exit_code == 0 and clean.stdout.endswith("Findings per rule: none\n")
