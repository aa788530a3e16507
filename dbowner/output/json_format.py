"""`--format json`: {"findings": [...], "diagnostics": [...], "suppressed": [...], "baselined": [...],
"stale_baseline": [...], "summary": {...}}, sorted and stable. "findings" holds only what is reported as new;
`dbowner verify` adds "live" (see README, "verify's JSON")."""
from __future__ import annotations

import json

from ..analysis import Analysis
from .summary import summary


def render_json(analysis: Analysis) -> str:
    doc = {
        "version": 1,
        "manifest": analysis.manifest.display_path,
        "findings": [f.to_dict() for f in analysis.findings],
        "diagnostics": [d.to_dict() for d in analysis.diagnostics],
        "suppressed": [s.to_dict() for s in analysis.suppressed],
        "baselined": [f.to_dict() for f in analysis.baselined],
        "stale_baseline": [e.to_dict() for e in analysis.stale_baseline],
        "summary": summary(analysis),
    }
    live = getattr(analysis, "live", None)   # `dbowner verify`: what the live database showed
    if live:
        doc["live"] = live
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
