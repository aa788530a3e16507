"""Lay out the ownership diagram: one card per service listing the tables it owns, cards of
coupled services placed next to each other, cross-service edges drawn on top, coloured by rule.

Only geometry and labels are computed here; ``templates/diagram.svg.j2`` draws them (escaped).
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from .content import CrossEdge, Report, TableInfo

CARD_W = 210
HEADER = 26
ROW = 18
PAD = 6
GAP_X = 84
GAP_Y = 44
MARGIN = 16
LEGEND_H = 34
MAX_COLUMNS = 4         # 4 columns fit a laptop screen (about 1,170 px)
MAX_ROWS = 14          # table rows per card; the rest is summarised as "+ N more tables"
MAX_CARDS = 60         # bigger estates: only services that take part in cross-service access
LABEL_CHARS = 30
NO_OWNER = "(no owner)"

# Edge colours by rule, most severe first; anything else (rules added later) is teal.
RULE_COLOURS = {
    "cross-service-write": "#c62828",
    "cross-service-foreign-key": "#6d4c41",
    "cross-service-transaction": "#ad1457",
    "cross-service-join": "#6a1b9a",
    "cross-service-read": "#ef6c00",
    "unowned-table": "#827717",
    "declared-read": "#78909c",
}
OTHER_COLOUR = "#00838f"


@dataclass
class Row:
    x: float
    y: float
    label: str
    title: str
    tone: str = ""            # "" | hit (a finding reaches it) | shared (declared reads only)


@dataclass
class Card:
    x: float
    y: float
    w: float
    h: float
    label: str
    title: str
    rows: list[Row]
    unowned: bool = False


@dataclass
class Edge:
    d: str
    colour: str
    marker: int
    dashed: bool
    title: str


@dataclass
class LegendItem:
    x: float
    y: float
    label: str
    colour: str
    marker: int


@dataclass
class Diagram:
    width: float
    height: float
    cards: list[Card]
    edges: list[Edge]
    legend: list[LegendItem]
    markers: list[str]                        # colours, index = marker id
    note: str = ""


def _clip(text: str, n: int = LABEL_CHARS) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _coupling(cross: list[CrossEdge]) -> Counter[tuple[str, str]]:
    """Edges between services (a foreign key counts for the referencing table's owner)."""
    weight: Counter[tuple[str, str]] = Counter()
    for e in cross:
        owner = e.table.owner
        src = e.source_table.owner if e.foreign_key and e.source_table else e.source
        if src and owner and owner != src:
            weight[tuple(sorted((src, owner)))] += 1
    return weight


def _order(services: list[str], cross: list[CrossEdge]) -> list[str]:
    """Services in breadth-first order over the coupling graph, heaviest first, so coupled cards sit close."""
    weight = _coupling(cross)
    neighbours: dict[str, Counter[str]] = defaultdict(Counter)
    for (a, b), w in weight.items():
        neighbours[a][b] += w
        neighbours[b][a] += w
    index = {s: i for i, s in enumerate(services)}
    total = {s: sum(neighbours[s].values()) for s in services}
    seen: list[str] = []
    done: set[str] = set()
    for start in sorted(services, key=lambda s: (-total[s], index[s])):
        if start in done:
            continue
        queue = [start]
        done.add(start)
        while queue:
            s = queue.pop(0)
            seen.append(s)
            for n in sorted(neighbours[s], key=lambda n: (-neighbours[s][n], index.get(n, 0))):
                if n in index and n not in done:
                    done.add(n)
                    queue.append(n)
    return seen


def _place(order: list[str], cross: list[CrossEdge], cols: int) -> list[str]:
    """Improve the grid order by swapping cards while that shortens the coupling edges: an edge
    costs its squared distance in grid cells, and more when it would jump over cards of its row."""
    weight = _coupling(cross)
    pairs = [(a, b, w) for (a, b), w in sorted(weight.items()) if a in order and b in order]
    if not pairs or len(order) < 3:
        return order
    slot = {s: i for i, s in enumerate(order)}

    def cost_of(a: str, b: str, w: int) -> float:
        (ra, ca), (rb, cb) = divmod(slot[a], cols), divmod(slot[b], cols)
        dr, dc = abs(ra - rb), abs(ca - cb)
        return w * (dr * dr + dc * dc + (2 * (dc - 1) if dr == 0 and dc > 1 else 0))

    touching: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for a, b, w in pairs:
        touching[a].append((a, b, w))
        touching[b].append((a, b, w))
    for _ in range(4):                        # a few passes of first-improvement hill climbing
        improved = False
        for i, x in enumerate(order):
            for y in order[i + 1:]:
                edges = set(touching[x]) | set(touching[y])
                if not edges:
                    continue
                before = sum(cost_of(*e) for e in edges)
                slot[x], slot[y] = slot[y], slot[x]
                if sum(cost_of(*e) for e in edges) < before:
                    improved = True
                else:
                    slot[x], slot[y] = slot[y], slot[x]
        order = sorted(order, key=slot.__getitem__)
        if not improved:
            break
    return sorted(order, key=slot.__getitem__)


def layout(report: Report) -> Diagram:
    services = report.services
    cross = [e for e in report.cross_edges if e.source in services or e.foreign_key]
    note = ""
    if len(services) > MAX_CARDS:
        busy = Counter()
        for e in cross:
            if not e.foreign_key:
                busy[e.source] += 1
            busy[e.table.owner or ""] += 1
        keep = sorted((s for s in services if busy[s]), key=lambda s: (-busy[s], s))[:MAX_CARDS]
        note = (f"{len(services)} services: the diagram shows the {len(keep)} most coupled ones "
                f"(the ownership matrix and the hotspots cover the rest).")
        services = [s for s in services if s in set(keep)]
        cross = [e for e in cross if (e.foreign_key or e.source in keep) and (e.table.owner in keep)]
    owned: dict[str | None, list[TableInfo]] = defaultdict(list)
    for t in report.tables:
        # unowned tables get a card of their own when some service touches them
        if t.owner in services or (t.owner is None and report.usage.get(t.node)):
            owned[t.owner].append(t)
    incoming: dict[str, list[CrossEdge]] = defaultdict(list)
    for e in cross:
        incoming[e.table.node].append(e)
    cols = max(1, min(MAX_COLUMNS, math.ceil(math.sqrt(len(services) + (1 if owned.get(None) else 0)))))
    names = _place(_order(services, cross), cross, cols) + ([None] if owned.get(None) else [])

    cards: list[Card] = []
    row_at: dict[str, tuple[Card, Row]] = {}
    more_row: dict[str | None, tuple[Card, Row]] = {}
    heights = []
    for i, name in enumerate(names):
        tables = owned.get(name, [])
        touched = [t for t in tables if t.node in incoming]
        shown = touched + [t for t in tables if t.node not in incoming]
        extra = max(0, len(shown) - MAX_ROWS)
        shown = sorted(shown[:MAX_ROWS if not extra else MAX_ROWS - 1], key=lambda t: (t.name, t.database))
        h = HEADER + PAD + ROW * (len(shown) + (1 if extra else 0) or 1) + PAD
        heights.append(h)
        label = NO_OWNER if name is None else name
        db = next((t.database for t in tables if t.database), "")
        card = Card(0, 0, CARD_W, h, _clip(label, 26), f"{label}" + (f" (database {db})" if db else ""), [],
                    unowned=name is None)
        for t in shown:
            hits = incoming.get(t.node, [])
            tone = "hit" if any(e.rules for e in hits) else ("shared" if hits else "")
            users = ", ".join(sorted(e.source if not e.foreign_key else f"foreign key of {e.source_label}"
                                     for e in hits))
            title = t.name + (f" ({t.database})" if t.database else "") + (f": also used by {users}" if users else "")
            row = Row(0, 0, _clip(t.name), title, tone)
            card.rows.append(row)
            row_at[t.node] = (card, row)
        if extra:
            hidden = len(tables) - len(shown)
            card.rows.append(Row(0, 0, f"+ {hidden} more table(s)", f"{hidden} more tables owned by {label}"))
            more_row[name] = (card, card.rows[-1])
        if not tables:
            card.rows.append(Row(0, 0, "(no tables)", f"{label} owns no table that dbowner saw", "empty"))
        cards.append(card)

    by_service = {name: cards[i] for i, name in enumerate(names)}
    # edges that can be drawn: (edge, source card, source row or None, target card, target row)
    drawn = []
    for e in sorted(cross, key=lambda e: (_rank(e.rule), e.source, e.table.name), reverse=True):
        target = row_at.get(e.table.node) or more_row.get(e.table.owner)
        source = row_at.get(e.source) if e.foreign_key else (by_service.get(e.source), None)
        if target is None or source is None or source[0] is None:
            continue
        drawn.append((e, source[0], source[1], target[0], target[1]))
    markers: list[str] = []
    for e, *_ in sorted(drawn, key=lambda x: _rank(x[0].rule)):
        colour = RULE_COLOURS.get(e.rule, OTHER_COLOUR)
        if colour not in markers:
            markers.append(colour)
    # the right margin leaves room for edges that bulge out of the last column
    width = MARGIN + cols * CARD_W + (cols - 1) * GAP_X + GAP_X * 0.75
    legend, legend_h = _legend(sorted({e.rule for e, *_ in drawn}, key=_rank), markers, width)

    # grid placement; every row of cards is as tall as its tallest card
    y = legend_h + MARGIN
    for start in range(0, len(cards), cols):
        for j, card in enumerate(cards[start:start + cols]):
            card.x = MARGIN + j * (CARD_W + GAP_X)
            card.y = y
            for k, row in enumerate(card.rows):
                row.x = card.x
                row.y = card.y + HEADER + PAD + k * ROW
        y += max(heights[start:start + cols]) + GAP_Y
    height = y - GAP_Y + MARGIN

    edges: list[Edge] = []
    for e, scard, srow, tcard, trow in drawn:
        sy = srow.y + ROW / 2 if srow is not None else scard.y + HEADER / 2
        colour = RULE_COLOURS.get(e.rule, OTHER_COLOUR)
        what = "foreign key to" if e.foreign_key else "/".join(sorted(e.modes)) + " on"
        rules = ", ".join(e.rules) if e.rules else "declared in reads, no finding"
        edges.append(Edge(_curve(scard, sy, tcard, trow.y + ROW / 2), colour, markers.index(colour),
                          e.rule == "declared-read",
                          f"{e.source_label} {what} {e.table.name} (owned by {e.table.owner}): {rules}; "
                          f"{e.statements} statement(s)"))
    return Diagram(width, height, cards, edges, legend, markers, note)


def _legend(rules: list[str], markers: list[str], width: float) -> tuple[list[LegendItem], float]:
    """Legend items flowing left to right, wrapping at the diagram's width."""
    items, x, y = [], 0.0, 0.0
    for rule in rules:
        colour = RULE_COLOURS.get(rule, OTHER_COLOUR)
        w = 52 + 7 * len(rule)
        if x and x + w > width - 2 * MARGIN:
            x, y = 0.0, y + 20
        items.append(LegendItem(x, y, rule, colour, markers.index(colour)))
        x += w + 18
    return items, max(LEGEND_H, y + LEGEND_H)


def _rank(rule: str) -> int:
    order = list(RULE_COLOURS)
    return order.index(rule) if rule in order else len(order)


def _curve(scard: Card, sy: float, tcard: Card, ty: float) -> str:
    """A cubic curve from the source card's side to the target row's side, facing each other."""
    if tcard.x > scard.x:
        sx, ex, out, back = scard.x + scard.w, tcard.x, 1, -1
    elif tcard.x < scard.x:
        sx, ex, out, back = scard.x, tcard.x + tcard.w, -1, 1
    else:   # same column: leave and enter on the right, bulging into the gap
        sx, ex, out, back = scard.x + scard.w, tcard.x + tcard.w, 1, 1
    reach = max(36.0, abs(ex - sx) * 0.4) if tcard.x != scard.x else GAP_X * 0.6
    return f"M{sx:.1f},{sy:.1f} C{sx + out * reach:.1f},{sy:.1f} {ex + back * reach:.1f},{ty:.1f} {ex:.1f},{ty:.1f}"
