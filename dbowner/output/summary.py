"""The summary both the text and the JSON outputs print."""
from __future__ import annotations

from collections import Counter
from typing import Any

from ..analysis import Analysis
from ..graph import table_usage
from ..model import Severity


def shared_tables(analysis: Analysis) -> list[dict[str, Any]]:
    """Tables touched by two or more services, with who touches them and how."""
    g = analysis.graph.graph
    out = []
    for node, services in table_usage(analysis.graph).items():
        if len(services) < 2:
            continue
        data = g.nodes[node]
        out.append({
            "table": data["name"], "database": data.get("database") or None, "owner": data.get("owner"),
            "services": {svc: sorted(modes) for svc, modes in sorted(services.items())},
        })
    return sorted(out, key=lambda t: (t["table"], t["database"] or ""))


def summary(analysis: Analysis) -> dict[str, Any]:
    sev = Counter(f.severity for f in analysis.findings)
    d = analysis.discovery
    skipped = sum(1 for x in analysis.diagnostics if x.kind.startswith("skipped") or x.kind == "read-error")
    return {
        "findings": len(analysis.findings),
        "errors": sev[Severity.ERROR],
        "warnings": sev[Severity.WARNING],
        "by_rule": dict(sorted(Counter(f.name for f in analysis.findings).items())),
        "shared_tables": shared_tables(analysis),
        "files": {
            "analysed": len(d.files) - sum(1 for x in analysis.diagnostics if x.kind == "skipped-binary"),
            "skipped": skipped,
            "outside_services": len(d.outside),
            "excluded": d.excluded,
        },
        "diagnostics": len(analysis.diagnostics),
        "rules": [r.name for r in analysis.rules],
        # not in "findings": silenced by comments, accepted by the baseline, baseline entries now fixed
        "suppressed": len(analysis.suppressed),
        "suppressed_without_reason": sum(1 for s in analysis.suppressed if not s.by.reason),
        "baselined": len(analysis.baselined),
        "stale_baseline": len(analysis.stale_baseline),
    }
