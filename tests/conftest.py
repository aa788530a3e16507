from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def make_repo(tmp_path: Path):
    """Write {relative path: text} into a temp folder (text is dedented) and return the folder."""

    def make(files: dict[str, str]) -> Path:
        for rel, text in files.items():
            target = tmp_path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text).lstrip("\n"), "utf-8")
        return tmp_path

    return make
