"""The baseline (`dbowner-baseline.yaml`): findings a team accepted when it adopted dbowner.

Entries are keyed by service, path, rule and table, with a count and no line numbers, so editing
a file does not churn the baseline. A finding covered by an entry is *baselined* (reported, never
a failure). Findings beyond an entry's count are new; an entry with more count than findings is
*stale*, and stale entries fail the check until `--update-baseline` shrinks the file. Entries of
rules that did not run (not selected, or switched off for the path) are neither stale nor dropped.
Findings about suppression comments (unused-suppression, suppression-without-reason) are never
baselined: the fix is to edit the comment.
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ..catalog import lookup
from ..manifest import ManifestError
from ..manifest.yaml_lines import YamlError, load_with_lines
from ..model import Finding
from ..atomic import write_atomic
from .settings import RuleSettings
from .suppressions import ABOUT_COMMENTS

BASELINE_NAME = "dbowner-baseline.yaml"
HEADER = """\
# dbowner baseline: findings accepted when this file was written. `dbowner check` reports them as
# baselined instead of failing; new findings fail, and so do entries whose findings were fixed
# (stale). After fixing findings run `dbowner check --update-baseline`: this file only shrinks.
"""
_ENTRY_KEYS = ("rule", "path", "table", "count")


class BaselineError(ManifestError):
    """A baseline file that cannot be read; one line per problem, like manifest errors (exit 2)."""


@dataclass(frozen=True, order=True)
class BaselineKey:
    service: str
    path: str
    rule: str      # rule name (names are permanent; codes too, but names read better in review)
    table: str     # "" when the finding has no table

    @staticmethod
    def of(finding: Finding) -> "BaselineKey":
        return BaselineKey(finding.service, finding.path, finding.name, finding.table)

    def describe(self) -> str:
        table = f" on {self.table}" if self.table else ""
        return f"{self.rule}{table} in {self.path} ({self.service or 'no service'})"


@dataclass
class Baseline:
    counts: dict[BaselineKey, int] = field(default_factory=dict)
    lines: dict[BaselineKey, int] = field(default_factory=dict)   # entry -> line in the file it came from
    display: str = BASELINE_NAME                                  # the file as messages name it

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class StaleEntry:
    """A baseline entry that allows more findings than there are now."""

    key: BaselineKey
    allowed: int
    found: int
    file: str
    line: int

    @property
    def message(self) -> str:
        gone = "the rule no longer exists" if lookup(self.key.rule) is None else \
            f"baseline accepts {self.allowed}, found {self.found}"
        return f"stale baseline entry: {self.key.describe()}: {gone}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "rule": self.key.rule, "service": self.key.service or None,
                "path": self.key.path, "table": self.key.table or None, "allowed": self.allowed,
                "found": self.found, "message": self.message}


# --------------------------------------------------------------------------- applying
def apply_baseline(findings: Iterable[Finding], baseline: Baseline,
                   settings: RuleSettings) -> tuple[list[Finding], list[Finding], list[StaleEntry]]:
    """(new findings, baselined findings, stale entries). For each key the first `count`
    findings (in path/line order) are baselined and the rest are new."""
    groups: dict[BaselineKey, list[Finding]] = defaultdict(list)
    new, baselined = [], []
    for f in findings:
        if f.name in ABOUT_COMMENTS:
            new.append(f)
        else:
            groups[BaselineKey.of(f)].append(f)
    for key, group in groups.items():
        group.sort(key=Finding.sort_key)
        allowed = baseline.counts.get(key, 0)
        baselined.extend(group[:allowed])
        for f in group[allowed:]:
            if allowed:
                f = replace(f, message=f"{f.message} (new: the baseline accepts {allowed} such finding(s) "
                                       f"in this file, there are {len(group)})")
            new.append(f)
    stale = []
    for key, allowed in sorted(baseline.counts.items()):
        found = len(groups.get(key, ()))
        if found >= allowed:
            continue
        if lookup(key.rule) is not None and not settings.runs(key.rule, key.path):
            continue     # the rule did not run here: its entries can't be judged
        stale.append(StaleEntry(key, allowed, found, baseline.display, baseline.lines.get(key, 0)))
    return new, baselined, stale


def update_baseline(findings: Iterable[Finding], previous: Baseline | None, settings: RuleSettings) -> Baseline:
    """The baseline accepting exactly `findings`, keeping the previous entries of rules that did not run."""
    counts = Counter(BaselineKey.of(f) for f in findings if f.name not in ABOUT_COMMENTS)
    for key, n in (previous.counts.items() if previous else ()):
        if lookup(key.rule) is not None and not settings.runs(key.rule, key.path):
            counts[key] = n
    return Baseline(dict(counts), display=previous.display if previous else BASELINE_NAME)


# --------------------------------------------------------------------------- the file
def dump_baseline(baseline: Baseline) -> str:
    """The file's text: sorted, one line per entry, one section per service; same input, same bytes."""
    by_service: dict[str, list[BaselineKey]] = defaultdict(list)
    for key, count in baseline.counts.items():
        if count > 0:
            by_service[key.service].append(key)
    out = [HEADER, "version: 1\n"]
    if not by_service:
        out.append("services: {}\n")
        return "".join(out)
    out.append("services:\n")
    for service in sorted(by_service):
        out.append(f"  {_scalar(service)}:\n")
        for key in sorted(by_service[service], key=lambda k: (k.path, k.rule, k.table)):
            table = f", table: {_scalar(key.table)}" if key.table else ""
            out.append(f"    - {{rule: {_scalar(key.rule)}, path: {_scalar(key.path)}{table}, "
                       f"count: {baseline.counts[key]}}}\n")
    return "".join(out)


def write_baseline(path: Path, baseline: Baseline) -> None:
    write_atomic(path, dump_baseline(baseline))


_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./*@$-]*\Z")
_RESOLVER = yaml.resolver.Resolver()


def _scalar(text: str) -> str:
    """A plain YAML scalar when it reads back as the same string, else a double-quoted one."""
    if _PLAIN.match(text) and _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == "tag:yaml.org,2002:str":
        return text
    return json.dumps(text, ensure_ascii=False)


def load_baseline(path: Path, display: str | None = None) -> Baseline:
    """Read a baseline file; raises BaselineError with file:line for anything malformed."""
    shown = display or path.name
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BaselineError([f"{shown}: cannot read baseline: {e}"]) from None
    try:
        data, lines = load_with_lines(text)
    except YamlError as e:
        raise BaselineError([f"{shown}:{e.line}: {e.message}"]) from None
    problems: list[str] = []

    def problem(keypath: tuple, what: str) -> None:
        at = keypath
        while at and at not in lines:
            at = at[:-1]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in keypath).lstrip(".") or "(top level)"
        problems.append(f"{shown}:{lines.get(at, 1)}: {where}: {what}")

    baseline = Baseline(display=shown)
    if not isinstance(data, dict):
        raise BaselineError([f"{shown}:1: a baseline is a mapping with 'version: 1' and 'services' "
                             "(write one with `dbowner check --update-baseline`)"])
    for key in sorted(set(data) - {"version", "services"}):
        problem((key,), f"unknown key '{key}' (expected version, services)")
    if data.get("version") != 1:
        problem(("version",), f"expected 1, got {data.get('version')!r}")
    services = data.get("services") or {}
    if not isinstance(services, dict):
        problem(("services",), "expected a mapping of service -> entries")
        services = {}
    for service, entries in services.items():
        if entries is None:
            continue
        if not isinstance(entries, list):
            problem(("services", service), "expected a list of entries")
            continue
        for i, entry in enumerate(entries):
            at = ("services", service, i)
            if not isinstance(entry, dict):
                problem(at, "expected an entry {rule, path, table, count}")
                continue
            extra = sorted(set(entry) - set(_ENTRY_KEYS))
            if extra:
                problem(at + (extra[0],), f"unknown key '{extra[0]}' (expected {', '.join(_ENTRY_KEYS)})")
            bad = [k for k in ("rule", "path") if not isinstance(entry.get(k), str) or not entry.get(k)]
            bad += ["table"] if not isinstance(entry.get("table") or "", str) else []
            for k in bad:
                problem(at + (k,), "expected a string")
            count = entry.get("count")
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                problem(at + ("count",), f"expected a positive whole number, got {count!r}")
                continue
            if bad:
                continue
            key = BaselineKey(str(service), entry["path"], entry["rule"], entry.get("table") or "")
            if key in baseline.counts:
                problem(at, f"duplicate entry (also on line {baseline.lines[key]})")
                continue
            baseline.counts[key] = count
            baseline.lines[key] = lines.get(at, 1)
    if problems:
        raise BaselineError(problems)
    return baseline
