"""The byte pre-filter never hides a fact: every Python file whose SQL walk finds anything passes it.

Checked on every Python text the repository holds: fixture files, rule-catalog examples, Python
snippets written inside the tests (so the extractor tests other branches add are covered as
they land), and a sample of the benchmark's synthetic monorepo. The check is generic over
FileFacts: any field other than `path` that is non-empty counts as a fact.
"""
from __future__ import annotations

import ast
import importlib.util
import textwrap
from pathlib import Path

import pytest
import yaml

from dbowner.extract import extract_file
from dbowner.extract import python as python_extractor
from dbowner.extract.prefilter import PYTHON_KEYWORDS, may_have_facts

ROOT = Path(__file__).resolve().parent.parent


def has_facts(path: str, text: str) -> bool:
    """Does the SQL walk, the part the pre-filter can skip, find anything in this file? (ORM use,
    structure and connection settings are read whether or not the filter passes.)"""
    with_walk = python_extractor.extract_python_file(path, text).to_dict()
    without = python_extractor.extract_python_file(path, text, database=False).to_dict()
    if with_walk == without:
        return False
    diagnostics = with_walk["diagnostics"]
    if with_walk["statements"] == without["statements"] and diagnostics and all(
            d["kind"] == "parse-error" and "cannot parse Python" in d["message"] for d in diagnostics):
        return False   # a file that is not Python at all: skipping it hides no database access
    return True


def fixture_files() -> list[tuple[str, str]]:
    return [(p.relative_to(ROOT).as_posix(), p.read_text("utf-8")) for p in sorted((ROOT / "fixtures").rglob("*.py"))]


def catalog_examples() -> list[tuple[str, str]]:
    out = []
    for entry in sorted((ROOT / "rules").glob("*.yaml")):
        doc = yaml.safe_load(entry.read_text("utf-8")) or {}
        for kind, example in (doc.get("examples") or {}).items():
            if isinstance(example, dict):
                for rel, text in (example.get("files") or {}).items():
                    if rel.endswith(".py"):
                        out.append((f"{entry.name}:{kind}:{rel}", text))
    return out


def snippets_in_tests() -> list[tuple[str, str]]:
    """Every string constant in tests/*.py that is a multi-line Python module once dedented."""
    out = []
    for test_file in sorted((ROOT / "tests").glob("*.py")):
        tree = ast.parse(test_file.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value.strip():
                text = textwrap.dedent(node.value).lstrip("\n")
                try:
                    ast.parse(text)
                except (SyntaxError, ValueError):
                    continue
                out.append((f"{test_file.name}:{node.lineno}", text))
    return out


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_monorepo", ROOT / "bench" / "gen_monorepo.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)  # type: ignore[union-attr]
    return gen


def test_every_python_text_with_facts_passes_the_prefilter():
    corpus = fixture_files() + catalog_examples() + snippets_in_tests()
    assert len(fixture_files()) >= 10 and len(catalog_examples()) >= 15 and len(snippets_in_tests()) >= 50
    with_facts = lost = 0
    for name, text in corpus:
        path = name if name.endswith(".py") else "snippet.py"
        if has_facts(path, text):
            with_facts += 1
            if not may_have_facts(path, text.encode("utf-8")):
                lost += 1
                pytest.fail(f"pre-filter drops {name}, which has facts:\n{text[:500]}")
    assert with_facts >= 60 and lost == 0


def test_synthetic_monorepo_sample_loses_nothing_and_skips_most_plain_modules(tmp_path):
    gen = load_generator()
    gen.generate(tmp_path, services=3, py_files=150, sql_files=6, seed=7)
    skipped = 0
    files = sorted(tmp_path.rglob("*.py"))
    for p in files:
        text = p.read_text("utf-8")
        passes = may_have_facts(p.name, text.encode("utf-8"))
        if has_facts(p.name, text):
            assert passes, p
        skipped += not passes
    assert skipped > len(files) // 3   # the filter earns its keep on code without database access


def test_prefilter_result_equals_full_extraction_on_fixtures():
    for name, text in fixture_files() + catalog_examples():
        path = name if name.endswith(".py") else "snippet.py"
        data = text.encode("utf-8")
        assert extract_file(path, data).to_dict() == extract_file(path, data, prefilter=False).to_dict(), name


def test_every_call_name_the_extractor_knows_is_covered_by_a_keyword():
    names = (python_extractor._FIRST_ARG_CALLS | python_extractor._SECOND_ARG_CALLS | python_extractor._TPC_CALLS
             | python_extractor._TXN_METHODS | {"RunSQL", "text", "atomic"})
    for name in sorted(names):
        src = f"x = conn.{name}('SELECT 1 FROM t')\n".encode()
        assert may_have_facts("a.py", src), f"no PYTHON_KEYWORDS entry covers the call name {name!r}"


@pytest.mark.parametrize("src", [
    "q = text('SELECT 1 FROM t')",
    "q = sa.text ('SELECT 1 FROM t')",
    "q = text(\n    'SELECT 1 FROM t')",
    "q = (text  # the SQL\n     ('SELECT 1 FROM t'))",
    "q = text \\\n    ('SELECT 1 FROM t')",
    "with session.begin():\n    pass",
    "@transaction.atomic\ndef f():\n    pass",
    "conn.tpc_prepare()",
])
def test_calls_are_recognised_however_they_are_spelled(src):
    assert has_facts("a.py", src + "\n")
    assert may_have_facts("a.py", src.encode())


@pytest.mark.parametrize("src", [
    "import os\n\ndef size(path):\n    return os.path.getsize(path)\n",
    "CONTEXT = {'user': 1}\nplain_text = 'SELECT is a word here'\n",   # 'text' without a call
])
def test_code_without_database_calls_is_skipped(src):
    assert not has_facts("a.py", src)
    assert not may_have_facts("a.py", src.encode())


def test_sql_files_and_other_suffixes_always_pass():
    assert may_have_facts("m.sql", b"-- nothing")
    assert all(isinstance(k, bytes) and k for k in PYTHON_KEYWORDS)


def test_skipped_files_keep_their_binary_and_encoding_diagnostics():
    latin1 = "# caf\xe9\nX = 1\n".encode("latin-1")
    facts = extract_file("a.py", latin1)
    assert [d.kind for d in facts.diagnostics] == ["decode"] and not facts.statements
    assert [d.kind for d in extract_file("b.py", b"\0\1\2").diagnostics] == ["skipped-binary"]
