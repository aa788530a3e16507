"""`dbowner verify`: check a live PostgreSQL database against the manifest."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..exit_codes import ExitCode
from ..introspect import IntrospectError, collect
from ..verify import select_verify_rules, verify as verify_facts
from . import main
from .common import guard, load, manifest_option, path_argument, split_list
from .output_options import ReportOptions, emit, report_options


@main.command()
@path_argument
@manifest_option
@click.option("--dsn", metavar="URL", help="Connection string (postgresql://user:password@host/db or key=value). "
              "It is visible to other users of the machine while dbowner runs: prefer --dsn-env.")
@click.option("--dsn-env", metavar="VAR", help="Read the connection string from environment variable VAR.")
@click.option("--database", "logical_database", metavar="NAME",
              help="This database's name in the manifest (services.*.database). Default: its own name.")
@report_options
@click.option("--select", multiple=True, metavar="RULES",
              help="Only these rules (codes, code prefixes or names; comma-separated or repeated).")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (codes, code prefixes or names).")
@click.option("--statement-timeout", type=click.IntRange(1, 3600), default=30, show_default=True, metavar="SECONDS",
              help="Cancel any catalog query that runs longer.")
@guard
def verify(path: Path, manifest_file: Path | None, dsn: str | None, dsn_env: str | None,
           logical_database: str | None, report: ReportOptions, select: tuple[str, ...], ignore: tuple[str, ...],
           statement_timeout: int) -> None:
    """Check the live PostgreSQL database at --dsn against PATH's dbowner.yaml: tables nobody owns,
    tables the manifest names but the database lacks, cross-service foreign keys, views and grants,
    and the statements pg_stat_statements saw each service's roles run. Read-only. Exit 0 clean,
    1 errors found, 2 bad usage, configuration or connection."""
    manifest = load(path, manifest_file)
    rules = select_verify_rules(split_list(select), split_list(ignore))
    conninfo = _conninfo(dsn, dsn_env)
    try:
        facts = collect(conninfo, statement_timeout_ms=statement_timeout * 1000)
    except IntrospectError as e:
        click.echo(f"dbowner: {e}", err=True)
        sys.exit(ExitCode.USAGE)
    analysis = verify_facts(manifest, facts, rules, database=logical_database)
    sys.exit(emit(analysis, report))


def _conninfo(dsn: str | None, dsn_env: str | None) -> str:
    if dsn and dsn_env:
        _usage("give --dsn or --dsn-env, not both")
    if dsn_env:
        value = os.environ.get(dsn_env)
        if not value:
            _usage(f"environment variable {dsn_env} (from --dsn-env) is not set or empty")
        return value
    if not dsn:
        _usage("say which database to verify: --dsn URL or --dsn-env VAR")
    return dsn


def _usage(message: str) -> None:
    click.echo(f"dbowner: {message}", err=True)
    sys.exit(ExitCode.USAGE)
