"""`dbowner check`: analyse a repository and report ownership violations."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..analysis import analyze, select_rules
from ..exit_codes import ExitCode
from ..model import Severity
from ..output import FORMATS, render
from . import main
from .common import console, guard, load, manifest_option, no_cache_option, path_argument, split_list


@main.command()
@path_argument
@manifest_option
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="text", show_default=True)
@click.option("--select", multiple=True, metavar="RULES",
              help="Only these rules (codes, code prefixes or names; comma-separated or repeated).")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (codes, code prefixes or names).")
@no_cache_option
@guard
def check(path: Path, manifest_file: Path | None, fmt: str, select: tuple[str, ...], ignore: tuple[str, ...],
          no_cache: bool) -> None:
    """Check PATH (default: .) against its dbowner.yaml. Exit 0 clean, 1 errors found, 2 bad usage/config."""
    manifest = load(path, manifest_file)
    rules = select_rules(split_list(select), split_list(ignore))
    analysis = analyze(manifest, rules, use_cache=not no_cache)
    render(fmt, analysis, console())
    failed = any(f.severity is Severity.ERROR for f in analysis.findings)
    sys.exit(ExitCode.FINDINGS if failed else ExitCode.CLEAN)
