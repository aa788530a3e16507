"""From saga shapes (per file) to sagas: resolve every step and compensation to its definition,
pair compensation registrations with steps, decide which calls on an orchestrator's failure
paths compensate which earlier step, apply the manifest's ``sagas``, and place the pivot."""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Optional

from ..codefacts import Call, SagaShape, StepShape
from ..extract.pyast import is_trivial as is_trivial_call
from ..extract.pyast import is_db_call, last_part
from ..manifest import Manifest
from ..manifest.model import SagaSpec
from ..model import WRITE, Diagnostic
from . import conventions as cv
from .effects import EffectAnalyzer, Effects, call_label, http_method
from .index import CodeIndex, FunctionRef
from .model import (
    COMMAND, READ_ONLY, REMOTE_COMMAND, REMOTE_QUERY, UNKNOWN, WRITES, PathInfo, Saga, Step, Target,
)

QUERY = "query (not analysed)"
_INNER_DEPTH = 2        # how deep a failure-path helper is searched for compensations


class Assembler:
    def __init__(self, index: CodeIndex, analyzer: EffectAnalyzer, manifest: Manifest):
        self.index = index
        self.effects = analyzer
        self.manifest = manifest
        self.diagnostics: list[Diagnostic] = []

    def run(self) -> list[Saga]:
        sagas: list[Saga] = []
        for path, code in sorted(self.index.code.items()):
            if not self.index.service(path):
                continue
            for shape in code.sagas:
                saga = self._from_shape(shape, path)
                if saga is not None:
                    sagas.append(saga)
        for spec in self.manifest.sagas.values():
            self._apply_manifest(spec, sagas)
        for saga in sagas:
            saga.pivot, saga.pivot_declared = pivot_of(saga)
        return sorted(sagas, key=lambda s: (s.path, s.line, s.name))

    # ------------------------------------------------------------------ targets
    def target(self, ref: str, path: str, scope: str, literal: str = "") -> Target:
        if not ref:
            return Target("")          # a step declared with only a compensation
        call = Call(0, ref, literal=literal)
        method = http_method(call)
        if method:
            effect = REMOTE_COMMAND if method in cv.HTTP_COMMANDS else REMOTE_QUERY
            return Target(call_label(call), effect=effect)
        resolved = self.index.resolve(ref, path, scope)
        if resolved is None:
            kind = cv.verb_kind(last_part(ref))
            return Target(ref, effect={"command": COMMAND, "query": QUERY}.get(kind, UNKNOWN))
        return self.resolved_target(resolved, ref)

    def resolved_target(self, ref: FunctionRef, text: str = "") -> Target:
        eff = self.effects.of(ref)
        if any(not w.bookkeeping for w in eff.writes):
            effect = WRITES
        elif eff.commands:
            effect = REMOTE_COMMAND
        elif eff.unknown_commands:
            # Its body only calls code that is not here (send_message(...), repo.update(...)):
            # let the function's own name say whether it is a command (verify_x is not).
            kind = cv.verb_kind(ref.name.rsplit(".", 1)[-1])
            effect = {"command": COMMAND, "query": READ_ONLY}.get(kind, UNKNOWN)
        else:
            effect = READ_ONLY
        return Target(text or ref.name, ref=ref, effects=eff, effect=effect)

    def _sql_target(self, path: str, function: str, line: int) -> Target:
        infos = self.index.statements_at(path, function, line)
        text = infos[0].statement.text if infos else "SQL"
        writes = any(a.access.role == WRITE for i in infos for a in i.accesses)
        t = Target(_short(text), statements=infos, effect=WRITES if writes else READ_ONLY)
        f = self.index.functions.get((path, function))
        if f is not None and infos:
            eff = Effects()
            for info in infos:
                w = self.effects.sql_write(FunctionRef(path, function), f, info, "", (function,))
                if w:
                    eff.writes.append(w)
            t.effects = eff
        return t

    # ------------------------------------------------------------------ shapes
    def _from_shape(self, shape: SagaShape, path: str) -> Optional[Saga]:
        service = self.index.service(path)
        if shape.style == "orchestrator":
            return self._orchestrator(shape, path, service)
        steps = []
        for i, s in enumerate(shape.steps):
            if shape.style == "compensation-list" or not s.compensation:
                comp = None
            else:
                comp = self.target(s.compensation, path, shape.function)
            steps.append(Step(i, path, s.line, self.target(s.action, path, shape.function, s.literal), comp,
                              path if comp else "", s.compensation_line if comp else 0, s.pivot, s.name))
        if shape.style == "compensation-list":
            self._pair_registrations(shape, steps, path)
        if not any(s.compensation for s in steps):
            return None
        return Saga(shape.name, shape.style, shape.convention, path, shape.line, shape.end_line, service, steps)

    def _pair_registrations(self, shape: SagaShape, steps: list[Step], path: str) -> None:
        """compensations.append(undo) belongs to the step right after it, or right before it:
        the one whose name it undoes, else the order the function uses for its first one."""
        items = sorted([(s.line, 1, s.index) for s in steps] + [(r.line, 0, j) for j, r in enumerate(shape.registrations)])
        before = bool(shape.registrations) and shape.registrations[0].line < steps[0].line
        paired: set[int] = set()
        for pos, (line, kind, j) in enumerate(items):
            if kind != 0:
                continue
            reg = shape.registrations[j]
            prev = items[pos - 1][2] if pos > 0 and items[pos - 1][1] == 1 and items[pos - 1][2] not in paired else None
            nxt = items[pos + 1][2] if pos + 1 < len(items) and items[pos + 1][1] == 1 \
                and items[pos + 1][2] not in paired else None
            candidates = [c for c in (prev, nxt) if c is not None]
            if not candidates:
                continue
            if len(candidates) == 2:
                named = [c for c in candidates if cv.undoes(last_part(reg.runs), _step_name(shape.steps[c]))]
                choice = named[0] if len(named) == 1 else (nxt if before else prev)
            else:
                choice = candidates[0]
            paired.add(choice)
            s = steps[choice]
            s.compensation = self.target(reg.runs, path, shape.function)
            s.compensation_path, s.compensation_line = path, reg.line

    def _orchestrator(self, shape: SagaShape, path: str, service: str) -> Optional[Saga]:
        fn = shape.function
        steps = []
        for i, s in enumerate(shape.steps):
            action = (self._sql_target(path, fn, s.line) if is_db_call(s.action)
                      else self.target(s.action, path, fn, s.literal))
            steps.append(Step(i, path, s.line, action, failure_paths=s.failure_paths))
        names = [_step_name(s) for s in shape.steps]
        paths = []
        for p_idx, fp in enumerate(shape.failure_paths):
            owners = tuple(i for i, s in enumerate(shape.steps) if p_idx in s.failure_paths)
            info = PathInfo(fp.line, fp.end_line, fp.kind, owners)
            paths.append(info)
            if not owners:
                continue
            earlier = range(max(owners))
            for c in fp.calls:
                if not c.runs and is_trivial_call(c.callee):
                    continue
                k = _match(c, shape.steps, names, earlier)
                if k is not None:
                    info.compensates.add(k)
                    self._set_compensation(steps[k], self.target(c.runs or c.callee, path, fn, c.literal), path, c.line)
                    continue
                if is_db_call(c.callee):
                    self._sql_compensation(info, steps, earlier, path, fn, c)
                    continue
                if http_method(c) in cv.HTTP_QUERIES:
                    continue
                ref = self.index.resolve(c.runs or c.callee, path, fn)
                if ref is None:
                    info.opaque.append(call_label(c))
                    continue
                helper = (self.target(c.runs or c.callee, path, fn, c.literal), path, c.line)
                self._inner(ref, info, steps, shape.steps, names, earlier, _INNER_DEPTH, set(), helper)
        # Evidence that this is a saga and not error handling: a step that changes state is undone.
        if not any(s.compensation and s.action.changes_state for s in steps):
            return None
        return Saga(shape.name, "orchestrator", shape.convention, path, shape.line, shape.end_line, service,
                    steps, paths)

    def _inner(self, ref: FunctionRef, info: PathInfo, steps: list[Step], shapes, names, earlier,
               depth: int, seen: set, helper: tuple[Target, str, int]) -> None:
        """A helper called on a failure path: the compensations it calls count as run there (the
        helper is shown as the compensation); calls in it we cannot see into make the path opaque."""
        f = self.index.function(ref)
        if f is None or ref in seen:
            return
        seen.add(ref)
        for c in f.calls:
            if (not c.runs and is_trivial_call(c.callee)) or is_db_call(c.callee):
                continue
            k = _match(c, shapes, names, earlier)
            if k is not None:
                info.compensates.add(k)
                self._set_compensation(steps[k], *helper)
                continue
            if http_method(c):
                continue
            inner = self.index.resolve(c.runs or c.callee, ref.path, f.name)
            if inner is not None and depth > 0:
                self._inner(inner, info, steps, shapes, names, earlier, depth - 1, seen, helper)
            elif inner is None and cv.verb_kind(last_part(c.runs or c.callee)) != "query":
                info.opaque.append(c.runs or c.callee)

    def _sql_compensation(self, info: PathInfo, steps: list[Step], earlier, path: str, fn: str, c: Call) -> None:
        """A database write on a failure path undoes an earlier inline-SQL step on the same table."""
        infos = self.index.statements_at(path, fn, c.line)
        tables = {str(a.access.table) for i in infos for a in i.accesses if a.access.role == WRITE}
        for k in earlier:
            own = {str(a.access.table) for i in steps[k].action.statements for a in i.accesses
                   if a.access.role == WRITE}
            if own and own & tables:
                info.compensates.add(k)
                self._set_compensation(steps[k], self._sql_target(path, fn, c.line), path, c.line)

    @staticmethod
    def _set_compensation(step: Step, target: Target, path: str, line: int) -> None:
        if step.compensation is None:
            step.compensation, step.compensation_path, step.compensation_line = target, path, line

    # ------------------------------------------------------------------ the manifest
    def _apply_manifest(self, spec: SagaSpec, sagas: list[Saga]) -> None:
        m = self.manifest
        actions, comps = [], []
        for i, st in enumerate(spec.steps):
            actions.append(self._manifest_ref(spec, i, "action", st.action))
            comps.append(self._manifest_ref(spec, i, "compensation", st.compensation) if st.compensation else None)
        wanted = {a for a in actions if a}
        if wanted and len(wanted) == len(actions):
            for saga in sagas:
                by_ref = {s.action.ref: s for s in saga.steps if s.action.ref}
                if wanted <= set(by_ref):
                    for i, st in enumerate(spec.steps):   # the manifest's compensations and pivot win
                        step = by_ref[actions[i]]
                        if comps[i]:
                            step.compensation = self.resolved_target(comps[i], comps[i].name)
                            step.compensation_path = m.display_path
                            step.compensation_line = m.line_of("sagas", spec.name, "steps", i, "compensation")
                        if st.pivot:
                            for other in saga.steps:
                                other.pivot_declared = other is step
                    saga.manifest = spec.name
                    return
        steps = []
        for i, st in enumerate(spec.steps):
            a = actions[i]
            action = self.resolved_target(a, a.name) if a else Target(st.action.split(":", 1)[-1])
            comp = None
            if st.compensation:
                c = comps[i]
                comp = self.resolved_target(c, c.name) if c else Target(st.compensation.split(":", 1)[-1])
            steps.append(Step(i, m.display_path, m.line_of("sagas", spec.name, "steps", i, "action"), action, comp,
                              m.display_path if comp else "",
                              m.line_of("sagas", spec.name, "steps", i, "compensation") if comp else 0,
                              st.pivot, action.text))
        service = next((self.index.service(a.path) for a in actions if a), "")
        line = m.line_of("sagas", spec.name)
        end = max([line] + [s.line for s in steps] + [s.compensation_line for s in steps])
        sagas.append(Saga(spec.name, "manifest", "declared in the manifest", m.display_path, line, end, service,
                          steps, manifest=spec.name))

    def _manifest_ref(self, spec: SagaSpec, i: int, role: str, text: str) -> Optional[FunctionRef]:
        path, _, qual = text.partition(":")
        path = PurePosixPath(path).as_posix().removeprefix("./")
        if (path, qual) in self.index.functions:
            return FunctionRef(path, qual)
        line = self.manifest.line_of("sagas", spec.name, "steps", i, role)
        why = (f"no function {qual} in {path}" if path in self.index.code
               else f"{path} is not analysed (outside every service, excluded, or not Python)")
        self.diagnostics.append(Diagnostic(self.manifest.display_path, line, "saga-reference",
                                           f"sagas.{spec.name}.steps[{i}].{role}: {why}"))
        return None


def pivot_of(saga: Saga) -> tuple[Optional[int], bool]:
    """The declared pivot; else the first step after the last compensated one that has no
    compensation (and changes state, if any does)."""
    for s in saga.steps:
        if s.pivot_declared:
            return s.index, True
    compensated = [s.index for s in saga.steps if s.compensation]
    last = max(compensated) if compensated else -1
    after = [s for s in saga.steps[last + 1:] if not s.compensation]
    if not after:
        return None, False
    changing = [s for s in after if s.action.effect not in (READ_ONLY, QUERY, REMOTE_QUERY)]
    return (changing[0] if changing else after[0]).index, False


def _step_name(s: StepShape) -> str:
    """The name compensations are matched against: the function's, or the URL's last segment."""
    if s.literal and http_method(Call(0, s.action, literal=s.literal)):
        return _url_name(s.literal)
    return last_part(s.action)


def _call_name(c: Call) -> str:
    if http_method(c) and c.literal:
        return _url_name(c.literal)
    return last_part(c.runs or c.callee)


def _url_name(url: str) -> str:
    parts = [p for p in url.split("?")[0].split("/") if p and "{" not in p]
    return parts[-1] if parts else url


def _match(c: Call, shapes: tuple[StepShape, ...], names: list[str], earlier) -> Optional[int]:
    """The earlier step a failure-path call undoes, by name (debit/credit, reserve/release,
    undo_x, x_compensation ...); arguments shared with the step break ties."""
    name = _call_name(c)
    found = [k for k in earlier if cv.undoes(name, names[k])]
    if not found:
        return None
    if len(found) > 1:
        shared = [k for k in found if set(c.args) & set(shapes[k].args)]
        found = shared or found
    return found[-1]


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
