"""`dbowner tables`: the ownership table."""
from __future__ import annotations

from pathlib import Path

import click

from ..output.tables import ownership_rows, render_tables_json, render_tables_text
from . import main
from .common import analyse, console, guard, manifest_option, no_cache_option, path_argument


@main.command()
@path_argument
@manifest_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@no_cache_option
@guard
def tables(path: Path, manifest_file: Path | None, fmt: str, no_cache: bool) -> None:
    """Print the ownership table: each table, its owner, who reads it and who writes it."""
    analysis = analyse(path, manifest_file, rules=[], use_cache=not no_cache)
    rows = ownership_rows(analysis)
    if fmt == "json":
        click.echo(render_tables_json(rows), nl=False)
    else:
        render_tables_text(rows, console())
