"""`dbowner sagas`: every saga found, its steps in order, compensations, pivot and checks."""
from __future__ import annotations

import json
from typing import Any, Optional

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..analysis import Analysis
from ..sagas import (
    COMPENSATION_NOT_IDEMPOTENT, MISSING_COMPENSATION, STEP_NOT_IDEMPOTENT, Saga, Target, saga_report,
)

SAGA_CHECKS = (MISSING_COMPENSATION, STEP_NOT_IDEMPOTENT, COMPENSATION_NOT_IDEMPOTENT)
PASS, FAIL, NOT_ANALYSED = "pass", "fail", "not analysed"


def saga_rows(analysis: Analysis) -> dict[str, Any]:
    report = saga_report(analysis.graph)
    return {
        "version": 1,
        "manifest": analysis.manifest.display_path,
        "sagas": [_saga(s) for s in report.sagas],
        "diagnostics": [d.to_dict() for d in report.diagnostics],
    }


def _idempotent(target: Optional[Target]) -> Optional[bool]:
    """True/False when the target's body is in the repository and writes the database; None
    when there is nothing to judge (a remote call, a read)."""
    if target is None or target.effects is None:
        return None
    writes = [w for w in target.effects.writes if not (w.outbox or w.bookkeeping)]
    return all(w.repeat_safe for w in writes) if writes else None


def _role(saga: Saga, index: int) -> str:
    if saga.pivot is None or index < saga.pivot:
        return "compensatable"
    return "pivot" if index == saga.pivot else "retriable"


def _saga(saga: Saga) -> dict[str, Any]:
    steps = []
    for s in saga.steps:
        steps.append({
            "number": s.index + 1, "name": s.label, "path": s.path, "line": s.line,
            "action": s.action.to_dict(),
            "compensation": s.compensation.to_dict() if s.compensation else None,
            "compensation_at": f"{s.compensation_path}:{s.compensation_line}" if s.compensation else None,
            "role": _role(saga, s.index),
            "action_idempotent": _idempotent(s.action),
            "compensation_idempotent": _idempotent(s.compensation),
        })
    checks = {}
    for rule in SAGA_CHECKS:
        failed = any(p.rule == rule for p in saga.problems)
        if failed:
            checks[rule] = FAIL
        elif rule == MISSING_COMPENSATION:
            checks[rule] = PASS
        else:
            known = [_idempotent(s.action if rule == STEP_NOT_IDEMPOTENT else s.compensation) for s in saga.steps]
            checks[rule] = PASS if any(k is not None for k in known) else NOT_ANALYSED
    problems = sorted(saga.problems, key=lambda p: (p.path, p.line, p.rule))
    return {
        "name": saga.name, "style": saga.style, "convention": saga.convention, "path": saga.path,
        "line": saga.line, "end_line": saga.end_line, "service": saga.service or None,
        "manifest": saga.manifest or None,
        "pivot": saga.pivot + 1 if saga.pivot is not None else None, "pivot_declared": saga.pivot_declared,
        "steps": steps, "checks": checks,
        "problems": [{"rule": p.rule, "path": p.path, "line": p.line, "message": p.message} for p in problems],
    }


def render_sagas_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


_CHECK_STYLE = {PASS: "green", FAIL: "bold red", NOT_ANALYSED: "dim"}
_IDEMPOTENT = {True: "yes", False: "NO", None: "-"}


def render_sagas_text(doc: dict[str, Any], console: Console) -> None:
    if not doc["sagas"]:
        console.print(Text("No sagas found (see README: Sagas, for the styles dbowner recognises).", style="bold"))
    for saga in doc["sagas"]:
        head = Text(saga["name"], style="bold underline")
        head.append(f"  {saga['style']}", style="bold")
        head.append(f"  {saga['path']}:{saga['line']}", style="dim")
        if saga["service"]:
            head.append(f"  service {saga['service']}", style="dim")
        console.print(head)
        how = saga["convention"]
        if saga["manifest"] and saga["style"] != "manifest":
            how += f"; refined by the manifest's saga '{saga['manifest']}'"
        console.print(Text(f"  {how}", style="dim"))
        t = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 2, 0, 2))
        for col in ("#", "step", "does", "compensation", "role", "idempotent"):
            t.add_column(col)
        for s in saga["steps"]:
            comp = s["compensation"]
            comp_text = f"{comp['text']} ({comp['effect']})" if comp else "-"
            idem = _IDEMPOTENT[s["action_idempotent"]]
            if comp:
                idem += " / " + _IDEMPOTENT[s["compensation_idempotent"]]
            role = s["role"] + (" (declared)" if s["role"] == "pivot" and saga["pivot_declared"] else "")
            t.add_row(str(s["number"]), Text(s["name"]), Text(s["action"]["effect"]), Text(comp_text),
                      Text(role), Text(idem))
        console.print(t)
        checks = Text("  checks: ")
        for i, (rule, verdict) in enumerate(saga["checks"].items()):
            if i:
                checks.append(", ")
            checks.append(f"{rule} ")
            checks.append(verdict, style=_CHECK_STYLE[verdict])
        console.print(checks)
        for p in saga["problems"]:
            line = Text("    ")
            line.append(f"{p['path']}:{p['line']}", style="dim")
            line.append(f"  {p['rule']}  ", style="bold red" if p["rule"] == MISSING_COMPENSATION else "yellow")
            line.append(p["message"])
            console.print(line)
        console.print()
    failing = sum(1 for s in doc["sagas"] if FAIL in s["checks"].values())
    console.print(Text(f"{len(doc['sagas'])} saga(s), {failing} with problems", style="bold"))
    for d in doc["diagnostics"]:
        console.print(Text(f"  {d['path']}:{d['line']}  {d['kind']}: {d['message']}"))
