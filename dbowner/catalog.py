"""The rule catalog: one YAML file per rule in the repository's `rules/` folder.

Codes, names, severities, summaries, rationale, hints and examples live there, so docs,
`dbowner explain`, SARIF help and the example tests all come from one place.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
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


_CODE_PREFIX = re.compile(r"dbo\d{0,3}\Z")


def match_rules(selector: str, rules: Iterable[RuleInfo] | None = None) -> list[RuleInfo]:
    """The rules a selector means: a name (cross-service-read), a code (DBO101) or a code prefix
    (DBO1: every DBO1xx rule). Case-insensitive; [] when it means none."""
    t = selector.strip().lower()
    pool = list(load_catalog().values() if rules is None else rules)
    return [r for r in pool if t == r.name or (_CODE_PREFIX.match(t) and r.code.lower().startswith(t))]


def did_you_mean(selector: str) -> str:
    """' (did you mean 'x'?)' for a misspelt rule name, else ''."""
    names = [r.name for r in load_catalog().values()]
    close = difflib.get_close_matches(selector.strip().lower(), names, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
