"""`dbowner explain`: the rule catalog on the terminal."""
from __future__ import annotations

import sys

import click
import yaml
from rich.table import Table
from rich.text import Text

from ..catalog import load_catalog, lookup
from ..exit_codes import ExitCode
from . import main
from .common import console, guard


@main.command()
@click.argument("rule", required=False)
@click.option("--list", "list_all", is_flag=True, help="List every rule.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True,
              help="markdown: the rule table as the README shows it (with --list).")
@guard
def explain(rule: str | None, list_all: bool, fmt: str) -> None:
    """Print the catalog entry of RULE (a code such as DBO102 or a name such as cross-service-write)."""
    out = console()
    if (list_all or not rule) and fmt == "markdown":
        click.echo("| code | name | default severity | flags |")
        click.echo("| --- | --- | --- | --- |")
        for r in load_catalog().values():
            click.echo(f"| {r.code} | `{r.name}` | {r.severity.value} | {r.summary} |")
        return
    if list_all or not rule:
        t = Table(show_edge=False, pad_edge=False)
        for col in ("code", "name", "severity", "summary"):
            t.add_column(col)
        for r in load_catalog().values():
            t.add_row(r.code, r.name, r.severity.value, Text(r.summary))
        out.print(t)
        return
    info = lookup(rule)
    if info is None:
        click.echo(f"dbowner: unknown rule '{rule}' (see `dbowner explain --list`)", err=True)
        sys.exit(ExitCode.USAGE)
    out.print(Text(f"{info.code} {info.name}  [{info.severity.value}]", style="bold"))
    out.print(Text(info.summary))
    for title, body in (("Why", info.why), ("Fix", info.hint)):
        out.print()
        out.print(Text(title, style="bold"))
        out.print(Text(body))
    for kind in ("bad", "good"):
        ex = info.examples.get(kind)
        if not ex:
            continue
        out.print()
        out.print(Text(f"{kind.capitalize()} example: {ex.get('description', '')}", style="bold"))
        for fname, content in ex.get("files", {}).items():
            out.print(Text(f"# {fname}", style="dim"))
            out.print(Text(content.rstrip()))
        if ex.get("database"):     # a live rule's example: what the database's catalog holds
            out.print(Text("# the database (as `dbowner verify --format json` shows it under live.facts)",
                           style="dim"))
            out.print(Text(yaml.safe_dump(ex["database"], sort_keys=False, default_flow_style=None).rstrip()))
