"""The idempotency-relevant shape of a parsed DML statement (see ``StatementDetail``).

Only facts: which columns a statement assigns, which assignments read their own column
(``balance = balance - $1``), how it handles a conflicting row, and which columns its top-level
WHERE pins. Whether that makes a write safe to repeat is the checks' business.
"""
from __future__ import annotations

from typing import Optional

from sqlglot import exp

from ..codefacts import StatementDetail

_PINNING = (exp.EQ, exp.NullSafeEQ, exp.Is, exp.In)


def statement_detail(tree: exp.Expression) -> Optional[StatementDetail]:
    """Detail of an INSERT, UPDATE, DELETE, MERGE or SELECT; None for anything else."""
    if isinstance(tree, exp.Insert):
        return _insert(tree)
    if isinstance(tree, exp.Update):
        columns, self_ref = _assignments(tree.expressions)
        equals, pinned = _where(tree.args.get("where"))
        return StatementDetail(columns=columns, self_referencing=self_ref, where_equals=equals,
                               where_pinned=pinned)
    if isinstance(tree, (exp.Delete, exp.Select)):
        equals, pinned = _where(tree.args.get("where"))
        return StatementDetail(where_equals=equals, where_pinned=pinned)
    if isinstance(tree, exp.Merge):
        return StatementDetail(on_conflict="update")
    return None


def _insert(tree: exp.Insert) -> StatementDetail:
    columns: tuple[str, ...] = ()
    target = tree.this
    if isinstance(target, exp.Schema):
        columns = tuple(_name(c) for c in target.expressions if _name(c))
    on_conflict, self_ref = "", ()
    conflict = tree.args.get("conflict")
    if isinstance(conflict, exp.OnConflict):
        action = conflict.args.get("action")
        if action is not None and "NOTHING" in action.sql().upper():
            on_conflict = "nothing"
        else:
            on_conflict = "update"
            _, self_ref = _assignments(conflict.expressions)
    elif tree.args.get("ignore") or str(tree.args.get("alternative") or "").upper() == "IGNORE":
        on_conflict = "nothing"
    elif str(tree.args.get("alternative") or "").upper() == "REPLACE":
        on_conflict = "update"
    source = tree.args.get("expression")
    not_exists = False
    if isinstance(source, exp.Select):
        where = source.args.get("where")
        not_exists = where is not None and any(
            isinstance(n.this, exp.Exists) for n in where.find_all(exp.Not))
    return StatementDetail(on_conflict=on_conflict, not_exists=not_exists, columns=columns,
                           self_referencing=self_ref)


def _assignments(expressions: list) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(assigned columns, those whose value reads the same column) of SET a = ..., b = ..."""
    columns, self_ref = [], []
    for e in expressions:
        if not isinstance(e, exp.EQ):
            continue
        col = _name(e.this)
        if not col:
            continue
        columns.append(col)
        value = e.expression
        if value is not None and any(_name(c) == col and _table(c) != "excluded"
                                     for c in value.find_all(exp.Column)):
            self_ref.append(col)
    return tuple(columns), tuple(self_ref)


def _where(where: Optional[exp.Expression]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Columns pinned by the top-level AND-ed conditions of a WHERE: ``col = x``, ``col IN (..)``,
    ``col IS NULL``; and the subset pinned to constants (a state such as status = 'pending')."""
    if where is None:
        return (), ()
    equals: list[str] = []
    pinned: list[str] = []
    stack = [where.this]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.Paren):
            stack.append(node.this)
        elif isinstance(node, exp.And):
            stack.extend((node.this, node.expression))
        elif isinstance(node, _PINNING):
            col, other = _column_and_other(node)
            if col:
                equals.append(col)
                if _constant(other):
                    pinned.append(col)
        elif isinstance(node, exp.Not) and isinstance(node.this, exp.Column):
            equals.append(_name(node.this))        # NOT refunded
            pinned.append(_name(node.this))
        elif isinstance(node, exp.Column):
            equals.append(_name(node))             # WHERE active
            pinned.append(_name(node))
    return tuple(sorted(set(equals))), tuple(sorted(set(pinned)))


def _column_and_other(node: exp.Expression) -> tuple[str, Optional[exp.Expression]]:
    left, right = node.this, node.args.get("expression")
    if isinstance(node, exp.In):
        right = node.expressions or node.args.get("query")
        return (_name(left), right) if isinstance(left, exp.Column) else ("", None)
    if isinstance(left, exp.Column):
        return _name(left), right
    if isinstance(right, exp.Column):
        return _name(right), left
    return "", None


def _constant(node) -> bool:
    if isinstance(node, list):
        return bool(node) and all(_constant(n) for n in node)
    return isinstance(node, (exp.Literal, exp.Null, exp.Boolean))


def _name(node) -> str:
    if isinstance(node, exp.Column):
        node = node.this
    if isinstance(node, exp.Identifier) and isinstance(node.this, str):
        return node.this if node.quoted else node.this.lower()
    return ""


def _table(col: exp.Column) -> str:
    t = col.args.get("table")
    return t.this.lower() if isinstance(t, exp.Identifier) and isinstance(t.this, str) else ""
