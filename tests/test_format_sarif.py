"""`--format sarif`: valid SARIF 2.1.0 with what GitHub code scanning needs."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import pytest

from dbowner.catalog import load_catalog
from dbowner.checks import registered_rules
from dbowner.output.common import repo_prefix

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "fixtures" / "shop"
SCHEMA_NAME = "sarif-schema-2.1.0.json"


def _official_schema() -> dict:
    """The OASIS schema lives in `shared/schemas/` beside the clone (CI) or above the worktree; never in the repo."""
    for folder in (ROOT, *ROOT.parents):
        candidate = folder / "shared" / "schemas" / SCHEMA_NAME
        if candidate.is_file():
            return json.loads(candidate.read_text("utf-8"))
    pytest.skip(f"official SARIF schema not found: no shared/schemas/{SCHEMA_NAME} in {ROOT} or any parent")


def _validate(doc: dict) -> None:
    schema = _official_schema()
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator(schema, format_checker=validator.FORMAT_CHECKER).iter_errors(doc)]
    assert errors == []


def _sarif(dbowner_cli, path) -> dict:
    proc = dbowner_cli("check", path, "--format", "sarif")
    assert proc.exit_code == 1, proc.stderr
    return json.loads(proc.stdout)


def test_shop_report_is_valid_sarif_with_rules_and_results(dbowner_cli):
    doc = _sarif(dbowner_cli, SHOP)
    _validate(doc)
    assert doc["version"] == "2.1.0"
    [run] = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "dbowner"
    catalog = {r.code: r for r in load_catalog().values()}
    ran = sorted(r.code for r in registered_rules())    # `check` runs the static rules; verify-only ones are absent
    assert [r["id"] for r in driver["rules"]] == ran                        # every rule that ran, in code order
    for rule in driver["rules"]:
        info = catalog[rule["id"]]
        assert rule["name"] == info.name
        assert rule["shortDescription"]["text"] == info.summary
        assert rule["defaultConfiguration"]["level"] == {"error": "error", "warning": "warning",
                                                         "info": "note"}[info.severity.value]
        assert info.hint.split(".")[0] in rule["help"]["text"]
        assert "**Bad example:**" in rule["help"]["markdown"]
    prefix = repo_prefix(SHOP)
    assert prefix in ("fixtures/shop/", "")         # "" only when neither .git nor the cwd is above the shop
    write = next(r for r in run["results"] if r["ruleId"] == "DBO102")
    assert driver["rules"][write["ruleIndex"]]["id"] == "DBO102"
    assert write["level"] == "error"
    assert write["message"]["text"] == "orders writes inventory.stock (UPDATE), a table owned by inventory"
    loc = write["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": prefix + "services/orders/app/checkout.py", "uriBaseId": "SRCROOT"}
    assert loc["region"] == {"startLine": 41, "endLine": 46}
    assert write["properties"] == {"service": "orders", "table": "inventory.stock"}
    shared_db = next(r for r in run["results"] if r["ruleId"] == "DBO002")
    assert shared_db["level"] == "warning"             # the finding's severity, not the rule's default
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert re.fullmatch(r"[0-9a-f]{32}", result["partialFingerprints"]["dbownerFinding/v1"])
    assert len({r["partialFingerprints"]["dbownerFinding/v1"] for r in run["results"]}) == len(run["results"]) == 11
    assert run["invocations"] == [{"executionSuccessful": True, "toolExecutionNotifications": []}]


def test_hostile_file_names_are_percent_encoded_and_diagnostics_are_notifications(dbowner_cli, hostile_repo):
    doc = _sarif(dbowner_cli, hostile_repo)
    _validate(doc)
    [run] = doc["runs"]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]]
    assert uris == ["services/orders/app/broken.sql", "services/orders/app/new%0Aline.sql",
                    "services/orders/app/we%2Cird%3A50%25.sql"]
    for uri in uris:      # a relative reference: no scheme, only URI characters
        assert re.fullmatch(r"[A-Za-z0-9\-._~%!$&'()*+,;=@/]+", uri)
    assert [unquote(u) for u in uris][1:] == ["services/orders/app/new\nline.sql", "services/orders/app/we,ird:50%.sql"]
    unowned = run["results"][0]
    assert unowned["ruleId"] == "DBO105" and unowned["message"]["text"].startswith("a<b&c is not owned")
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "warning" and note["descriptor"] == {"id": "parse-error"}
    assert note["message"]["text"].startswith("parse-error: cannot parse SQL statement")
    assert note["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "services/orders/app/broken.sql", "uriBaseId": "SRCROOT"},
        "region": {"startLine": 1, "endLine": 1}}


def test_uris_are_relative_to_the_repository_root_when_the_manifest_is_deeper(dbowner_cli, make_repo):
    repo = make_repo({
        "platform/dbowner.yaml": "version: 1\nservices:\n  a: {paths: ['a/**'], tables: [t]}\n"
                                 "  b: {paths: ['b/**'], tables: [u]}\n",
        "platform/a/q.sql": "SELECT * FROM u;\n",
    })
    (repo / ".git").mkdir()
    doc = _sarif(dbowner_cli, repo / "platform")
    _validate(doc)
    [run] = doc["runs"]
    [result] = run["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "platform/a/q.sql"
    assert run["originalUriBaseIds"]["MANIFESTROOT"]["uri"] == "platform/"


def test_only_the_selected_rules_are_listed_and_a_clean_run_is_valid(dbowner_cli):
    proc = dbowner_cli("check", SHOP, "--format", "sarif", "--select", "DBO2")
    doc = json.loads(proc.stdout)
    _validate(doc)
    driver = doc["runs"][0]["tool"]["driver"]
    assert [r["id"] for r in driver["rules"]] == ["DBO201", "DBO202", "DBO203"]   # the DBO2 group: all that ran
    assert {r["ruleId"] for r in doc["runs"][0]["results"]} == {"DBO201", "DBO202"}
    clean = dbowner_cli("check", SHOP, "--format", "sarif", "--select", "DBO301", "--ignore", "DBO301")
    assert clean.exit_code == 0
    doc = json.loads(clean.stdout)
    _validate(doc)
    assert doc["runs"][0]["results"] == [] and doc["runs"][0]["tool"]["driver"]["rules"] == []
