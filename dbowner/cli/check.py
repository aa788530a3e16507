"""`dbowner check`: analyse a repository and report ownership violations."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..analysis import analyze, select_rules
from . import main
from .common import guard, load, manifest_option, path_argument, split_list
from .output_options import ReportOptions, emit, report_options


@main.command()
@path_argument
@manifest_option
@report_options
@click.option("--select", multiple=True, metavar="RULES",
              help="Only these rules (codes, code prefixes or names; comma-separated or repeated).")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (codes, code prefixes or names).")
@guard
def check(path: Path, manifest_file: Path | None, report: ReportOptions, select: tuple[str, ...],
          ignore: tuple[str, ...]) -> None:
    """Check PATH (default: .) against its dbowner.yaml. Exit 0 clean, 1 errors found, 2 bad usage/config."""
    manifest = load(path, manifest_file)
    rules = select_rules(split_list(select), split_list(ignore))
    analysis = analyze(manifest, rules)
    sys.exit(emit(analysis, report))
