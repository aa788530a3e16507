"""Sagas as the report shows them.

The saga analysis (assembled sagas with steps, compensations, pivot and verdicts) puts its result
on the Analysis as ``analysis.sagas``; this module reads it by duck typing, so the report depends
on names only, not on classes. Each item (an object or a dict) may have:

- ``name`` (str), ``service`` (str: the orchestrator or the service running the first step),
  ``path`` and ``line`` (where the saga is defined);
- ``steps``: a list of steps, each with ``name`` (or ``action``), ``service``, ``compensation``
  (str or None), ``pivot`` (bool) and ``kind`` (e.g. compensatable, pivot, retriable);
- ``pivot``: the pivot step's name, when the steps do not say it;
- ``verdicts``: a list of strings, or of items with ``severity`` and ``message``
  (``Finding`` objects fit), saying whether the saga is safe.

Without ``analysis.sagas`` the report lists the sagas declared in dbowner.yaml, marked as not
assessed. An empty ``analysis.sagas`` means the analysis found none.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...analysis import Analysis
from ...catalog import lookup
from ..sagas import saga_rows


@dataclass
class StepView:
    number: int
    action: str
    service: str = ""
    compensation: str = ""
    pivot: bool = False
    kind: str = ""


@dataclass
class SagaView:
    name: str
    service: str = ""
    location: str = ""
    steps: list[StepView] = field(default_factory=list)
    pivot: str = ""
    verdicts: list[tuple[str, str]] = field(default_factory=list)   # (severity, message)
    assessed: bool = True

    @property
    def verdict_class(self) -> str:
        severities = {s for s, _ in self.verdicts}
        if "error" in severities:
            return "fail"
        return "warn" if "warning" in severities or not self.assessed else "pass"


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return default


def _text(value: Any) -> str:
    if value is None or value is False:
        return ""
    if isinstance(value, (str, int, float)):
        return str(value)
    return str(_get(value, "name", "action", "function", default=value))


def _verdict(v: Any) -> tuple[str, str]:
    if isinstance(v, str):
        return ("info", v)
    severity = _get(v, "severity", "level", default="info")
    severity = str(getattr(severity, "value", severity))
    message = _text(_get(v, "message", "text", "verdict", default=""))
    code = _text(_get(v, "name", "rule", default=""))
    return (severity, f"{code}: {message}" if code and message and code not in message else message or code)


def _step(i: int, raw: Any) -> StepView:
    return StepView(number=i, action=_text(_get(raw, "name", "action", "function", default=f"step {i}")),
                    service=_text(_get(raw, "service")), compensation=_text(_get(raw, "compensation")),
                    pivot=bool(_get(raw, "pivot", default=False)), kind=_text(_get(raw, "kind", "type")))


def _from_analysis(raw: Any) -> SagaView:
    steps = [_step(i, s) for i, s in enumerate(_get(raw, "steps", default=()) or (), 1)]
    pivot = _text(_get(raw, "pivot")) if not isinstance(_get(raw, "pivot"), bool) else ""
    pivot = pivot or next((s.action for s in steps if s.pivot), "")
    path, line = _text(_get(raw, "path", "file")), _get(raw, "line", default=0)
    verdicts = [_verdict(v) for v in _get(raw, "verdicts", "findings", default=()) or ()]
    one = _get(raw, "verdict")
    if one is not None and not verdicts:
        verdicts = [_verdict(one)]
    return SagaView(name=_text(_get(raw, "name", default="(unnamed saga)")), service=_text(_get(raw, "service")),
                    location=f"{path}:{line}" if path and line else path, steps=steps, pivot=pivot,
                    verdicts=sorted(verdicts, key=lambda v: ({"error": 0, "warning": 1}.get(v[0], 2), v[1])))


def _from_rows(doc: dict[str, Any]) -> list[SagaView]:
    """Sagas as `dbowner sagas --format json` lists them (dbowner.output.sagas)."""
    out = []
    for row in doc["sagas"]:
        steps = [StepView(number=st["number"], action=st["name"],
                          compensation=(st["compensation"] or {}).get("text", ""),
                          pivot=st["role"] == "pivot", kind=st["role"]) for st in row["steps"]]
        verdicts = []
        for p in row["problems"]:
            rule = lookup(p["rule"])
            verdicts.append((rule.severity.value if rule else "warning", f"{p['rule']}: {p['message']}"))
        for rule, outcome in row["checks"].items():
            if outcome != "fail":
                verdicts.append(("info", f"{rule}: {outcome}"))
        out.append(SagaView(name=row["name"], service=row["service"] or "", location=f"{row['path']}:{row['line']}",
                            steps=steps, pivot=next((st.action for st in steps if st.pivot), ""),
                            verdicts=sorted(verdicts, key=lambda v: ({"error": 0, "warning": 1}.get(v[0], 2), v[1]))))
    return out


def saga_views(analysis: Analysis) -> list[SagaView]:
    found = getattr(analysis, "sagas", None)
    if found is not None:
        return [_from_analysis(s) for s in found]
    if getattr(analysis, "graph", None) is not None:
        return _from_rows(saga_rows(analysis))   # the saga analysis, computed once per run
    manifest = analysis.manifest
    out = []
    for name, spec in manifest.sagas.items():
        steps = [StepView(i, s.action, compensation=s.compensation or "", pivot=s.pivot)
                 for i, s in enumerate(spec.steps, 1)]
        out.append(SagaView(name=name, location=f"{manifest.display_path}:{manifest.line_of('sagas', name)}",
                            steps=steps, pivot=next((s.action for s in steps if s.pivot), ""),
                            verdicts=[("info", "declared in the manifest; this dbowner does not assess sagas")],
                            assessed=False))
    return out
