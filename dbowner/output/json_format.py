"""`--format json`: {"findings": [...], "diagnostics": [...], "summary": {...}}, sorted and stable."""
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
        "summary": summary(analysis),
    }
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
