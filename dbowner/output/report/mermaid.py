"""The report's diagram as a Mermaid flowchart: each owner a subgraph with its service and the
tables others touch, cross-service edges coloured by rule (same colours as the SVG)."""
from __future__ import annotations

from collections import defaultdict

from .content import Report
from .diagram import MAX_CARDS, OTHER_COLOUR, RULE_COLOURS

_ENTITIES = str.maketrans({'"': "#quot;", "#": "#35;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "`": "#96;",
                           "\n": " ", "\r": " "})


def label(text: str) -> str:
    """A quoted Mermaid label: every character that could end it or become markup is an entity code."""
    return '"' + str(text).translate(_ENTITIES) + '"'


def mermaid(report: Report) -> str:
    cross = report.cross_edges
    services = report.services
    if len(services) > MAX_CARDS:
        busy: dict[str, int] = defaultdict(int)
        for e in cross:
            busy[e.source] += 1
            busy[e.table.owner or ""] += 1
        keep = set(sorted((s for s in services if busy.get(s)), key=lambda s: (-busy[s], s))[:MAX_CARDS])
        services = [s for s in services if s in keep]
        cross = [e for e in cross if (e.foreign_key or e.source in keep) and e.table.owner in keep]
    sid = {s: f"s{i}" for i, s in enumerate(services)}
    touched = {e.table.node for e in cross} | {e.source for e in cross if e.foreign_key}
    tables = [t for t in report.tables if t.node in touched]
    tid = {t.node: f"t{i}" for i, t in enumerate(tables)}
    by_owner: dict[str, list] = defaultdict(list)
    for t in tables:
        by_owner[t.owner or ""].append(t)
    owned_total: dict[str, int] = defaultdict(int)
    for t in report.tables:
        owned_total[t.owner or ""] += 1

    lines = ["flowchart LR"]
    for i, s in enumerate(services):
        lines.append(f"  subgraph g{i}[{label(s)}]")
        lines.append(f"    {sid[s]}[[{label(s)}]]")
        for t in by_owner.get(s, []):
            lines.append(f"    {tid[t.node]}[({label(t.name)})]")
        rest = owned_total[s] - len(by_owner.get(s, []))
        if rest:
            lines.append(f"    m{i}[{label(f'+ {rest} more table(s)')}]")
        lines.append("  end")
    if by_owner.get(""):
        lines.append(f"  subgraph gx[{label('(no owner)')}]")
        for t in by_owner[""]:
            lines.append(f"    {tid[t.node]}[({label(t.name)})]")
        lines.append("  end")
    styles: dict[str, list[int]] = defaultdict(list)
    n = 0
    for e in cross:
        if e.foreign_key:
            src = tid.get(e.source)
            what = "FK"
        else:
            src = sid.get(e.source)
            what = "/".join(sorted(e.modes))
        dst = tid.get(e.table.node)
        if src is None or dst is None:
            continue
        arrow = "-.->" if e.rule == "declared-read" else "-->"
        lines.append(f"  {src} {arrow}|{label(what)}| {dst}")
        styles[RULE_COLOURS.get(e.rule, OTHER_COLOUR)].append(n)
        n += 1
    for colour, idx in sorted(styles.items()):
        lines.append(f"  linkStyle {','.join(map(str, idx))} stroke:{colour},stroke-width:2px")
    lines.append("  classDef svc fill:#37474f,color:#fff,stroke:#37474f")
    if sid:
        lines.append(f"  class {','.join(sid.values())} svc")
    return "\n".join(lines)
