"""`--format gitlab`: a GitLab Code Quality report with unique, line-independent fingerprints."""
from __future__ import annotations

import json
from pathlib import Path

from dbowner.output.common import repo_prefix

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "fixtures" / "shop"


def test_shop_issues_have_the_fields_gitlab_requires(dbowner_cli):
    proc = dbowner_cli("check", SHOP, "--format", "gitlab")
    assert proc.exit_code == 1 and proc.stderr == ""
    issues = json.loads(proc.stdout)
    assert isinstance(issues, list) and len(issues) == 11
    for issue in issues:
        assert issue["description"] and issue["check_name"]
        assert issue["severity"] in ("info", "minor", "major", "critical", "blocker")
        assert isinstance(issue["location"]["lines"]["begin"], int)
        assert not issue["location"]["path"].startswith(("/", "./"))
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    write = next(i for i in issues if i["check_name"] == "cross-service-write")
    assert write["description"] == ("DBO102 cross-service-write: orders writes inventory.stock (UPDATE), "
                                    "a table owned by inventory")
    assert write["severity"] == "major"
    assert write["location"] == {"path": repo_prefix(SHOP) + "services/orders/app/checkout.py",
                                 "lines": {"begin": 41, "end": 46}}
    assert {i["severity"] for i in issues if i["check_name"] in ("shared-database", "unowned-table")} == {"minor"}


def test_same_fingerprints_as_sarif(dbowner_cli):
    gitlab = json.loads(dbowner_cli("check", SHOP, "--format", "gitlab").stdout)
    sarif = json.loads(dbowner_cli("check", SHOP, "--format", "sarif").stdout)
    assert [i["fingerprint"] for i in gitlab] == [
        r["partialFingerprints"]["dbownerFinding/v1"] for r in sarif["runs"][0]["results"]]


def test_diagnostics_are_mentioned_on_stderr(dbowner_cli, hostile_repo):
    proc = dbowner_cli("check", hostile_repo, "--format", "gitlab")
    assert [i["location"]["path"] for i in json.loads(proc.stdout)] == [
        "services/orders/app/broken.sql", "services/orders/app/new\nline.sql", "services/orders/app/we,ird:50%.sql"]
    assert proc.stderr == ("dbowner: 1 file(s) or statement(s) could not be fully analysed "
                           "(GitLab's format has no place for them; --format json lists them)\n")
