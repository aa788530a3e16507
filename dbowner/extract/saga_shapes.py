"""Saga-shaped constructs in one module: orchestrator functions (calls checked for failure,
compensations on the failure path), compensation lists (Temporal style) and declared
step/compensation pairs (builders, step objects, decorators; the rows of conventions.py).
Names are left as written; dbowner.sagas resolves them and decides."""
from __future__ import annotations

import ast
from typing import Optional

from ..codefacts import Call, FailurePath, SagaShape, StepShape
from . import conventions as cv
from .pyast import (
    FUNCS, TRY, WITH, call_fact, callee_of, calls_in, dotted, ends_in_exit, is_db_call, is_trivial, keyword,
    last_part, names_in, not_a_step, own_nodes, receiver_of, reference, statement_call, string_of, unroll,
)

_CALL_ROWS = {name: row for row in cv.PAIR_CONVENTIONS if row.form == "call" for name in row.names}


def orchestrator(fn, qual: str) -> Optional[SagaShape]:
    """Sequential calls, each followed by a failure check (an ``if`` on its result that
    returns or raises, or an ``except`` around it). Whether a failure path compensates an
    earlier step is decided after resolution; here it is a candidate."""
    steps: list[StepShape] = []
    paths: list[FailurePath] = []
    index: dict[int, int] = {}

    def path(kind: str, node, body) -> int:
        if id(node) not in index:
            paths.append(FailurePath(node.lineno, node.end_lineno or node.lineno, kind, calls_in(body)))
            index[id(node)] = len(paths) - 1
        return index[id(node)]

    def add(call: ast.Call, fps: tuple[int, ...]) -> None:
        cf = call_fact(call, None)
        steps.append(StepShape(call.lineno, cf.runs or cf.callee, literal=cf.literal, args=cf.args,
                               failure_paths=fps))

    def walk(stmts: list[ast.stmt], handlers: tuple[int, ...]) -> None:
        for i, st in enumerate(stmts):
            if isinstance(st, TRY):
                hp = tuple(path("except", h, h.body) for h in st.handlers)
                walk(st.body, handlers + hp)
                walk(st.orelse, handlers)
                continue
            if isinstance(st, WITH):
                walk(st.body, handlers)
                continue
            if isinstance(st, ast.If):
                call = next((c for c in ast.walk(st.test) if isinstance(c, ast.Call)
                             and not not_a_step(callee_of(c.func))), None)
                if call is not None and ends_in_exit(st.body):
                    add(call, (path("if", st, st.body),) + handlers)
                continue
            sc = statement_call(st)
            if sc is None:
                continue
            call, _, var = sc
            callee = callee_of(call.func)
            if not_a_step(callee):
                continue
            own_path: tuple[int, ...] = ()
            check = _next_check(stmts, i, var) if var else None
            if check is not None and ends_in_exit(check.body):
                own_path = (path("if", check, check.body),)
            if is_db_call(callee) and not own_path:
                continue     # saga bookkeeping or a query, not a step
            if own_path or handlers:
                add(call, own_path + handlers)

    walk(fn.body, ())
    if len(steps) < 2 or not any(paths[i].calls for s in steps[1:] for i in s.failure_paths):
        return None
    return SagaShape("orchestrator", qual, fn.lineno, fn.end_lineno or fn.lineno, qual,
                     "calls checked for failure; compensations called on the failure path",
                     tuple(steps), tuple(paths))


def compensation_list(fn, qual: str, own) -> Optional[SagaShape]:
    lists = set()
    for n, _ in own:
        if isinstance(n, (ast.Assign, ast.AnnAssign)) and isinstance(n.value, ast.List) and not n.value.elts:
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target]):
                if dotted(t):
                    lists.add(dotted(t))
    for row in cv.REGISTRATION_CONVENTIONS:
        regs: list[tuple[ast.Call, str]] = []
        for n, parent in own:
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in row.methods:
                recv = dotted(n.func.value)
                if recv and (recv in lists or not row.needs_list) and n.args:
                    regs.append((n, recv))
        receivers = {r for _, r in regs}
        if not regs or not any(_runs_compensations(fn, own, r, row) for r in receivers):
            continue
        reg_ids = {id(c) for c, _ in regs}
        steps = []
        for call in _main_path_calls(fn.body):
            callee = callee_of(call.func)
            if id(call) in reg_ids or not_a_step(callee) or is_db_call(callee):
                continue
            steps.append(call)
        activities = [c for c in steps if last_part(callee_of(c.func)) in cv.ACTIVITY_CALLS]
        if activities:
            steps = activities
        if not steps:
            continue
        shapes = []
        for call in steps:
            cf = call_fact(call, None)
            shapes.append(StepShape(call.lineno, cf.runs or cf.callee, literal=cf.literal, args=cf.args))
        registrations = tuple(Call(c.lineno, callee_of(c.func), runs=reference(c.args[0])) for c, _ in regs)
        return SagaShape("compensation-list", qual, fn.lineno, fn.end_lineno or fn.lineno, qual, row.label,
                         tuple(shapes), (), registrations)
    return None


def declared_calls(own, qual: str) -> list[SagaShape]:
    rows = _CALL_ROWS
    if not any(isinstance(n, ast.Call) and isinstance(n.func, (ast.Attribute, ast.Name))
               and (getattr(n.func, "attr", None) or getattr(n.func, "id", None)) in rows for n, _ in own):
        return []
    parents = {id(n): p for n, p in own}
    assigned = {}
    for n, _ in own:
        if isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None:
            t = n.targets[0] if isinstance(n, ast.Assign) else n.target
            if dotted(t):
                assigned[id(n.value)] = dotted(t)
    consumed: set[int] = set()
    groups: dict[tuple, dict] = {}
    for n, parent in own:
        if not isinstance(n, ast.Call) or id(n) in consumed:
            continue
        chain = unroll(n)
        consumed.update(id(c) for c in chain)
        steps: list[StepShape] = []
        labels = []
        evidence = []      # per step: "strong", "generic" (a positional pair on a common name) or ""
        for c in chain:
            name = last_part(callee_of(c.func)) if callee_of(c.func) else ""
            if name in rows:
                row = rows[name]
                found = _pair_step(c, row)
                if found is not None:
                    step, how = found
                    steps.append(step)
                    labels.append(row.label)
                    evidence.append(how)
            elif name in cv.CHAIN_MODIFIERS and steps and c.args and not steps[-1].compensation:
                ref = reference(c.args[0])
                if ref:
                    s = steps[-1]
                    steps[-1] = StepShape(s.line, s.action, ref, c.lineno, s.pivot, s.name, s.literal, s.args)
                    evidence[-1] = "strong"
        if not steps:
            continue
        key, name = _group(n, chain, parents, assigned, qual)
        if key[0] not in _BUILDER_KEYS:
            evidence = ["strong" if e == "strong" else "" for e in evidence]
        g = groups.setdefault(key, {"key": key, "name": name, "steps": [], "labels": [], "evidence": [], "line": n.lineno,
                                    "end": n.end_lineno or n.lineno})
        g["steps"].extend(steps)
        g["labels"].extend(labels)
        g["evidence"].extend(evidence)
        g["end"] = max(g["end"], n.end_lineno or n.lineno)
    out = []
    sagas = [g for g in groups.values() if "strong" in g["evidence"]
             or ("generic" in g["evidence"] and len(g["steps"]) >= 2 and key_is_builder(g))]
    for g in sagas:
        steps = sorted(g["steps"], key=lambda s: s.line)
        label = ", ".join(sorted(set(g["labels"])))
        name = qual if qual and len(sagas) == 1 else g["name"]   # the function, if it holds one saga
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]                     # steps built in a constructor
        out.append(SagaShape("declared", name, g["line"], g["end"], qual, label, tuple(steps)))
    return out


def declared_decorators(body: list[ast.stmt], qual: str, kind: str) -> list[SagaShape]:
    step_rows = {n: r for r in cv.PAIR_CONVENTIONS if r.form == "step-decorator" for n in r.names}
    comp_rows = {n: r for r in cv.PAIR_CONVENTIONS if r.form == "compensation-decorator" for n in r.names}
    defs = [st for st in body if isinstance(st, FUNCS)]
    methods = {d.name for d in defs}

    def ref(name: str) -> str:
        if kind == "class" and name in methods:
            return f"{qual}.{name}"
        return name

    steps: list[StepShape] = []
    by_name: dict[str, int] = {}
    labels = set()
    late: list[tuple[str, str, int]] = []     # (step name, compensation ref, line)
    for d in defs:
        for dec in d.decorator_list:
            call = dec if isinstance(dec, ast.Call) else None
            name = last_part(dotted(call.func if call else dec))
            if name in step_rows:
                comp, pivot, declared = "", False, ""
                if call is not None:
                    c = keyword(call, cv.COMPENSATION_KEYWORDS)
                    comp = reference(c) if c is not None else ""
                    p = keyword(call, cv.PIVOT_KEYWORDS)
                    pivot = isinstance(p, ast.Constant) and p.value is True
                    n = keyword(call, cv.NAME_KEYWORDS) or (call.args[0] if call.args else None)
                    declared = string_of(n)
                step = StepShape(dec.lineno, ref(d.name), ref(comp) if comp else "",
                                 dec.lineno if comp else 0, pivot, declared or d.name)
                by_name[d.name] = by_name[declared or d.name] = len(steps)
                steps.append(step)
                labels.add(step_rows[name].label)
                break
            if name in comp_rows and call is not None:
                target = call.args[0] if call.args else keyword(call, cv.STEP_KEYWORDS)
                target_name = last_part(reference(target)) if target is not None else ""
                if target_name:
                    late.append((target_name, ref(d.name), dec.lineno))
                    labels.add(comp_rows[name].label)
                break
    for target, comp, line in late:
        i = by_name.get(target)
        if i is not None and not steps[i].compensation:
            s = steps[i]
            steps[i] = StepShape(s.line, s.action, comp, line, s.pivot, s.name)
    if not steps or not any(s.compensation for s in steps):
        return []
    name = qual or "(module)"
    line = min(s.line for s in steps)
    end = max(max(s.line, s.compensation_line) for s in steps)
    return [SagaShape("declared", name, line, end, "", ", ".join(sorted(labels)), tuple(steps))]


def _next_check(stmts: list[ast.stmt], i: int, var: str) -> Optional[ast.If]:
    """The first ``if`` after statement i that tests ``var``, before the next call statement."""
    for st in stmts[i + 1:]:
        if isinstance(st, ast.If):
            if var in names_in(st.test):
                return st
            return None
        sc = statement_call(st)
        if sc is not None and not is_trivial(callee_of(sc[0].func)):
            return None
    return None


def _main_path_calls(body: list[ast.stmt]) -> list[ast.Call]:
    """Statement-level calls in order, through try/with/if/loop bodies but not except handlers
    or finally blocks (that is where compensations run)."""
    out = []
    for st in body:
        if isinstance(st, TRY):
            out.extend(_main_path_calls(st.body))
            out.extend(_main_path_calls(st.orelse))
        elif isinstance(st, (*WITH, ast.For, ast.AsyncFor, ast.While)):
            out.extend(_main_path_calls(st.body))
        elif isinstance(st, ast.If):
            out.extend(c for c in ast.walk(st.test) if isinstance(c, ast.Call))
            out.extend(_main_path_calls(st.body))
            out.extend(_main_path_calls(st.orelse))
        else:
            out.extend(_calls_of_statement(st))
    return out


def _calls_of_statement(st: ast.stmt) -> list[ast.Call]:
    """The calls a simple statement makes as units of work: its call (``[x =] [await] f()``),
    else the awaited calls inside it (``out += " " + await execute_activity(...)``)."""
    sc = statement_call(st)
    if sc is not None:
        return [sc[0]]
    value = getattr(st, "value", None) if isinstance(st, (ast.AugAssign, ast.Return, ast.Assign, ast.Expr)) else None
    if value is None:
        return []
    return [n.value for n in ast.walk(value) if isinstance(n, ast.Await) and isinstance(n.value, ast.Call)]


def _runs_compensations(fn, own, receiver: str, row: cv.RegistrationConvention) -> bool:
    """Does a failure branch run the registered compensations? A loop over reversed(x) or
    x[::-1] (or ``while x: x.pop()``) that calls each item or hands it to a call
    (execute_activity(c, ...)), in an except handler, a finally block or an if body; or, in an
    except handler or finally block, x.compensate() or x handed to a compensate/rollback helper."""
    for block, strict in _failure_blocks(fn):
        for n, _ in own_nodes(block):
            if isinstance(n, (ast.For, ast.AsyncFor)) and _reversed_iter(n.iter, receiver) \
                    and _invokes(n.body, _target_names(n.target)):
                return True
            if isinstance(n, ast.While) and dotted(n.test) == receiver and _invokes_pop(n, receiver):
                return True
            if strict and isinstance(n, ast.Call):
                callee = callee_of(n.func)
                if receiver_of(callee) == receiver and last_part(callee) in row.runners:
                    return True
                if any(dotted(a) == receiver for a in n.args) and cv.RUNNER_HELPER.search(last_part(callee)):
                    return True
    return False


def _failure_blocks(fn) -> list[tuple[list[ast.stmt], bool]]:
    """(block, strict): except handlers and finally blocks are strict, if bodies are not."""
    blocks = []
    for n, _ in own_nodes(fn.body):
        if isinstance(n, TRY):
            blocks.extend((h.body, True) for h in n.handlers)
            if n.finalbody:
                blocks.append((n.finalbody, True))
        elif isinstance(n, ast.If):
            blocks.append((n.body, False))
    return blocks


def _invokes_pop(loop: ast.While, receiver: str) -> bool:
    """``while x: x.pop()()`` or ``while x: c = x.pop(); await c()``."""
    popped = set()
    for n in ast.walk(loop):
        if isinstance(n, ast.Call) and callee_of(n.func) == f"{receiver}.pop":
            popped.add(id(n))
    for n in ast.walk(loop):
        if isinstance(n, ast.Call) and id(n.func) in popped:
            return True
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and id(n.value) in popped:
            if _invokes(loop.body, _target_names(n.targets[0])):
                return True
    return False


def _reversed_iter(it: ast.expr, receiver: str) -> bool:
    if isinstance(it, ast.Call) and callee_of(it.func) == "reversed" and it.args:
        return dotted(it.args[0]) == receiver
    if isinstance(it, ast.Subscript) and dotted(it.value) == receiver and isinstance(it.slice, ast.Slice):
        step = it.slice.step
        return isinstance(step, ast.UnaryOp) and isinstance(step.op, ast.USub)
    return False


def _target_names(target: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _invokes(body: list[ast.stmt], names: set[str]) -> bool:
    """Is one of ``names`` called, or handed as the first argument to a call, in ``body``?"""
    for n in (m for st in body for m in ast.walk(st)):
        if isinstance(n, ast.Call):
            f = n.func
            while isinstance(f, ast.Subscript):      # c[0](*c[1])
                f = f.value
            if isinstance(f, ast.Name) and f.id in names:
                return True
            if n.args and isinstance(n.args[0], ast.Name) and n.args[0].id in names:
                return True
    return False


_BUILDER_KEYS = ("var", "chain", "list")


def key_is_builder(group: dict) -> bool:
    """Steps collected on one builder, chain or list (not loose calls in a function)."""
    return group["key"][0] in _BUILDER_KEYS


_FUNCTION_LIKE = (ast.Name, ast.Attribute, ast.Lambda, ast.Call)


def _pair_step(call: ast.Call, row: cv.PairConvention) -> Optional[tuple[StepShape, str]]:
    """The step a ``call``-form convention declares (action, compensation, pivot, name), and how
    sure the compensation is: "strong" (a keyword, or a saga-specific name), "generic" (a
    positional pair on a common name such as step or action), "" (none)."""
    bare = isinstance(call.func, ast.Name) and call.func.id[:1].islower()   # step(a, b), not Step(a, b)
    args = list(call.args)
    name = ""
    if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
        name = args.pop(0).value
    nk = keyword(call, cv.NAME_KEYWORDS)
    if nk is not None:
        name = string_of(nk) or name
    action = keyword(call, cv.ACTION_KEYWORDS)
    if action is None and args:
        action = args[0]
    comp = keyword(call, cv.COMPENSATION_KEYWORDS)
    how = "strong" if comp is not None else ""
    if comp is None and len(args) > 1 and not row.needs_keyword and not (row.generic and bare):
        if isinstance(args[1], _FUNCTION_LIKE) or (isinstance(args[1], ast.Constant) and args[1].value is None):
            comp = args[1]
            how = "generic" if row.generic else "strong"
    if action is None and how == "strong":
        action_ref = ""        # SyncStep(name="reject_order", compensation=...): undoes work done before
    elif not isinstance(action, _FUNCTION_LIKE):
        return None
    else:
        action_ref = reference(action)
        if not action_ref:
            return None
    comp_ref = reference(comp) if comp is not None and not (
        isinstance(comp, ast.Constant) and comp.value is None) else ""
    if not comp_ref:
        how = ""           # None or lambda: None - an explicit "no compensation"
    p = keyword(call, cv.PIVOT_KEYWORDS)
    pivot = isinstance(p, ast.Constant) and p.value is True
    literal = ""
    inner = action.body if isinstance(action, ast.Lambda) else action
    if inner is None:
        return StepShape(call.lineno, "", comp_ref, call.lineno if comp_ref else 0, pivot, name), how
    if isinstance(inner, ast.Await):
        inner = inner.value
    if isinstance(inner, ast.Call) and inner.args:
        literal = string_of(inner.args[0])
    return StepShape(call.lineno, action_ref, comp_ref, call.lineno if comp_ref else 0, pivot, name, literal), how


def _group(call: ast.Call, chain: list[ast.Call], parents: dict, assigned: dict, qual: str) -> tuple[tuple, str]:
    """Which saga a declared step belongs to, and that saga's name."""
    parent = parents.get(id(call))
    if isinstance(parent, (ast.List, ast.Tuple)):
        holder = parents.get(id(parent))
        name = assigned.get(id(parent), "")
        if not name and isinstance(holder, ast.keyword) and holder.arg:
            name = holder.arg
        return ("list", id(parent)), _qualify(qual, name)
    if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute) and call in parent.args:
        recv = dotted(parent.func.value)       # steps.append(SagaStep(...)), saga.add(Step(...))
        if recv:
            return ("var", recv), _qualify(qual, recv)
        outer = parent                         # Pipeline().then(Step(...)).then(Step(...))
        while isinstance(parents.get(id(outer)), ast.Attribute) and isinstance(
                parents.get(id(parents.get(id(outer)))), ast.Call):
            outer = parents.get(id(parents.get(id(outer))))
        return ("chain", id(outer)), _qualify(qual, assigned.get(id(outer), ""))
    if id(call) in assigned:
        return ("var", assigned[id(call)]), _qualify(qual, assigned[id(call)])
    root = chain[0].func.value if isinstance(chain[0].func, ast.Attribute) else None
    if root is not None and dotted(root) and not dotted(root)[:1].isupper():
        return ("var", dotted(root)), _qualify(qual, dotted(root))
    return ("chain", id(call)), qual or "(module)"


def _qualify(qual: str, name: str) -> str:
    if not name:
        return qual or "(module)"
    return f"{qual}.{name}" if qual else name
