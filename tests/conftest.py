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


@pytest.fixture(autouse=True)
def _outside_github_actions(monkeypatch):
    """`check` switches to --format github when GITHUB_ACTIONS=true; tests set that themselves."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


@pytest.fixture
def dbowner_cli():
    """Run `dbowner ARGS` in-process; returns click's Result (exit_code, stdout, stderr)."""
    from click.testing import CliRunner

    from dbowner.cli import main

    def run(*args: str, env: dict[str, str | None] | None = None):
        return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)

    return run


# Two services; orders writes inventory's table from files whose names need escaping in every format.
HOSTILE_MANIFEST = """
    version: 1
    services:
      orders:
        paths: ["services/orders/**"]
        tables: [orders]
      inventory:
        paths: ["services/inventory/**"]
        schemas: [inventory]
"""


@pytest.fixture
def hostile_repo(make_repo):
    """Findings in files named `we,ird:50%.sql` and `new<LF>line.sql`, a table `a<b&c`, one unparsable statement."""
    return make_repo({
        "dbowner.yaml": HOSTILE_MANIFEST,
        "services/orders/app/we,ird:50%.sql": "UPDATE inventory.stock SET quantity = 0;\n",
        "services/orders/app/new\nline.sql": "UPDATE inventory.stock SET quantity = 1;\n",
        "services/orders/app/broken.sql": 'SELECT FROM WHERE (((;\nUPDATE "a<b&c" SET x = 1;\n',
    })
