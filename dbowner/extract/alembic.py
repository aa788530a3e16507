"""Alembic migration operations (``op.create_table``, ``op.add_column``, ``op.create_foreign_key``...)
as statements: their table names are literal, so no cross-file resolution is needed.

``op.execute("...")`` is SQL and is read by the Python extractor. Operations inside ``downgrade()``
are not reported: they undo ``upgrade()``, and reporting both would count each change twice.
"""
from __future__ import annotations

import ast
from typing import Optional

from ..model import DDL, REFERENCE, WRITE, Statement, TableAccess, TableName
from .orm import Imports, arg, const_str, dotted, excerpt, keyword
from .orm_classes import _relations_in

# operation -> index of its table argument (and keyword name)
_ALTERS = {
    "add_column": (0, "table_name"), "drop_column": (0, "table_name"), "alter_column": (0, "table_name"),
    "create_index": (1, "table_name"), "drop_index": (1, "table_name"),
    "create_unique_constraint": (1, "table_name"), "create_primary_key": (1, "table_name"),
    "create_check_constraint": (1, "table_name"), "drop_constraint": (1, "table_name"),
    "create_exclude_constraint": (1, "table_name"), "rename_table": (0, "old_table_name"),
    "create_table_comment": (0, "table_name"), "drop_table_comment": (0, "table_name"),
}


def _table(name: Optional[str], schema: Optional[str]) -> Optional[TableName]:
    if not name:
        return None
    if schema is None and "." in name:
        schema, _, name = name.rpartition(".")
    return TableName(name.lower(), (schema or "").lower())


class _Alembic:
    def __init__(self, imports: Imports, tree: ast.Module):
        self.ops = {local for local, target in imports.bound.items() if target == "alembic.op"}
        self.modules = {local for local, target in imports.bound.items() if target == "alembic"}
        # walking the tree for Table() assignments is only worth it in an Alembic migration
        self.tables = _table_assignments(tree) if self.ops or self.modules else {}
        self.out: list[Statement] = []

    def is_op(self, e: ast.expr) -> bool:
        d = dotted(e)
        return d is not None and (d in self.ops or (d.endswith(".op") and d[:-3] in self.modules))

    def function(self, fn, qualname: str) -> None:
        batches: dict[str, TableName] = {}
        for node in ast.walk(fn):
            if type(node) in (ast.With, ast.AsyncWith):
                for item in node.items:
                    c = item.context_expr
                    if type(c) is ast.Call and type(c.func) is ast.Attribute and c.func.attr == "batch_alter_table" \
                            and self.is_op(c.func.value):
                        t = _table(const_str(arg(c, 0, "table_name")), const_str(keyword(c, "schema")))
                        if t is None:
                            continue
                        self.emit(c, "alter", [TableAccess(t, DDL, "alter", c.lineno)], qualname)
                        if type(item.optional_vars) is ast.Name:
                            batches[item.optional_vars.id] = t
        for node in ast.walk(fn):
            if type(node) is ast.Call and type(node.func) is ast.Attribute:
                receiver = node.func.value
                if self.is_op(receiver):
                    self.op(node.func.attr, node, qualname)
                elif type(receiver) is ast.Name and receiver.id in batches:
                    self.batch_op(node.func.attr, node, batches[receiver.id], qualname)

    def op(self, name: str, call: ast.Call, fn: str) -> None:
        schema = const_str(keyword(call, "schema"))
        if name == "create_table":
            t = _table(const_str(arg(call, 0, "table_name")), schema)
            if t is not None:
                self.emit(call, "create", [TableAccess(t, DDL, "create", call.lineno), *self.refs(call.args[1:])], fn)
        elif name == "drop_table":
            t = _table(const_str(arg(call, 0, "table_name")), schema)
            if t is not None:
                self.emit(call, "drop", [TableAccess(t, DDL, "drop", call.lineno)], fn)
        elif name == "create_foreign_key":
            source = _table(const_str(arg(call, 1, "source_table")), const_str(keyword(call, "source_schema")))
            referent = _table(const_str(arg(call, 2, "referent_table")), const_str(keyword(call, "referent_schema")))
            if source is not None and referent is not None:
                self.emit(call, "alter", [TableAccess(source, DDL, "alter", call.lineno),
                                          TableAccess(referent, REFERENCE, "references", call.lineno)], fn)
        elif name == "bulk_insert":
            t = self.table_value(arg(call, 0, "table"))
            if t is not None:
                self.emit(call, "insert", [TableAccess(t, WRITE, "insert", call.lineno)], fn)
        elif name in _ALTERS:
            index, kw = _ALTERS[name]
            t = _table(const_str(arg(call, index, kw)), schema)
            if t is not None:
                rest = call.args[index + 1:] if name == "add_column" else []
                self.emit(call, "alter", [TableAccess(t, DDL, "alter", call.lineno), *self.refs(rest)], fn)

    def batch_op(self, name: str, call: ast.Call, table: TableName, fn: str) -> None:
        if name == "create_foreign_key":
            referent = _table(const_str(arg(call, 1, "referent_table")), const_str(keyword(call, "referent_schema")))
            if referent is not None:
                self.emit(call, "alter", [TableAccess(table, DDL, "alter", call.lineno),
                                          TableAccess(referent, REFERENCE, "references", call.lineno)], fn)
        elif name == "add_column":
            refs = self.refs(call.args)
            if refs:
                self.emit(call, "alter", [TableAccess(table, DDL, "alter", call.lineno), *refs], fn)

    def refs(self, args) -> list[TableAccess]:
        out = []
        for a in args:
            if type(a) is not ast.Call:
                continue
            for rel in _relations_in(a, "", None):
                if rel.target_kind == "table":
                    t = _table(rel.target, None)
                    if t is not None:
                        out.append(TableAccess(t, REFERENCE, "references", rel.line))
        return out

    def table_value(self, e: Optional[ast.expr]) -> Optional[TableName]:
        if type(e) is ast.Name:
            return self.tables.get(e.id)
        if type(e) is ast.Call and (dotted(e.func) or "").rsplit(".", 1)[-1] in ("table", "Table"):
            return _table(const_str(arg(e, 0)), const_str(keyword(e, "schema")))
        return None

    def emit(self, call: ast.Call, kind: str, accesses: list[TableAccess], fn: str) -> None:
        self.out.append(Statement(call.lineno, call.end_lineno or call.lineno, kind, excerpt(call),
                                  tuple(accesses), fn, 0, "migration"))


def _table_assignments(tree: ast.Module) -> dict[str, TableName]:
    """x = sa.table("name", ...) / Table("name", meta, ...) anywhere in the file."""
    out = {}
    for node in ast.walk(tree):
        if type(node) is ast.Assign and len(node.targets) == 1 and type(node.targets[0]) is ast.Name \
                and type(node.value) is ast.Call \
                and (dotted(node.value.func) or "").rsplit(".", 1)[-1] in ("table", "Table"):
            t = _table(const_str(arg(node.value, 0)), const_str(keyword(node.value, "schema")))
            if t is not None:
                out[node.targets[0].id] = t
    return out


def alembic_statements(path: str, tree: ast.Module, imports: Imports) -> list[Statement]:
    a = _Alembic(imports, tree)
    if not a.ops and not a.modules:
        return []
    for st in tree.body:
        if type(st) in (ast.FunctionDef, ast.AsyncFunctionDef) and not st.name.startswith("downgrade"):
            a.function(st, st.name)
    a.out.sort(key=lambda s: (s.line, s.kind))
    return a.out
