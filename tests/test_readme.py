"""The README is the user's contract: its commands and tables must match what the code does."""
from __future__ import annotations

from pathlib import Path

from dbowner.exit_codes import DESCRIPTIONS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def test_ci_runs_exactly_the_readme_test_command():
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
                if line.strip() and not line.startswith("#") and "pytest" in line]
    assert len(ci_lines) == 1
    assert f"\n{ci_lines[0]}\n" in README


def test_exit_code_table_matches_the_code():
    for code, text in DESCRIPTIONS.items():
        assert f"| {int(code)} | {text} |" in README
