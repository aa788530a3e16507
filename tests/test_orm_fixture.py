"""End to end: `dbowner check fixtures/orm` reports exactly the planted ORM findings."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from dbowner.analysis import analyze
from dbowner.manifest import load_manifest

ROOT = Path(__file__).resolve().parent.parent
ORM = ROOT / "fixtures" / "orm"


def test_json_reports_exactly_the_planted_findings():
    proc = subprocess.run([sys.executable, "-m", "dbowner", "check", "fixtures/orm", "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    doc = json.loads(proc.stdout)
    got = sorted((f["name"], f["path"], f["line"], f["table"], f["service"]) for f in doc["findings"])
    expected = sorted((e["rule"], e["path"], e["line"], e["table"], e["service"])
                      for e in yaml.safe_load((ORM / "EXPECTED.yaml").read_text("utf-8")))
    assert got == expected
    assert doc["diagnostics"] == []


def _statements():
    analysis = analyze(load_manifest(ORM / "dbowner.yaml"))
    return {(s.path, s.statement.line): s for s in analysis.graph.statements}


def test_relative_updates_are_flagged_facts_even_without_a_finding():
    by_line = _statements()
    relative = sorted(k for k, s in by_line.items() if "relative-update" in s.statement.flags)
    assert relative == [
        ("django_shop/sales/views.py", 24),                   # update(stock=F("stock") - quantity)
        ("services/delivery/app/dispatch.py", 15),            # shipment.attempts += 1 (own table)
        ("services/inventory/app/service.py", 8),             # values(quantity=stock.c.quantity + delta)
        ("services/orders/app/repository.py", 28),            # update(stock)...values(quantity=... - qty)
    ]


def test_the_same_table_name_in_two_databases_resolves_by_the_defining_service():
    by_line = _statements()
    own = by_line[("services/delivery/app/dispatch.py", 9)]          # session.get(Address, ...)
    other = by_line[("services/delivery/app/dispatch.py", 20)]       # select(CustomerAddress)
    assert [(ra.owner, ra.key.node) for ra in own.accesses] == [("delivery", "delivery_db/addresses")]
    assert [(ra.owner, ra.key.node) for ra in other.accesses] == [("customers", "customers_db/addresses")]


def test_tables_command_shows_orm_readers_and_writers():
    proc = subprocess.run([sys.executable, "-m", "dbowner", "tables", "fixtures/orm", "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    rows = {r["table"]: r for r in json.loads(proc.stdout)["tables"]}
    assert rows["products_product"]["owner"] == "products"
    assert rows["products_product"]["writers"] == ["sales"]
    assert rows["accounts_user"]["readers"] == ["accounts", "sales"]
    assert rows["inventory.stock"]["writers"] == ["inventory", "orders"]


def test_facts_file_gives_the_same_statements_and_findings_as_the_source(tmp_path):
    """`dbowner facts` stores facts before ORM resolution, so checking the facts file resolves them
    once, exactly as checking the source does (no duplicated ORM statements)."""
    from dbowner.checks import registered_rules
    from dbowner.estate import analyze_files

    facts = tmp_path / "orm.json"
    subprocess.run([sys.executable, "-m", "dbowner", "facts", str(ORM), "-o", str(facts)], check=True,
                   capture_output=True, text=True, timeout=120)
    source = analyze(load_manifest(ORM / "dbowner.yaml"))
    stored = analyze_files([facts], registered_rules())

    def statements(analysis) -> list[tuple]:
        return sorted((i.path, i.statement.line, i.statement.text) for i in analysis.graph.statements)

    assert statements(stored) == statements(source)
    assert [(f.name, f.path, f.line) for f in stored.findings] == [(f.name, f.path, f.line) for f in source.findings]
    assert len(source.findings) == 24
