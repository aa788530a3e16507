"""`dbowner init`: write a draft dbowner.yaml from the repository, then show what it reports."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.text import Text

from ..analysis import analyze
from ..draft import DraftError, draft_manifest
from ..exit_codes import ExitCode
from ..manifest import load_manifest
from ..manifest.loader import MANIFEST_NAMES
from ..output import render
from . import main
from .common import console, guard


@main.command()
@click.argument("path", required=False, default=".",
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing dbowner.yaml.")
@click.option("--no-check", is_flag=True, help="Only write the draft; don't run a check with it.")
@guard
def init(path: Path, force: bool, no_check: bool) -> None:
    """Draft PATH/dbowner.yaml (default: .) from the code and config, then check with it.

    Services come from the folder layout, owned tables from the tables each service creates, its
    database from compose/.env/settings/alembic.ini/Kubernetes config. Review the draft: comments
    say where each entry comes from. Exit 0 once the draft is written (2: nothing written).
    """
    root = path.resolve()
    existing = [root / name for name in MANIFEST_NAMES if (root / name).exists()]
    if existing and not force:
        click.echo(f"dbowner: {existing[0]} already exists; not overwritten (use --force to replace it)", err=True)
        sys.exit(ExitCode.USAGE)
    try:
        draft = draft_manifest(root)
    except DraftError as e:
        click.echo(f"dbowner: {e}", err=True)
        sys.exit(ExitCode.USAGE)
    target = existing[0] if existing else root / MANIFEST_NAMES[0]
    try:
        target.write_text(draft.text, "utf-8")
    except OSError as e:
        click.echo(f"dbowner: cannot write {target}: {e.strerror or e}", err=True)
        sys.exit(ExitCode.USAGE)
    out = console()
    with_tables = sum(1 for s in draft.services if s.tables or s.used_tables)
    with_db = sum(1 for s in draft.services if s.database)
    out.print(Text(f"Wrote {target.name}: {len(draft.services)} service(s) "
                   f"({', '.join(s.name for s in draft.services)}); owned tables for {with_tables}, "
                   f"a database for {with_db}.", style="bold"))
    out.print(Text("It is a draft: review it, especially lines marked 'guess:'.", style="dim"))
    bare = [s.name for s in draft.services if not (s.tables or s.used_tables)]
    if bare:
        out.print(Text(f"No tables found for {', '.join(bare)} (dbowner reads .sql files and SQL in Python): "
                       "list the tables they own, or checks can't tell whose tables they touch.", style="yellow"))
    if no_check:
        sys.exit(ExitCode.CLEAN)
    out.print(Text("\nWhat `dbowner check` reports with this draft:\n", style="bold"))
    render("text", analyze(load_manifest(target)), out)
    out.print(Text(f"\nEdit {target.name}, then run `dbowner check` (its exit status is the one to use in CI).",
                   style="dim"))
    sys.exit(ExitCode.CLEAN)
