"""The pipeline in one place: manifest -> discover -> extract -> graph -> checks."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import RuleInfo
from .checks import registered_rules, run_checks
from .discover import Discovery, discover
from .graph import OwnershipGraph, build_graph
from .manifest import Manifest
from .model import Diagnostic, Finding
from .runner import extract_all


@dataclass
class Analysis:
    manifest: Manifest
    discovery: Discovery
    graph: OwnershipGraph
    findings: list[Finding]
    rules: list[RuleInfo]
    diagnostics: list[Diagnostic] = field(default_factory=list)


class SelectionError(ValueError):
    pass


def select_rules(select: Iterable[str] = (), ignore: Iterable[str] = ()) -> list[RuleInfo]:
    """Rules after --select/--ignore (codes or names; a code prefix like DBO1 selects a group)."""
    rules = registered_rules()

    def matches(token: str) -> list[RuleInfo]:
        t = token.strip().lower()
        found = [r for r in rules if t == r.name or r.code.lower().startswith(t)]
        if not found:
            raise SelectionError(f"unknown rule '{token}' (see `dbowner explain --list`)")
        return found

    chosen = rules
    sel = [s for s in select if s.strip()]
    if sel:
        wanted = {r.name for s in sel for r in matches(s)}
        chosen = [r for r in rules if r.name in wanted]
    dropped = {r.name for s in ignore if s.strip() for r in matches(s)}
    return [r for r in chosen if r.name not in dropped]


def analyze(manifest: Manifest, rules: list[RuleInfo] | None = None, *, use_cache: bool = True) -> Analysis:
    rules = registered_rules() if rules is None else rules
    discovery = discover(manifest)
    facts = extract_all(manifest, discovery.files, use_cache=use_cache)
    og = build_graph(manifest, discovery, facts)
    findings = run_checks(og, rules)
    diagnostics = list(discovery.diagnostics)
    for ff in facts:
        diagnostics.extend(ff.diagnostics)
    diagnostics.extend(_ambiguities(og))
    diagnostics.sort(key=lambda d: (d.path, d.line, d.kind, d.message))
    return Analysis(manifest, discovery, og, findings, rules, diagnostics)


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
