"""Django migration operations that shape tables: CreateModel, AddField with relations, and the
operations that undo them. RunSQL is SQL and is read by the Python extractor like any SQL call.

The app is the folder that holds ``migrations/``; the replay of an app's migrations into its
final tables happens after extraction (``dbowner/orm_resolve.py``).
"""
from __future__ import annotations

import ast
from typing import Optional

from ..model import MigrationOp
from .orm import Imports, arg, const_str, dotted
from .orm_classes import django_relation

_OPS = {"CreateModel": "create_model", "AddField": "add_field", "AlterField": "alter_field",
        "RemoveField": "remove_field", "DeleteModel": "delete_model", "RenameModel": "rename_model",
        "AlterModelTable": "alter_model_table", "RenameField": "rename_field"}


def is_migration_file(path: str) -> bool:
    parts = path.split("/")
    return len(parts) >= 2 and parts[-2] == "migrations" and parts[-1] != "__init__.py"


def _operation(call: ast.Call, imports: Imports) -> Optional[str]:
    callee = dotted(call.func) or ""
    short = callee.rsplit(".", 1)[-1]
    if short not in _OPS:
        return None
    target = imports.target(callee)
    return _OPS[short] if target.startswith("django.db.migrations") else None


def migration_ops(path: str, tree: ast.Module, imports: Imports) -> list[MigrationOp]:
    if not is_migration_file(path):
        return []
    out = []
    for node in ast.walk(tree):
        if type(node) is not ast.Call:
            continue
        op = _operation(node, imports)
        if op is None:
            continue
        fact = _fact(op, node)
        if fact is not None:
            out.append(fact)
    out.sort(key=lambda o: o.line)
    return out


def _fact(op: str, call: ast.Call) -> Optional[MigrationOp]:
    line, end = call.lineno, call.end_lineno or call.lineno
    if op == "create_model":
        name = const_str(arg(call, 0, "name"))
        if not name:
            return None
        relations = []
        fields = arg(call, 1, "fields")
        for item in (fields.elts if type(fields) in (ast.List, ast.Tuple) else []):
            if type(item) is ast.Tuple and len(item.elts) == 2 and type(item.elts[1]) is ast.Call:
                rel = django_relation(item.elts[1], const_str(item.elts[0]) or "")
                if rel is not None:
                    relations.append(rel)
        return MigrationOp(op, name, line, end, db_table=_options_table(arg(call, 2, "options")),
                           relations=tuple(relations))
    if op in ("add_field", "alter_field"):
        model, field, value = const_str(arg(call, 0, "model_name")), const_str(arg(call, 1, "name")), arg(call, 2, "field")
        if not model or not field:
            return None
        rel = django_relation(value, field) if type(value) is ast.Call else None
        return MigrationOp(op, model, line, end, field=field, relations=(rel,) if rel else ())
    if op == "remove_field":
        model, field = const_str(arg(call, 0, "model_name")), const_str(arg(call, 1, "name"))
        return MigrationOp(op, model, line, end, field=field) if model and field else None
    if op == "rename_field":
        model, old, new = (const_str(arg(call, 0, "model_name")), const_str(arg(call, 1, "old_name")),
                           const_str(arg(call, 2, "new_name")))
        return MigrationOp(op, model, line, end, field=old, new_name=new) if model and old and new else None
    if op == "delete_model":
        model = const_str(arg(call, 0, "name"))
        return MigrationOp(op, model, line, end) if model else None
    if op == "rename_model":
        old, new = const_str(arg(call, 0, "old_name")), const_str(arg(call, 1, "new_name"))
        return MigrationOp(op, old, line, end, new_name=new) if old and new else None
    if op == "alter_model_table":
        model = const_str(arg(call, 0, "name"))
        return MigrationOp(op, model, line, end, db_table=const_str(arg(call, 1, "table")) or "") if model else None
    return None


def _options_table(options: Optional[ast.expr]) -> str:
    if type(options) is ast.Dict:
        for k, v in zip(options.keys, options.values):
            if const_str(k) == "db_table":
                return const_str(v) or ""
    return ""
