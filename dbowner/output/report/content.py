"""What the review report says, computed once from an Analysis; the HTML and Markdown renderers
only lay it out. Everything here is plain data, sorted, so both renderings are deterministic."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ... import __version__
from ...analysis import Analysis
from ...catalog import RuleInfo, load_catalog
from ...model import Finding, Severity
from .excerpts import Excerpts
from .sagas import SagaView, saga_views

MODES = ("owns", "read", "write", "ddl")
# Big estates (a merge of many repositories) keep the report readable and its file bounded.
MATRIX_MAX_TABLES = 400
MATRIX_MAX_SERVICES = 60
FINDINGS_PER_RULE = 200
TOP = 10


@dataclass(frozen=True)
class TableInfo:
    node: str              # graph node id
    name: str              # schema.table as written (display)
    database: str
    owner: str | None


@dataclass
class CrossEdge:
    """A service touching a table another service owns (or a foreign key between owners)."""

    source: str            # service name, or table node id for a foreign key
    table: TableInfo
    modes: set[str]
    rules: list[str]       # rule names of findings on this service/table, most severe first
    statements: int        # evidence count
    foreign_key: bool = False
    source_table: TableInfo | None = None     # for a foreign key: the referencing table

    @property
    def source_label(self) -> str:
        return self.source_table.name if self.source_table else self.source

    @property
    def rule(self) -> str:
        """The rule that colours the edge: the first of `rules`, or 'declared-read' when none fired."""
        return self.rules[0] if self.rules else "declared-read"


@dataclass
class Coupling:
    service: str
    reads: list[str]       # tables of others it reads
    writes: list[str]      # tables of others it writes (DDL counted as a write)
    reached_by: list[str]  # services that touch its tables

    @property
    def total(self) -> int:
        return len(set(self.reads) | set(self.writes)) + len(self.reached_by)


@dataclass
class FindingView:
    finding: Finding
    excerpt: list[tuple[int, str]]    # (line number, text); empty when unknown


@dataclass
class RuleGroup:
    code: str
    name: str
    severity: str
    summary: str
    hint: str
    findings: list[FindingView]
    total: int                        # may exceed len(findings) when capped


@dataclass
class Report:
    title: str
    source: str
    generator: str
    verdict: str
    verdict_class: str                # pass | warn | fail
    services: list[str]
    tables: list[TableInfo]
    counts: dict[str, int]
    by_rule: list[tuple[str, str, str, int]]        # (code, name, severity, count)
    by_severity: dict[str, int]
    matrix_services: list[str]
    # (owner, [(table, {service: modes}, {violating service: worst severity})]), grouped by owner
    matrix_groups: list[tuple[str | None, list[tuple[TableInfo, dict[str, list[str]], dict[str, str]]]]]
    matrix_note: str
    usage: dict[str, dict[str, set[str]]]            # table node -> service -> modes
    cross_edges: list[CrossEdge]
    hot_tables: list[tuple[TableInfo, list[str]]]
    hot_services: list[tuple[str, int, int]]         # service, foreign tables, statements
    coupling: list[Coupling]
    sagas: list[SagaView]
    rule_groups: list[RuleGroup]
    diagnostics: int
    notes: list[str] = field(default_factory=list)


RULE_ORDER = ("cross-service-write", "cross-service-foreign-key", "cross-service-transaction",
              "cross-service-join", "cross-service-read")


def build_report(analysis: Analysis, sources: Path | None = None, title: str = "") -> Report:
    """`sources`: the folder the finding paths are relative to, to quote code; None quotes only the
    statement excerpts dbowner recorded (facts files carry no source)."""
    og = analysis.graph
    g = og.graph
    services = list(analysis.manifest.services)
    tables = sorted((TableInfo(n, d["name"], d.get("database") or "", d.get("owner"))
                     for n, d in g.nodes(data=True) if d.get("type") == "table"),
                    key=lambda t: (services.index(t.owner) if t.owner in services else len(services), t.name,
                                   t.database))
    by_node = {t.node: t for t in tables}
    usage: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    evidence: Counter[tuple[str, str]] = Counter()
    fk: dict[tuple[str, str], int] = Counter()
    for u, v, data in g.edges(data=True):
        kind = data.get("kind")
        if u.startswith("service:") and v in by_node:
            name = g.nodes[u].get("name", u[len("service:"):])
            usage[v][name].add("owns" if kind == "owns" else kind)
            if kind != "owns":
                evidence[(name, v)] += 1
        elif kind == "references" and u in by_node and v in by_node:
            if by_node[u].owner and by_node[v].owner and by_node[u].owner != by_node[v].owner:
                fk[(u, v)] += 1

    findings = analysis.findings
    rules_on: dict[tuple[str, str], set[str]] = defaultdict(set)
    worst: dict[tuple[str, str], Severity] = {}
    for f in findings:
        if f.service and f.table:
            key = (f.service, f.table)
            rules_on[key].add(f.name)
            if key not in worst or f.severity.rank > worst[key].rank:
                worst[key] = f.severity

    def ordered(names: set[str]) -> list[str]:
        return sorted(names, key=lambda n: (RULE_ORDER.index(n) if n in RULE_ORDER else len(RULE_ORDER), n))

    cross: list[CrossEdge] = []
    for node, who in usage.items():
        t = by_node[node]
        for svc, modes in who.items():
            if t.owner and svc != t.owner and modes - {"owns"}:
                cross.append(CrossEdge(svc, t, modes - {"owns"}, ordered(rules_on.get((svc, t.name), set())),
                                       evidence[(svc, node)]))
    for (u, v), n in fk.items():
        cross.append(CrossEdge(u, by_node[v], {"references"}, ["cross-service-foreign-key"], n, foreign_key=True,
                               source_table=by_node[u]))
    cross.sort(key=lambda e: (e.source, e.table.name, e.table.database))

    excerpts = Excerpts(og, sources)
    sev = Counter(f.severity.value for f in findings)
    catalog = load_catalog()
    return Report(
        title=title or f"Data ownership review: {_source_name(analysis)}",
        source=_source_name(analysis),
        generator=f"dbowner {__version__}",
        verdict=_verdict(findings, len(services)),
        verdict_class="fail" if sev["error"] else ("warn" if findings else "pass"),
        services=services,
        tables=tables,
        counts=_counts(analysis, tables),
        by_rule=_by_rule(findings),
        by_severity={s.value: sev[s.value] for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)},
        **_matrix(services, tables, usage, worst),
        usage={k: dict(v) for k, v in usage.items()},
        cross_edges=cross,
        hot_tables=_hot_tables(tables, usage),
        hot_services=_hot_services(cross),
        coupling=_coupling(services, cross),
        sagas=saga_views(analysis),
        rule_groups=_rule_groups(findings, catalog, excerpts),
        diagnostics=len(analysis.diagnostics),
    )


def _source_name(analysis: Analysis) -> str:
    repos = getattr(analysis.manifest, "repositories", None)
    if repos:
        return f"{len(repos)} repositories" if len(repos) > 1 else repos[0]
    return analysis.manifest.root.resolve().name or str(analysis.manifest.root)


def _verdict(findings: list[Finding], services: int) -> str:
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    if errors:
        return f"Fails: {errors} error(s) and {warnings} warning(s) break data ownership across {services} service(s)."
    if warnings:
        return f"Passes with {warnings} warning(s): no ownership errors across {services} service(s)."
    return f"Passes: every table has one owner and no service reaches into another's data ({services} service(s))."


def _number(value: object) -> int:
    if isinstance(value, int):
        return value
    try:
        return len(value)  # type: ignore[arg-type]
    except TypeError:
        return 0


def _counts(analysis: Analysis, tables: list[TableInfo]) -> dict[str, int]:
    d = analysis.discovery
    return {
        "services": len(analysis.manifest.services),
        "tables": len(tables),
        "owned tables": sum(1 for t in tables if t.owner),
        "files analysed": len(d.files),
        "findings": len(analysis.findings),
        # Filled by the suppression/baseline feature when present: list of findings or a number.
        "suppressed": _number(getattr(analysis, "suppressed", 0)),
        "baselined": _number(getattr(analysis, "baselined", 0)),
        "diagnostics": len(analysis.diagnostics),
    }


def _by_rule(findings: list[Finding]) -> list[tuple[str, str, str, int]]:
    counts = Counter((f.code, f.name, f.severity.value) for f in findings)
    return sorted(((c, n, s, k) for (c, n, s), k in counts.items()), key=lambda r: (r[0], r[2]))


def _matrix(services: list[str], tables: list[TableInfo], usage: dict[str, dict[str, set[str]]],
            worst: dict[tuple[str, str], Severity]) -> dict[str, object]:
    rows = tables
    cols = services
    note = ""
    if len(rows) > MATRIX_MAX_TABLES or len(cols) > MATRIX_MAX_SERVICES:
        rows = [t for t in tables if len(usage.get(t.node, {})) > 1]
        involved = {s for t in rows for s in usage.get(t.node, {})}
        cols = [s for s in services if s in involved]
        note = (f"{len(tables)} tables and {len(services)} services are too many for one matrix: it shows the "
                f"{len(rows)} tables more than one service touches (`dbowner tables` lists every table).")
        if len(rows) > MATRIX_MAX_TABLES or len(cols) > MATRIX_MAX_SERVICES:
            rows, cols = rows[:MATRIX_MAX_TABLES], cols[:MATRIX_MAX_SERVICES]
            note += f" Only the first {len(rows)} tables and {len(cols)} services are shown."
    col_set = set(cols)
    groups: list[tuple[str | None, list]] = []
    for t in rows:
        cells = {s: sorted(m, key=MODES.index) for s, m in usage.get(t.node, {}).items() if s in col_set}
        # a cell is violating when a finding names this service and table: severity -> cell colour
        violating = {s: worst[(s, t.name)].value for s in cells if s != t.owner and (s, t.name) in worst}
        if not groups or groups[-1][0] != t.owner:
            groups.append((t.owner, []))
        groups[-1][1].append((t, cells, violating))
    return {"matrix_services": cols, "matrix_groups": groups, "matrix_note": note}


def _hot_tables(tables: list[TableInfo], usage: dict[str, dict[str, set[str]]]) -> list[tuple[TableInfo, list[str]]]:
    hot = [(t, sorted(usage[t.node])) for t in tables if len(usage.get(t.node, {})) > 1]
    return sorted(hot, key=lambda h: (-len(h[1]), h[0].name, h[0].database))[:TOP]


def _hot_services(cross: list[CrossEdge]) -> list[tuple[str, int, int]]:
    tables: dict[str, set[str]] = defaultdict(set)
    statements: Counter[str] = Counter()
    for e in cross:
        if not e.foreign_key:
            tables[e.source].add(e.table.node)
            statements[e.source] += e.statements
    rows = [(s, len(t), statements[s]) for s, t in tables.items()]
    return sorted(rows, key=lambda r: (-r[1], -r[2], r[0]))[:TOP]


def _coupling(services: list[str], cross: list[CrossEdge]) -> list[Coupling]:
    reads: dict[str, set[str]] = defaultdict(set)
    writes: dict[str, set[str]] = defaultdict(set)
    reached: dict[str, set[str]] = defaultdict(set)
    for e in cross:
        if e.foreign_key:
            continue
        if "read" in e.modes:
            reads[e.source].add(e.table.name)
        if e.modes & {"write", "ddl"}:
            writes[e.source].add(e.table.name)
        reached[e.table.owner or ""].add(e.source)
    rows = [Coupling(s, sorted(reads[s]), sorted(writes[s]), sorted(reached[s])) for s in services]
    return sorted(rows, key=lambda c: (-c.total, c.service))


def _rule_groups(findings: list[Finding], catalog: dict[str, RuleInfo], excerpts: Excerpts) -> list[RuleGroup]:
    by_name: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_name[f.name].append(f)
    groups = []
    for name, fs in by_name.items():
        info = catalog.get(name)
        worst = max((f.severity for f in fs), key=lambda s: s.rank)
        shown = [FindingView(f, excerpts.of(f)) for f in fs[:FINDINGS_PER_RULE]]
        groups.append(RuleGroup(fs[0].code, name, worst.value, info.summary if info else "", fs[0].hint, shown,
                                len(fs)))
    return sorted(groups, key=lambda g: (-Severity(g.severity).rank, g.code))
