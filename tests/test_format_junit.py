"""`--format junit`: well-formed JUnit XML, one suite per rule that ran, one failing case per finding."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from dbowner.checks import registered_rules
from dbowner.output.junit import _clean

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "fixtures" / "shop"


def _junit(dbowner_cli, *args) -> ET.Element:
    proc = dbowner_cli("check", *args, "--format", "junit")
    assert proc.stdout.startswith("<?xml version='1.0' encoding='utf-8'?>\n")
    return ET.fromstring(proc.stdout.encode("utf-8"))


def test_shop_suites_per_rule_with_failures_and_passing_cases(dbowner_cli):
    root = _junit(dbowner_cli, SHOP)
    assert root.tag == "testsuites"
    ran = len(registered_rules())           # 10 rules have the shop's 11 findings; the others pass once each
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        str(11 + ran - 10), "11", "0", "0")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert len(suites) == ran and "DBO102 cross-service-write" in suites
    reads = suites["DBO101 cross-service-read"]
    assert (reads.get("tests"), reads.get("failures")) == ("2", "2")
    case = reads.find("testcase")
    assert case.get("classname") == "DBO101 cross-service-read"
    assert case.get("name") == "services/orders/app/checkout.py:21 customers"
    assert case.get("file").endswith("services/orders/app/checkout.py") and case.get("line") == "21"
    failure = case.find("failure")
    assert failure.get("type") == "error"
    assert failure.get("message") == ("orders reads customers, a table owned by users, "
                                      "without declaring it in services.orders.reads")
    assert "service: orders\ntable: customers" in failure.text and "Fix: Call the owner's API" in failure.text
    warning = suites["DBO002 shared-database"].find("testcase/failure")
    assert warning.get("type") == "warning"


def test_rules_without_findings_have_a_passing_case_so_the_report_shows_what_ran(dbowner_cli, tmp_path):
    (tmp_path / "dbowner.yaml").write_text("version: 1\nservices:\n  a: {paths: ['a/**'], tables: [t]}\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "q.sql").write_text("SELECT * FROM t;\n")
    root = _junit(dbowner_cli, tmp_path, "--select", "DBO101,DBO102")
    assert (root.get("tests"), root.get("failures")) == ("2", "0")
    assert [(s.get("name"), s.get("tests"), s.get("failures")) for s in root.findall("testsuite")] == [
        ("DBO101 cross-service-read", "1", "0"), ("DBO102 cross-service-write", "1", "0")]
    case = root.find("testsuite/testcase")
    assert case.get("name") == "no findings" and list(case) == []


def test_hostile_text_is_escaped_and_diagnostics_are_skipped_cases(dbowner_cli, hostile_repo):
    root = _junit(dbowner_cli, hostile_repo, "--select", "DBO102,DBO105")
    unowned = root.find("testsuite[@name='DBO105 unowned-table']/testcase")
    assert unowned.get("name") == "services/orders/app/broken.sql:2 a<b&c"
    assert unowned.find("failure").get("message").startswith("a<b&c is not owned")
    files = [c.get("file") for c in root.findall("testsuite[@name='DBO102 cross-service-write']/testcase")]
    assert files == ["services/orders/app/new\nline.sql", "services/orders/app/we,ird:50%.sql"]
    [diag] = root.findall("testsuite[@name='dbowner diagnostics']/testcase")
    assert diag.get("name") == "services/orders/app/broken.sql:1"
    assert diag.find("skipped").get("message").startswith("parse-error: cannot parse SQL statement")
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("4", "3", "1")


def test_characters_xml_cannot_carry_are_replaced_so_the_report_still_parses(dbowner_cli, tmp_path):
    assert _clean("ok\ttab\nnew<&>\x00\x01\x1b\ud800\uffff") == "ok\ttab\nnew<&>\ufffd\ufffd\ufffd\ufffd\ufffd"
    (tmp_path / "dbowner.yaml").write_text("version: 1\nservices:\n  a: {paths: ['a/**'], tables: [t]}\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "q.sql").write_text('UPDATE "x\x01y" SET v = 1;\n')     # a quoted name with a control char
    root = _junit(dbowner_cli, tmp_path, "--select", "unowned-table")
    assert root.find("testsuite/testcase/failure").get("message").startswith("x\ufffdy is not owned")
