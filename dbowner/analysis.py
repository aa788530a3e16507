"""The pipeline in one place: manifest -> discover -> extract -> graph -> checks -> policy (settings,
suppressions, baseline)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .catalog import RuleInfo
from .checks import run_checks
from .discover import Discovery, discover
from .extract.suppressions import scan_suppressions
from .graph import OwnershipGraph, build_graph
from .manifest import Manifest
from .model import Diagnostic, FileFacts, Finding, Severity
from .orm_resolve import resolve_orm
from .policy import (  # noqa: F401  (SelectionError, select_rules: re-exported for the CLI)
    Baseline, RuleSettings, SelectionError, StaleEntry, Suppressed, apply_baseline, apply_suppressions,
    resolve_settings, select_rules,
)
from .runner import extract_all
from .sagas import SAGA_RULES, saga_report


@dataclass
class Analysis:
    manifest: Manifest
    discovery: Discovery
    graph: OwnershipGraph
    findings: list[Finding]      # what to report and what fails: not suppressed, not baselined
    rules: list[RuleInfo]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)     # silenced by a comment
    baselined: list[Finding] = field(default_factory=list)         # accepted by the baseline
    stale_baseline: list[StaleEntry] = field(default_factory=list)  # baseline entries whose findings are gone
    settings: RuleSettings | None = None
    facts: list[FileFacts] = field(default_factory=list)            # per-file facts before ORM resolution

    @property
    def failed(self) -> bool:
        """Exit status 1: an error-severity finding, or a stale baseline entry."""
        return bool(self.stale_baseline) or any(f.severity is Severity.ERROR for f in self.findings)


def analyze(manifest: Manifest, rules: list[RuleInfo] | None = None, *, settings: RuleSettings | None = None,
            baseline: Baseline | None = None, use_cache: bool = True) -> Analysis:
    """Run the pipeline. `settings` default to the manifest's `rules:`; `rules`, when given,
    replaces the rules they select. Suppression comments apply, then the baseline (if any).
    `use_cache`: read and write per-file facts in .dbowner_cache/ beside the manifest."""
    discovery = discover(manifest)
    facts = extract_all(manifest, discovery.files, use_cache=use_cache)
    return analyze_facts(manifest, discovery, facts, rules, settings=settings, baseline=baseline)


def analyze_facts(manifest: Manifest, discovery: Discovery, facts: list[FileFacts],
                  rules: list[RuleInfo] | None = None, *, settings: RuleSettings | None = None,
                  baseline: Baseline | None = None) -> Analysis:
    """Graph, checks and policy over facts already extracted (here, or in other runs: `dbowner merge`)."""
    settings = settings or resolve_settings(manifest.rules)
    if rules is not None:
        settings = replace(settings, rules=tuple(rules))
    extracted = facts          # as extraction left them: what `dbowner facts` stores
    facts = resolve_orm(manifest, discovery, facts)   # + ORM models, queries, migrations as statements
    og = build_graph(manifest, discovery, facts)
    findings = [settings.configure(f) for f in run_checks(og, settings.rules) if settings.runs(f.name, f.path)]
    diagnostics = list(discovery.diagnostics)
    for ff in facts:
        diagnostics.extend(ff.diagnostics)
    diagnostics.extend(_ambiguities(og))
    suppressions = {ff.path: ff.suppressions for ff in facts if ff.suppressions}
    manifest_suppressions, problems = _manifest_suppressions(manifest)
    if manifest_suppressions:
        suppressions[manifest.display_path] = manifest_suppressions
    diagnostics.extend(problems)
    if any(r.name in SAGA_RULES for r in settings.rules):
        diagnostics.extend(saga_report(og).diagnostics)   # manifest sagas naming missing functions
    diagnostics.sort(key=lambda d: (d.path, d.line, d.kind, d.message))
    outcome = apply_suppressions(findings, suppressions, {ff.path: ff.statements for ff in facts}, settings,
                                 og.service_of)
    findings = sorted(outcome.kept + [settings.configure(f) for f in outcome.extra], key=Finding.sort_key)
    suppressed = sorted(outcome.suppressed, key=lambda s: s.finding.sort_key())
    analysis = Analysis(manifest, discovery, og, findings, list(settings.rules), diagnostics, suppressed,
                        settings=settings, facts=extracted)
    return with_baseline(analysis, baseline) if baseline is not None else analysis


def with_baseline(analysis: Analysis, baseline: Baseline) -> Analysis:
    """The analysis with `baseline` applied to its findings (which must not be baselined yet)."""
    settings = analysis.settings or resolve_settings(analysis.manifest.rules)
    new, baselined, stale = apply_baseline(analysis.findings, baseline, settings)
    return replace(analysis, findings=sorted(new, key=Finding.sort_key),
                   baselined=sorted(baselined, key=Finding.sort_key), stale_baseline=stale)


def _manifest_suppressions(manifest: Manifest):
    """`# dbowner: ignore[...]` comments in dbowner.yaml silence findings located there."""
    try:
        text = manifest.path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return [], []
    return scan_suppressions(manifest.display_path, text)


def _ambiguities(og: OwnershipGraph) -> list[Diagnostic]:
    seen = {}
    for info in og.statements:
        for ra in info.accesses:
            if ra.resolution.kind == "ambiguous":
                key = (info.path, str(ra.access.table))
                seen.setdefault(key, Diagnostic(
                    info.path, ra.access.line, "ambiguous-table",
                    f"table {ra.access.table} is owned by several services "
                    f"({', '.join(ra.resolution.candidates)}); qualify it or set `database` to disambiguate"))
    return list(seen.values())


def relative_display(path: Path, manifest: Manifest) -> str:
    try:
        return path.resolve().relative_to(manifest.root.resolve()).as_posix()
    except ValueError:
        return str(path)
