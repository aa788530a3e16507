"""Fingerprints identify a finding across runs: unaffected by moved lines, distinct for distinct problems."""
from __future__ import annotations

import json
from dataclasses import replace

from dbowner.fingerprint import fingerprints
from dbowner.model import Finding, Severity

BASE = Finding(code="DBO102", name="cross-service-write", severity=Severity.ERROR, path="svc/a.py", line=10,
               end_line=12, message="orders writes inventory.stock (UPDATE), a table owned by inventory",
               hint="h", service="orders", table="inventory.stock")


def test_fingerprint_ignores_lines_and_numbers_in_messages_but_not_names():
    moved = replace(BASE, line=40, end_line=42)
    assert fingerprints([BASE]) == fingerprints([moved])
    counted = replace(BASE, message="one transaction writes tables of 2 owners (line 13)")
    recounted = replace(BASE, message="one transaction writes tables of 3 owners (line 14)")
    assert fingerprints([counted]) == fingerprints([recounted])
    year = replace(BASE, message="orders writes orders_2023", table="")
    other_year = replace(BASE, message="orders writes orders_2024", table="")
    assert fingerprints([year]) != fingerprints([other_year])
    for changed in (replace(BASE, code="DBO101"), replace(BASE, path="svc/b.py"), replace(BASE, service="users"),
                    replace(BASE, table="inventory.products")):
        assert fingerprints([changed]) != fingerprints([BASE])
    [fp] = fingerprints([BASE])
    assert len(fp) == 32 and int(fp, 16) >= 0


def test_identical_findings_in_one_file_are_told_apart_in_line_order():
    first, second = replace(BASE, line=5, end_line=5), replace(BASE, line=30, end_line=30)
    a = fingerprints([first, second])
    assert len(set(a)) == 2
    assert fingerprints([second, first]) == a[::-1]            # follows the finding, not the list order
    third = replace(BASE, line=50, end_line=50)                  # a new copy below keeps the old ones
    assert fingerprints([first, second, third])[:2] == a


MANIFEST = """
    version: 1
    services:
      orders: {paths: ["services/orders/**"], tables: [orders]}
      inventory: {paths: ["services/inventory/**"], schemas: [inventory]}
"""
SQL_FILE = """\
-- stock adjustments
UPDATE inventory.stock SET quantity = 0 WHERE product_id = 1;
UPDATE inventory.stock SET quantity = 0 WHERE product_id = 2;
DELETE FROM inventory.reservations WHERE product_id = 3;
"""


def _results(dbowner_cli, repo, fmt):
    proc = dbowner_cli("check", repo, "--format", fmt)
    assert proc.exit_code == 1, proc.stderr
    return json.loads(proc.stdout)


def test_fingerprints_survive_blank_lines_inserted_above_findings(dbowner_cli, make_repo):
    repo = make_repo({"dbowner.yaml": MANIFEST, "services/orders/app/stock.sql": SQL_FILE})

    def sarif_fps():
        run = _results(dbowner_cli, repo, "sarif")["runs"][0]
        return {(r["ruleId"], r["partialFingerprints"]["dbownerFinding/v1"]):
                r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in run["results"]}

    def gitlab_fps():
        return {(i["check_name"], i["fingerprint"]): i["location"]["lines"]["begin"]
                for i in _results(dbowner_cli, repo, "gitlab")}

    before, before_gl = sarif_fps(), gitlab_fps()
    assert sorted(before.values()) == [2, 3, 4]        # two identical writes and a delete
    assert len({fp for _, fp in before}) == 3
    assert {fp for _, fp in before} == {fp for _, fp in before_gl}

    target = repo / "services/orders/app/stock.sql"
    target.write_text("\n\n\n" + SQL_FILE, "utf-8")
    after, after_gl = sarif_fps(), gitlab_fps()
    assert set(after) == set(before)
    assert {k: line - 3 for k, line in after.items()} == before
    assert set(after_gl) == set(before_gl)
