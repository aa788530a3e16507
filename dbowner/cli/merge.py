"""`dbowner merge`: join the facts of many repositories and check ownership across all of them."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..analysis import select_rules
from ..estate import analyze_document, dump_document, merged_document
from ..exit_codes import ExitCode
from ..manifest import load_manifest
from ..model import Severity
from ..output import FORMATS, render
from . import main
from .common import console, guard, split_list, write_output


@main.command()
@click.argument("facts_files", nargs=-1, required=True, metavar="FACTS...",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--manifest", "manifest_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Org manifest: a dbowner.yaml over all repositories (each one a folder named after it).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the merged facts here; check, report, graph and tables accept that file as PATH.")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="text", show_default=True)
@click.option("--select", multiple=True, metavar="RULES", help="Only these rules (codes, code prefixes or names).")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (codes, code prefixes or names).")
@guard
def merge(facts_files: tuple[Path, ...], manifest_file: Path | None, output: Path | None, fmt: str,
          select: tuple[str, ...], ignore: tuple[str, ...]) -> None:
    """Merge FACTS files (from `dbowner facts`, one per repository) and run every rule across them.
    Paths in findings start with the repository's name. Exit codes as for `check`."""
    rules = select_rules(split_list(select), split_list(ignore))
    org = load_manifest(manifest_file.resolve()) if manifest_file else None
    doc = merged_document(list(facts_files), org)
    doc.merged = True     # even for one file: paths say which repository they come from
    if output is not None:
        write_output(dump_document(doc), output)
    analysis = analyze_document(doc, rules, org)
    render(fmt, analysis, console())
    failed = any(f.severity is Severity.ERROR for f in analysis.findings)
    sys.exit(ExitCode.FINDINGS if failed else ExitCode.CLEAN)
