"""Apply suppression comments to the findings of the checks (after they ran, below the CLI).

A suppression covers a finding when it names the finding's rule (by name or code) and covers the
finding's line, or the first line of the statement (or Python call) the finding is in. Every
(comment, rule) pair that matches nothing, for a rule that ran on that file, is an
`unused-suppression` finding; with `require_reasons`, a comment without a reason is a
`suppression-without-reason` finding.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..catalog import RuleInfo, did_you_mean, load_catalog, lookup
from ..model import Finding, Statement, Suppression
from .settings import RuleSettings

UNUSED = "unused-suppression"
REASONLESS = "suppression-without-reason"
# Findings about the comments themselves: fixed by editing the comment, never suppressed or baselined.
ABOUT_COMMENTS = frozenset({UNUSED, REASONLESS})


@dataclass(frozen=True)
class Suppressed:
    """A finding that a comment silenced, and the comment."""

    finding: Finding
    by: Suppression

    def to_dict(self) -> dict[str, Any]:
        d = self.finding.to_dict()
        d["suppression"] = {"line": self.by.line, "file_level": self.by.file_level,
                            "reason": self.by.reason or None}
        return d


@dataclass
class SuppressionOutcome:
    kept: list[Finding] = field(default_factory=list)            # not suppressed
    suppressed: list[Suppressed] = field(default_factory=list)
    extra: list[Finding] = field(default_factory=list)           # unused-suppression, suppression-without-reason


def apply_suppressions(findings: Iterable[Finding], suppressions: Mapping[str, list[Suppression]],
                       statements: Mapping[str, list[Statement]], settings: RuleSettings,
                       service_of: Mapping[str, str]) -> SuppressionOutcome:
    """Split findings into kept and suppressed, and report suppressions that are unused or
    (with require_reasons) have no reason. `suppressions` and `statements` are keyed by path."""
    out = SuppressionOutcome()
    used: set[tuple[str, int, str]] = set()          # (path, comment line, token)
    by_end = {path: _by_end_line(sts) for path, sts in statements.items()}
    for f in findings:
        candidates = suppressions.get(f.path)
        if not candidates:
            out.kept.append(f)
            continue
        anchors = _anchors(f, by_end.get(f.path, {}))
        matches = []
        for s in candidates:
            tokens = [t for t in s.rules if t in (f.name, f.code.lower())]
            if tokens and (s.file_level or any(s.covers(a) for a in anchors)):
                matches.append(s)
                used.update((f.path, s.line, t) for t in tokens)
        if matches:
            best = min(matches, key=lambda s: (s.file_level, s.line))
            out.suppressed.append(Suppressed(f, best))
        else:
            out.kept.append(f)
    catalog = load_catalog()
    for path, sups in sorted(suppressions.items()):
        service = service_of.get(path, "")
        for s in sups:
            problems = _unused_problems(path, s, used, settings)
            if problems and settings.runs(UNUSED, path):
                out.extra.append(_finding(catalog[UNUSED], path, s.line, service, "; ".join(problems)))
            if not s.reason and settings.require_reasons and settings.runs(REASONLESS, path):
                out.extra.append(_finding(
                    catalog[REASONLESS], path, s.line, service,
                    f"suppression of {', '.join(s.rules)} gives no reason; write why after the brackets "
                    "(rules.require_reasons is on)"))
    return out


def _by_end_line(statements: list[Statement]) -> dict[int, list[Statement]]:
    index: dict[int, list[Statement]] = defaultdict(list)
    for st in statements:
        index[st.end_line].append(st)
    return index


def _anchors(f: Finding, by_end: Mapping[int, list[Statement]]) -> set[int]:
    """Lines a comment may cover to silence f: its own line and the first line of its statement
    (for SQL in Python: of the call). A finding ends where its statement ends, which tells apart
    two calls running the same SQL constant."""
    anchors = {f.line}
    for st in by_end.get(f.end_line, ()):
        if st.line <= f.line <= st.end_line or any(a.line == f.line for a in st.accesses):
            anchors.add(st.line)
    return anchors


def _unused_problems(path: str, s: Suppression, used: set[tuple[str, int, str]],
                     settings: RuleSettings) -> list[str]:
    problems, unused = [], []
    for token in s.rules:
        rule = lookup(token)
        if rule is None:
            problems.append(f"'{token}' is not a dbowner rule{did_you_mean(token)}")
        elif settings.runs(rule.name, path) and (path, s.line, token) not in used:
            unused.append(token)
    if unused:
        where = "in this file" if s.file_level else "here"
        if len(unused) == len(s.rules):
            problems.insert(0, f"suppression of {', '.join(unused)} matches no finding {where}; remove the comment")
        else:
            problems.insert(0, f"{', '.join(unused)} in this suppression matches no finding {where}; "
                               "remove it from the brackets")
    return problems


def _finding(rule: RuleInfo, path: str, line: int, service: str, message: str) -> Finding:
    return Finding(code=rule.code, name=rule.name, severity=rule.severity, path=path, line=line, end_line=line,
                   message=message, hint=rule.hint, service=service)
