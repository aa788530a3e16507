"""`dbowner facts`: one repository's facts as a versioned JSON file, for `dbowner merge`."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..analysis import analyze
from ..estate import FactsDocument, FactsError, dump_document, repo_facts
from ..estate.facts import REPO_NAME
from . import main
from .common import guard, load, manifest_option, write_output


@main.command()
@click.argument("path", required=False, default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@manifest_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the facts here (default: standard output).")
@click.option("--repo", "repo_name", metavar="NAME",
              help="Repository name used as path prefix after merging (default: the manifest's folder name).")
@guard
def facts(path: Path, manifest_file: Path | None, output: Path | None, repo_name: str | None) -> None:
    """Write the facts of the repository at PATH (services, owned tables, table accesses with
    locations) for `dbowner merge`. Contains statement excerpts, never whole files."""
    manifest = load(path, manifest_file)
    name = repo_name or manifest.root.resolve().name
    if not REPO_NAME.match(name):
        raise FactsError(f"invalid repository name {name!r}: use --repo with letters, digits, '_', '.', '-'")
    analysis = analyze(manifest, rules=[])
    write_output(dump_document(FactsDocument([repo_facts(analysis, name)])), output)
    if output is not None:
        files = len(analysis.graph.facts)
        click.echo(f"dbowner: wrote facts of repository {name} ({files} file(s), "
                   f"{len(manifest.services)} service(s)) to {output}", err=True)
    sys.exit(0)
