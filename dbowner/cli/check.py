"""`dbowner check`: analyse a repository and report ownership violations."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..analysis import analyze, resolve_settings, select_rules
from ..estate import is_facts_file
from . import main
from .common import analyse, guard, load, manifest_option, no_cache_option, path_argument, split_list
from .output_options import ReportOptions, emit, report_options
from .policy_actions import read_baseline, run_add_suppressions, run_update_baseline


@main.command()
@path_argument
@manifest_option
@report_options
@click.option("--select", multiple=True, metavar="RULES",
              help="Only these rules (codes, code prefixes or names; comma-separated or repeated). "
                   "Replaces the manifest's rules.select and rules.ignore.")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (codes, code prefixes or names).")
@click.option("--severity", multiple=True, metavar="RULE=LEVEL",
              help="Set a rule's severity: error, warning or info (wins over rules.severity).")
@click.option("--require-reasons/--no-require-reasons", default=None,
              help="Report suppression comments without a reason (overrides rules.require_reasons).")
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Baseline file to use or update (default: dbowner-baseline.yaml beside the manifest).")
@click.option("--no-baseline", is_flag=True, help="Ignore the baseline: report every finding.")
@click.option("--update-baseline", is_flag=True,
              help="Write the baseline so that it accepts exactly the current findings, then report.")
@click.option("--add-suppressions", is_flag=True,
              help="Add a 'dbowner: ignore[...] TODO: reason' comment for every current finding, then exit.")
@no_cache_option
@guard
def check(path: Path, manifest_file: Path | None, report: ReportOptions, select: tuple[str, ...], ignore: tuple[str, ...],
          severity: tuple[str, ...], require_reasons: bool | None, baseline_file: Path | None, no_baseline: bool,
          update_baseline: bool, add_suppressions: bool, no_cache: bool) -> None:
    """Check PATH (default: .) against its dbowner.yaml. Exit 0 clean, 1 errors found, 2 bad usage/config.

    PATH may also be a facts file written by `dbowner facts` or `dbowner merge`."""
    if update_baseline and (no_baseline or add_suppressions):
        raise click.UsageError("--update-baseline cannot be combined with --no-baseline or --add-suppressions")
    if is_facts_file(path):
        analysis = analyse(path, manifest_file, select_rules(split_list(select), split_list(ignore)))
        sys.exit(emit(analysis, report))
    manifest = load(path, manifest_file)
    settings = resolve_settings(manifest.rules, split_list(select), split_list(ignore), split_list(severity),
                                require_reasons)
    if update_baseline:
        analysis = run_update_baseline(manifest, settings, baseline_file)
    else:
        baseline = read_baseline(manifest, baseline_file, no_baseline)
        if add_suppressions:
            run_add_suppressions(manifest, settings, baseline)
        analysis = analyze(manifest, settings=settings, baseline=baseline, use_cache=not no_cache)
    sys.exit(emit(analysis, report))
