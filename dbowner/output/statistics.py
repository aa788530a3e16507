"""`--statistics`: the number of findings per rule, printed after the findings (not instead)."""
from __future__ import annotations

from collections import Counter

from ..analysis import Analysis


def render_statistics(analysis: Analysis) -> str:
    counts = Counter((f.code, f.name) for f in analysis.findings)
    if not counts:
        return "Findings per rule: none\n"
    width = len(str(len(analysis.findings)))
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    lines = ["Findings per rule:"]
    lines += [f"  {n:>{width}}  {code}  {name}" for (code, name), n in rows]
    lines.append(f"  {len(analysis.findings):>{width}}  total")
    return "\n".join(lines) + "\n"
