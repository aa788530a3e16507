"""Judging assembled sagas (missing compensations, writes that are not safe to repeat) and
functions (dual writes). The checks in ``dbowner/checks/saga_*.py`` and ``dual_write.py`` turn
these problems into findings; ``dbowner sagas`` shows them per saga."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..codefacts import FunctionFacts
from . import conventions as cv
from .effects import EffectAnalyzer, Write
from .index import CodeIndex, FunctionRef
from .model import DOES, Problem, Saga, Step

MISSING_COMPENSATION = "saga-missing-compensation"
STEP_NOT_IDEMPOTENT = "saga-step-not-idempotent"
COMPENSATION_NOT_IDEMPOTENT = "saga-compensation-not-idempotent"
DUAL_WRITE = "dual-write"
_DUAL_WRITE_DEPTH = 2


def _describe(saga: Saga) -> str:
    return f"saga '{saga.name}'"


def _step(s: Step) -> str:
    return f"step {s.index + 1} ({s.label})"


# --------------------------------------------------------------------------- compensations

def compensation_problems(saga: Saga) -> list[Problem]:
    out = []
    n = len(saga.steps)
    limit = saga.pivot if saga.pivot is not None else n
    pivot = saga.steps[saga.pivot] if saga.pivot is not None else None
    for s in saga.steps[:limit]:
        if s.compensation is not None or not s.action.changes_state:
            continue
        if saga.style == "orchestrator":
            later_paths = [p for p in saga.paths if any(o > s.index for o in p.owners)]
            if any(p.opaque for p in later_paths):
                continue        # a failure path calls code we cannot see into: it may undo this
        compensated = [t for t in saga.steps[s.index + 1:] if t.compensation is not None]
        if saga.pivot_declared and pivot is not None:
            where = f"it comes before the pivot, {_step(pivot)}"
        else:
            where = f"{_step(compensated[0])} after it is compensated, so it is not past the pivot"
        out.append(Problem(
            MISSING_COMPENSATION, s.path, s.line,
            f"{_describe(saga)}: {_step(s)} {DOES[s.action.effect]} but has no compensation, and "
            f"{where}: when a later step fails, its change is never undone",
            saga.service, saga=saga.name))
    if saga.style == "orchestrator":
        for p in saga.paths:
            if p.opaque:
                continue
            for k, s in enumerate(saga.steps[:limit]):
                if s.compensation is None or k in p.compensates:
                    continue
                failing = [o for o in p.owners if k < o <= limit]
                if not failing:
                    continue
                failed = saga.steps[min(failing)]
                out.append(Problem(
                    MISSING_COMPENSATION, saga.path, p.line,
                    f"{_describe(saga)}: the failure path of {_step(failed)} (line {p.line}) does not run "
                    f"{s.compensation.text}, the compensation of {_step(s)}: if {failed.label} fails, "
                    f"{s.label} stays applied",
                    saga.service, saga=saga.name))
    return out


# --------------------------------------------------------------------------- idempotency

@dataclass
class _Use:
    saga: Saga
    role: str           # "step" or "compensation"
    step: Step


def idempotency_problems(sagas: list[Saga], index: CodeIndex) -> list[Problem]:
    """One problem per write that is not safe to repeat, naming the saga steps that run it; each
    of those sagas gets the problem in its ``problems`` too."""
    uses: dict[tuple[str, str, int, str], list[_Use]] = defaultdict(list)
    writes: dict[tuple[str, str, int, str], Write] = {}
    for saga in sagas:
        for s in saga.steps:
            for role, target in (("step", s.action), ("compensation", s.compensation)):
                if target is None or target.effects is None:
                    continue
                for w in target.effects.writes:
                    if w.repeat_safe or w.outbox or w.bookkeeping:
                        continue
                    rule = STEP_NOT_IDEMPOTENT if role == "step" else COMPENSATION_NOT_IDEMPOTENT
                    key = (rule, w.path, w.line, w.code)
                    writes.setdefault(key, w)
                    if not any(u.saga is saga and u.step.index == s.index for u in uses[key]):
                        uses[key].append(_Use(saga, role, s))
    out = []
    for key, w in writes.items():
        rule = key[0]
        first, more = uses[key][0], len(uses[key]) - 1
        role = "the compensation of" if first.role == "compensation" else ""
        runs_as = f"{role} {_step(first.step)}".strip() + f" of saga '{first.saga.name}'"
        if more:
            runs_as += f" (and {more} more)"
        via = " via " + " → ".join(w.via) if len(w.via) > 1 else ""
        problem = Problem(
            rule, w.path, w.line,
            f"{w.function}{via} runs {runs_as} and writes {w.table} with `{w.code}`: {w.reason}, "
            f"with no idempotency guard, so a retried message applies it twice. {_fix(w, index)}",
            index.service(w.path), "" if w.table.startswith(("model ", "an ORM")) else w.table,
            saga=first.saga.name)
        out.append(problem)
        for u in uses[key]:
            if problem not in u.saga.problems:
                u.saga.problems.append(problem)
    return out


def _fix(w: Write, index: CodeIndex) -> str:
    f = index.functions.get((w.path, w.function))
    key = next((p for p in (f.params if f else ()) if cv.is_idempotency_key(p)), "")
    key = key or (w.keys[0] if w.keys else "")
    lookup = (f"look up {key or 'the saga id'} first and return early when it was already processed "
              "(as debit_account in the design doc does)")
    if w.insert:
        return f"Fix: insert with ON CONFLICT ({key or 'saga_id'}) DO NOTHING, or {lookup}."
    return (f"Fix: {lookup}, or make it a state transition the retry cannot repeat "
            "(… AND status = 'pending' with the SET changing status).")


# --------------------------------------------------------------------------- dual writes

def dual_write_problems(index: CodeIndex, analyzer: EffectAnalyzer) -> list[Problem]:
    """A function that writes the database and publishes to a broker with no outbox write: the
    commit and the publish succeed or fail separately. Reported in the function that bridges the
    two, i.e. one that writes or publishes itself; its callees are followed two calls deep for
    the other half (so a caller of that function is not reported again)."""
    out = []
    for (path, name), f in sorted(index.functions.items()):
        service = index.service(path)
        if not service or (not f.publishes and not _writes_itself(index, path, name, f)):
            continue
        effects = analyzer.of(FunctionRef(path, name))
        reach_writes = [w for w in effects.writes if len(w.via) <= _DUAL_WRITE_DEPTH + 1]
        publishes = [c for c in effects.commands if c.publish and len(c.via) <= _DUAL_WRITE_DEPTH + 1]
        writes = [w for w in reach_writes if not w.outbox]
        if not writes or not publishes or any(w.outbox for w in reach_writes):
            continue
        own_writes = [w for w in writes if len(w.via) == 1]
        own_publishes = [c for c in publishes if len(c.via) == 1]
        if not own_writes and not own_publishes:
            continue
        w = (own_writes or writes)[0]
        p = (own_publishes or publishes)[0]
        line = p.line if own_publishes else w.line
        out.append(Problem(
            DUAL_WRITE, path, line,
            f"{name} writes {w.table} ({_at(w.path, w.line, path, w.via)}) and publishes with {p.what} "
            f"({_at(p.path, p.line, path, p.via)}) without an outbox: the commit and the publish succeed or "
            "fail separately, so consumers can get an event for a change that rolled back, or miss one "
            "for a change that committed",
            service, "" if w.table.startswith(("model ", "an ORM")) else w.table))
    return out


def _writes_itself(index: CodeIndex, path: str, name: str, f: FunctionFacts) -> bool:
    return bool(f.orm_writes) or any(s.statement.kind in ("insert", "update", "delete", "merge")
                                     for s in index.statements.get((path, name), []))


def _at(path: str, line: int, here: str, via: tuple[str, ...]) -> str:
    where = f"line {line}" if path == here else f"{path}:{line}"
    return where + (f", in {via[-1]}" if len(via) > 1 else "")
