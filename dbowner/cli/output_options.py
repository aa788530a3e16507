"""`check`'s report options (--format, --output, --exit-zero, --statistics) and where output goes.

stdout carries the report and nothing else, so machine formats can be piped. `--statistics`
follows the findings in the text report; with a machine format it goes to stderr. With `--output`
stdout stays empty and stderr gets one line saying what was written.
"""
from __future__ import annotations

import functools
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console

from ..analysis import Analysis
from ..atomic import write_atomic
from ..exit_codes import ExitCode
from ..model import Severity
from ..output import FORMATS, render
from ..output.statistics import render_statistics
from .common import console


@dataclass(frozen=True)
class ReportOptions:
    fmt: str | None
    output: Path | None
    exit_zero: bool
    statistics: bool

    def format_for(self, env: Mapping[str, str]) -> str:
        """--format, else github inside GitHub Actions (when the report goes to stdout), else text."""
        if self.fmt:
            return self.fmt
        return "github" if self.output is None and env.get("GITHUB_ACTIONS") == "true" else "text"


_OPTIONS = (
    click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default=None,
                 help="Report format.  [default: text; github when GITHUB_ACTIONS=true]"),
    click.option("--output", "-o", "output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                 help="Write the report to FILE (atomically; parent folders are created) instead of stdout."),
    click.option("--exit-zero", is_flag=True,
                 help="Exit 0 even when errors are found (bad usage or configuration still exits 2)."),
    click.option("--statistics", is_flag=True, help="Also print the number of findings per rule, after them."),
)


def report_options(fn):
    """Add the report options to a command; it receives them as one `report: ReportOptions`."""

    @functools.wraps(fn, updated=())
    def wrapper(*args, fmt, output, exit_zero, statistics, **kwargs):
        return fn(*args, report=ReportOptions(fmt, output, exit_zero, statistics), **kwargs)

    wrapper.__click_params__ = list(getattr(fn, "__click_params__", []))
    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def emit(analysis: Analysis, report: ReportOptions) -> ExitCode:
    """Write the report where asked and return the exit code."""
    fmt = report.format_for(os.environ)
    stats = render_statistics(analysis) if report.statistics else ""
    if report.output is None:
        out = console()
        render(fmt, analysis, out)
        if fmt == "text" and stats:
            out.file.write("\n" + stats)
        elif stats:
            click.echo(stats, nl=False, err=True)
    else:
        buf = io.StringIO()
        render(fmt, analysis, Console(file=buf, width=200, color_system=None, highlight=False, soft_wrap=True))
        if fmt == "text" and stats:
            buf.write("\n" + stats)
        try:
            write_atomic(report.output, buf.getvalue(), make_parents=True)
        except OSError as e:
            click.echo(f"dbowner: cannot write {report.output}: {e.strerror or e}", err=True)
            return ExitCode.USAGE
        if fmt != "text" and stats:
            click.echo(stats, nl=False, err=True)
        errors = sum(1 for f in analysis.findings if f.severity is Severity.ERROR)
        click.echo(f"dbowner: wrote {fmt} report to {report.output} ({errors} error(s), "
                   f"{len(analysis.findings) - errors} other finding(s))", err=True)
    if fmt == "gitlab" and analysis.diagnostics:
        click.echo(f"dbowner: {len(analysis.diagnostics)} file(s) or statement(s) could not be fully analysed "
                   "(GitLab's format has no place for them; --format json lists them)", err=True)
    return ExitCode.FINDINGS if analysis.failed and not report.exit_zero else ExitCode.CLEAN
