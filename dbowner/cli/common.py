"""What every command shares: error handling, options, the console, loading the manifest."""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click
from rich.console import Console

from ..analysis import Analysis, SelectionError, analyze
from ..atomic import write_atomic
from ..catalog import RuleInfo
from ..checks import registered_rules
from ..estate import FactsError, analyze_files, is_facts_file
from ..exit_codes import ExitCode
from ..manifest import Manifest, ManifestError, find_manifest, load_manifest


def split_list(values: tuple[str, ...]) -> list[str]:
    """`--select a,b --select c` -> [a, b, c]."""
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def guard(fn):
    """Config errors -> exit 2 with one line each; bugs -> exit 3 with one line, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ManifestError as e:
            for problem in e.problems:
                click.echo(f"dbowner: {problem}", err=True)
            sys.exit(ExitCode.USAGE)
        except (SelectionError, FactsError) as e:
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


def console() -> Console:
    # Piped output (CI logs, files) gets a wide fixed width instead of rich's default 80 columns.
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def load(path: Path, manifest_file: Path | None) -> Manifest:
    return load_manifest(manifest_file.resolve() if manifest_file else find_manifest(path))


path_argument = click.argument("path", required=False, default=".",
                               type=click.Path(exists=True, path_type=Path))
manifest_option = click.option("--manifest", "manifest_file",
                               type=click.Path(exists=True, dir_okay=False, path_type=Path),
                               help="Use this dbowner.yaml instead of searching PATH and its parents.")


def analyse(path: Path, manifest_file: Path | None, rules: list[RuleInfo] | None = None, *,
            use_cache: bool = True) -> Analysis:
    """PATH is a source tree (found dbowner.yaml), or a facts file from `dbowner facts`/`merge`
    (then --manifest is an org manifest over it)."""
    if is_facts_file(path):
        org = load_manifest(manifest_file.resolve()) if manifest_file else None
        return analyze_files([path], registered_rules() if rules is None else rules, org)
    return analyze(load(path, manifest_file), rules, use_cache=use_cache)


def write_output(text: str, output: Path | None) -> None:
    """To the file the user named, or to standard output."""
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_atomic(output, text, make_parents=True)
    except OSError as e:
        raise click.ClickException(f"cannot write {output}: {e.strerror or e}") from None


no_cache_option = click.option("--no-cache", is_flag=True,
                               help="Neither read nor write the facts cache (.dbowner_cache/ beside the manifest).")
