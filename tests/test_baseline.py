"""The baseline: accepted findings don't fail, new ones do, fixed ones make the file stale until it
is rewritten; counts per key; rules that did not run are left alone; the file is stable bytes."""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from cli_inprocess import dbowner
from dbowner.analysis import analyze, resolve_settings
from dbowner.manifest import load_manifest
from dbowner.policy import (
    BASELINE_NAME, Baseline, BaselineError, BaselineKey, apply_baseline, load_baseline, update_baseline,
    write_baseline,
)
from dbowner.policy.baseline import dump_baseline

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
"""
THREE_READS = ("SELECT * FROM customers;\n"
               "SELECT id FROM customers;\n"
               "SELECT name FROM customers;\n")


def analysis_of(root: Path, baseline: Baseline | None = None, **options):
    m = load_manifest(root / "dbowner.yaml")
    return analyze(m, settings=resolve_settings(m.rules, **options), baseline=baseline)


def key(path="services/orders/r.sql", rule="cross-service-read", table="customers", service="orders"):
    return BaselineKey(service, path, rule, table)


def test_count_semantics_three_accepted_four_found(make_repo):
    root = make_repo({"dbowner.yaml": MANIFEST, "services/orders/r.sql": THREE_READS + "SELECT 1 FROM customers;\n"})
    a = analysis_of(root, Baseline({key(): 3}))
    assert [f.line for f in a.baselined] == [1, 2, 3]
    [new] = a.findings
    assert new.line == 4 and new.name == "cross-service-read"
    assert new.message.endswith("(new: the baseline accepts 3 such finding(s) in this file, there are 4)")
    assert a.stale_baseline == [] and a.failed


def test_fewer_findings_than_accepted_is_stale_and_fails(make_repo):
    root = make_repo({"dbowner.yaml": MANIFEST, "services/orders/r.sql": "SELECT * FROM customers;\n"})
    a = analysis_of(root, Baseline({key(): 3, key(path="services/orders/gone.py"): 1}, lines={key(): 7}))
    assert a.findings == [] and len(a.baselined) == 1
    assert [(e.key.path, e.allowed, e.found, e.line) for e in a.stale_baseline] == [
        ("services/orders/gone.py", 1, 0, 0), ("services/orders/r.sql", 3, 1, 7)]
    assert a.failed
    assert a.stale_baseline[1].message == ("stale baseline entry: cross-service-read on customers in "
                                           "services/orders/r.sql (orders): baseline accepts 3, found 1")


def test_exactly_accepted_findings_pass_and_other_keys_are_new(make_repo):
    root = make_repo({"dbowner.yaml": MANIFEST, "services/orders/r.sql": THREE_READS,
                      "services/orders/w.sql": "DELETE FROM customers;\n"})
    a = analysis_of(root, Baseline({key(): 3}))
    assert len(a.baselined) == 3 and a.stale_baseline == []
    assert [(f.name, f.path) for f in a.findings] == [("cross-service-write", "services/orders/w.sql")]


def test_stale_detection_skips_rules_that_did_not_run(make_repo):
    root = make_repo({"dbowner.yaml": MANIFEST, "services/orders/r.sql": "SELECT 1;\n"})
    baseline = Baseline({key(): 1})
    assert len(analysis_of(root, baseline).stale_baseline) == 1
    assert analysis_of(root, baseline, select=["DBO102"]).stale_baseline == []
    assert analysis_of(root, baseline, ignore=["cross-service-read"]).stale_baseline == []
    per_path = MANIFEST + 'rules:\n  per_path_ignores:\n    "services/orders/*.sql": [cross-service-read]\n'
    (root / "dbowner.yaml").write_text(per_path)
    assert analysis_of(root, baseline).stale_baseline == []


def test_entry_of_a_rule_that_no_longer_exists_is_stale(make_repo):
    root = make_repo({"dbowner.yaml": MANIFEST})
    [stale] = analysis_of(root, Baseline({key(rule="retired-rule"): 1})).stale_baseline
    assert stale.message.endswith("the rule no longer exists")


def test_update_keeps_entries_of_rules_that_did_not_run_and_drops_fixed_ones(make_repo):
    root = make_repo({"dbowner.yaml": MANIFEST, "services/orders/r.sql": THREE_READS})
    previous = Baseline({key(): 5, key(rule="cross-service-write"): 2, key(rule="retired-rule"): 1})
    m = load_manifest(root / "dbowner.yaml")
    settings = resolve_settings(m.rules, select=["DBO101"])
    a = analyze(m, settings=settings)
    updated = update_baseline(a.findings, previous, settings)
    assert updated.counts == {key(): 3, key(rule="cross-service-write"): 2}


# --------------------------------------------------------------------------- the file
def test_dump_is_sorted_one_line_per_entry_and_byte_stable():
    counts = {key(service=s, path=p, rule=r, table=t): n for n, (s, p, r, t) in enumerate([
        ("orders", "services/orders/b.py", "cross-service-read", "customers"),
        ("orders", "services/orders/a.py", "cross-service-write", "inventory.stock"),
        ("orders", "services/orders/a.py", "cross-service-read", "customers"),
        ("payments", "dbowner.yaml", "shared-database", ""),
    ], start=1)}
    items = list(counts.items())
    random.Random(4).shuffle(items)
    text = dump_baseline(Baseline(dict(items)))
    assert text == dump_baseline(Baseline(counts))
    body = text[text.index("version: 1"):]
    assert body == (
        "version: 1\n"
        "services:\n"
        "  orders:\n"
        "    - {rule: cross-service-read, path: services/orders/a.py, table: customers, count: 3}\n"
        "    - {rule: cross-service-write, path: services/orders/a.py, table: inventory.stock, count: 2}\n"
        "    - {rule: cross-service-read, path: services/orders/b.py, table: customers, count: 1}\n"
        "  payments:\n"
        "    - {rule: shared-database, path: dbowner.yaml, count: 4}\n")


def test_odd_names_are_quoted_and_read_back(tmp_path):
    counts = {key(service="1", path="services/my orders/a,b.py", table="true"): 2,
              key(service="orders", path="services/orders/#x.sql", table='we"ird: name'): 1,
              key(service="", path="null", table=""): 1}
    path = tmp_path / BASELINE_NAME
    write_baseline(path, Baseline(counts))
    loaded = load_baseline(path)
    assert loaded.counts == counts
    write_baseline(tmp_path / "again.yaml", loaded)
    assert (tmp_path / "again.yaml").read_bytes() == path.read_bytes()


def test_write_is_atomic_and_keeps_permissions(tmp_path, monkeypatch):
    path = tmp_path / BASELINE_NAME
    write_baseline(path, Baseline({key(): 1}))
    os.chmod(path, 0o640)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_baseline(path, Baseline({key(): 2}))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [BASELINE_NAME]     # no temp file left behind
    monkeypatch.undo()
    write_baseline(path, Baseline({key(): 2}))
    assert "count: 2" in path.read_text() and (path.stat().st_mode & 0o777) == 0o640


@pytest.mark.parametrize("text, problem", [
    ("version: 1\nservices:\n  orders:\n    - {rule: x, path: a.py, count: 0}\n",
     "b.yaml:4: services.orders[0].count: expected a positive whole number, got 0"),
    ("version: 1\nservices:\n  orders:\n    - {rule: x, path: a.py, count: 1, line: 3}\n",
     "b.yaml:4: services.orders[0].line: unknown key 'line' (expected rule, path, table, count)"),
    ("version: 2\nservices: {}\n", "b.yaml:1: version: expected 1, got 2"),
    ("version: 1\nservices:\n  orders:\n    - {rule: x, path: a.py, count: 1}\n"
     "    - {rule: x, path: a.py, count: 2}\n", "b.yaml:5: services.orders[1]: duplicate entry (also on line 4)"),
    ("version: 1\nservices:\n  orders: [\n", "b.yaml:4: invalid YAML"),
    ("- 1\n", "b.yaml:1: a baseline is a mapping"),
])
def test_malformed_baseline_is_a_line_numbered_error(tmp_path, text, problem):
    (tmp_path / "b.yaml").write_text(text)
    with pytest.raises(BaselineError) as exc:
        load_baseline(tmp_path / "b.yaml")
    assert exc.value.problems[0].startswith(problem), exc.value.problems


# --------------------------------------------------------------------------- the command line
def test_adopt_then_new_violation_fails_then_fix_makes_it_stale(make_repo):
    root = make_repo({"dbowner.yaml": MANIFEST, "services/orders/r.sql": THREE_READS})
    assert dbowner("check", cwd=root).returncode == 1

    proc = dbowner("check", "--update-baseline", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "dbowner: wrote dbowner-baseline.yaml: 3 finding(s) in 1 entry (+3 new, -0 fixed)\n"
    written = (root / BASELINE_NAME).read_bytes()
    proc = dbowner("check", cwd=root)
    assert proc.returncode == 0 and "No new ownership violations; 3 baselined." in proc.stdout
    assert (root / BASELINE_NAME).read_bytes() == written         # checking never writes the baseline

    (root / "services/orders/w.py").write_text("def f(c):\n    c.execute('DELETE FROM customers')\n")
    proc = dbowner("check", "--format", "json", cwd=root)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [(f["name"], f["path"]) for f in doc["findings"]] == [("cross-service-write", "services/orders/w.py")]
    assert len(doc["baselined"]) == 3 and doc["summary"]["baselined"] == 3
    (root / "services/orders/w.py").unlink()

    (root / "services/orders/r.sql").write_text("SELECT * FROM customers;\n")
    proc = dbowner("check", cwd=root)
    assert proc.returncode == 1
    assert "Run `dbowner check --update-baseline` so the baseline shrinks." in proc.stdout
    assert ("dbowner-baseline.yaml:7  stale baseline entry: cross-service-read on customers in "
            "services/orders/r.sql (orders): baseline accepts 3, found 1") in proc.stdout
    doc = json.loads(dbowner("check", "--format", "json", cwd=root).stdout)
    assert doc["summary"]["stale_baseline"] == 1 and doc["stale_baseline"][0]["found"] == 1

    proc = dbowner("check", "--update-baseline", cwd=root)
    assert proc.returncode == 0 and "(+0 new, -2 fixed)" in proc.stderr
    assert "count: 1}" in (root / BASELINE_NAME).read_text()
    assert dbowner("check", cwd=root).returncode == 0


def test_baseline_options(make_repo):
    root = make_repo({"dbowner.yaml": MANIFEST, "services/orders/r.sql": THREE_READS})
    no_folder = dbowner("check", "--update-baseline", "--baseline", "ci/accepted.yaml", cwd=root)
    assert no_folder.returncode == 2
    assert no_folder.stderr == "dbowner: ci/accepted.yaml: cannot write the baseline: No such file or directory\n"
    (root / "ci").mkdir()
    assert dbowner("check", "--update-baseline", "--baseline", "ci/accepted.yaml", cwd=root).returncode == 0
    assert not (root / BASELINE_NAME).exists()
    assert dbowner("check", cwd=root).returncode == 1                          # not the default name
    assert dbowner("check", "--baseline", "ci/accepted.yaml", cwd=root).returncode == 0
    (root / BASELINE_NAME).write_bytes((root / "ci/accepted.yaml").read_bytes())
    assert dbowner("check", cwd=root).returncode == 0
    assert dbowner("check", "--no-baseline", cwd=root).returncode == 1
    missing = dbowner("check", "--baseline", "nope.yaml", cwd=root)
    assert missing.returncode == 2 and "nope.yaml: baseline file not found" in missing.stderr
    (root / BASELINE_NAME).write_text("version: 1\nservices: [\n")
    bad = dbowner("check", cwd=root)
    assert bad.returncode == 2 and bad.stderr.startswith("dbowner: dbowner-baseline.yaml:3: invalid YAML")
    assert "Traceback" not in bad.stderr


def test_findings_about_suppression_comments_are_never_baselined(make_repo):
    root = make_repo({"dbowner.yaml": MANIFEST + "rules:\n  require_reasons: true\n",
                      "services/orders/r.sql": "SELECT * FROM customers; -- dbowner: ignore[DBO101]\n"
                                               "SELECT 1; -- dbowner: ignore[DBO102] fixed long ago\n"})
    m = load_manifest(root / "dbowner.yaml")
    settings = resolve_settings(m.rules)
    a = analyze(m, settings=settings)
    assert sorted(f.name for f in a.findings) == ["suppression-without-reason", "unused-suppression"]
    assert update_baseline(a.findings, None, settings).counts == {}
    hand_written = Baseline({key(rule="unused-suppression", table=""): 1})
    new, baselined, stale = apply_baseline(a.findings, hand_written, settings)
    assert len(new) == 2 and baselined == [] and len(stale) == 1
