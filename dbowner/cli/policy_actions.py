"""What `dbowner check` does with the baseline and suppression options (kept out of check.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..analysis import Analysis, analyze, with_baseline
from ..exit_codes import ExitCode
from ..manifest import Manifest
from ..policy import (
    BASELINE_NAME, Baseline, BaselineError, RuleSettings, load_baseline, update_baseline, write_baseline,
)
from ..policy.add_suppressions import PLACEHOLDER_REASON, add_suppressions


def baseline_path(manifest: Manifest, option: Path | None) -> Path:
    return option if option is not None else manifest.root / BASELINE_NAME


def shown(path: Path, manifest: Manifest) -> str:
    try:
        return path.resolve().relative_to(manifest.root.resolve()).as_posix()
    except ValueError:
        return str(path)


def read_baseline(manifest: Manifest, option: Path | None, no_baseline: bool) -> Baseline | None:
    """The baseline in effect: --baseline FILE (must exist), else dbowner-baseline.yaml beside the
    manifest when there is one, else none."""
    if no_baseline:
        return None
    path = baseline_path(manifest, option)
    if not path.is_file():
        if option is not None:
            raise BaselineError([f"{path}: baseline file not found (create it with --update-baseline)"])
        return None
    return load_baseline(path, shown(path, manifest))


def run_update_baseline(manifest: Manifest, settings: RuleSettings, option: Path | None) -> Analysis:
    """Write the baseline accepting every current finding (keeping entries of rules that did not
    run) and return the analysis with it applied."""
    path = baseline_path(manifest, option)
    previous = load_baseline(path, shown(path, manifest)) if path.is_file() else None
    analysis = analyze(manifest, settings=settings)
    baseline = update_baseline(analysis.findings, previous, settings)
    baseline.display = shown(path, manifest)
    try:
        write_baseline(path, baseline)
    except OSError as e:
        raise BaselineError([f"{baseline.display}: cannot write the baseline: {e.strerror or e}"]) from None
    before = previous.counts if previous else {}
    added = sum(max(0, n - before.get(k, 0)) for k, n in baseline.counts.items())
    removed = sum(max(0, n - baseline.counts.get(k, 0)) for k, n in before.items())
    click.echo(f"dbowner: wrote {baseline.display}: {baseline.total} finding(s) in {len(baseline.counts)} "
               f"entr{'y' if len(baseline.counts) == 1 else 'ies'} (+{added} new, -{removed} fixed)", err=True)
    return with_baseline(analysis, baseline)


def run_add_suppressions(manifest: Manifest, settings: RuleSettings, baseline: Baseline | None) -> None:
    analysis = analyze(manifest, settings=settings, baseline=baseline)
    report = add_suppressions(manifest.root, analysis.findings)
    for path, line, why in report.skipped:
        click.echo(f"dbowner: {path}:{line}: no suppression comment added: {why}", err=True)
    click.echo(f"dbowner: added {report.comments} suppression comment(s) to {len(report.files)} file(s); "
               f"replace each '{PLACEHOLDER_REASON}' with the reason for the exception", err=True)
    sys.exit(ExitCode.CLEAN)
