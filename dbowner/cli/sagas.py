"""`dbowner sagas`: the sagas found in the code and the manifest, for reviewers."""
from __future__ import annotations

from pathlib import Path

import click

from ..analysis import analyze, select_rules
from ..output.sagas import SAGA_CHECKS, render_sagas_json, render_sagas_text, saga_rows
from . import main
from .common import console, guard, load, manifest_option, path_argument


@main.command()
@path_argument
@manifest_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@guard
def sagas(path: Path, manifest_file: Path | None, fmt: str) -> None:
    """List each saga: style, steps in order, compensations, pivot and which checks pass."""
    analysis = analyze(load(path, manifest_file), rules=select_rules(SAGA_CHECKS))
    doc = saga_rows(analysis)
    if fmt == "json":
        click.echo(render_sagas_json(doc), nl=False)
    else:
        render_sagas_text(doc, console())
