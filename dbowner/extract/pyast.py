"""Small helpers over the ``ast`` of one module, shared by the structure extractors
(functions.py, saga_shapes.py, writes.py): dotted names, references to functions, the nodes a
function body owns, and which calls are never saga steps."""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Optional

from ..codefacts import Call
from . import conventions as cv

DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
TRY = tuple(t for t in (ast.Try, getattr(ast, "TryStar", None)) if t is not None)
WITH = (ast.With, ast.AsyncWith)
_SHORT = 60
_MAX_ARGS = 4
_ROWCOUNT_ZERO = re.compile(r"^(UPDATE|DELETE|INSERT 0) 0$")


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


def text_of(node: ast.AST, limit: int = _SHORT) -> str:
    try:
        s = ast.unparse(node)
    except Exception:  # pragma: no cover - unparse of a parsed tree should not fail
        return type(node).__name__
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def callee_of(func: ast.expr) -> str:
    d = dotted(func)
    if d:
        return d
    if isinstance(func, ast.Attribute):   # get_session().add, self.x[0].send
        return text_of(func.value, 40) + "." + func.attr
    return ""


def last_part(callee: str) -> str:
    return callee.rsplit(".", 1)[-1]


def receiver_of(callee: str) -> str:
    return callee.rsplit(".", 1)[0] if "." in callee else ""


def string_of(node: Optional[ast.AST]) -> str:
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
        callee = callee_of(node.func)
        if last_part(callee) in cv.ACTIVITY_CALLS and node.args:
            return reference(node.args[0])
        return callee
    if isinstance(node, (ast.Tuple, ast.List)) and node.elts:
        return reference(node.elts[0])
    if isinstance(node, ast.Await):
        return reference(node.value)
    return ""


def runs_of(call: ast.Call, callee: str) -> str:
    if last_part(callee) in cv.ACTIVITY_CALLS:
        arg = call.args[0] if call.args else keyword(call, ("activity", "workflow", "func", "fn"))
        return reference(arg)
    return ""


def keyword(call: ast.Call, names) -> Optional[ast.expr]:
    for k in call.keywords:
        if k.arg in names:
            return k.value
    return None


def ends_in_exit(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], (ast.Return, ast.Raise))


def own_nodes(nodes: list[ast.AST]) -> Iterator[tuple[ast.AST, Optional[ast.AST]]]:
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
_NO_DESCENT = frozenset({*DEFS, ast.Lambda, ast.Import, ast.ImportFrom})


class Parents:
    """Parent of a node, built on first use (only ORM ``.values(...)`` chains ask)."""

    def __init__(self, own: list) -> None:
        self._nodes = own
        self._map: Optional[dict[int, Optional[ast.AST]]] = None

    def get(self, node_id: int) -> Optional[ast.AST]:
        if self._map is None:
            self._map = {id(n): p for n, p in self._nodes}
        return self._map.get(node_id)


def is_trivial(callee: str) -> bool:
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


def not_a_step(callee: str) -> bool:
    return (is_trivial(callee) or cv.BOOKKEEPING.search(callee) is not None
            or any(last_part(callee) in r.methods for r in cv.REGISTRATION_CONVENTIONS))


def statement_call(st: ast.stmt) -> Optional[tuple[ast.Call, bool, str]]:
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


def names_in(node: ast.AST) -> set[str]:
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
        elif isinstance(n, ast.keyword) and n.arg:
            out.add(n.arg)
    return out


def polarity(test: ast.expr) -> str:
    """"found" when the test is true if the call returned something, "missing" for the
    opposite, "" when it cannot be told."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = polarity(test.operand)
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


def call_fact(node: ast.Call, parent: Optional[ast.AST], in_exit: bool = False,
          with_args: bool = True) -> Call:
    callee = callee_of(node.func)
    first = node.args[0] if node.args else keyword(node, ("url", "subject", "topic", "name"))
    return Call(
        line=node.lineno, callee=callee, awaited=isinstance(parent, ast.Await),
        runs=runs_of(node, callee), literal=string_of(first),
        args=tuple(text_of(a) for a in node.args[:_MAX_ARGS]) if with_args else (), in_exit=in_exit,
    )


def calls_in(body: list[ast.stmt]) -> tuple[Call, ...]:
    """Calls in a block, in order, marking those inside a return/raise expression."""
    in_exit: set[int] = set()
    out = []
    for n, parent in own_nodes(body):
        if isinstance(n, (ast.Return, ast.Raise)):
            in_exit.update(id(x) for x in ast.walk(n))
        if isinstance(n, ast.Call):
            out.append(call_fact(n, parent, id(n) in in_exit))
    return tuple(out)


def unroll(call: ast.Call) -> list[ast.Call]:
    """The calls of a method chain, first to last: a().b(x).c(y) -> [a(), .b(x), .c(y)]."""
    chain = [call]
    node = call
    while isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call):
        node = node.func.value
        chain.append(node)
    chain.reverse()
    return chain
