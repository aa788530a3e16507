"""ORM facts of one Python file: imports, model classes, Core tables, ORM queries, migrations.

Runs on the tree ``python.py`` already parsed; the code is never imported. Names stay as the file
writes them (plus where each import points): which class is a model and which table it maps is
decided after extraction, across files, in ``dbowner/orm_resolve.py``. Alembic operations name
their tables literally, so they become ordinary statements right here.
"""
from __future__ import annotations

import ast
from typing import Optional

from ..model import Diagnostic, OrmFacts, OrmImport, Statement, Transaction
from .pyast import dotted as _dotted


def dotted(node: ast.expr) -> Optional[str]:
    """``a``, ``a.b.c`` for a Name/Attribute chain, else None (pyast.dotted gives "" instead)."""
    return _dotted(node) or None


def const_str(node: Optional[ast.expr]) -> Optional[str]:
    if type(node) is ast.Constant and type(node.value) is str:
        return node.value
    return None


def keyword(call: ast.Call, *names: str) -> Optional[ast.expr]:
    for k in call.keywords:
        if k.arg in names:
            return k.value
    return None


def arg(call: ast.Call, index: int, *names: str) -> Optional[ast.expr]:
    """Positional argument ``index`` or the first of the keyword ``names``."""
    if len(call.args) > index and type(call.args[index]) is not ast.Starred:
        return call.args[index]
    return keyword(call, *names)


def call_name(call: ast.Call) -> str:
    f = call.func
    if type(f) is ast.Attribute:
        return f.attr
    if type(f) is ast.Name:
        return f.id
    return ""


def excerpt(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover - unparse of a parsed tree should not fail
        return type(node).__name__
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."


def module_parts(path: str) -> list[str]:
    """Dotted module of a file from its path: ``a/b/c.py`` -> [a, b, c]; ``a/b/__init__.py`` -> [a, b]."""
    parts = path[:-3].split("/") if path.endswith(".py") else path.split("/")
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return parts


class Imports:
    """Where each name bound by an import points, as an absolute dotted name."""

    def __init__(self, path: str, tree: ast.Module):
        self.bound: dict[str, str] = {}
        self.modules: set[str] = set()       # names bound by `import x` / `import x.y as z`: modules
        self.records: list[OrmImport] = []
        package = module_parts(path)
        if not path.endswith("__init__.py"):
            package = package[:-1]
        for node in ast.walk(tree):
            t = type(node)
            if t is ast.Import:
                for a in node.names:
                    self.modules.add(a.asname or a.name.split(".")[0])
                    if a.asname:
                        self._bind(a.asname, a.name, node.lineno)
                    else:   # `import a.b.c` binds `a`, and a.b.c is reached through it
                        self._bind(a.name.split(".")[0], a.name.split(".")[0], node.lineno)
            elif t is ast.ImportFrom:
                base = node.module or ""
                if node.level:
                    if node.level - 1 > len(package):
                        continue
                    up = package[:len(package) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                if not base:
                    continue
                for a in node.names:
                    if a.name == "*":
                        self.records.append(OrmImport("*", base, node.lineno))
                    else:
                        self._bind(a.asname or a.name, f"{base}.{a.name}", node.lineno)

    def _bind(self, local: str, target: str, line: int) -> None:
        self.bound.setdefault(local, target)
        self.records.append(OrmImport(local, target, line))

    def target(self, name: str) -> str:
        """Absolute dotted target of a dotted name whose head is imported, else ''."""
        head, _, rest = name.partition(".")
        t = self.bound.get(head)
        if t is None:
            return ""
        return f"{t}.{rest}" if rest else t

    def from_package(self, name: str, *packages: str) -> bool:
        t = self.target(name)
        return bool(t) and t.split(".")[0] in packages

    def kept(self) -> list[OrmImport]:
        """Each import once (bases such as DeclarativeBase are resolved through them too)."""
        seen, out = set(), []
        for r in self.records:
            if (r.local, r.target) in seen:
                continue
            seen.add((r.local, r.target))
            out.append(r)
        return out


def collect_orm(path: str, tree: ast.Module,
                transactions: list[Transaction]) -> tuple[OrmFacts, list[Statement], list[Diagnostic]]:
    """ORM facts, Alembic statements and diagnostics of one parsed Python file."""
    from .alembic import alembic_statements
    from .orm_classes import collect_classes, collect_symbols
    from .orm_django import migration_ops
    from .orm_queries import collect_queries

    imports = Imports(path, tree)
    diagnostics: list[Diagnostic] = []
    facts = OrmFacts(imports=imports.kept())
    facts.classes = collect_classes(tree, imports, path, diagnostics)
    facts.symbols = collect_symbols(tree, imports)
    statements: list[Statement] = []
    try:
        facts.queries, too_deep = collect_queries(path, tree, imports, transactions)
        diagnostics.extend(Diagnostic(path, line, "parse-error", "statement too deeply nested for ORM analysis")
                           for line in too_deep)
        statements = alembic_statements(path, tree, imports)
        facts.migration_ops = migration_ops(path, tree, imports)
    except RecursionError:
        diagnostics.append(Diagnostic(path, 0, "parse-error", "too deeply nested for ORM analysis"))
    return facts, statements, diagnostics
