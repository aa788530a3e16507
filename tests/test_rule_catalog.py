"""The rule catalog (rules/*.yaml) is the single source of rule metadata: every rule has one,
every example in it behaves as it says when run through the analyzer, and the README agrees."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from dbowner.analysis import analyze
from dbowner.catalog import catalog_dir, load_catalog
from dbowner.checks import LIVE_REGISTRY, REGISTRY
from dbowner.livefacts import LiveFacts
from dbowner.manifest import load_manifest
from dbowner.verify import verify

ROOT = Path(__file__).resolve().parent.parent
CATALOG = load_catalog()


def test_every_check_has_a_catalog_entry_and_back():
    assert sorted(set(REGISTRY) | set(LIVE_REGISTRY)) == sorted(CATALOG)
    # a rule of scope "live" is checked only against a database; every other rule has a code check
    assert sorted(REGISTRY) == sorted(r.name for r in CATALOG.values() if r.scope == "code")
    assert {r.name for r in CATALOG.values() if r.scope == "live"} <= set(LIVE_REGISTRY)
    assert {r.scope for r in CATALOG.values()} <= {"code", "live"}


def test_codes_and_names_are_unique_and_well_formed():
    codes = [r.code for r in CATALOG.values()]
    assert len(codes) == len(set(codes))
    for rule in CATALOG.values():
        assert re.fullmatch(r"DBO\d{3}", rule.code), rule.code
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name), rule.name
        assert Path(rule.source).name == f"{rule.name}.yaml"
        assert rule.summary and rule.why and rule.hint
        assert {"bad", "good"} <= set(rule.examples), f"{rule.name} needs a bad and a good example"


def _run_example(tmp_path: Path, rule_name: str, kind: str):
    rule = CATALOG[rule_name]
    example = rule.examples[kind]
    manifest_text = (example.get("manifest") or rule.examples.get("manifest")
                     or (catalog_dir() / "_example.dbowner.yaml").read_text("utf-8"))
    (tmp_path / "dbowner.yaml").write_text(textwrap.dedent(manifest_text), "utf-8")
    for rel, text in example.get("files", {}).items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
    manifest = load_manifest(tmp_path / "dbowner.yaml")
    if rule.scope == "live":   # the example states what the database's catalog holds
        return example, verify(manifest, LiveFacts.from_dict(example["database"]), [rule])
    return example, analyze(manifest, [rule])


@pytest.mark.parametrize("rule_name", sorted(CATALOG))
def test_bad_example_is_flagged(tmp_path, rule_name):
    example, analysis = _run_example(tmp_path, rule_name, "bad")
    found = [f for f in analysis.findings if f.name == rule_name]
    assert len(found) == example.get("expect", 1), [f.message for f in analysis.findings]
    assert not [d for d in analysis.diagnostics if d.kind in ("parse-error", "internal-error")]


@pytest.mark.parametrize("rule_name", sorted(CATALOG))
def test_good_example_is_clean(tmp_path, rule_name):
    _, analysis = _run_example(tmp_path, rule_name, "good")
    assert [f.message for f in analysis.findings if f.name == rule_name] == []
    assert not [d for d in analysis.diagnostics if d.kind in ("parse-error", "internal-error")]


def test_readme_rule_table_matches_the_catalog():
    readme = (ROOT / "README.md").read_text("utf-8")
    for rule in CATALOG.values():
        row = f"| {rule.code} | `{rule.name}` | {rule.severity.value} | {rule.summary} |"
        assert row in readme, f"README rule table is out of date for {rule.name}: expected row\n{row}"
