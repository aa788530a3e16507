"""`dbowner verify`: judge a live database's facts against the manifest.

Catalog facts (relations, foreign keys, view dependencies, privileges) go through the live checks
(`@live_check`). Each pg_stat_statements entry is parsed with the same SQL extraction as a .sql
file, attributed to the service whose role ran it, and judged by the ordinary statement checks
(`@check`), one run per service so that each statement is seen as its service's code. The result is
an Analysis, so every output format renders it; `live` adds what only a live run knows.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx

from .analysis import Analysis, select_rules
from .catalog import RuleInfo, load_catalog
from .checks import LIVE_REGISTRY, run_checks, run_live_checks
from .discover import Discovery, SourceFile
from .graph import OwnershipGraph, build_graph
from .livefacts import SOURCES, STATEMENTS, LiveFacts, RuntimeStatement
from .livegraph import LiveModel
from .manifest import Manifest
from .model import Diagnostic, FileFacts, Finding

# Statement rules that also judge the statements the database ran. Not unowned-table (the catalog
# check covers every existing table; a temp table created by one statement and used by another
# would look unowned), not cross-service-transaction (pg_stat_statements has no transactions),
# not the manifest rules (`dbowner check` reports those).
RUNTIME_RULES = ("cross-service-read", "cross-service-write", "cross-service-join", "cross-service-foreign-key",
                 "event-store-mutation", "two-phase-commit")
STATEMENT_LOCATION = "pg_stat_statements:"
LIVE_JSON_VERSION = 1


@dataclass
class LiveAnalysis(Analysis):
    """An Analysis of a live database; `live` is the JSON-ready summary of what was read."""

    live: dict[str, Any] = field(default_factory=dict)


def verify_rules() -> list[RuleInfo]:
    """Every rule `dbowner verify` can report, in code order."""
    return [r for r in load_catalog().values() if r.name in LIVE_REGISTRY or r.name in RUNTIME_RULES]


def select_verify_rules(select: list[str], ignore: list[str]) -> list[RuleInfo]:
    return select_rules(select, ignore, universe=verify_rules())


def verify(manifest: Manifest, facts: LiveFacts, rules: list[RuleInfo] | None = None,
           database: str | None = None) -> LiveAnalysis:
    """Judge `facts` (one database) against `manifest`; `database` is its name in the manifest."""
    rules = verify_rules() if rules is None else rules
    model = LiveModel(manifest, facts, database)
    findings, skipped = run_live_checks(model, rules)
    diagnostics = _catalog_diagnostics(model, skipped)
    runtime = _Runtime(model, [r for r in rules if r.name in RUNTIME_RULES])
    if STATEMENTS not in facts.unavailable:
        runtime.run()
    elif runtime.rules:
        diagnostics.append(Diagnostic("pg_stat_statements", 0, "check-skipped",
                                      f"statements that ran were not checked: {facts.unavailable[STATEMENTS]}"))
    findings = sorted(set(findings) | set(runtime.findings), key=Finding.sort_key)
    diagnostics = sorted(diagnostics + runtime.diagnostics, key=lambda d: (d.path, d.line, d.kind, d.message))
    live = _live_summary(model, rules, skipped, runtime)
    discovery = Discovery(files=runtime.files)
    return LiveAnalysis(manifest, discovery, runtime.graph(manifest, discovery), findings, rules, diagnostics,
                        live=live)


def _catalog_diagnostics(model: LiveModel, skipped: dict[str, str]) -> list[Diagnostic]:
    out = [Diagnostic("pg_catalog", 0, "check-skipped", f"{rule} not checked: {why}")
           for rule, why in sorted(skipped.items())]
    for service, role in model.missing_roles():
        if "privileges" in model.facts.unavailable:
            break
        out.append(Diagnostic(model.manifest.display_path, model.manifest.line_of("services", service, "roles"),
                              "missing-role", f"role {role} of service {service} does not exist in database "
                                              f"{model.facts.database}"))
    if model.scope.reason and "missing-table" in LIVE_REGISTRY:
        out.append(Diagnostic("pg_catalog", 0, "check-skipped", f"missing-table: {model.scope.reason}"))
    for rel in model.facts.relations:
        owner = model.owner_of(rel.schema, rel.name)
        if owner.kind == "ambiguous" and not rel.partition_of:
            out.append(Diagnostic(f"pg_catalog:{rel.display}", 0, "ambiguous-table",
                                  f"{rel.display} is owned by several services ({', '.join(owner.candidates)}); "
                                  "qualify it in the manifest or pass --database"))
    return out


class _Runtime:
    """pg_stat_statements entries -> per-service statement facts -> the statement checks."""

    def __init__(self, model: LiveModel, rules: list[RuleInfo]) -> None:
        self.model = model
        self.rules = rules
        self.findings: list[Finding] = []
        self.diagnostics: list[Diagnostic] = []
        self.files: list[SourceFile] = []
        self.graphs: list[OwnershipGraph] = []
        self.entries: dict[tuple[str, str], list[RuntimeStatement]] = {}   # (service, path) -> rows
        self.unattributed: dict[str, list[int]] = defaultdict(lambda: [0, 0])   # role -> [statements, calls]

    def run(self) -> None:
        by_service: dict[str, dict[str, list[RuntimeStatement]]] = defaultdict(lambda: defaultdict(list))
        for st in self.model.facts.statements:
            service = self.model.service_of_role(st.role)
            if service is None:
                self.unattributed[st.role][0] += 1
                self.unattributed[st.role][1] += st.calls
                continue
            by_service[service][STATEMENT_LOCATION + st.queryid].append(st)
        for service in sorted(by_service):
            facts = []
            for path, rows in sorted(by_service[service].items()):
                self.entries[(service, path)] = rows
                from .extract.sql import parse_sql   # lazily: sqlglot costs startup time in every command
                parsed = parse_sql(rows[0].text, dialect="postgres")
                errors = [Diagnostic(path, line, "parse-error", msg) for line, msg in parsed.errors]
                facts.append(FileFacts(path, statements=parsed.statements, two_phase=list(parsed.two_phase),
                                       diagnostics=errors))
                self.diagnostics.extend(errors)
                self.files.append(SourceFile(path, service))
            og = build_graph(self.model.manifest, Discovery(files=[SourceFile(f.path, service) for f in facts]), facts)
            self.graphs.append(og)
            for finding in run_checks(og, self.rules):
                self.findings.append(self._with_calls(finding))

    def _with_calls(self, finding: Finding) -> Finding:
        rows = self.entries[(finding.service, finding.path)]
        calls = sum(r.calls for r in rows)
        roles = ", ".join(sorted({r.role for r in rows}))
        return replace(finding, message=f"{finding.message} (ran {calls} time(s) as role {roles})")

    def graph(self, manifest: Manifest, discovery: Discovery) -> OwnershipGraph:
        """All services' runtime statements in one graph (the summary's shared tables come from it)."""
        if not self.graphs:
            return build_graph(manifest, discovery, [])
        first = self.graphs[0]
        return OwnershipGraph(manifest, first.ownership, discovery, [f for g in self.graphs for f in g.facts],
                              nx.compose_all([g.graph for g in self.graphs]),
                              [s for g in self.graphs for s in g.statements],
                              {f.path: f.service for f in discovery.files})

    def usage(self) -> list[dict[str, Any]]:
        """table -> service -> access role -> calls, from the statements each service's roles ran."""
        calls: dict[tuple[str, str | None], dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int)))
        for og in self.graphs:
            for info in og.statements:
                n = sum(r.calls for r in self.entries[(info.service, info.path)])
                for mode in sorted({(ra.key.display, ra.owner, ra.access.role) for ra in info.accesses if ra.key}):
                    calls[(mode[0], mode[1])][info.service][mode[2]] += n
        return [{"table": table, "owner": owner,
                 "services": {svc: dict(sorted(modes.items())) for svc, modes in sorted(by.items())}}
                for (table, owner), by in sorted(calls.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))]


def _live_summary(model: LiveModel, rules: list[RuleInfo], skipped: dict[str, str], runtime: _Runtime
                  ) -> dict[str, Any]:
    facts = model.facts
    roles = sorted({r.name for r in facts.roles} | {s.role for s in facts.statements})
    attributed = [s for s in facts.statements if model.service_of_role(s.role)]
    shown = LiveFacts(**{**vars(facts), "statements": attributed})
    return {
        "version": LIVE_JSON_VERSION,
        "database": facts.database,
        "logical_database": model.scope.logical_database,
        "server_version": facts.server_version,
        "connected_as": facts.connected_as,
        "services_in_scope": list(model.scope.services),
        "sources": [{"name": g, "read": g not in facts.unavailable, "reason": facts.unavailable.get(g)}
                    for g in SOURCES],
        "rules": [{"name": r.name, "code": r.code,
                   "catalog": None if r.name not in LIVE_REGISTRY else
                   ("skipped: " + skipped[r.name] if r.name in skipped else "checked"),
                   "statements": None if r.name not in RUNTIME_RULES else
                   ("skipped: " + facts.unavailable[STATEMENTS] if STATEMENTS in facts.unavailable else "checked")}
                  for r in rules],
        "roles": {role: model.service_of_role(role) for role in roles if model.service_of_role(role)},
        "missing_roles": [{"service": s, "role": r} for s, r in model.missing_roles()]
        if "privileges" not in facts.unavailable else [],
        "runtime": {
            "statements": len(attributed),
            "calls": sum(s.calls for s in attributed),
            "hidden": facts.hidden_statements,
            "unparsable": len({d.path for d in runtime.diagnostics if d.kind == "parse-error"}),
            "unattributed_roles": [{"role": role, "statements": n, "calls": c}
                                   for role, (n, c) in sorted(runtime.unattributed.items())],
            "tables": runtime.usage(),
        },
        "facts": shown.to_dict(),
    }
