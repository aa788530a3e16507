"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

What code scanning needs and why it is here:
- `tool.driver.rules` with every rule that ran, and `ruleIndex` pointing into it on each result;
- URIs relative to the repository root (the upload action and GitHub resolve a relative URI
  against the checkout and ignore `uriBaseId`), percent-encoded, with `uriBaseId` SRCROOT;
- `partialFingerprints` that do not change when lines move, or alerts are closed and re-opened on
  every push. The upload action adds its own `primaryLocationLineHash` next to ours.
Files dbowner could not analyse are `toolExecutionNotifications`, not results.
"""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from .. import __version__
from ..analysis import Analysis
from ..catalog import RuleInfo
from ..fingerprint import VERSION, fingerprints
from ..model import Severity
from .common import repo_prefix, reported_rules

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = f"dbownerFinding/{VERSION}"
LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
SRCROOT = "SRCROOT"
_LANG = {".py": "python", ".sql": "sql", ".yaml": "yaml", ".yml": "yaml"}


def render_sarif(analysis: Analysis) -> str:
    prefix = repo_prefix(analysis.manifest.root)
    rules = reported_rules(analysis)
    index = {r.code: i for i, r in enumerate(rules)}
    results = []
    for finding, fp in zip(analysis.findings, fingerprints(analysis.findings)):
        result: dict[str, Any] = {
            "ruleId": finding.code,
            "ruleIndex": index[finding.code],
            "level": LEVEL[finding.severity],
            "message": {"text": finding.message},
            "locations": [_location(prefix + finding.path, finding.line, finding.end_line)],
            "partialFingerprints": {FINGERPRINT_KEY: fp},
        }
        props = {k: v for k, v in (("service", finding.service), ("table", finding.table)) if v}
        if props:
            result["properties"] = props
        results.append(result)
    notifications = []
    for d in analysis.diagnostics:
        notifications.append({
            "level": "warning",
            "message": {"text": f"{d.kind}: {d.message}"},
            "descriptor": {"id": d.kind},
            "locations": [_location(prefix + d.path, d.line, d.line)],
        })
    base_ids: dict[str, Any] = {SRCROOT: {"description": {"text": (
        "The repository root: the nearest folder holding .git above dbowner.yaml; without one, the "
        "working directory if dbowner.yaml is below it; otherwise the folder of dbowner.yaml.")}}}
    if prefix:
        base_ids["MANIFESTROOT"] = {"uri": quote(prefix), "uriBaseId": SRCROOT,
                                    "description": {"text": "The folder of dbowner.yaml."}}
    doc = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "dbowner",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_descriptor(r) for r in rules],
            }},
            "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
            "originalUriBaseIds": base_ids,
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _location(path: str, line: int, end_line: int) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": quote(path), "uriBaseId": SRCROOT}}
    if line > 0:
        physical["region"] = {"startLine": line, "endLine": max(line, end_line)}
    return {"physicalLocation": physical}


def _unwrap(text: str) -> str:
    """Join the catalog's hard-wrapped lines; keep blank-line paragraph breaks."""
    return re.sub(r"(?<!\n)\n(?!\n)", " ", text.strip())


def _descriptor(rule: RuleInfo) -> dict[str, Any]:
    why, hint = _unwrap(rule.why), _unwrap(rule.hint)
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": why},
        "help": {"text": f"{why}\n\nHow to fix: {hint}", "markdown": _help_markdown(rule, why, hint)},
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {"tags": ["data-ownership"]},
    }


def _help_markdown(rule: RuleInfo, why: str, hint: str) -> str:
    parts = [why, f"**How to fix:** {hint}"]
    for kind in ("bad", "good"):
        example = rule.examples.get(kind)
        if not example:
            continue
        parts.append(f"**{kind.capitalize()} example:** {example.get('description', '').strip()}")
        files = dict(example.get("files") or {})
        manifest = example.get("manifest") or rule.examples.get("manifest")
        if manifest:
            files = {"dbowner.yaml": manifest, **files}
        for name, content in files.items():
            lang = next((v for k, v in _LANG.items() if name.endswith(k)), "")
            parts.append(f"`{name}`\n\n```{lang}\n{content.rstrip()}\n```")
    return "\n\n".join(parts)
