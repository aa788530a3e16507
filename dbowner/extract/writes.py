"""Writes and publishes in a function body, by their shape: ORM writes (session.add,
objects.create, F() and attribute arithmetic, upserts) and broker publishes (the publish
conventions). Facts only: whether a write is safe to repeat is decided in dbowner.sagas."""
from __future__ import annotations

import ast
import re
from typing import Optional

from ..codefacts import OrmWrite
from . import conventions as cv
from .pyast import callee_of, dotted, keyword, last_part, receiver_of, text_of, unroll


def publish_broker(call: ast.Call, callee: str) -> str:
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


def f_reads(value: ast.AST, column: str) -> bool:
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


def loaded_model(name: str, assigns: dict) -> str:
    """The model of a variable loaded from the database in this function, else ""."""
    model, loaded = _model_of(ast.Name(name), assigns)
    return model if loaded else ""


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
            callee = callee_of(value.func)
            if last_part(callee)[:1].isupper():
                return last_part(callee), False
            for c in ast.walk(value):  # session.get(Order, id), session.exec(select(Order)...).one()
                if isinstance(c, ast.Call) and c.args and dotted(c.args[0])[:1].isupper():
                    return last_part(dotted(c.args[0])), True
            head = text_of(value.func, 200).split(".")[0]
            return (head if head[:1].isupper() else ""), True
    return "", False


_UPSERT_CHAIN = frozenset({"on_conflict_do_nothing", "on_conflict_do_update", "on_duplicate_key_update"})
_ORM_METHODS = frozenset({"add", "add_all", "merge", "delete", "get_or_create", "update_or_create", "create",
                          "bulk_create", "update", "values", "save", *_UPSERT_CHAIN})


def orm_write(call: ast.Call, callee: str, assigns: dict, parents) -> Optional[OrmWrite]:
    last = last_part(callee)
    if last not in _ORM_METHODS:
        return None
    recv = receiver_of(callee)
    text = text_of(call, 80)
    func_value = call.func.value if isinstance(call.func, ast.Attribute) else None
    recv_text = text_of(func_value, 200) if func_value is not None else ""
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
    if last == "save" and not call.args and isinstance(func_value, ast.Name):
        # Django/DRF obj.save(), form.save(): new object -> insert, loaded one -> update
        model, loaded = _model_of(func_value, assigns)
        new = bool(model) and not loaded
        return OrmWrite(call.lineno, "add" if new else ("update" if loaded and model else "save"), text, model)
    if last == "delete" and not call.args and isinstance(func_value, ast.Name):
        model, loaded = _model_of(func_value, assigns)
        if model and loaded:
            return OrmWrite(call.lineno, "delete", text, model)
    if queryset and last in ("create", "bulk_create"):
        op = last
        if last == "bulk_create":
            if _true(keyword(call, ("ignore_conflicts",))):
                op = "bulk_create_ignore"
            elif _true(keyword(call, ("update_conflicts",))):
                op = "upsert"
        return OrmWrite(call.lineno, op, text, model)
    if queryset and last == "update":
        rel = tuple(k.arg for k in call.keywords if k.arg and f_reads(k.value, k.arg))
        return OrmWrite(call.lineno, "update_relative" if rel else "update", text, model, rel)
    if queryset and last == "delete":
        return OrmWrite(call.lineno, "delete", text, model)
    if last in _UPSERT_CHAIN and any(last_part(callee_of(c.func)) == "insert" for c in unroll(call)):
        return OrmWrite(call.lineno, "upsert", text, _sa_model(call))
    if last == "values" and func_value is not None:
        kinds = [last_part(callee_of(c.func)) for c in unroll(call)]
        outer = parents.get(id(call))
        outer_call = parents.get(id(outer)) if isinstance(outer, ast.Attribute) else None
        if "update" in kinds:
            rel = tuple(k.arg for k in call.keywords if k.arg and _attr_reads(k.value, k.arg))
            return OrmWrite(call.lineno, "update_relative" if rel else "update", text, _sa_model(call), rel)
        if "insert" in kinds and not (isinstance(outer_call, ast.Call)
                                      and last_part(callee_of(outer_call.func)) in _UPSERT_CHAIN):
            return OrmWrite(call.lineno, "insert", text, _sa_model(call))
    return None


def _sa_model(call: ast.Call) -> str:
    """Model of insert(Model)... / update(Model)... chains."""
    for c in unroll(call):
        if last_part(callee_of(c.func)) in ("insert", "update") and c.args:
            return last_part(dotted(c.args[0])) or text_of(c.args[0], 30)
    return ""


def _true(node: Optional[ast.AST]) -> bool:
    return isinstance(node, ast.Constant) and node.value is True
