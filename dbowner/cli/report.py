"""`dbowner report`: the architecture-review document (HTML or Markdown, from -o's extension)."""
from __future__ import annotations

from pathlib import Path

import click

from ..analysis import select_rules
from ..estate import is_facts_file
from ..model import Severity
from ..output.report import REPORT_FORMATS, render_report, report_format
from . import main
from .common import analyse, guard, manifest_option, path_argument, split_list, write_output


@main.command()
@path_argument
@manifest_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The report file: .html (self-contained) or .md (Markdown with a Mermaid diagram).")
@click.option("--title", default="", help="Title of the report (default: 'Data ownership review: <folder>').")
@click.option("--select", multiple=True, metavar="RULES", help="Only these rules (codes, code prefixes or names).")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (codes, code prefixes or names).")
@guard
def report(path: Path, manifest_file: Path | None, output: Path, title: str, select: tuple[str, ...],
           ignore: tuple[str, ...]) -> None:
    """Write a review report of PATH (a source tree, or a facts file from `dbowner facts`/`merge`):
    summary, ownership matrix, diagram, hotspots, sagas and findings. Exit 0 once written."""
    fmt = report_format(output)
    if fmt is None:
        raise click.UsageError(f"cannot tell the report format from '{output.name}': name it "
                               f"{' or '.join(sorted(set('*' + s for s in REPORT_FORMATS)))}")
    analysis = analyse(path, manifest_file, select_rules(split_list(select), split_list(ignore)))
    # Quote source lines only from a tree on disk; a facts file has statement excerpts only.
    sources = None if is_facts_file(path) else analysis.manifest.root
    write_output(render_report(analysis, fmt, sources, title), output)
    errors = sum(1 for f in analysis.findings if f.severity is Severity.ERROR)
    click.echo(f"dbowner: wrote {output} ({len(analysis.findings)} finding(s), {errors} error(s))", err=True)
