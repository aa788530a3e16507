"""`dbowner graph`: export the ownership graph (json, graphml, dot, mermaid)."""
from __future__ import annotations

from pathlib import Path

import click

from ..output.graph_export import GRAPH_FORMATS, export_graph
from . import main
from .common import analyse, guard, manifest_option, path_argument, write_output


@main.command()
@path_argument
@manifest_option
@click.option("--format", "fmt", type=click.Choice(GRAPH_FORMATS), default="json", show_default=True,
              help="json: networkx node-link with evidence on edges; graphml; dot (Graphviz); mermaid.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of standard output.")
@guard
def graph(path: Path, manifest_file: Path | None, fmt: str, output: Path | None) -> None:
    """Export the ownership graph of PATH (a source tree, or a facts file from `dbowner facts`/`merge`):
    services, tables, who owns, reads, writes and alters what, and foreign keys between tables."""
    write_output(export_graph(analyse(path, manifest_file), fmt), output)
