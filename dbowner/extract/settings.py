"""Python settings -> connections: Django ``DATABASES`` and database URL literals
(``SQLALCHEMY_DATABASE_URI = os.getenv("DATABASE_URL", "postgresql://...")``, ``create_engine("...")``).

Values are resolved statically: literals, module constants, ``os.getenv``/``os.environ.get``/
``env()``/``config()`` defaults, ``dj_database_url``/``env.db()`` URLs. A value only known at run
time makes the connection partial. The code is never imported or run.
"""
from __future__ import annotations

import ast
import re
from typing import Optional

from ..model import Connection
from .config import env_label
from .dburl import UNRESOLVED, Target, parse_url

_GATE = re.compile(r"(?:postgres|pgsql|mysql|mariadb|sqlite|mongodb|mssql|oracle|cockroach)[a-z0-9+]*://|"
                   r"\bDATABASES\b", re.I)
_GETTERS = {"get", "getenv", "env", "config", "str", "int", "bool", "get_env", "getenv_str"}
_ENGINES = (("postgis", "postgresql"), ("postgres", "postgresql"), ("cockroach", "cockroachdb"),
            ("mysql", "mysql"), ("sqlite", "sqlite"), ("oracle", "oracle"), ("mssql", "mssql"),
            ("sql_server", "mssql"), ("djongo", "mongodb"))


def extract_python_connections(path: str, text: str) -> list[Connection]:
    if not _GATE.search(text):
        return []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []      # the Python extractor reports the syntax error
    finder = _Finder(tree, env_label(path))
    finder.run()
    return sorted(finder.out, key=lambda c: (c.line, c.key))


class _Finder:
    def __init__(self, tree: ast.Module, label: str) -> None:
        self.tree = tree
        self.label = label
        self.out: list[Connection] = []
        self.used: set[int] = set()          # ids of string nodes already read as part of DATABASES
        self.consts: dict[str, str] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                value = self.value(node.value)
                if value is not None:
                    self.consts[node.targets[0].id] = value

    def run(self) -> None:
        for node in ast.walk(self.tree):
            target, value = _assignment(node)
            if target == "DATABASES" and isinstance(value, ast.Dict):
                for k, v in zip(value.keys, value.values):
                    if isinstance(k, ast.Constant) and isinstance(k.value, str):
                        self.django_alias(k.value, k.lineno, v)
            elif isinstance(target, tuple) and target[0] == "DATABASES" and value is not None:
                self.django_alias(target[1], node.lineno, value)
        parents = {id(child): parent for parent in ast.walk(self.tree) for child in ast.iter_child_nodes(parent)}
        for node in ast.walk(self.tree):
            if id(node) in self.used:
                continue
            if isinstance(node, ast.JoinedStr):           # f"postgresql://{host}/orders": holes unknown
                self.mark_used(node)
                text = self.value(node)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
            else:
                continue
            if text and not any(ch.isspace() for ch in text.strip()):
                target = parse_url(text)
                if target is not None:
                    self.add(node.lineno, _key_of(node, parents), target)

    def add(self, line: int, key: str, t: Target) -> None:
        label = "test" if re.match(r"TEST(_|\Z)", key, re.I) else self.label
        self.out.append(Connection(line=line, key=key, driver=t.driver, host=t.host, port=t.port,
                                   database=t.database, partial=t.partial, label=label))

    def django_alias(self, alias: str, line: int, node: ast.expr) -> None:
        key = f"DATABASES.{alias}"
        if isinstance(node, ast.Dict):
            fields = {k.value.upper(): v for k, v in zip(node.keys, node.values)
                      if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            for v in fields.values():
                self.mark_used(v)
            engine = self.value(fields["ENGINE"]) if "ENGINE" in fields else None
            driver = next((d for word, d in _ENGINES if engine and word in engine.lower()), "")
            name = self.value(fields["NAME"]) if "NAME" in fields else ""
            host = self.value(fields["HOST"]) if "HOST" in fields else ""
            port = self.value(fields["PORT"]) if "PORT" in fields else ""
            if driver == "sqlite":
                self.add(line, key, Target(driver, "", "", name or "", name is None))
                return
            if host == "" and driver in ("postgresql", "mysql"):
                host = "localhost"          # Django's default: the local server
            parts = [p if p is not None else UNRESOLVED for p in (host, port, name)]
            partial = any(p == UNRESOLVED for p in parts) or not parts[0] or not parts[2] \
                or (parts[1] != "" and not parts[1].isdigit()) or engine is None
            self.add(line, key, Target(driver, "" if host is None else host.lower(),
                                       "" if port is None else port, name or "", partial))
        elif isinstance(node, ast.Call):
            # dj_database_url.config(default=URL) / .parse(URL), env.db("DATABASE_URL", default=URL)
            self.mark_used(node)
            url = None
            for kw in node.keywords:
                if kw.arg == "default":
                    url = self.value(kw.value)
            if url is None and _call_name(node.func) == "parse" and node.args:
                url = self.value(node.args[0])
            target = parse_url(url) if url else None
            if target is not None:
                self.add(line, key, target)

    def mark_used(self, node: ast.AST) -> None:
        for sub in ast.walk(node):
            self.used.add(id(sub))

    def value(self, node: ast.expr) -> Optional[str]:
        """The string a settings expression evaluates to without running anything; None if unknown."""
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)) and not isinstance(node.value, bool):
            return str(node.value)
        if isinstance(node, ast.Name):
            return self.consts.get(node.id)
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(str(v.value))
                else:
                    inner = self.value(v.value) if isinstance(v, ast.FormattedValue) else None
                    parts.append(UNRESOLVED if inner is None else inner)
            return "".join(parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.value(node.left), self.value(node.right)
            return None if left is None or right is None else left + right
        if isinstance(node, ast.Call) and _call_name(node.func) in _GETTERS:
            name = _call_name(node.func)
            if name in ("str", "int", "bool") and isinstance(node.func, ast.Name):
                return self.value(node.args[0]) if len(node.args) == 1 else None   # str(x): x itself
            default = next((kw.value for kw in node.keywords if kw.arg == "default"), None)
            if default is None and name in ("get", "getenv") and len(node.args) >= 2:
                default = node.args[1]
            return None if default is None else self.value(default)
        return None


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _assignment(node: ast.AST) -> tuple[object, Optional[ast.expr]]:
    """("DATABASES", value) for DATABASES = ..., (("DATABASES", alias), value) for DATABASES["alias"] = ..."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value = node.targets[0], node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        target, value = node.target, node.value
    else:
        return None, None
    if isinstance(target, ast.Name):
        return target.id, value
    if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and target.value.id == "DATABASES"
            and isinstance(target.slice, ast.Constant) and isinstance(target.slice.value, str)):
        return ("DATABASES", target.slice.value), value
    return None, None


def _key_of(node: ast.AST, parents: dict[int, ast.AST]) -> str:
    """The name a URL literal is given: the variable, keyword, env var or function it is passed to."""
    child, parent = node, parents.get(id(node))
    for _ in range(4):
        if parent is None:
            break
        if isinstance(parent, ast.keyword) and parent.arg:
            return parent.arg
        if isinstance(parent, (ast.Assign, ast.AnnAssign)):
            target = parent.targets[0] if isinstance(parent, ast.Assign) else parent.target
            if isinstance(target, ast.Name):
                return target.id
            if isinstance(target, ast.Attribute):
                return target.attr
            if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
                return str(target.slice.value)
            return ""
        if isinstance(parent, ast.Call):
            name = _call_name(parent.func)
            if name in _GETTERS and parent.args and isinstance(parent.args[0], ast.Constant) \
                    and parent.args[0] is not child:
                return str(parent.args[0].value)
            if name not in _GETTERS:
                return f"{name}()"
        if isinstance(parent, ast.Dict):
            for k, v in zip(parent.keys, parent.values):
                if v is child and isinstance(k, ast.Constant):
                    return str(k.value)
        child, parent = parent, parents.get(id(parent))
    return ""
