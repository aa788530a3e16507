"""Model definitions of one file: classes that may be models, Core tables and declarative bases.

Both ORMs are read in one pass over each class body: whether a class is a Django model, a
SQLAlchemy model or neither depends on its bases, which are resolved across files later.
"""
from __future__ import annotations

import ast
import re
from typing import Optional

from ..model import Diagnostic, OrmClass, OrmRelation, OrmSymbol
from .orm import Imports, arg, call_name, const_str, dotted, keyword

SA_PACKAGES = ("sqlalchemy", "sqlmodel", "flask_sqlalchemy")
DJANGO_RELATIONS = {
    "ForeignKey": "fk", "OneToOneField": "o2o", "ManyToManyField": "m2m",
    # django-modelcluster and django-mptt spell the same fields differently
    "ParentalKey": "fk", "ParentalManyToManyField": "m2m",
    "TreeForeignKey": "fk", "TreeOneToOneField": "o2o", "TreeManyToManyField": "m2m",
}
# Calls whose result, assigned in a class body, is a mapped attribute (SQLAlchemy / SQLModel).
SA_ATTRIBUTES = {"Column", "mapped_column", "relationship", "Relationship", "Field", "column_property",
                 "deferred", "synonym", "composite", "association_proxy", "query_expression", "dynamic_loader"}
_TYPING_NAMES = {"Mapped", "WriteOnlyMapped", "DynamicMapped", "Optional", "List", "list", "Set", "set",
                 "Dict", "dict", "Union", "None", "Sequence", "Iterable", "Tuple", "tuple", "Any",
                 "FrozenSet", "frozenset", "ClassVar", "typing", "t"}
_MODEL_SETTING = re.compile(r"[A-Za-z_]\w*\.[A-Za-z_]\w*\Z")


def module_level(body: list[ast.stmt]):
    """Statements run at import time: the module body and the blocks of if/try/with in it."""
    for st in body:
        t = type(st)
        if t in (ast.If, ast.Try, ast.With) or (hasattr(ast, "TryStar") and t is getattr(ast, "TryStar")):
            yield from module_level(st.body)
            yield from module_level(getattr(st, "orelse", []) or [])
            yield from module_level(getattr(st, "finalbody", []) or [])
            for h in getattr(st, "handlers", []) or []:
                yield from module_level(h.body)
        else:
            yield st


# ------------------------------------------------------------------------------------ relations

def _table_target(text: str) -> Optional[str]:
    """SQLAlchemy "schema.table.column" / "table.column" -> "schema.table" / "table"."""
    parts = text.split(".")
    return ".".join(parts[:-1]) if len(parts) >= 2 else None


def _column_owner(expr: ast.expr) -> Optional[str]:
    """`Customer.id` -> Customer, `customers.c.id` -> customers, `Customer.__table__.c.id` -> Customer."""
    d = dotted(expr)
    if d is None:
        if type(expr) is ast.Subscript:     # customers.c["id"]
            d = dotted(expr.value)
            if d and d.endswith(".c"):
                return d[:-2].removesuffix(".__table__") or None
        return None
    parts = d.split(".")
    for marker in ("c", "columns", "__table__"):
        if marker in parts[1:]:
            return ".".join(parts[:parts.index(marker, 1)]) or None
    return ".".join(parts[:-1]) or None


def _sa_fk(call: ast.Call, field: str) -> Optional[OrmRelation]:
    """ForeignKey("schema.table.col") / ForeignKey(Model.id)."""
    target = arg(call, 0, "column")
    text = const_str(target)
    if text is not None:
        table = _table_target(text)
        return OrmRelation(field, "fk", table, "table", call.lineno) if table else None
    owner = _column_owner(target) if target is not None else None
    if owner:
        return OrmRelation(field, "fk", owner, "name", call.lineno)
    return OrmRelation(field, "fk", _code(target), "dynamic", call.lineno) if target is not None else None


def _code(node: ast.expr) -> str:
    try:
        return ast.unparse(node)[:80]
    except Exception:  # pragma: no cover - unparse of a parsed tree should not fail
        return type(node).__name__


def _sa_fk_constraint(call: ast.Call, field: str) -> Optional[OrmRelation]:
    """ForeignKeyConstraint(["customer_id"], ["customers.id"])."""
    refs = arg(call, 1, "refcolumns")
    if type(refs) not in (ast.List, ast.Tuple) or not refs.elts:
        return None
    first = refs.elts[0]
    text = const_str(first)
    if text is not None:
        table = _table_target(text)
        return OrmRelation(field, "fk", table, "table", call.lineno) if table else None
    owner = _column_owner(first)
    return OrmRelation(field, "fk", owner, "name", call.lineno) if owner else None


def _annotation_target(node: Optional[ast.expr]) -> tuple[str, str]:
    """The model an annotation like Mapped[list["Item"]] or Optional["User"] names: (target, kind)."""
    if node is None:
        return "", ""
    stack = [node]
    while stack:
        n = stack.pop(0)
        t = type(n)
        if t is ast.Constant and type(n.value) is str:
            try:
                stack.insert(0, ast.parse(n.value, mode="eval").body)
            except SyntaxError:
                continue
        elif t is ast.Subscript:
            stack.insert(0, n.slice)
            stack.insert(0, n.value)
        elif t in (ast.Tuple, ast.List):
            stack[0:0] = list(n.elts)
        elif t is ast.BinOp:                  # X | None
            stack[0:0] = [n.left, n.right]
        else:
            d = dotted(n) if t in (ast.Name, ast.Attribute) else None
            if d and d.split(".")[-1] not in _TYPING_NAMES and d.split(".")[0] not in _TYPING_NAMES:
                return d, ("registry" if type(node) is ast.Constant or _inside_string(node, d) else "name")
    return "", ""


def _inside_string(node: ast.expr, name: str) -> bool:
    return any(type(n) is ast.Constant and type(n.value) is str and name in n.value for n in ast.walk(node))


def _relationship(call: ast.Call, field: str, annotation: Optional[ast.expr]) -> Optional[OrmRelation]:
    target = arg(call, 0, "argument")
    name, kind = "", ""
    if type(target) is ast.Lambda:
        target = target.body
    text = const_str(target)
    if text is not None:
        name, kind = text.split(".")[-1], "registry"
    elif target is not None and dotted(target):
        name, kind = dotted(target), "name"
    else:
        name, kind = _annotation_target(annotation)
    if not name:
        return None
    through, through_kind = "", ""
    secondary = keyword(call, "secondary")
    if type(secondary) is ast.Lambda:
        secondary = secondary.body
    if const_str(secondary) is not None:
        through, through_kind = const_str(secondary), "table"
    elif secondary is not None and dotted(secondary):
        through, through_kind = dotted(secondary), "name"
    return OrmRelation(field, "relationship", name, kind, call.lineno, through, through_kind)


def django_relation(call: ast.Call, field: str) -> Optional[OrmRelation]:
    """models.ForeignKey("app.Model") / ForeignKey(Model) / ManyToManyField(to=settings.AUTH_USER_MODEL)."""
    kind = DJANGO_RELATIONS.get(call_name(call))
    if kind is None:
        return None
    to = arg(call, 0, "to")
    target, target_kind = _django_target(to)
    if not target:
        return OrmRelation(field, kind, _code(to), "dynamic", call.lineno) if to is not None else None
    through, through_kind = _django_target(keyword(call, "through"))
    constraint = keyword(call, "db_constraint")
    related = const_str(keyword(call, "related_query_name")) or const_str(keyword(call, "related_name")) or ""
    return OrmRelation(field, kind, target, target_kind, call.lineno, through, through_kind,
                       const_str(keyword(call, "db_table")) or "",
                       not (type(constraint) is ast.Constant and constraint.value is False), related)


def _django_target(node: Optional[ast.expr]) -> tuple[str, str]:
    if node is None:
        return "", ""
    text = const_str(node)
    if text is not None:
        return text, "label"
    d = dotted(node)
    if d is None:
        return "", ""
    if d.startswith("settings.") and d.count(".") == 1:
        return d.split(".")[1], "setting"
    return d, "name"


def _relations_in(value: ast.expr, field: str, annotation: Optional[ast.expr]) -> list[OrmRelation]:
    """Relations declared by the value assigned to a class attribute."""
    if type(value) is ast.Call:
        rel = django_relation(value, field)
        if rel is not None:
            return [rel]
        if call_name(value) in ("relationship", "Relationship", "dynamic_loader"):
            rel = _relationship(value, field, annotation)
            return [rel] if rel else []
    out = []
    for node in ast.walk(value):
        if type(node) is not ast.Call:
            continue
        name = call_name(node)
        rel = None
        if name == "ForeignKey":
            rel = _sa_fk(node, field)
        elif name == "ForeignKeyConstraint":
            rel = _sa_fk_constraint(node, field)
        elif name == "Field":                                   # SQLModel Field(foreign_key="user.id")
            text = const_str(keyword(node, "foreign_key"))
            table = _table_target(text) if text else None
            rel = OrmRelation(field, "fk", table, "table", node.lineno) if table else None
        if rel is not None:
            out.append(rel)
    return out


def _table_call(call: ast.Call) -> tuple[str, str, str, list[OrmRelation], list[str]]:
    """Table("name", metadata, Column(...), ..., schema=...) -> name, schema, metadata, relations, columns."""
    name = const_str(arg(call, 0, "name")) or ""
    meta = dotted(call.args[1]) if len(call.args) > 1 else None
    schema = const_str(keyword(call, "schema")) or ""
    relations, columns = [], []
    for a in call.args[1:]:
        if type(a) is ast.Call and call_name(a) in ("Column", "column"):
            col = const_str(arg(a, 0, "name"))
            if col:
                columns.append(col)
        relations.extend(_relations_in(a, "", None) if type(a) is ast.Call else [])
    return name, schema, meta or "", relations, columns


# -------------------------------------------------------------------------------------- classes

def collect_classes(tree: ast.Module, imports: Imports, path: str, diagnostics: list[Diagnostic]) -> list[OrmClass]:
    out = []
    for st in module_level(tree.body):
        if type(st) is ast.ClassDef:
            fact = _class_fact(st, path, diagnostics)
            if fact is not None:
                out.append(fact)
    return out


def _class_fact(node: ast.ClassDef, path: str, diagnostics: list[Diagnostic]) -> Optional[OrmClass]:
    # every class is kept, models or not: a mixin's __tablename__ is inherited, and a plain class
    # shadows a same-named model a star import would otherwise bring in
    bases = tuple(d for d in (dotted(b) for b in node.bases) if d and d != "object")
    f = {"table": "", "schema": "", "tablename_rule": "", "metadata_schema": "", "app_label": "",
         "abstract": False, "proxy": False, "config_name": "", "config_label": ""}
    columns, managers, relations = [], [], []
    table_kw = any(k.arg == "table" and type(k.value) is ast.Constant and k.value.value is True
                   for k in node.keywords)
    for st in node.body:
        t = type(st)
        if t is ast.ClassDef and st.name == "Meta":
            _meta(st, f, path, node.name, diagnostics)
            continue
        if t in (ast.FunctionDef, ast.AsyncFunctionDef):
            decorators = {(dotted(d.func) if type(d) is ast.Call else dotted(d)) or "" for d in st.decorator_list}
            if st.name == "__tablename__":
                f["tablename_rule"] = _declared_tablename(st)
            elif any(d.split(".")[-1] in ("hybrid_property", "declared_attr") or d.endswith("declared_attr.directive")
                     for d in decorators):
                columns.append(st.name)
            continue
        if t is ast.Assign and len(st.targets) == 1 and type(st.targets[0]) is ast.Name:
            name, value, annotation = st.targets[0].id, st.value, None
        elif t is ast.AnnAssign and type(st.target) is ast.Name:
            name, value, annotation = st.target.id, st.value, st.annotation
            if not name.startswith("__"):
                columns.append(name)
        else:
            continue
        if name == "__tablename__":
            text = const_str(value)
            if text is not None:
                f["table"] = text
            else:
                f["tablename_rule"] = "dynamic"
        elif name == "__table__" and type(value) is ast.Call:
            table, schema, _meta_var, rels, cols = _table_call(value)
            f["table"], f["schema"] = table, schema
            relations.extend(rels)
            columns.extend(cols)
        elif name == "__table_args__" and value is not None:
            f["schema"] = _table_args_schema(value) or f["schema"]
            elts = value.elts if type(value) in (ast.Tuple, ast.List) else []
            for e in elts:
                if type(e) is ast.Call:
                    relations.extend(_relations_in(e, "", None))
        elif name == "__abstract__":
            f["abstract"] = type(value) is ast.Constant and value.value is True
        elif name == "metadata" and type(value) is ast.Call and call_name(value) == "MetaData":
            f["metadata_schema"] = const_str(keyword(value, "schema")) or ""
        elif name in ("name", "label") and const_str(value) is not None:
            f["config_" + name] = const_str(value)
        elif value is not None:
            if type(value) is ast.Call:
                callee = call_name(value)
                if callee.endswith("Manager") or _is_manager_factory(value):
                    managers.append(name)
                elif (callee in SA_ATTRIBUTES or callee.endswith("Field") or callee in DJANGO_RELATIONS
                      or callee in ("GenericForeignKey", "GenericRelation")) and name not in columns:
                    columns.append(name)
            relations.extend(_relations_in(value, name, annotation))
    if f["tablename_rule"] == "dynamic" and not f["table"]:
        diagnostics.append(Diagnostic(path, node.lineno, "orm-dynamic",
                                      f"cannot read the table name of {node.name} statically; "
                                      f"queries on it are not analysed"))
    return OrmClass(node.name, node.lineno, node.end_lineno or node.lineno, bases,
                    tuple(d for d in ((dotted(x.func) if type(x) is ast.Call else dotted(x))
                                      for x in node.decorator_list) if d),
                    f["table"], f["schema"], f["tablename_rule"], f["metadata_schema"], f["app_label"],
                    f["abstract"], f["proxy"], table_kw, tuple(columns), tuple(managers), tuple(relations),
                    f["config_name"], f["config_label"])


def _is_manager_factory(call: ast.Call) -> bool:
    """Manager built from a QuerySet: MyQuerySet.as_manager() / Manager.from_queryset(QS)()."""
    f = call.func
    if type(f) is ast.Attribute and f.attr == "as_manager":
        return True
    return type(f) is ast.Call and call_name(f) == "from_queryset"


def _meta(node: ast.ClassDef, f: dict, path: str, model: str, diagnostics: list[Diagnostic]) -> None:
    for st in node.body:
        if type(st) is not ast.Assign or len(st.targets) != 1 or type(st.targets[0]) is not ast.Name:
            continue
        key, value = st.targets[0].id, st.value
        if key == "db_table":
            text = const_str(value)
            if text is None:
                f["tablename_rule"] = "dynamic"
            else:
                m = re.fullmatch(r'"?([^".]+)"?\."([^"]+)"', text)   # '"schema"."table"' (a known trick)
                f["schema"], f["table"] = (m.group(1), m.group(2)) if m else ("", text)
        elif key == "app_label" and const_str(value):
            f["app_label"] = const_str(value)
        elif key in ("abstract", "proxy"):
            f[key] = type(value) is ast.Constant and value.value is True


def _declared_tablename(fn: ast.FunctionDef) -> str:
    """@declared_attr __tablename__: `return cls.__name__.lower()` is understood, anything else is dynamic."""
    returns = [s for s in fn.body if type(s) is ast.Return]
    if len(fn.body) == 1 and returns and returns[0].value is not None:
        v = returns[0].value
        if (type(v) is ast.Call and not v.args and call_name(v) == "lower" and type(v.func) is ast.Attribute
                and dotted(v.func.value) in ("cls.__name__", "self.__name__")):
            return "lower"
    return "dynamic"


def _table_args_schema(value: ast.expr) -> Optional[str]:
    if type(value) in (ast.Tuple, ast.List) and value.elts:
        value = value.elts[-1]
    if type(value) is ast.Dict:
        for k, v in zip(value.keys, value.values):
            if const_str(k) == "schema":
                return const_str(v)
    return None


# -------------------------------------------------------------------------------------- symbols

def _is_sa_callable(callee: str, imports: Imports) -> bool:
    """A bare name must come from SQLAlchemy. `x.Table` may be sa.Table or a Flask `db.Table`: its head
    is defined here, comes from SQLAlchemy or is a name imported from a module (`from app import db`),
    but not a whole other package (`rich.table.Table`)."""
    if "." not in callee:
        return imports.from_package(callee, *SA_PACKAGES)
    t = imports.target(callee.split(".")[0])
    return not t or t.split(".")[0] in SA_PACKAGES or "." in t


def _metadata_of(call: ast.Call) -> tuple[str, str]:
    """metadata=... of declarative_base()/SQLAlchemy(): (variable, inline schema)."""
    m = keyword(call, "metadata")
    if m is None:
        return "", ""
    if type(m) is ast.Call and call_name(m) == "MetaData":
        return "", const_str(keyword(m, "schema")) or ""
    return dotted(m) or "", ""


def collect_symbols(tree: ast.Module, imports: Imports) -> list[OrmSymbol]:
    out = []
    for st in module_level(tree.body):
        if type(st) is ast.Assign and len(st.targets) == 1 and type(st.targets[0]) is ast.Name:
            name, value = st.targets[0].id, st.value
        elif type(st) is ast.AnnAssign and type(st.target) is ast.Name and st.value is not None:
            name, value = st.target.id, st.value
        else:
            continue
        if name == "INSTALLED_APPS":
            out.append(OrmSymbol(name, "settings", st.lineno))
            continue
        text = const_str(value)
        if text is not None and name.isupper() and name.endswith("_MODEL") and _MODEL_SETTING.match(text):
            out.append(OrmSymbol(name, "setting", st.lineno, value=text))
            continue
        if type(value) is not ast.Call:
            continue
        callee = dotted(value.func) or ""
        short = callee.split(".")[-1]
        if short == "Table" and _is_sa_callable(callee, imports) and const_str(arg(value, 0)) \
                and len(value.args) > 1 and const_str(value.args[1]) is None:
            table, schema, meta, rels, cols = _table_call(value)
            out.append(OrmSymbol(name, "table", st.lineno, table, schema, meta, tuple(cols), tuple(rels)))
        elif short == "table" and _is_sa_callable(callee, imports) and const_str(arg(value, 0)):
            table, schema, _m, rels, cols = _table_call(value)
            out.append(OrmSymbol(name, "table", st.lineno, table, schema, "", tuple(cols), tuple(rels)))
        elif short in ("declarative_base", "automap_base", "generate_base"):
            meta, schema = _metadata_of(value)
            out.append(OrmSymbol(name, "base", st.lineno, schema=schema, value=meta))
        elif short == "MetaData" and _is_sa_callable(callee, imports):
            out.append(OrmSymbol(name, "metadata", st.lineno, schema=const_str(keyword(value, "schema")) or ""))
        elif short == "SQLAlchemy" and _is_sa_callable(callee, imports):
            meta, schema = _metadata_of(value)
            out.append(OrmSymbol(name, "flask_db", st.lineno, schema=schema, value=meta))
    out.extend(_imperative_mappings(tree))
    return out


def _imperative_mappings(tree: ast.Module) -> list[OrmSymbol]:
    """registry.map_imperatively(Model, table) / mapper(Model, table), anywhere in the file."""
    out = []
    for node in ast.walk(tree):
        if type(node) is ast.Call and call_name(node) in ("map_imperatively", "mapper") and len(node.args) >= 2:
            cls, table = dotted(node.args[0]), dotted(node.args[1])
            if cls and table:
                out.append(OrmSymbol(cls, "mapping", node.lineno, value=table))
    return out
