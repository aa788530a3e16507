"""Run the dbowner command line in-process from a folder, as a user would, quicker than a subprocess."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

from click.testing import CliRunner

from dbowner.cli import main


def dbowner(*args: str, cwd: Path) -> SimpleNamespace:
    """`dbowner ARGS` run from `cwd`: returncode, stdout, stderr."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)
