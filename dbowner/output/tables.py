"""`dbowner tables`: table, owner, who reads, who writes (and who changes its schema)."""
from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..analysis import Analysis
from ..graph import table_usage


def ownership_rows(analysis: Analysis) -> list[dict[str, Any]]:
    g = analysis.graph.graph
    usage = table_usage(analysis.graph)
    rows = []
    for node, data in g.nodes(data=True):
        if data.get("type") != "table":
            continue
        who = usage.get(node, {})
        rows.append({
            "table": data["name"], "database": data.get("database") or None, "owner": data.get("owner"),
            "readers": sorted(s for s, m in who.items() if "read" in m),
            "writers": sorted(s for s, m in who.items() if "write" in m),
            "ddl": sorted(s for s, m in who.items() if "ddl" in m),
        })
    return sorted(rows, key=lambda r: (r["owner"] or "~", r["table"], r["database"] or ""))


def render_tables_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps({"tables": rows}, indent=2) + "\n"


def render_tables_text(rows: list[dict[str, Any]], console: Console) -> None:
    t = Table(show_edge=False, pad_edge=False)
    for col in ("table", "database", "owner", "read by", "written by", "schema changed by"):
        t.add_column(col)
    for r in rows:
        owner = r["owner"] or "(nobody)"

        def fmt(names: list[str]) -> Text:
            return Text(", ".join(n if n == r["owner"] else f"{n}*" for n in names) or "-")

        t.add_row(Text(r["table"]), Text(r["database"] or "-"), Text(owner), fmt(r["readers"]), fmt(r["writers"]),
                  fmt(r["ddl"]))
    console.print(t)
    console.print(Text("* another service than the owner", style="dim"))
