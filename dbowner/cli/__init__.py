"""Command line. One module per command; each registers itself on `main` when imported below."""
from __future__ import annotations

import click

from .. import __version__
from ..runner import tune_gc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dbowner")
def main() -> None:
    """dbowner: check that each microservice owns its data exclusively."""
    tune_gc()


# Importing a command module registers its command on `main`.
from . import check, explain, facts, graph, init, merge, report, sagas, tables, verify  # noqa: E402,F401
