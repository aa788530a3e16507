"""The rule catalog: one YAML file per rule in the repository's `rules/` folder.

Codes, names, severities, summaries, rationale, hints and examples live there, so docs,
`dbowner explain`, SARIF help and the example tests all come from one place.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .model import Severity


@dataclass(frozen=True)
class RuleInfo:
    code: str
    name: str
    severity: Severity
    summary: str
    why: str
    hint: str
    examples: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    source: str = ""
    scope: str = "code"      # "live": only `dbowner verify` checks it (its examples are database facts)


def catalog_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_rules", here.parent / "rules"):   # installed wheel, then source checkout
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("dbowner's rule catalog (rules/) is missing from this installation")


@lru_cache(maxsize=1)
def load_catalog() -> dict[str, RuleInfo]:
    """name -> RuleInfo, in code order."""
    rules = []
    for path in sorted(catalog_dir().glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        data = yaml.safe_load(path.read_text("utf-8"))
        rules.append(RuleInfo(
            code=data["code"], name=data["name"], severity=Severity(data["severity"]),
            summary=data["summary"].strip(), why=data["why"].strip(), hint=data["hint"].strip(),
            examples=data.get("examples") or {}, source=str(path), scope=data.get("scope", "code"),
        ))
    return {r.name: r for r in sorted(rules, key=lambda r: r.code)}


def lookup(code_or_name: str) -> RuleInfo | None:
    key = code_or_name.strip()
    for rule in load_catalog().values():
        if key.lower() in (rule.name, rule.code.lower()):
            return rule
    return None
