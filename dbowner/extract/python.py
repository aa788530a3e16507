"""Python file -> FileFacts: SQL text that the code hands to a database driver.

One ``ast.parse`` and one walk; the analysed code is never imported or run. Only the argument of
a recognised database call (``execute``, ``fetchrow``, ``text``, ``RunSQL``, ...) is ever treated
as SQL, so docstrings, log messages and exception texts are never reported. The argument is
resolved statically: string literals, f-strings, ``+``, ``%``, ``.format``, ``dedent``/``strip``
wrappers, and names bound earlier in the same function, at module level or as class attributes of
a class in the same file. Dynamic parts become identifier-shaped placeholders ``__p0__``,
``__p1__``... so that sqlglot still sees the surrounding tables.
"""
from __future__ import annotations

import ast
import io
import re
import string
import sys
import tokenize
from dataclasses import dataclass, replace
from typing import Optional

from ..model import Diagnostic, FileFacts, OrmTableRef, Statement, Transaction, TwoPhaseUse
from .functions import collect_code
from .orm import collect_orm, dotted
from .sql import assign_transactions, parse_sql

# Call names whose first positional argument (or sql=/query=/statement=/operation=) is SQL.
_FIRST_ARG_CALLS = frozenset({
    "execute", "executemany", "executescript", "fetch", "fetchrow", "fetchval", "fetchone",
    "fetchall", "fetchmany", "fetch_one", "fetch_all", "fetch_val", "exec_driver_sql",
    "copy_expert", "mogrify", "query", "raw",
    # beyond the drivers: peewee, Django expressions, pandas
    "execute_sql", "RawSQL", "read_sql", "read_sql_query",
    # postgres.py (db.one / db.all / db.run, also on its cursors); Frappe (frappe.db.sql)
    "one", "all", "run", "sql", "sql_list",
})
# psycopg2.extras helpers: execute_values(cur, sql, argslist)
_SECOND_ARG_CALLS = frozenset({"execute_values", "execute_batch"})
# Generic names (session.query(Model), request.raw...): only when the text is SQL-*shaped*.
_STRICT_CALLS = frozenset({"query", "raw", "one", "all", "run", "sql", "sql_list"})
_SQL_KEYWORDS = ("sql", "query", "statement", "operation")
_TPC_CALLS = frozenset({"tpc_begin", "tpc_prepare", "tpc_commit", "tpc_rollback", "tpc_recover"})
_TXN_METHODS = frozenset({"begin", "begin_nested", "transaction", "get_cursor"})   # get_cursor: postgres.py
# Calls that return their (string) argument's SQL unchanged for our purposes.
_WRAPPER_FUNCS = frozenset({"dedent", "cleandoc", "text", "SQL"})
_WRAPPER_METHODS = frozenset({"strip", "lstrip", "rstrip", "bindparams", "columns"})

_PY_VERSION = "{}.{}".format(*sys.version_info[:2])
_HOLE = "\ue000"  # private-use char standing for a dynamic part until the text is final
_MAX_TEXT = 1_000_000   # longer built-up text is dropped (``q = q + q`` must not eat memory)
_MAX_SUBSTITUTED = 10_000  # longer values are not substituted into a hole
_PLAIN_IDENT = re.compile(r"[a-z_][a-z0-9_$]*\Z")
_PERCENT = re.compile(r"%(?:\(([^)]*)\))?([#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?)([diouxXeEfFgGcrsa%])")
_FORMATTER = string.Formatter()
_FIELD_HEAD = re.compile(r"[^.\[]*")

_LEAD = re.compile(r"(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z)|\()*", re.S)
_KEYWORD = re.compile(
    r"(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|TRUNCATE|MERGE|COPY|BEGIN|COMMIT|"
    r"ROLLBACK|START|END|ABORT|SAVEPOINT|RELEASE|PREPARE|SET|RESET|LOCK|GRANT|REVOKE|COMMENT|"
    r"VACUUM|ANALYZE|EXPLAIN|REFRESH|VALUES|TABLE|SHOW|CALL|REINDEX|CLUSTER|DISCARD|LISTEN|"
    r"NOTIFY|UNLISTEN|REPLACE|UPSERT|PRAGMA|ATTACH|DETACH|DECLARE|DEALLOCATE|XA)\b",
    re.I)
# Keywords that form a whole statement alone; any other keyword alone ("SET", "DELETE") is
# more likely a redis command or an HTTP verb than SQL.
_ALONE_OK = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "END", "ABORT"})
# Shape check for generic call names (notes 1.7), plus COPY and bare transaction control.
_SHAPE = re.compile(r"""(?:
    WITH\s+(?:RECURSIVE\s+)?\w+\s*(?:\([^)]*\))?\s+AS\s*(?:NOT\s+)?(?:MATERIALIZED\s+)?\(
  | SELECT\s[\s\S]{0,20000}?\bFROM\s+[\w."`\[]
  | INSERT\s+(?:OR\s+\w+\s+)?INTO\s+[\w."`\[]
  | UPDATE\s+[\w."`\[\]]+(?:\s+(?:AS\s+)?\w+)?\s+SET\s+[\w"`\[]+\s*=
  | DELETE\s+FROM\s+[\w."`\[]
  | MERGE\s+INTO\s+[\w."`\[]
  | (?:CREATE|ALTER|DROP)\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+|UNIQUE\s+|MATERIALIZED\s+|UNLOGGED\s+)?(?:TABLE|VIEW|INDEX|SEQUENCE|TRIGGER)\s
  | TRUNCATE\s+(?:TABLE\s+)?[\w."]+\s*(?:;|\Z|,|CASCADE|RESTART)
  | COPY\s+[\w."]+\s*(?:\([^)]*\)\s*)?(?:FROM|TO)\b
  | (?:BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION)(?:\s+(?:WORK|TRANSACTION))?\s*;?\s*\Z
)""", re.I | re.X)


@dataclass(frozen=True)
class _Sql:
    """Statically resolved argument text. ``line`` > 0: the text maps line-for-line onto the
    source starting at that line (it came from one literal); 0: it was pieced together."""

    text: str
    line: int = 0
    text_calls: tuple = ()   # ids of text(...) Call nodes this value came through
    alternatives: tuple = ()  # other values on other paths (if/else, x if c else y), read as well


class _Scope:
    __slots__ = ("kind", "qualname", "env", "cls", "group")

    def __init__(self, kind: str, qualname: str, env: dict, cls: str, group: int):
        self.kind = kind          # module, class, function
        self.qualname = qualname  # dotted name reported as Statement.function
        self.env = env            # name -> _Sql, or None for "bound to something unknown"
        self.cls = cls            # class whose attributes self.X / cls.X refer to
        self.group = group        # BEGIN/COMMIT pairing happens within one group (function body)


class _ClassInfo:
    __slots__ = ("attrs", "bases")

    def __init__(self, bases: list[str]):
        self.attrs: dict = {}
        self.bases = bases


def _call_name(func: ast.expr) -> Optional[str]:
    t = type(func)
    if t is ast.Attribute:
        return func.attr
    if t is ast.Name:
        return func.id
    return None


def _sql_start(text: str) -> Optional[re.Match]:
    """Keyword at the start of the text, after whitespace, comments and '('."""
    m = _LEAD.match(text)
    return _KEYWORD.match(text, m.end() if m else 0)


def _looks_like_sql(text: str) -> bool:
    m = _sql_start(text)
    if m is None:
        return False
    if m.group(1).upper() not in _ALONE_OK and not text[m.end():].strip(" \t\r\n;"):
        return False
    return True


def _sql_shaped(text: str) -> bool:
    m = _LEAD.match(text)
    return _SHAPE.match(text, m.end() if m else 0) is not None


_MAX_ALTERNATIVES = 8


def _or_else(value: Optional[_Sql], other: Optional[_Sql]) -> Optional[_Sql]:
    """``value``, carrying ``other`` (and its alternatives) as texts of other paths."""
    if value is None or other is None or other.text == value.text:
        return value
    alts = (*value.alternatives, replace(other, alternatives=()), *other.alternatives)
    return replace(value, alternatives=tuple(dict.fromkeys(alts))[:_MAX_ALTERNATIVES])


def _finish(text: str) -> str:
    if _HOLE not in text:
        return text
    parts = text.split(_HOLE)
    out = [parts[0]]
    for i, p in enumerate(parts[1:]):
        out.append(f"__p{i}__")
        out.append(p)
    return "".join(out)


def _is_txn_manager(expr: ast.expr) -> bool:
    if type(expr) is not ast.Call:
        return False
    f = expr.func
    name = _call_name(f)
    if name == "atomic":                                   # transaction.atomic(), atomic(using=..)
        return True
    return name in _TXN_METHODS and type(f) is ast.Attribute  # x.begin(), x.begin_nested(), x.transaction()


def _is_atomic_decorator(dec: ast.expr) -> bool:
    if type(dec) is ast.Call:
        dec = dec.func
    return _call_name(dec) == "atomic"


def _line_aligned(node: ast.Constant, lines: list[str]) -> Optional[str]:
    """The string's value with a line break wherever its source moves to the next line, so that
    each character sits on its own source line: implicit concatenation over several lines, or a
    triple-quoted string whose opening line ends in a backslash. Breaks go only where they cannot
    change the SQL (next to whitespace, outside a ``--`` comment); None when that is not possible."""
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    if last >= len(lines) or node.end_col_offset is None:
        return None
    try:   # ast columns count UTF-8 bytes
        if first == last:
            segment = lines[first].encode()[node.col_offset:node.end_col_offset].decode()
        else:
            segment = (lines[first].encode()[node.col_offset:].decode() + "".join(lines[first + 1:last])
                       + lines[last].encode()[:node.end_col_offset].decode())
    except UnicodeError:
        return None
    parts: list[tuple[int, int, str, str]] = []   # (first row, last row, source, value)
    try:
        for tok in tokenize.generate_tokens(io.StringIO("(" + segment + ")").readline):
            if tok.type == tokenize.STRING:
                value = ast.literal_eval(tok.string)
                if type(value) is not str:
                    return None
                parts.append((tok.start[0], tok.end[0], tok.string, value))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    if not parts or "".join(p[3] for p in parts) != node.value:
        return None
    out: list[str] = []
    row = parts[0][0]
    for start, end, source, value in parts:
        if start > row:
            before = "".join(out)
            if not (before[-1:].isspace() or value[:1].isspace()) or "--" in before[before.rfind("\n") + 1:]:
                return None
            out.append("\n" * (start - row))
        if (end - start) != value.count("\n"):
            # only an opening line that ends in a backslash: its line break is not in the value
            body = source.lstrip("rRuUbBfF")
            if ((end - start) - value.count("\n") != 1 or body[:3] not in ('"""', "'''")
                    or body[3:5] != "\\\n" or body.count("\\\n") != 1):
                return None
            value = "\n" + value
        out.append(value)
        row = end
    text = "".join(out)
    return text if text.count("\n") == last - first else None


def _unparse(node: ast.expr) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse of a parsed tree should not fail
        return type(node).__name__


class _Extractor:
    """One pass over the tree with an explicit stack (no recursion: deep expressions are fine).
    Stack items are nodes, or ``(callable, *args)`` tuples run when popped (scope exits)."""

    def __init__(self, path: str, dialect: str, source_lines: Optional[list[str]] = None):
        self.path = path
        self.dialect = dialect
        self.source_lines = source_lines or []
        self.classes: dict[str, _ClassInfo] = {}
        self.module_final: dict = {}
        self.scopes: list[_Scope] = []
        self.groups = 0
        self.txn = 0
        self.saved_txn: list[int] = []
        self.branches: list[list] = []   # open `if` statements: [scope, env before, env after body]
        self.next_txn = 1
        self.transactions: list[Transaction] = []
        self.records: list[tuple[int, Statement]] = []
        self.two_phase: list[TwoPhaseUse] = []
        self.diagnostics: list[Diagnostic] = []
        self.pending_text: list[tuple] = []
        self.consumed: set[int] = set()
        self.substituted = 0   # characters substituted into holes by the current _resolve()
        self.table_refs: list[OrmTableRef] = []   # Model._meta.db_table spliced into SQL

    # ------------------------------------------------------------------ driver
    def run(self, tree: ast.Module) -> None:
        # Pre-pass over module-level statements (not function bodies): the final value of each
        # module constant and class attribute, as seen by function bodies at call time.
        self.scopes = [_Scope("module", "", self.module_final, "", 0)]
        self._prepass(tree.body)
        self.scopes = [_Scope("module", "", {}, "", 0)]
        self._walk(tree.body)
        for node_id, line, end_line, sql, fn, txn, group in self.pending_text:
            if node_id not in self.consumed:
                self._emit(line, end_line, sql, True, fn, txn, group)

    def _walk(self, body: list) -> None:
        stack: list = list(reversed(body))
        handlers = _HANDLERS
        fields = _FIELDS
        walked = _WALKED
        pop = stack.pop
        push = stack.append
        while stack:
            item = pop()
            t = type(item)
            if t is tuple:
                item[0](*item[1:])
                continue
            handler = handlers.get(t)
            if handler is not None:
                handler(self, item, stack)
                continue
            start = len(stack)  # generic node: push its children, first child on top
            for name in fields.get(t, ()):
                v = getattr(item, name)
                if type(v) is list:
                    for x in v:
                        if type(x) in walked:
                            push(x)
                elif type(v) in walked:
                    push(v)
            if len(stack) - start > 1:
                stack[start:] = stack[start:][::-1]

    @staticmethod
    def _push(stack: list, nodes) -> None:
        stack.extend(n for n in reversed(nodes) if type(n) in _WALKED)

    def _generic(self, node, stack: list) -> None:
        children = []
        for name in _FIELDS[type(node)]:
            v = getattr(node, name)
            if type(v) is list:
                children.extend(v)
            elif type(v) in _WALKED:
                children.append(v)
        self._push(stack, children)

    def _prepass(self, body: list[ast.stmt]) -> None:
        for st in body:
            t = type(st)
            if t is ast.Assign or t is ast.AnnAssign or t is ast.AugAssign:
                self._bind_statement(st)
            elif t is ast.ClassDef:
                bases = [b.id for b in st.bases if type(b) is ast.Name]
                info = _ClassInfo(bases)
                parent = self.scopes[-1]
                self.scopes.append(_Scope("class", "", info.attrs, parent.cls, 0))
                self._prepass(st.body)
                self.scopes.pop()
                self.classes[st.name] = info
            elif t in _BLOCK_STATEMENTS:
                for field in ("body", "orelse", "finalbody"):
                    self._prepass(getattr(st, field, None) or [])
                for h in getattr(st, "handlers", None) or []:
                    self._prepass(h.body)

    # ------------------------------------------------------------------ scopes
    def _function(self, node, stack: list) -> None:
        # run order: decorators, defaults/annotations (outer scope), enter, body, exit
        stack.append((self._exit_function, node))
        self._push(stack, node.body)
        stack.append((self._enter_function, node))
        if node.returns is not None:
            stack.append(node.returns)
        stack.append(node.args)
        self._push(stack, node.decorator_list)

    def _enter_function(self, node) -> None:
        parent = self.scopes[-1]
        cls = parent.qualname.rsplit(".", 1)[-1] if parent.kind == "class" else parent.cls
        qual = f"{parent.qualname}.{node.name}" if parent.qualname else node.name
        a = node.args
        env = {p.arg: None for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
        for p in (a.vararg, a.kwarg):
            if p is not None:
                env[p.arg] = None
        self.groups += 1
        self.saved_txn.append(self.txn)
        self.txn = 0  # a function defined inside a block runs whenever it is called
        for d in node.decorator_list:
            if _is_atomic_decorator(d):
                self.txn = self._new_txn(d.lineno, node.end_lineno or node.lineno, "@" + _unparse(d))
                break
        self.scopes.append(_Scope("function", qual, env, cls, self.groups))

    def _exit_function(self, node) -> None:
        self.scopes.pop()
        self.txn = self.saved_txn.pop()
        self.scopes[-1].env[node.name] = None

    def _class(self, node: ast.ClassDef, stack: list) -> None:
        stack.append((self._exit_class, node))
        self._push(stack, node.body)
        stack.append((self._enter_class, node))
        self._push(stack, [*node.decorator_list, *node.bases, *node.keywords])

    def _enter_class(self, node: ast.ClassDef) -> None:
        parent = self.scopes[-1]
        qual = f"{parent.qualname}.{node.name}" if parent.qualname else node.name
        self.scopes.append(_Scope("class", qual, {}, parent.cls, parent.group))

    def _exit_class(self, node: ast.ClassDef) -> None:
        self.scopes.pop()
        self.scopes[-1].env[node.name] = None

    # ------------------------------------------------------------------ transactions
    def _new_txn(self, line: int, end_line: int, how: str) -> int:
        tid = self.next_txn
        self.next_txn += 1
        self.transactions.append(Transaction(tid, line, end_line, how))
        return tid

    def _with(self, node, stack: list) -> None:
        stack.append((self._exit_with,))
        self._push(stack, node.body)
        stack.append((self._enter_with, node))
        for item in reversed(node.items):
            if item.optional_vars is not None:
                stack.append((self._bind_target, item.optional_vars, None))
                stack.append(item.optional_vars)
            stack.append(item.context_expr)

    def _enter_with(self, node) -> None:
        self.saved_txn.append(self.txn)
        if not self.txn:  # nested blocks belong to the outermost one
            prefix = "async with " if type(node) is ast.AsyncWith else "with "
            for item in node.items:
                if _is_txn_manager(item.context_expr):
                    self.txn = self._new_txn(node.lineno, node.end_lineno or node.lineno,
                                             prefix + _unparse(item.context_expr))
                    break

    def _exit_with(self) -> None:
        self.txn = self.saved_txn.pop()

    # ------------------------------------------------------------------ if / else
    # The branches of an `if` are alternatives: each starts from the names as they were before it,
    # and afterwards a name keeps the value the body gave it (else the else branch's), so that
    # `q += " WHERE a"` in the body and `q += " WHERE b"` in the elif do not pile up into one text.
    def _if(self, node: ast.If, stack: list) -> None:
        stack.append((self._exit_if,))
        self._push(stack, node.orelse)
        stack.append((self._else_if,))
        self._push(stack, node.body)
        stack.append((self._enter_if,))
        stack.append(node.test)

    def _enter_if(self) -> None:
        scope = self.scopes[-1]
        self.branches.append([scope, dict(scope.env), None])

    def _else_if(self) -> None:
        frame = self.branches[-1]
        scope, before = frame[0], frame[1]
        frame[2] = dict(scope.env)
        scope.env.clear()
        scope.env.update(before)

    def _exit_if(self) -> None:
        scope, before, after_body = self.branches.pop()
        for name, value in after_body.items():
            if name not in before or before[name] is not value:
                scope.env[name] = _or_else(value, scope.env.get(name))

    # ------------------------------------------------------------------ bindings
    def _assign(self, node, stack: list) -> None:
        stack.append((self._bind_statement, node))  # after the value's calls were seen
        self._generic(node, stack)

    def _named_expr(self, node: ast.NamedExpr, stack: list) -> None:
        stack.append((self._bind_named, node))
        stack.append(node.value)

    def _bind_named(self, node: ast.NamedExpr) -> None:
        self.scopes[-1].env[node.target.id] = self._resolve(node.value)

    def _loop(self, node, stack: list) -> None:
        self._push(stack, node.orelse)
        self._push(stack, node.body)
        stack.append((self._bind_target, node.target, None))
        stack.append(node.target)
        stack.append(node.iter)

    def _bind_statement(self, node) -> None:
        env = self.scopes[-1].env
        t = type(node)
        if t is ast.Assign:
            names = [tg for tg in node.targets if type(tg) is ast.Name]
            value = self._resolve(node.value) if names else None
            for tg in node.targets:
                self._bind_target(tg, value)
        elif t is ast.AnnAssign:
            if node.value is not None and type(node.target) is ast.Name:
                env[node.target.id] = self._resolve(node.value)
        elif type(node.target) is ast.Name:  # AugAssign: only += on known text stays known
            name = node.target.id
            old = self._lookup(name) if type(node.op) is ast.Add else None
            new = None
            if old is not None:
                add = self._resolve(node.value)
                text = old.text + (add.text if add is not None else _HOLE)
                if len(text) <= _MAX_TEXT:
                    new = _Sql(text, 0, old.text_calls + (add.text_calls if add is not None else ()))
            env[name] = new

    def _bind_target(self, target: ast.expr, value: Optional[_Sql]) -> None:
        t = type(target)
        if t is ast.Name:
            self.scopes[-1].env[target.id] = value
        elif t is ast.Tuple or t is ast.List:
            for e in target.elts:
                self._bind_target(e, None)
        elif t is ast.Starred:
            self._bind_target(target.value, None)

    def _lookup(self, name: str) -> Optional[_Sql]:
        scopes = self.scopes
        inner = scopes[-1]
        if name in inner.env:
            return inner.env[name]
        in_function = inner.kind == "function"
        for sc in reversed(scopes[1:-1]):
            if sc.kind == "function":
                in_function = True
                if name in sc.env:
                    return sc.env[name]
        # Function bodies run after the module finished loading: they see the final values.
        return (self.module_final if in_function else scopes[0].env).get(name)

    def _class_attr(self, cls: str, attr: str, seen: set) -> Optional[_Sql]:
        info = self.classes.get(cls)
        if info is None or cls in seen:
            return None
        seen.add(cls)
        if attr in info.attrs:
            return info.attrs[attr]
        for b in info.bases:
            r = self._class_attr(b, attr, seen)
            if r is not None:
                return r
        return None

    # ------------------------------------------------------------------ resolving text
    def _resolve(self, node: Optional[ast.expr]) -> Optional[_Sql]:
        self.substituted = 0
        try:
            return self._res(node)
        except RecursionError:
            return None

    def _res(self, node) -> Optional[_Sql]:
        t = type(node)
        if t is ast.Constant:
            v = node.value
            if type(v) is not str:
                return None
            if _HOLE in v:
                v = v.replace(_HOLE, " ")
            exact = v.count("\n") == (node.end_lineno or node.lineno) - node.lineno
            if not exact and self.source_lines:
                aligned = _line_aligned(node, self.source_lines)
                if aligned is not None:
                    v, exact = aligned, True
            return _Sql(v, node.lineno if exact else 0)
        if t is ast.JoinedStr:
            parts = []
            for p in node.values:
                if type(p) is ast.Constant:
                    parts.append(str(p.value).replace(_HOLE, " "))
                else:  # FormattedValue
                    parts.append(self._hole(p.value, p.conversion, p.format_spec))
            text = "".join(parts)
            exact = text.count("\n") == (node.end_lineno or node.lineno) - node.lineno
            return _Sql(text, node.lineno if exact else 0)
        if t is ast.Name:
            return self._lookup(node.id)
        if t is ast.IfExp:   # one consistent path, as for `if` statements: the body's text
            body = self._res(node.body)
            orelse = self._res(node.orelse)
            return _or_else(body, orelse) if body is not None else orelse
        if t is ast.BinOp:
            op = type(node.op)
            if op is ast.Add:
                return self._concat(node)
            if op is ast.Mod:
                left = self._res(node.left)
                return self._percent(left, node.right) if left is not None else None
            return None
        if t is ast.Attribute:
            v = node.value
            if type(v) is ast.Name:
                if v.id in ("self", "cls"):
                    cls = self.scopes[-1].cls
                    return self._class_attr(cls, node.attr, set()) if cls else None
                if v.id in self.classes:
                    return self._class_attr(v.id, node.attr, set())
            return None
        if t is ast.Call:
            f = node.func
            name = _call_name(f)
            if name is None:
                return None
            if type(f) is ast.Attribute:
                if name == "format":
                    base = self._res(f.value)
                    return self._format(base, node) if base is not None else None
                if name in _WRAPPER_METHODS and (name not in ("strip", "lstrip", "rstrip") or not node.args):
                    return self._res(f.value)
            if name in _WRAPPER_FUNCS:
                arg = node.args[0] if node.args else next(
                    (k.value for k in node.keywords if k.arg in ("text", "sql", "sql_string")), None)
                if arg is None or type(arg) is ast.Starred:
                    return None
                inner = self._res(arg)
                if inner is not None and name == "text":
                    inner = replace(inner, text_calls=inner.text_calls + (id(node),))
                return inner
            return None
        return None

    def _concat(self, node: ast.BinOp) -> Optional[_Sql]:
        operands = []
        while type(node) is ast.BinOp and type(node.op) is ast.Add:  # flatten left-deep chains
            operands.append(node.right)
            node = node.left
        operands.append(node)
        operands.reverse()
        parts, calls, known, size = [], (), False, 0
        for o in operands:
            r = self._res(o)
            if r is None:
                parts.append(_HOLE)     # an unknown operand is a hole, as in an f-string
            else:
                known = True
                parts.append(r.text)
                calls += r.text_calls
                size += len(r.text)
                if size > _MAX_TEXT:
                    return None
        return _Sql("".join(parts), 0, calls) if known else None

    def _hole(self, node, conversion: int = -1, spec=None) -> str:
        """Text for a formatted part: the value when it resolves statically (a table-name
        constant, an ORDER BY fragment), else a placeholder."""
        if node is None or conversion not in (-1, 115) or spec is not None:
            return _HOLE
        model = _model_table_expr(node)
        if model is not None:   # the graph stage puts the model's table in place of __ormN__
            self.table_refs.append(OrmTableRef(len(self.table_refs), model, node.lineno))
            return f"__orm{len(self.table_refs) - 1}__"
        if type(node) is ast.Call and _call_name(node.func) == "Identifier":  # psycopg2.sql.Identifier
            names = [a.value for a in node.args if type(a) is ast.Constant and type(a.value) is str]
            if names and len(names) == len(node.args) and not node.keywords:
                return ".".join(n if _PLAIN_IDENT.match(n) else '"' + n.replace('"', '""') + '"'
                                for n in names)
            return _HOLE
        r = self._res(node)
        if r is None or len(r.text) > _MAX_SUBSTITUTED or self.substituted > _MAX_TEXT:
            return _HOLE
        self.substituted += len(r.text)
        if "\n" in r.text and "--" not in r.text:
            # on one line, so that the text around it keeps its source lines (a flattened line
            # comment would swallow what follows, so text with one keeps its breaks)
            return r.text.replace("\n", " ")
        return r.text

    def _percent(self, base: _Sql, rhs: ast.expr) -> _Sql:
        items: Optional[list] = None
        mapping: Optional[dict] = None
        if type(rhs) is ast.Tuple:
            items = rhs.elts if not any(type(e) is ast.Starred for e in rhs.elts) else None
        elif type(rhs) is ast.Dict:
            mapping = {k.value: v for k, v in zip(rhs.keys, rhs.values)
                       if type(k) is ast.Constant and type(k.value) is str}
        else:
            items = [rhs]
        index = 0

        def sub(m: re.Match) -> str:
            nonlocal index
            key, _flags, conv = m.groups()
            if conv == "%":
                return "%"
            if key is not None:
                value = mapping.get(key) if mapping is not None else None
            else:
                value = items[index] if items is not None and index < len(items) else None
                index += 1
            return self._hole(value) if conv in ("s", "a") or value is None else _HOLE

        text = _PERCENT.sub(sub, base.text)
        line = base.line if text.count("\n") == base.text.count("\n") else 0
        return _Sql(text, line, base.text_calls)

    def _format(self, base: _Sql, call: ast.Call) -> Optional[_Sql]:
        try:
            parsed = list(_FORMATTER.parse(base.text))
        except ValueError:
            return None
        args = call.args if not any(type(a) is ast.Starred for a in call.args) else None
        kwargs = {k.arg: k.value for k in call.keywords if k.arg is not None}
        out, auto = [], 0
        for literal, field, spec, conv in parsed:
            out.append(literal)
            if field is None:
                continue
            head = _FIELD_HEAD.match(field).group()
            value = None
            if head == "":
                if args is not None and auto < len(args):
                    value = args[auto]
                auto += 1
            elif head.isdigit():
                if args is not None and int(head) < len(args):
                    value = args[int(head)]
            else:
                value = kwargs.get(head)
            if value is None or len(head) != len(field) or spec or conv not in (None, "s"):
                out.append(_HOLE)
            else:
                out.append(self._hole(value))
        text = "".join(out)
        line = base.line if text.count("\n") == base.text.count("\n") else 0
        return _Sql(text, line, base.text_calls)

    # ------------------------------------------------------------------ calls
    def _call(self, node: ast.Call, stack: list) -> None:
        f = node.func
        name = _call_name(f)
        if name is not None:
            if name in _FIRST_ARG_CALLS or name in _SECOND_ARG_CALLS or name == "RunSQL":
                self._db_call(node, name)
            elif name == "text":
                self._text_call(node)
            elif name in _TPC_CALLS and type(f) is ast.Attribute:
                self.two_phase.append(TwoPhaseUse(node.lineno, node.end_lineno or node.lineno, name + "()"))
        self._generic(node, stack)

    @staticmethod
    def _keyword(node: ast.Call, names) -> Optional[ast.expr]:
        for k in node.keywords:
            if k.arg in names:
                return k.value
        return None

    def _db_call(self, node: ast.Call, name: str) -> None:
        args = node.args
        if name == "RunSQL":
            exprs = [args[0] if args else self._keyword(node, ("sql",)),
                     args[1] if len(args) > 1 else self._keyword(node, ("reverse_sql",))]
            flat = []
            for e in exprs:
                if type(e) in (ast.List, ast.Tuple):
                    for el in e.elts:  # a statement, or a (sql, params) pair
                        flat.append(el.elts[0] if type(el) in (ast.List, ast.Tuple) and el.elts else el)
                else:
                    flat.append(e)
            exprs = flat
        elif name in _SECOND_ARG_CALLS:
            exprs = [args[1] if len(args) > 1 else self._keyword(node, _SQL_KEYWORDS)]
        else:
            exprs = [args[0] if args else self._keyword(node, _SQL_KEYWORDS)]
        scope = self.scopes[-1]
        for e in exprs:
            if e is None or type(e) is ast.Starred:
                continue
            sql = self._resolve(e)
            if sql is None:
                continue
            self.consumed.update(sql.text_calls)
            seen = self._emit(node.lineno, node.end_lineno or node.lineno, sql, name in _STRICT_CALLS,
                              scope.qualname, self.txn, scope.group)
            for alt in sql.alternatives:
                seen = self._emit(node.lineno, node.end_lineno or node.lineno, alt, name in _STRICT_CALLS,
                                  scope.qualname, self.txn, scope.group, seen)

    def _text_call(self, node: ast.Call) -> None:
        """A SQLAlchemy text(...) not (yet) known to be passed to a DB call. Decided at the end:
        if a later execute(stmt) uses it through a variable, the execute reports it instead."""
        if id(node) in self.consumed:
            return
        sql = self._resolve(node)
        if sql is None:
            return
        scope = self.scopes[-1]
        self.pending_text.append((id(node), node.lineno, node.end_lineno or node.lineno, sql,
                                  scope.qualname, self.txn, scope.group))

    def _emit(self, line: int, end_line: int, sql: _Sql, strict: bool, fn: str, txn: int,
              group: int, seen: Optional[set] = None) -> set:
        """Record the statements of ``sql``; returns the (table, role, action)s seen so far.
        With ``seen`` (an alternative text of the same call), only a text that touches a table
        the call's other texts do not is recorded, and without diagnostics or 2PC."""
        known = set() if seen is None else seen
        text = _finish(sql.text)
        if not (_sql_shaped(text) if strict else _looks_like_sql(text)):
            return known
        exact = sql.line > 0
        offset = sql.line - 1 if exact else line - 1
        try:
            facts = parse_sql(text, dialect=self.dialect, line_offset=offset, origin="python",
                              function=fn)
        except Exception as e:  # a bug in the SQL stage must not lose the rest of the file
            self.diagnostics.append(Diagnostic(self.path, line, "internal-error",
                                               f"dbowner failed on this SQL: {type(e).__name__}: {e}"))
            return known
        keys = {(a.table, a.role, a.action) for st in facts.statements for a in st.accesses}
        if seen is not None and keys <= seen:
            return known
        for st in facts.statements:
            accesses = st.accesses
            if not exact and any(a.line != line for a in accesses):
                accesses = tuple(replace(a, line=line) for a in accesses)
            self.records.append((group, replace(st, line=line, end_line=end_line, accesses=accesses,
                                                function=fn, transaction=txn, origin="python")))
        if seen is not None:
            return known | keys
        for tp in facts.two_phase:
            self.two_phase.append(replace(tp, line=line, end_line=end_line))
        note = " (SQL built at run time: its dynamic parts were read as __pN__ placeholders)" \
            if _HOLE in sql.text else ""
        for err_line, message in facts.errors:
            self.diagnostics.append(Diagnostic(self.path, err_line if exact else line,
                                               "parse-error", message + note))
        return known | keys

    # ------------------------------------------------------------------ result
    def facts(self) -> FileFacts:
        groups: dict[int, list[Statement]] = {}
        for group, st in self.records:
            groups.setdefault(group, []).append(st)
        statements: list[Statement] = []
        transactions = list(self.transactions)
        next_id = self.next_txn
        for group, sts in groups.items():
            sts.sort(key=lambda s: s.line)
            free = [s for s in sts if not s.transaction]
            if free:
                assigned, txns = assign_transactions(free, next_id)
                if txns:
                    next_id = max(t.id for t in txns) + 1
                    transactions.extend(txns)
                    it = iter(assigned)
                    sts = [s if s.transaction else next(it) for s in sts]
            statements.extend(sts)
        statements.sort(key=lambda s: s.line)
        transactions.sort(key=lambda t: t.id)
        self.two_phase.sort(key=lambda t: t.line)
        self.diagnostics = sorted(dict.fromkeys(self.diagnostics), key=lambda d: d.line)  # one per text
        return FileFacts(self.path, statements, transactions, self.two_phase, self.diagnostics)


def _model_table_expr(node: ast.expr) -> Optional[str]:
    """`Order._meta.db_table`, `Order.__tablename__`, `Order.__table__.name` -> "Order"."""
    name = dotted(node)
    if name is None:
        return None
    parts = name.split(".")
    for suffix in (["_meta", "db_table"], ["__tablename__"], ["__table__", "name"], ["__table__", "fullname"]):
        if len(parts) > len(suffix) and parts[-len(suffix):] == suffix:
            return ".".join(parts[:-len(suffix)])
    return None


def _all_node_types(cls) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_node_types(sub))
    return out


# Node types worth descending into: everything except leaves that can hold no call.
_LEAF_TYPES = {ast.Constant, ast.Name, ast.Pass, ast.Break, ast.Continue, ast.Import, ast.ImportFrom,
               ast.Global, ast.Nonlocal, ast.alias, ast.expr_context, ast.operator, ast.unaryop,
               ast.cmpop, ast.boolop}
_WALKED = frozenset(t for t in _all_node_types(ast.AST)
                    if not any(issubclass(t, leaf) for leaf in _LEAF_TYPES))
_NON_NODE_FIELDS = frozenset({"ctx", "op", "id", "attr", "name", "names", "module", "level",
                               "type_comment", "arg", "conversion", "kind", "is_async", "simple",
                               "asname", "type_ignores"})
_FIELDS = {t: tuple(f for f in t._fields if f not in _NON_NODE_FIELDS) for t in _WALKED}
_BLOCK_STATEMENTS = frozenset(t for t in (ast.If, ast.Try, ast.With, ast.For, ast.While,
                                          getattr(ast, "TryStar", None)) if t is not None)
_HANDLERS = {
    ast.FunctionDef: _Extractor._function, ast.AsyncFunctionDef: _Extractor._function,
    ast.ClassDef: _Extractor._class, ast.With: _Extractor._with, ast.AsyncWith: _Extractor._with,
    ast.Assign: _Extractor._assign, ast.AnnAssign: _Extractor._assign, ast.AugAssign: _Extractor._assign,
    ast.NamedExpr: _Extractor._named_expr, ast.For: _Extractor._loop, ast.AsyncFor: _Extractor._loop,
    ast.If: _Extractor._if,
    ast.Call: _Extractor._call,
}


def extract_python_file(path: str, text: str, *, dialect: str = "postgres", database: bool = True) -> FileFacts:
    """Facts about the SQL that one Python file passes to a database, its ORM use and its structure.
    Never raises for bad input: unparsable Python becomes a single ``parse-error`` diagnostic.
    ``database=False`` (the pre-filter found no database keyword): the structure only."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as e:
        # the usual cause on a valid project: syntax newer than this interpreter (except A, B: is 3.14)
        return _parse_error(path, e.lineno or 0, f"{e.msg or e} (read as Python {_PY_VERSION}; code written "
                                                 "for a newer Python needs dbowner run on that Python)")
    except (ValueError, RecursionError, MemoryError) as e:
        reason = "too deeply nested" if isinstance(e, RecursionError) else str(e) or type(e).__name__
        return _parse_error(path, 0, reason)
    if not database:   # no SQL call in the file: only its ORM use and its structure
        facts = FileFacts(path)
        try:
            facts.orm, facts.statements, facts.diagnostics = collect_orm(path, tree, [])
        except RecursionError:
            return _parse_error(path, 0, "too deeply nested")
        _add_structure(path, tree, facts)
        return facts
    parse_sql("", dialect=dialect)  # an unknown dialect is a caller error: ValueError, once
    # lines as Python counts them (\n, \r\n, \r; not the form feeds str.splitlines also splits on)
    extractor = _Extractor(path, dialect, io.StringIO(text, newline="").readlines())
    try:
        extractor.run(tree)
        facts = extractor.facts()
        facts.orm, migration, diagnostics = collect_orm(path, tree, facts.transactions)
    except RecursionError:
        return _parse_error(path, 0, "too deeply nested")
    _add_structure(path, tree, facts)
    facts.orm.table_refs = extractor.table_refs
    if migration:
        facts.statements = sorted(facts.statements + migration, key=lambda s: s.line)
    facts.diagnostics = sorted(facts.diagnostics + diagnostics, key=lambda d: d.line)
    return facts


def _add_structure(path: str, tree: ast.Module, facts: FileFacts) -> None:
    """The same tree, once more, for the saga and dual-write rules."""
    try:
        facts.code = collect_code(tree)
    except RecursionError:
        facts.diagnostics.append(Diagnostic(path, 0, "parse-error", "too deeply nested for the saga analysis"))
    except Exception as e:  # a bug of ours must not lose the SQL facts of the file
        facts.diagnostics.append(Diagnostic(path, 0, "internal-error",
                                            f"dbowner failed on this file's structure: {type(e).__name__}: {e}"))


def _parse_error(path: str, line: int, message: str) -> FileFacts:
    return FileFacts(path, diagnostics=[Diagnostic(path, line, "parse-error", f"cannot parse Python: {message}")])
