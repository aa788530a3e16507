"""`--format gitlab`: GitLab Code Quality report (a JSON array of Code Climate issues).

Each finding has the fields GitLab requires (description, check_name, fingerprint, severity,
location.path, location.lines.begin). The fingerprint is the shared line-independent one, so the
merge-request widget does not report a finding as fixed and new when lines move. The format has no
place for files dbowner could not analyse; the CLI mentions them on stderr.
"""
from __future__ import annotations

import json

from ..analysis import Analysis
from ..fingerprint import fingerprints
from ..model import Severity
from .common import repo_prefix

# GitLab's levels are info, minor, major, critical, blocker.
SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


def render_gitlab(analysis: Analysis) -> str:
    prefix = repo_prefix(analysis.manifest.root)
    issues = [{
        "type": "issue",
        "description": f"{f.code} {f.name}: {f.message}",
        "check_name": f.name,
        "fingerprint": fp,
        "severity": SEVERITY[f.severity],
        "location": {"path": prefix + f.path, "lines": {"begin": f.line, "end": f.end_line}},
    } for f, fp in zip(analysis.findings, fingerprints(analysis.findings))]
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
