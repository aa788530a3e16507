"""End to end on fixtures/sagas, as a user runs it: `dbowner check` reports exactly the planted
findings and `dbowner sagas` lists every saga with its steps, compensations and pivot."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SAGAS = ROOT / "fixtures" / "sagas"


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dbowner", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def sagas_json() -> dict:
    proc = run_cli("sagas", "fixtures/sagas", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def by_name(doc: dict, name: str, path_part: str = "") -> dict:
    found = [s for s in doc["sagas"] if s["name"] == name and path_part in s["path"]]
    assert len(found) == 1, [(s["name"], s["path"]) for s in doc["sagas"]]
    return found[0]


def test_check_reports_exactly_the_planted_findings():
    proc = run_cli("check", "fixtures/sagas", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    got = sorted((f["name"], f["path"], f["line"], f["table"], f["service"]) for f in doc["findings"])
    expected = sorted((e["rule"], e["path"], e["line"], e["table"], e["service"])
                      for e in yaml.safe_load((SAGAS / "EXPECTED.yaml").read_text("utf-8")))
    assert got == expected
    assert doc["diagnostics"] == []


def test_every_style_is_found_with_good_and_bad_variants():
    doc = sagas_json()
    styles: dict[str, dict[str, bool]] = {}
    for s in doc["sagas"]:
        failed = "fail" in s["checks"].values()
        styles.setdefault(s["style"], {}).setdefault("bad" if failed else "good", True)
    assert set(styles) == {"orchestrator", "compensation-list", "declared", "manifest"}
    for style, variants in styles.items():
        assert variants == {"good": True, "bad": True}, style
    assert len(doc["sagas"]) == 16


def test_seed_transfer_saga_steps_compensation_and_pivot():
    s = by_name(sagas_json(), "transfer_money")
    assert s["style"] == "orchestrator"
    assert [(x["name"], x["role"]) for x in s["steps"]] == [
        ("accounts.debit_account", "compensatable"), ("accounts.credit_account", "pivot")]
    first = s["steps"][0]
    assert first["action"]["definition"] == "services/payments/app/accounts.py:debit_account"
    assert first["compensation"]["definition"] == "services/payments/app/accounts.py:compensate_debit"
    assert first["action_idempotent"] is True and first["compensation_idempotent"] is True
    assert s["checks"] == {"saga-missing-compensation": "pass", "saga-step-not-idempotent": "pass",
                           "saga-compensation-not-idempotent": "pass"}


def test_pivot_is_the_first_of_the_trailing_uncompensated_steps():
    s = by_name(sagas_json(), "create_order_saga", "builders")
    assert [x["role"] for x in s["steps"]] == ["compensatable", "compensatable", "pivot", "retriable", "retriable"]
    assert s["pivot"] == 3 and s["pivot_declared"] is False


def test_compensation_list_pairs_appends_before_or_after_their_activity():
    doc = sagas_json()
    for name in ("OrderWorkflow.run", "PreorderWorkflow.run"):
        steps = by_name(doc, name)["steps"]
        pairs = [(x["name"], x["compensation"]["text"] if x["compensation"] else None) for x in steps]
        assert pairs[:3] == [("reserve_stock", "release_stock"), ("charge_card", "refund_card"), ("ship_order", None)]
    bad = by_name(doc, "InvoicedOrderWorkflow.run")
    assert [x["compensation"]["text"] if x["compensation"] else None for x in bad["steps"]] == [
        None, "release_stock", "refund_card", None]


def test_manifest_saga_refines_the_code_saga_with_the_same_functions():
    doc = sagas_json()
    assert not [s for s in doc["sagas"] if s["name"] == "returns"]
    s = by_name(doc, "RETURN_STEPS")
    assert s["manifest"] == "returns"
    label = s["steps"][1]
    assert label["name"] == "label" and label["compensation"]["text"] == "void_label"
    assert label["compensation_at"] == "dbowner.yaml:43"
    assert s["checks"]["saga-missing-compensation"] == "pass"


def test_decorators_declare_steps_compensations_and_the_pivot():
    doc = sagas_json()
    exchange = by_name(doc, "ExchangeOrderSaga")
    assert exchange["steps"][0]["compensation"]["definition"] == \
        "services/orders/app/returns_saga.py:ExchangeOrderSaga.close_exchange"
    assert exchange["pivot"] == 2 and exchange["pivot_declared"] is True
    ret = by_name(doc, "ReturnOrderSaga")
    assert [x["role"] for x in ret["steps"]] == ["compensatable", "compensatable", "pivot"]


def test_text_listing_shows_tables_and_checks():
    proc = run_cli("sagas", "fixtures/sagas")
    assert proc.returncode == 0
    out = proc.stdout
    assert "transfer_money  orchestrator  services/payments/app/transfer.py:8  service payments" in out
    assert "pivot (declared)" in out and "retriable" in out
    assert "checks: saga-missing-compensation fail" in out
    assert "16 saga(s), 7 with problems" in out


def test_output_is_identical_across_runs_and_working_directories():
    a = run_cli("sagas", "fixtures/sagas", "--format", "json").stdout
    b = run_cli("sagas", ".", "--format", "json", cwd=SAGAS / "services" / "orders").stdout
    assert a == b


def test_shop_saga_is_listed_and_clean():
    proc = run_cli("sagas", "fixtures/shop", "--format", "json")
    doc = json.loads(proc.stdout)
    [s] = doc["sagas"]
    assert s["name"] == "run_order_payment" and s["style"] == "orchestrator"
    assert [x["action"]["text"] for x in s["steps"]][0] == "POST /debits"
    assert s["steps"][0]["compensation"]["text"] == "POST /credits"
    assert "fail" not in s["checks"].values()
