"""Graph stage: resolve every table reference to its owner and build the ownership graph.

Nodes: ``service:<name>``, ``database:<name>``, ``table:<database>/<schema.table>``.
Edges (MultiDiGraph, attribute ``kind``): service -owns-> table, service -uses-> database,
service -read|write|ddl-> table and table -references-> table, the last two carrying their
evidence (path, line, statement excerpt, action).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import networkx as nx

from .discover import Discovery
from .manifest import Manifest
from .manifest.ownership import Ownership, Resolution, TableKey, entry_name
from .model import DDL, REFERENCE, FileFacts, Statement, TableAccess


@dataclass(frozen=True)
class ResolvedAccess:
    access: TableAccess
    resolution: Resolution

    @property
    def owner(self) -> str | None:
        return self.resolution.owner

    @property
    def key(self) -> TableKey | None:
        return self.resolution.key


@dataclass
class StatementInfo:
    """A statement with the service that runs it and every table reference resolved."""

    path: str
    service: str
    statement: Statement
    accesses: list[ResolvedAccess]


@dataclass
class OwnershipGraph:
    manifest: Manifest
    ownership: Ownership
    discovery: Discovery
    facts: list[FileFacts]
    graph: nx.MultiDiGraph
    statements: list[StatementInfo] = field(default_factory=list)
    service_of: dict[str, str] = field(default_factory=dict)   # path -> service
    derived: dict = field(default_factory=dict)   # later stages' results computed once per run (sagas)

    def statements_of(self, path: str) -> list[StatementInfo]:
        return [s for s in self.statements if s.path == path]


def service_node(name: str) -> str:
    return f"service:{name}"


def table_node(key: TableKey) -> str:
    return f"table:{key.node}"


def build_graph(manifest: Manifest, discovery: Discovery, facts: list[FileFacts]) -> OwnershipGraph:
    ownership = Ownership(manifest)
    g = nx.MultiDiGraph()
    for name, svc in manifest.services.items():
        g.add_node(service_node(name), type="service", name=name)
        if svc.database:
            g.add_node(f"database:{svc.database}", type="database", name=svc.database)
            g.add_edge(service_node(name), f"database:{svc.database}", kind="uses")
        for pat in svc.owned:
            if any(ch in pat.name for ch in "*?["):
                continue   # globs become nodes when something references a matching table
            key = TableKey(svc.database or "", pat.schema if pat.schema not in ("", "public") else "", entry_name(pat))
            _add_table(g, key, name)
    og = OwnershipGraph(manifest, ownership, discovery, facts, g)
    og.service_of = {f.path: f.service for f in discovery.files}
    for ff in facts:
        service = og.service_of.get(ff.path, "")
        for stmt in ff.statements:
            resolved = [ResolvedAccess(a, ownership.resolve(service, a.table)) for a in stmt.accesses]
            og.statements.append(StatementInfo(ff.path, service, stmt, resolved))
            _add_evidence(g, ff.path, service, stmt, resolved)
    return og


def _add_table(g: nx.MultiDiGraph, key: TableKey, owner: str | None) -> str:
    node = table_node(key)
    if node not in g:
        g.add_node(node, type="table", name=key.display, database=key.database, owner=owner)
        if owner:
            g.add_edge(service_node(owner), node, kind="owns")
    return node


def _add_evidence(g: nx.MultiDiGraph, path: str, service: str, stmt: Statement,
                  resolved: list[ResolvedAccess]) -> None:
    # the table a foreign key starts from: the created/altered table, or the table a model maps
    ddl_targets = [r for r in resolved if (r.access.role == DDL or r.access.action == "map") and r.key is not None]
    source = service_node(service)
    for r in resolved:
        if r.key is None:
            continue
        node = _add_table(g, r.key, r.owner)
        a = r.access
        if a.role == REFERENCE:
            for target in ddl_targets:
                g.add_edge(table_node(target.key), node, kind="references", action=a.action, path=path,
                           line=a.line, end_line=stmt.end_line, statement=stmt.text)
            continue
        g.add_edge(source, node, kind=a.role, action=a.action, path=path, line=a.line, end_line=stmt.end_line,
                   statement=stmt.text)


def table_usage(og: OwnershipGraph) -> dict[str, dict[str, set[str]]]:
    """table display -> service -> set of modes (owns/read/write/ddl) from the graph."""
    usage: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    nodes = og.graph.nodes
    for u, v, kind in og.graph.edges(data="kind"):
        if u.startswith("service:") and v.startswith("table:"):
            usage[v][nodes[u]["name"]].add(kind)
    return usage
