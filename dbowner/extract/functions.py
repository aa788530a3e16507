"""Python structure for the saga and dual-write rules: one walk over the tree python.py parsed.

Per file it records imports, classes and functions (the calls each makes, broker publishes, ORM
writes, ``if`` tests on call results, ``except IntegrityError`` blocks) and saga-shaped
constructs: orchestrator functions, compensation lists and declared step/compensation pairs. The
shapes it knows are the rows of ``conventions.py``. Nothing here resolves names across files or
judges anything; ``dbowner.sagas`` does that.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Optional

from ..codefacts import (
    Call, ClassInfo, CodeFacts, FailurePath, FunctionFacts, Gate, Import, OrmWrite, Publish,
    SagaShape, StepShape,
)
from . import conventions as cv

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_TRY = tuple(t for t in (ast.Try, getattr(ast, "TryStar", None)) if t is not None)
_WITH = (ast.With, ast.AsyncWith)
_SHORT = 60
_MAX_ARGS = 4
_ROWCOUNT_ZERO = re.compile(r"^(UPDATE|DELETE|INSERT 0) 0$")


def collect_code(tree: ast.Module) -> CodeFacts:
    """Structure facts of one parsed module."""
    c = _Collector()
    c.scope(tree.body, "", "module")
    return CodeFacts(
        imports=tuple(c.imports), classes=tuple(c.classes),
        functions=tuple(sorted(c.functions, key=lambda f: (f.line, f.name))),
        sagas=tuple(sorted(c.sagas, key=lambda s: (s.line, s.name))),
    )


# --------------------------------------------------------------------------- small helpers

def dotted(node: Optional[ast.AST]) -> str:
    """``a.b.c`` for a chain of names and attributes, else ""."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _text(node: ast.AST, limit: int = _SHORT) -> str:
    try:
        s = ast.unparse(node)
    except Exception:  # pragma: no cover - unparse of a parsed tree should not fail
        return type(node).__name__
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _callee(func: ast.expr) -> str:
    d = dotted(func)
    if d:
        return d
    if isinstance(func, ast.Attribute):   # get_session().add, self.x[0].send
        return _text(func.value, 40) + "." + func.attr
    return ""


def last_part(callee: str) -> str:
    return callee.rsplit(".", 1)[-1]


def receiver_of(callee: str) -> str:
    return callee.rsplit(".", 1)[0] if "." in callee else ""


def _string(node: Optional[ast.AST]) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return ""


def reference(node: Optional[ast.AST]) -> str:
    """The function an argument refers to: ``f``, ``self.f``, ``Cls.f``, ``"name"``,
    ``lambda: f(x)``, ``partial(f, x)``, ``(f, args)``, ``lambda: execute_activity(f, ...)``."""
    if node is None:
        return ""
    d = dotted(node)
    if d:
        return d
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Lambda):
        body = node.body
        if isinstance(body, ast.Await):
            body = body.value
        return reference(body) if isinstance(body, ast.Call) else ""
    if isinstance(node, ast.Call):
        callee = _callee(node.func)
        if last_part(callee) in cv.ACTIVITY_CALLS and node.args:
            return reference(node.args[0])
        return callee
    if isinstance(node, (ast.Tuple, ast.List)) and node.elts:
        return reference(node.elts[0])
    if isinstance(node, ast.Await):
        return reference(node.value)
    return ""


def _runs(call: ast.Call, callee: str) -> str:
    if last_part(callee) in cv.ACTIVITY_CALLS:
        arg = call.args[0] if call.args else _keyword(call, ("activity", "workflow", "func", "fn"))
        return reference(arg)
    return ""


def _keyword(call: ast.Call, names) -> Optional[ast.expr]:
    for k in call.keywords:
        if k.arg in names:
            return k.value
    return None


def _exits(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], (ast.Return, ast.Raise))


def _own(nodes: list[ast.AST]) -> Iterator[tuple[ast.AST, Optional[ast.AST]]]:
    """(node, parent) for everything under ``nodes`` in source order, not entering nested
    functions, classes or lambda bodies (their code runs elsewhere). Leaves that can hold no call
    (names, constants, operators) are skipped."""
    stack: list[tuple[ast.AST, Optional[ast.AST]]] = [(n, None) for n in reversed(nodes)]
    fields = _FIELDS
    while stack:
        node, parent = stack.pop()
        yield node, parent
        t = type(node)
        if t in _NO_DESCENT:
            continue
        start = len(stack)
        for name in fields.get(t, ()):
            v = getattr(node, name, None)
            if type(v) is list:
                for x in v:
                    if type(x) in fields:
                        stack.append((x, node))
            elif type(v) in fields:
                stack.append((v, node))
        if len(stack) - start > 1:
            stack[start:] = stack[start:][::-1]


def _node_types(cls) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_node_types(sub))
    return out


_LEAVES = (ast.Constant, ast.Name, ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop,
           ast.alias, ast.Pass, ast.Break, ast.Continue, ast.Global, ast.Nonlocal)
# node type -> fields that can hold nodes worth visiting
_FIELDS = {t: tuple(f for f in t._fields if f not in ("ctx", "op", "type_comment"))
           for t in _node_types(ast.AST) if not issubclass(t, _LEAVES) and t._fields is not None}
for _leaf in (ast.Import, ast.ImportFrom):
    _FIELDS[_leaf] = ()
_NO_DESCENT = frozenset({*_DEFS, ast.Lambda, ast.Import, ast.ImportFrom})


class _Parents:
    """Parent of a node, built on first use (only ORM ``.values(...)`` chains ask)."""

    def __init__(self, own: list) -> None:
        self._own = own
        self._map: Optional[dict[int, Optional[ast.AST]]] = None

    def get(self, node_id: int) -> Optional[ast.AST]:
        if self._map is None:
            self._map = {id(n): p for n, p in self._own}
        return self._map.get(node_id)


def _is_trivial(callee: str) -> bool:
    """Logging, metrics, value methods, constructors: never a saga step or compensation."""
    if not callee:
        return True
    last = last_part(callee)
    if "." not in callee and callee in cv.TRIVIAL_BUILTINS:
        return True
    if last in cv.TRIVIAL_FUNCTIONS or last in cv.VALUE_METHODS:
        return True
    if last[:1].isupper():
        return True
    recv = receiver_of(callee)
    return bool(recv) and cv.TRIVIAL_RECEIVER.search(recv) is not None


def is_db_call(callee: str) -> bool:
    return last_part(callee) in cv.DB_METHODS and cv.DB_RECEIVER.search(receiver_of(callee)) is not None


def _not_a_step(callee: str) -> bool:
    return (_is_trivial(callee) or cv.BOOKKEEPING.search(callee) is not None
            or any(last_part(callee) in r.methods for r in cv.REGISTRATION_CONVENTIONS))


def _statement_call(st: ast.stmt) -> Optional[tuple[ast.Call, bool, str]]:
    """(call, awaited, variable bound to its result) of ``[x =] [await] f(...)``."""
    value, var = None, ""
    if isinstance(st, ast.Expr):
        value = st.value
    elif isinstance(st, ast.Assign) and len(st.targets) == 1:
        value = st.value
        if isinstance(st.targets[0], ast.Name):
            var = st.targets[0].id
    elif isinstance(st, ast.AnnAssign) and st.value is not None:
        value = st.value
        if isinstance(st.target, ast.Name):
            var = st.target.id
    awaited = isinstance(value, ast.Await)
    if awaited:
        value = value.value
    if isinstance(value, ast.Call):
        return value, awaited, var
    return None


def _names(node: ast.AST) -> set[str]:
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
        elif isinstance(n, ast.keyword) and n.arg:
            out.add(n.arg)
    return out


def _polarity(test: ast.expr) -> str:
    """"found" when the test is true if the call returned something, "missing" for the
    opposite, "" when it cannot be told."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _polarity(test.operand)
        return {"found": "missing", "missing": "found"}.get(inner, "")
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        op, right = test.ops[0], test.comparators[0]
        if isinstance(right, ast.Constant):
            v = right.value
            empty = v is None or v == 0 or (isinstance(v, str) and _ROWCOUNT_ZERO.match(v) is not None)
            if empty and isinstance(op, (ast.Is, ast.Eq)):
                return "missing"
            if empty and isinstance(op, (ast.IsNot, ast.NotEq, ast.Gt)):
                return "found"
        return ""
    if isinstance(test, (ast.Name, ast.Attribute, ast.Call, ast.Await)):
        return "found"
    return ""


# --------------------------------------------------------------------------- the collector

class _Collector:
    def __init__(self) -> None:
        self.imports: list[Import] = []
        self.classes: list[ClassInfo] = []
        self.functions: list[FunctionFacts] = []
        self.sagas: list[SagaShape] = []

    # ------------------------------------------------------------------ scopes
    def scope(self, body: list[ast.stmt], qual: str, kind: str, node: Optional[ast.AST] = None) -> None:
        own = list(_own(body))
        for n, _ in own:
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                self._import(n)
        if kind == "function":
            self.functions.append(self._function(node, qual, own))
            saga = self._compensation_list(node, qual, own) or self._orchestrator(node, qual)
            if saga is not None:
                self.sagas.append(saga)
        self.sagas.extend(self._declared_calls(own, qual))
        if kind in ("module", "class"):
            self.sagas.extend(self._declared_decorators(body, qual, kind))
        for n, _ in own:
            if isinstance(n, _DEFS):
                child = f"{qual}.{n.name}" if qual else n.name
                if isinstance(n, ast.ClassDef):
                    self.classes.append(ClassInfo(child, n.lineno, tuple(d for d in map(dotted, n.bases) if d)))
                    self.scope(n.body, child, "class", n)
                else:
                    self.scope(n.body, child, "function", n)

    def _import(self, node) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    self.imports.append(Import(a.asname, a.name))
                else:   # import a.b.c binds a
                    top = a.name.split(".")[0]
                    self.imports.append(Import(top, top))
                    if "." in a.name:
                        self.imports.append(Import(a.name, a.name))
        else:
            for a in node.names:
                if a.name != "*":
                    self.imports.append(Import(a.asname or a.name, node.module or "", a.name, node.level or 0))

    # ------------------------------------------------------------------ calls
    def _call(self, node: ast.Call, parent: Optional[ast.AST], in_exit: bool = False,
              with_args: bool = True) -> Call:
        callee = _callee(node.func)
        first = node.args[0] if node.args else _keyword(node, ("url", "subject", "topic", "name"))
        return Call(
            line=node.lineno, callee=callee, awaited=isinstance(parent, ast.Await),
            runs=_runs(node, callee), literal=_string(first),
            args=tuple(_text(a) for a in node.args[:_MAX_ARGS]) if with_args else (), in_exit=in_exit,
        )

    def _calls_in(self, body: list[ast.stmt]) -> tuple[Call, ...]:
        """Calls in a block, in order, marking those inside a return/raise expression."""
        exits: set[int] = set()
        out = []
        for n, parent in _own(body):
            if isinstance(n, (ast.Return, ast.Raise)):
                exits.update(id(x) for x in ast.walk(n))
            if isinstance(n, ast.Call):
                out.append(self._call(n, parent, id(n) in exits))
        return tuple(out)

    # ------------------------------------------------------------------ one function
    def _function(self, fn, qual: str, own) -> FunctionFacts:
        calls: list[Call] = []
        publishes: list[Publish] = []
        writes: list[OrmWrite] = []
        gates: list[Gate] = []
        catches: list[tuple[int, int]] = []
        assigns: dict[str, list[tuple[int, ast.expr]]] = {}
        augmented: list[OrmWrite] = []
        persists = False
        parents = _Parents(own)
        for n, parent in own:
            if isinstance(n, ast.Call):
                cf = self._call(n, parent, with_args=False)   # arguments only matter for saga steps
                if cf.runs or not _is_trivial(cf.callee):      # logging, builtins: never followed
                    calls.append(cf)
                pub = _publish(n, cf.callee)
                if pub:
                    publishes.append(Publish(n.lineno, cf.callee, pub))
                w = _orm_write(n, cf.callee, assigns, parents)
                if w:
                    writes.append(w)
                if last_part(cf.callee) in cv.PERSIST_CALLS:
                    persists = True
            elif isinstance(n, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                value = n.value
                if value is None:
                    continue
                for t in targets:
                    if isinstance(t, ast.Name):
                        assigns.setdefault(t.id, []).append((n.lineno, value))
                    elif isinstance(t, ast.Attribute) and _f_reads(value, t.attr):
                        writes.append(OrmWrite(n.lineno, "update_relative", _text(n), dotted(t.value),
                                               (t.attr,)))
            elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Attribute) \
                    and isinstance(n.op, (ast.Add, ast.Sub)):
                base = dotted(n.target.value)
                if base and base.split(".")[0] not in ("self", "cls"):
                    augmented.append(OrmWrite(n.lineno, "augassign", _text(n), base, (n.target.attr,)))
            elif isinstance(n, ast.If):
                g = _gate(n, assigns)
                if g:
                    gates.append(g)
            elif isinstance(n, _TRY):
                for h in n.handlers:
                    caught = {last_part(dotted(t)) for t in ([h.type] if not isinstance(h.type, ast.Tuple)
                                                            else h.type.elts)} if h.type is not None else set()
                    if caught & cv.UNIQUE_VIOLATIONS and n.body:
                        catches.append((n.body[0].lineno, n.body[-1].end_lineno or n.body[-1].lineno))
        if persists:
            writes.extend(augmented)
        writes.sort(key=lambda w: w.line)
        return FunctionFacts(
            name=qual, line=fn.lineno, end_line=fn.end_lineno or fn.lineno,
            is_async=isinstance(fn, ast.AsyncFunctionDef),
            decorators=tuple(_text(d, 80) for d in fn.decorator_list),
            calls=tuple(calls), publishes=tuple(publishes), orm_writes=tuple(writes), gates=tuple(gates),
            unique_catches=tuple(sorted(set(catches))),
            params=tuple(a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)),
        )

    # ------------------------------------------------------------------ orchestrators
    def _orchestrator(self, fn, qual: str) -> Optional[SagaShape]:
        """Sequential calls, each followed by a failure check (an ``if`` on its result that
        returns or raises, or an ``except`` around it). Whether a failure path compensates an
        earlier step is decided after resolution; here it is a candidate."""
        steps: list[StepShape] = []
        paths: list[FailurePath] = []
        index: dict[int, int] = {}

        def path(kind: str, node, body) -> int:
            if id(node) not in index:
                paths.append(FailurePath(node.lineno, node.end_lineno or node.lineno, kind, self._calls_in(body)))
                index[id(node)] = len(paths) - 1
            return index[id(node)]

        def add(call: ast.Call, fps: tuple[int, ...]) -> None:
            cf = self._call(call, None)
            steps.append(StepShape(call.lineno, cf.runs or cf.callee, literal=cf.literal, args=cf.args,
                                   failure_paths=fps))

        def walk(stmts: list[ast.stmt], handlers: tuple[int, ...]) -> None:
            for i, st in enumerate(stmts):
                if isinstance(st, _TRY):
                    hp = tuple(path("except", h, h.body) for h in st.handlers)
                    walk(st.body, handlers + hp)
                    walk(st.orelse, handlers)
                    continue
                if isinstance(st, _WITH):
                    walk(st.body, handlers)
                    continue
                if isinstance(st, ast.If):
                    call = next((c for c in ast.walk(st.test) if isinstance(c, ast.Call)
                                 and not _not_a_step(_callee(c.func))), None)
                    if call is not None and _exits(st.body):
                        add(call, (path("if", st, st.body),) + handlers)
                    continue
                sc = _statement_call(st)
                if sc is None:
                    continue
                call, _, var = sc
                callee = _callee(call.func)
                if _not_a_step(callee):
                    continue
                own_path: tuple[int, ...] = ()
                check = _next_check(stmts, i, var) if var else None
                if check is not None and _exits(check.body):
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

    # ------------------------------------------------------------------ compensation lists
    def _compensation_list(self, fn, qual: str, own) -> Optional[SagaShape]:
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
                callee = _callee(call.func)
                if id(call) in reg_ids or _not_a_step(callee) or is_db_call(callee):
                    continue
                steps.append(call)
            activities = [c for c in steps if last_part(_callee(c.func)) in cv.ACTIVITY_CALLS]
            if activities:
                steps = activities
            if not steps:
                continue
            shapes = []
            for call in steps:
                cf = self._call(call, None)
                shapes.append(StepShape(call.lineno, cf.runs or cf.callee, literal=cf.literal, args=cf.args))
            registrations = tuple(Call(c.lineno, _callee(c.func), runs=reference(c.args[0])) for c, _ in regs)
            return SagaShape("compensation-list", qual, fn.lineno, fn.end_lineno or fn.lineno, qual, row.label,
                             tuple(shapes), (), registrations)
        return None

    # ------------------------------------------------------------------ declared pairs (calls)
    def _declared_calls(self, own, qual: str) -> list[SagaShape]:
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
            chain = _unroll(n)
            consumed.update(id(c) for c in chain)
            steps: list[StepShape] = []
            labels = []
            evidence = []      # per step: "strong", "generic" (a positional pair on a common name) or ""
            for c in chain:
                name = last_part(_callee(c.func)) if _callee(c.func) else ""
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

    # ------------------------------------------------------------------ declared pairs (decorators)
    def _declared_decorators(self, body: list[ast.stmt], qual: str, kind: str) -> list[SagaShape]:
        step_rows = {n: r for r in cv.PAIR_CONVENTIONS if r.form == "step-decorator" for n in r.names}
        comp_rows = {n: r for r in cv.PAIR_CONVENTIONS if r.form == "compensation-decorator" for n in r.names}
        defs = [st for st in body if isinstance(st, _FUNCS)]
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
                        c = _keyword(call, cv.COMPENSATION_KEYWORDS)
                        comp = reference(c) if c is not None else ""
                        p = _keyword(call, cv.PIVOT_KEYWORDS)
                        pivot = isinstance(p, ast.Constant) and p.value is True
                        n = _keyword(call, cv.NAME_KEYWORDS) or (call.args[0] if call.args else None)
                        declared = _string(n)
                    step = StepShape(dec.lineno, ref(d.name), ref(comp) if comp else "",
                                     dec.lineno if comp else 0, pivot, declared or d.name)
                    by_name[d.name] = by_name[declared or d.name] = len(steps)
                    steps.append(step)
                    labels.add(step_rows[name].label)
                    break
                if name in comp_rows and call is not None:
                    target = call.args[0] if call.args else _keyword(call, cv.STEP_KEYWORDS)
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


# --------------------------------------------------------------------------- module-level helpers

def _next_check(stmts: list[ast.stmt], i: int, var: str) -> Optional[ast.If]:
    """The first ``if`` after statement i that tests ``var``, before the next call statement."""
    for st in stmts[i + 1:]:
        if isinstance(st, ast.If):
            if var in _names(st.test):
                return st
            return None
        sc = _statement_call(st)
        if sc is not None and not _is_trivial(_callee(sc[0].func)):
            return None
    return None


def _main_path_calls(body: list[ast.stmt]) -> list[ast.Call]:
    """Statement-level calls in order, through try/with/if/loop bodies but not except handlers
    or finally blocks (that is where compensations run)."""
    out = []
    for st in body:
        if isinstance(st, _TRY):
            out.extend(_main_path_calls(st.body))
            out.extend(_main_path_calls(st.orelse))
        elif isinstance(st, (*_WITH, ast.For, ast.AsyncFor, ast.While)):
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
    sc = _statement_call(st)
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
        for n, _ in _own(block):
            if isinstance(n, (ast.For, ast.AsyncFor)) and _reversed_iter(n.iter, receiver) \
                    and _invokes(n.body, _target_names(n.target)):
                return True
            if isinstance(n, ast.While) and dotted(n.test) == receiver and _invokes_pop(n, receiver):
                return True
            if strict and isinstance(n, ast.Call):
                callee = _callee(n.func)
                if receiver_of(callee) == receiver and last_part(callee) in row.runners:
                    return True
                if any(dotted(a) == receiver for a in n.args) and cv.RUNNER_HELPER.search(last_part(callee)):
                    return True
    return False


def _failure_blocks(fn) -> list[tuple[list[ast.stmt], bool]]:
    """(block, strict): except handlers and finally blocks are strict, if bodies are not."""
    blocks = []
    for n, _ in _own(fn.body):
        if isinstance(n, _TRY):
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
        if isinstance(n, ast.Call) and _callee(n.func) == f"{receiver}.pop":
            popped.add(id(n))
    for n in ast.walk(loop):
        if isinstance(n, ast.Call) and id(n.func) in popped:
            return True
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and id(n.value) in popped:
            if _invokes(loop.body, _target_names(n.targets[0])):
                return True
    return False


def _reversed_iter(it: ast.expr, receiver: str) -> bool:
    if isinstance(it, ast.Call) and _callee(it.func) == "reversed" and it.args:
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


def _unroll(call: ast.Call) -> list[ast.Call]:
    """The calls of a method chain, first to last: a().b(x).c(y) -> [a(), .b(x), .c(y)]."""
    chain = [call]
    node = call
    while isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call):
        node = node.func.value
        chain.append(node)
    chain.reverse()
    return chain


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
    nk = _keyword(call, cv.NAME_KEYWORDS)
    if nk is not None:
        name = _string(nk) or name
    action = _keyword(call, cv.ACTION_KEYWORDS)
    if action is None and args:
        action = args[0]
    comp = _keyword(call, cv.COMPENSATION_KEYWORDS)
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
    p = _keyword(call, cv.PIVOT_KEYWORDS)
    pivot = isinstance(p, ast.Constant) and p.value is True
    literal = ""
    inner = action.body if isinstance(action, ast.Lambda) else action
    if inner is None:
        return StepShape(call.lineno, "", comp_ref, call.lineno if comp_ref else 0, pivot, name), how
    if isinstance(inner, ast.Await):
        inner = inner.value
    if isinstance(inner, ast.Call) and inner.args:
        literal = _string(inner.args[0])
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


def _gate(node: ast.If, assigns: dict[str, list[tuple[int, ast.expr]]]) -> Optional[Gate]:
    calls = [c for c in ast.walk(node.test) if isinstance(c, ast.Call)]
    for name in sorted(_names(node.test)):
        earlier = [v for line, v in assigns.get(name, []) if line < node.lineno]
        if earlier:
            calls.extend(c for c in ast.walk(earlier[-1]) if isinstance(c, ast.Call))
    if not calls:
        return None
    names = set()
    for c in calls:
        names |= _names(c)
    body = node.body
    return Gate(
        line=node.lineno, end_line=node.end_lineno or node.lineno, exits=_exits(body),
        body_start=body[0].lineno, body_end=body[-1].end_lineno or body[-1].lineno,
        polarity=_polarity(node.test), call_lines=tuple(sorted({c.lineno for c in calls})),
        names=tuple(sorted(names)),
    )


def _publish(call: ast.Call, callee: str) -> str:
    """The broker a call publishes to, by the publish conventions; "" if it is no publish."""
    last, recv = last_part(callee), receiver_of(callee).lower()
    if not recv:
        return ""
    kws = {k.arg for k in call.keywords if k.arg}
    for row in cv.PUBLISH_CONVENTIONS:
        if last not in row.methods:
            continue
        if row.not_receiver and re.search(row.not_receiver, recv):
            continue
        if row.keywords:
            if kws & row.keywords:
                return row.broker
        elif not row.receiver or re.search(row.receiver, recv):
            return row.broker
    return ""


def _f_reads(value: ast.AST, column: str) -> bool:
    """Django ``F("column")`` inside an arithmetic value: the value reads the column itself."""
    if not isinstance(value, ast.BinOp):
        return False
    for n in ast.walk(value):
        if isinstance(n, ast.Call) and last_part(dotted(n.func)) == "F" and n.args \
                and isinstance(n.args[0], ast.Constant) and n.args[0].value == column:
            return True
    return False


def _attr_reads(value: ast.AST, column: str) -> bool:
    """SQLAlchemy ``Model.column`` inside an arithmetic value."""
    return isinstance(value, ast.BinOp) and any(
        isinstance(n, ast.Attribute) and n.attr == column for n in ast.walk(value))


def _model_of(arg: Optional[ast.AST], assigns: dict) -> tuple[str, bool]:
    """(model, loaded) of what ``session.add(arg)`` persists: ``Payment(...)`` is new;
    ``order = session.get(Order, id)`` / ``Order.objects.get(...)`` was loaded (an update)."""
    if isinstance(arg, ast.Call):
        return last_part(dotted(arg.func)), False
    if isinstance(arg, ast.Name):
        for _, value in reversed(assigns.get(arg.id, [])):
            if isinstance(value, ast.Await):
                value = value.value
            if not isinstance(value, ast.Call):
                break
            callee = _callee(value.func)
            if last_part(callee)[:1].isupper():
                return last_part(callee), False
            for c in ast.walk(value):  # session.get(Order, id), session.exec(select(Order)...).one()
                if isinstance(c, ast.Call) and c.args and dotted(c.args[0])[:1].isupper():
                    return last_part(dotted(c.args[0])), True
            head = _text(value.func, 200).split(".")[0]
            return (head if head[:1].isupper() else ""), True
    return "", False


_UPSERT_CHAIN = frozenset({"on_conflict_do_nothing", "on_conflict_do_update", "on_duplicate_key_update"})
_ORM_METHODS = frozenset({"add", "add_all", "merge", "delete", "get_or_create", "update_or_create", "create",
                          "bulk_create", "update", "values", *_UPSERT_CHAIN})
_CALL_ROWS = {name: row for row in cv.PAIR_CONVENTIONS if row.form == "call" for name in row.names}


def _orm_write(call: ast.Call, callee: str, assigns: dict, parents) -> Optional[OrmWrite]:
    last = last_part(callee)
    if last not in _ORM_METHODS:
        return None
    recv = receiver_of(callee)
    text = _text(call, 80)
    func_value = call.func.value if isinstance(call.func, ast.Attribute) else None
    recv_text = _text(func_value, 200) if func_value is not None else ""
    queryset = bool(func_value is not None and cv.DJANGO_QUERYSET.search(recv_text))
    model = recv_text.split(".")[0] if queryset and recv_text[:1].isupper() else ""
    if recv and cv.SESSION_RECEIVER.search(recv):
        if last in ("add", "add_all"):
            model, loaded = _model_of(call.args[0] if call.args else None, assigns)
            return OrmWrite(call.lineno, "update" if loaded else "add", text, model)
        if last == "merge":
            return OrmWrite(call.lineno, "merge", text, _model_of(call.args[0] if call.args else None, assigns)[0])
        if last == "delete" and call.args:
            return OrmWrite(call.lineno, "delete", text)
    if last in ("get_or_create", "update_or_create"):
        return OrmWrite(call.lineno, last, text, model)
    if queryset and last in ("create", "bulk_create"):
        op = last
        if last == "bulk_create":
            if _true(_keyword(call, ("ignore_conflicts",))):
                op = "bulk_create_ignore"
            elif _true(_keyword(call, ("update_conflicts",))):
                op = "upsert"
        return OrmWrite(call.lineno, op, text, model)
    if queryset and last == "update":
        rel = tuple(k.arg for k in call.keywords if k.arg and _f_reads(k.value, k.arg))
        return OrmWrite(call.lineno, "update_relative" if rel else "update", text, model, rel)
    if queryset and last == "delete":
        return OrmWrite(call.lineno, "delete", text, model)
    if last in _UPSERT_CHAIN and any(last_part(_callee(c.func)) == "insert" for c in _unroll(call)):
        return OrmWrite(call.lineno, "upsert", text, _sa_model(call))
    if last == "values" and func_value is not None:
        kinds = [last_part(_callee(c.func)) for c in _unroll(call)]
        outer = parents.get(id(call))
        outer_call = parents.get(id(outer)) if isinstance(outer, ast.Attribute) else None
        if "update" in kinds:
            rel = tuple(k.arg for k in call.keywords if k.arg and _attr_reads(k.value, k.arg))
            return OrmWrite(call.lineno, "update_relative" if rel else "update", text, _sa_model(call), rel)
        if "insert" in kinds and not (isinstance(outer_call, ast.Call)
                                      and last_part(_callee(outer_call.func)) in _UPSERT_CHAIN):
            return OrmWrite(call.lineno, "insert", text, _sa_model(call))
    return None


def _sa_model(call: ast.Call) -> str:
    """Model of insert(Model)... / update(Model)... chains."""
    for c in _unroll(call):
        if last_part(_callee(c.func)) in ("insert", "update") and c.args:
            return last_part(dotted(c.args[0])) or _text(c.args[0], 30)
    return ""


def _true(node: Optional[ast.AST]) -> bool:
    return isinstance(node, ast.Constant) and node.value is True
