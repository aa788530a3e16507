"""`dbowner graph`: the ownership graph for other tools.

``json`` (networkx node-link form) and ``graphml`` carry the whole multigraph: one edge per table
access with its evidence (path, line, end_line, statement excerpt, action), marked ``cross_service``
and with the ``rules`` of the findings at that place. ``dot`` and ``mermaid`` are for drawing:
tables clustered under their owner, one edge per service, table and kind of access, other services'
tables reached in colour.
"""
from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import networkx as nx

from .. import __version__
from ..analysis import Analysis
from .report.diagram import OTHER_COLOUR, RULE_COLOURS
from .report.mermaid import label as mermaid_label

GRAPH_FORMATS = ("json", "graphml", "dot", "mermaid")
ACCESS_KINDS = ("read", "write", "ddl")


def export_graph(analysis: Analysis, fmt: str) -> str:
    g = annotated_graph(analysis)
    if fmt == "json":
        data = nx.node_link_data(g, edges="edges")
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "graphml":
        return "\n".join(nx.generate_graphml(_scalar_attrs(g))) + "\n"
    if fmt == "dot":
        return _dot(g)
    if fmt == "mermaid":
        return _mermaid(g)
    raise ValueError(f"unknown graph format {fmt}")


def annotated_graph(analysis: Analysis) -> nx.MultiDiGraph:
    """A sorted copy of the ownership graph, access edges marked cross_service and with their rules."""
    src = analysis.graph.graph
    rules_at: dict[tuple[str, int, str, str], set[str]] = defaultdict(set)
    for f in analysis.findings:
        rules_at[(f.path, f.line, f.service, f.table)].add(f.name)
    g = nx.MultiDiGraph(format="dbowner-graph", version=1, generator=f"dbowner {__version__}")
    for node in sorted(src.nodes):
        g.add_node(node, **src.nodes[node])
    edges = sorted(src.edges(data=True), key=lambda e: (e[0], e[1], e[2].get("kind", ""), e[2].get("path", ""),
                                                          e[2].get("line", 0), e[2].get("action", "")))
    for u, v, data in edges:
        attrs = dict(data)
        if data.get("kind") in ACCESS_KINDS or data.get("kind") == "references":
            owner = src.nodes[v].get("owner")
            # who acts: the service, or for a foreign key the owner of the referencing table
            by = src.nodes[u].get("name") if data["kind"] != "references" else src.nodes[u].get("owner")
            attrs["cross_service"] = bool(owner and by and owner != by)
            attrs["rules"] = sorted(rules_at.get((data["path"], data["line"], by or "", src.nodes[v]["name"]), ()))
        g.add_edge(u, v, **attrs)
    return g


def _scalar_attrs(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """GraphML holds scalars only: None becomes "", lists become comma-separated text."""
    def fix(attrs: dict[str, Any]) -> dict[str, Any]:
        return {k: ("" if v is None else ",".join(v) if isinstance(v, list) else v) for k, v in attrs.items()}

    out = nx.MultiDiGraph(**fix(g.graph))
    for n, d in g.nodes(data=True):
        out.add_node(n, **fix(d))
    for u, v, k, d in g.edges(keys=True, data=True):
        out.add_edge(u, v, key=k, **fix(d))
    return out


def _aggregate(g: nx.MultiDiGraph) -> list[tuple[str, str, str, bool, list[str]]]:
    """(u, v, label, cross_service, rules): one edge per service and table (or per foreign key),
    labelled with its kinds of access and their counts, for drawings."""
    agg: dict[tuple[str, str], list] = {}
    for u, v, d in g.edges(data=True):
        kind = d.get("kind")
        if kind not in ACCESS_KINDS and kind != "references":
            continue
        entry = agg.setdefault((u, v), [defaultdict(int), False, set()])
        entry[0][kind] += 1
        entry[1] = entry[1] or d["cross_service"]
        entry[2].update(d["rules"])
    out = []
    for (u, v), (kinds, cross, rules) in sorted(agg.items()):
        text = ", ".join(k + (f" x{n}" if n > 1 else "") for k, n in sorted(kinds.items()))
        out.append((u, v, text, cross, sorted(rules)))
    return out


def _colour(cross: bool, rules: list[str]) -> str:
    if not cross:
        return "#9e9e9e"
    ranked = [r for r in RULE_COLOURS if r in rules]
    if ranked:
        return RULE_COLOURS[ranked[0]]
    return OTHER_COLOUR if rules else RULE_COLOURS["declared-read"]


def _clusters(g: nx.MultiDiGraph) -> tuple[list[str], dict[str, list[str]]]:
    services = [n for n, d in g.nodes(data=True) if d.get("type") == "service"]
    tables: dict[str, list[str]] = defaultdict(list)
    for n, d in g.nodes(data=True):
        if d.get("type") == "table":
            tables[f"service:{d['owner']}" if d.get("owner") else ""].append(n)
    return services, tables


def _q(text: object) -> str:
    """A DOT quoted string."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "") + '"'


def _dot(g: nx.MultiDiGraph) -> str:
    services, tables = _clusters(g)
    out = ["digraph dbowner {", '  graph [rankdir=LR, fontname="Helvetica", fontsize=11];',
           '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];']
    for i, s in enumerate(services + ([""] if tables.get("") else [])):
        d = g.nodes[s] if s else {}
        title = d.get("name", "(no owner)")
        out.append(f"  subgraph cluster_{i} {{")
        out.append(f"    label={_q(title)}; style={'dashed' if not s else 'rounded'}; color=\"#90a4ae\";")
        if s:
            out.append(f"    {_q(s)} [label={_q(title)}, shape=box, style=filled, fillcolor=\"#37474f\", "
                       "fontcolor=white];")
        for t in tables.get(s, []):
            td = g.nodes[t]
            text = td["name"] + (f"\n({td['database']})" if td.get("database") else "")
            out.append(f"    {_q(t)} [label={_q(td['name'])}, tooltip={_q(text)}, shape=cylinder];")
        out.append("  }")
    for u, v, text, cross, rules in _aggregate(g):
        attrs = [f"label={_q(text)}", f"color={_q(_colour(cross, rules))}"]
        if rules:
            attrs.append(f"tooltip={_q(', '.join(rules))}")
        if cross:
            attrs.append("penwidth=2")
        if text.startswith("references"):
            attrs.append("style=dashed")
        out.append(f"  {_q(u)} -> {_q(v)} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _mermaid(g: nx.MultiDiGraph) -> str:
    services, tables = _clusters(g)
    ids = {n: f"n{i}" for i, n in enumerate(sorted(g.nodes))}
    out = ["flowchart LR"]
    for i, s in enumerate(services + ([""] if tables.get("") else [])):
        title = g.nodes[s].get("name") if s else "(no owner)"
        out.append(f"  subgraph c{i}[{mermaid_label(title)}]")
        if s:
            out.append(f"    {ids[s]}[[{mermaid_label(title)}]]")
        for t in tables.get(s, []):
            out.append(f"    {ids[t]}[({mermaid_label(g.nodes[t]['name'])})]")
        out.append("  end")
    styles: dict[str, list[int]] = defaultdict(list)
    for i, (u, v, text, cross, rules) in enumerate(_aggregate(g)):
        arrow = "-.->" if text.startswith("references") else "-->"
        out.append(f"  {ids[u]} {arrow}|{mermaid_label(text)}| {ids[v]}")
        styles[_colour(cross, rules)].append(i)
    for colour, idx in sorted(styles.items()):
        out.append(f"  linkStyle {','.join(map(str, idx))} stroke:{colour}")
    return "\n".join(out) + "\n"
