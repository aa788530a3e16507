"""Command line: `dbowner check`, `explain`, `tables`."""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import __version__
from .analysis import SelectionError, analyze, select_rules
from .catalog import load_catalog, lookup
from .exit_codes import ExitCode
from .manifest import ManifestError, find_manifest, load_manifest
from .model import Severity


def _split(values: tuple[str, ...]) -> list[str]:
    return [v for item in values for v in item.split(",") if v.strip()]


def _guard(fn):
    """Config errors -> exit 2 with one line each; bugs -> exit 3 with one line, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ManifestError as e:
            for problem in e.problems:
                click.echo(f"dbowner: {problem}", err=True)
            sys.exit(ExitCode.USAGE)
        except SelectionError as e:
            click.echo(f"dbowner: {e}", err=True)
            sys.exit(ExitCode.USAGE)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as e:  # pragma: no cover - last resort
            if os.environ.get("DBOWNER_DEBUG"):
                raise
            click.echo(f"dbowner: internal error: {type(e).__name__}: {e} "
                       "(set DBOWNER_DEBUG=1 for a traceback, and please report it)", err=True)
            sys.exit(ExitCode.INTERNAL)

    return wrapper


def _console() -> Console:
    # Piped output (CI logs, files) gets a wide fixed width instead of rich's default 80 columns.
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def _load(path: Path, manifest_file: Path | None):
    return load_manifest(manifest_file.resolve() if manifest_file else find_manifest(path))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dbowner")
def main() -> None:
    """dbowner: check that each microservice owns its data exclusively."""


path_arg = click.argument("path", required=False, default=".", type=click.Path(exists=True, path_type=Path))
manifest_opt = click.option("--manifest", "manifest_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                            help="Use this dbowner.yaml instead of searching PATH and its parents.")


@main.command()
@path_arg
@manifest_opt
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--select", multiple=True, metavar="RULES", help="Only these rules (codes, code prefixes or names; comma-separated or repeated).")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (codes, code prefixes or names).")
@_guard
def check(path: Path, manifest_file: Path | None, fmt: str, select: tuple[str, ...], ignore: tuple[str, ...]) -> None:
    """Check PATH (default: .) against its dbowner.yaml. Exit 0 clean, 1 errors found, 2 bad usage/config."""
    manifest = _load(path, manifest_file)
    rules = select_rules(_split(select), _split(ignore))
    analysis = analyze(manifest, rules)
    if fmt == "json":
        from .output.json_format import render_json
        click.echo(render_json(analysis), nl=False)
    else:
        from .output.text import render_text
        render_text(analysis, _console())
    failed = any(f.severity is Severity.ERROR for f in analysis.findings)
    sys.exit(ExitCode.FINDINGS if failed else ExitCode.CLEAN)


@main.command()
@click.argument("rule", required=False)
@click.option("--list", "list_all", is_flag=True, help="List every rule.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True,
              help="markdown: the rule table as the README shows it (with --list).")
@_guard
def explain(rule: str | None, list_all: bool, fmt: str) -> None:
    """Print the catalog entry of RULE (a code such as DBO102 or a name such as cross-service-write)."""
    console = _console()
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
        console.print(t)
        return
    info = lookup(rule)
    if info is None:
        click.echo(f"dbowner: unknown rule '{rule}' (see `dbowner explain --list`)", err=True)
        sys.exit(ExitCode.USAGE)
    console.print(Text(f"{info.code} {info.name}  [{info.severity.value}]", style="bold"))
    console.print(Text(info.summary))
    console.print()
    console.print(Text("Why", style="bold"))
    console.print(Text(info.why))
    console.print()
    console.print(Text("Fix", style="bold"))
    console.print(Text(info.hint))
    for kind in ("bad", "good"):
        ex = info.examples.get(kind)
        if not ex:
            continue
        console.print()
        console.print(Text(f"{kind.capitalize()} example: {ex.get('description', '')}", style="bold"))
        for fname, content in ex.get("files", {}).items():
            console.print(Text(f"# {fname}", style="dim"))
            console.print(Text(content.rstrip()))


@main.command()
@path_arg
@manifest_opt
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_guard
def tables(path: Path, manifest_file: Path | None, fmt: str) -> None:
    """Print the ownership table: each table, its owner, who reads it and who writes it."""
    from .output.tables import ownership_rows, render_tables_json, render_tables_text

    manifest = _load(path, manifest_file)
    analysis = analyze(manifest, rules=[])
    rows = ownership_rows(analysis)
    if fmt == "json":
        click.echo(render_tables_json(rows), nl=False)
    else:
        render_tables_text(rows, _console())
