"""Python structure for the saga and dual-write rules: one more walk over the tree python.py
parsed.

Per file: imports, classes and functions (the calls each makes, broker publishes and ORM writes
from writes.py, ``if`` tests on call results, ``except IntegrityError`` blocks) and the
saga-shaped constructs saga_shapes.py finds. The shapes known are the rows of conventions.py.
Nothing here resolves names across files or judges anything; ``dbowner.sagas`` does that.
"""
from __future__ import annotations

import ast
from typing import Optional

from ..codefacts import Call, ClassInfo, CodeFacts, FunctionFacts, Gate, Import, OrmWrite, Publish, SagaShape
from . import conventions as cv
from .pyast import (
    DEFS, TRY, Parents, call_fact, dotted, ends_in_exit, is_trivial, last_part, names_in, own_nodes, polarity,
    receiver_of, text_of,
)
from .saga_shapes import compensation_list, declared_calls, declared_decorators, orchestrator
from .writes import f_reads, loaded_model, orm_write, publish_broker


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

class _Collector:
    def __init__(self) -> None:
        self.imports: list[Import] = []
        self.classes: list[ClassInfo] = []
        self.functions: list[FunctionFacts] = []
        self.sagas: list[SagaShape] = []

    # ------------------------------------------------------------------ scopes
    def scope(self, body: list[ast.stmt], qual: str, kind: str, node: Optional[ast.AST] = None) -> None:
        own = list(own_nodes(body))
        for n, _ in own:
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                self._import(n)
        if kind == "function":
            self.functions.append(self._function(node, qual, own))
            saga = compensation_list(node, qual, own) or orchestrator(node, qual)
            if saga is not None:
                self.sagas.append(saga)
        self.sagas.extend(declared_calls(own, qual))
        if kind in ("module", "class"):
            self.sagas.extend(declared_decorators(body, qual, kind))
        for n, _ in own:
            if isinstance(n, DEFS):
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

    # ------------------------------------------------------------------ one function
    def _function(self, fn, qual: str, own) -> FunctionFacts:
        calls: list[Call] = []
        publishes: list[Publish] = []
        writes: list[OrmWrite] = []
        gates: list[Gate] = []
        catches: list[tuple[int, int]] = []
        assigns: dict[str, list[tuple[int, ast.expr]]] = {}
        augmented: list[OrmWrite] = []     # obj.x -= n: a write once something persists obj
        changed: list[OrmWrite] = []       # loaded.x = v: likewise
        persists = False
        parents = Parents(own)
        for n, parent in own:
            if isinstance(n, ast.Call):
                cf = call_fact(n, parent, with_args=False)   # arguments only matter for saga steps
                if cf.runs or not is_trivial(cf.callee):      # logging, builtins: never followed
                    calls.append(cf)
                pub = publish_broker(n, cf.callee)
                if pub:
                    publishes.append(Publish(n.lineno, cf.callee, pub))
                w = orm_write(n, cf.callee, assigns, parents)
                if w:
                    writes.append(w)
                last = last_part(cf.callee)
                if last in cv.PERSIST_CALLS or (last in cv.PERSIST_SESSION_CALLS
                                                and cv.SESSION_RECEIVER.search(receiver_of(cf.callee))):
                    persists = True
            elif isinstance(n, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                value = n.value
                if value is None:
                    continue
                for t in targets:
                    if isinstance(t, ast.Name):
                        assigns.setdefault(t.id, []).append((n.lineno, value))
                    elif isinstance(t, ast.Attribute) and f_reads(value, t.attr):
                        writes.append(OrmWrite(n.lineno, "update_relative", text_of(n), dotted(t.value),
                                               (t.attr,)))
                    elif isinstance(t, ast.Attribute) and dotted(t) and dotted(t).split(".")[0] not in ("self", "cls") \
                            and any(dotted(a) == dotted(t) for a in ast.walk(value) if isinstance(a, ast.Attribute)):
                        # obj.balance = obj.balance - amount: obj.balance -= amount spelled out
                        augmented.append(OrmWrite(n.lineno, "augassign", text_of(n), dotted(t.value), (t.attr,)))
                    elif isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name):
                        model = loaded_model(t.value.id, assigns)   # order.status = "paid"; commit()
                        if model:
                            changed.append(OrmWrite(n.lineno, "update", text_of(n), model))
            elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Attribute) \
                    and isinstance(n.op, (ast.Add, ast.Sub)):
                base = dotted(n.target.value)
                if base and base.split(".")[0] not in ("self", "cls"):
                    augmented.append(OrmWrite(n.lineno, "augassign", text_of(n), base, (n.target.attr,)))
            elif isinstance(n, ast.If):
                g = _gate(n, assigns)
                if g:
                    gates.append(g)
            elif isinstance(n, TRY):
                for h in n.handlers:
                    caught = {last_part(dotted(t)) for t in ([h.type] if not isinstance(h.type, ast.Tuple)
                                                            else h.type.elts)} if h.type is not None else set()
                    if caught & cv.UNIQUE_VIOLATIONS and n.body:
                        catches.append((n.body[0].lineno, n.body[-1].end_lineno or n.body[-1].lineno))
        if persists:
            writes.extend(augmented)
            writes.extend(changed)
        writes.sort(key=lambda w: w.line)
        return FunctionFacts(
            name=qual, line=fn.lineno, end_line=fn.end_lineno or fn.lineno,
            is_async=isinstance(fn, ast.AsyncFunctionDef),
            decorators=tuple(text_of(d, 80) for d in fn.decorator_list),
            calls=tuple(calls), publishes=tuple(publishes), orm_writes=tuple(writes), gates=tuple(gates),
            unique_catches=tuple(sorted(set(catches))),
            params=tuple(a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)),
        )


def _gate(node: ast.If, assigns: dict[str, list[tuple[int, ast.expr]]]) -> Optional[Gate]:
    calls = [c for c in ast.walk(node.test) if isinstance(c, ast.Call)]
    for name in sorted(names_in(node.test)):
        earlier = [v for line, v in assigns.get(name, []) if line < node.lineno]
        if earlier:
            calls.extend(c for c in ast.walk(earlier[-1]) if isinstance(c, ast.Call))
    if not calls:
        return None
    names = set()
    for c in calls:
        names |= names_in(c)
    body = node.body
    return Gate(
        line=node.lineno, end_line=node.end_lineno or node.lineno, exits=ends_in_exit(body),
        body_start=body[0].lineno, body_end=body[-1].end_lineno or body[-1].lineno,
        polarity=polarity(node.test), call_lines=tuple(sorted({c.lineno for c in calls})),
        names=tuple(sorted(names)),
    )
