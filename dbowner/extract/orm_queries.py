"""ORM queries of one file: each query expression, with the models it names and what it does to them.

A *query* is one method chain that starts at an ORM anchor: ``Model.objects`` (Django),
``select(...)``/``insert(...)``/``update(...)``/``delete(...)``, ``session.query(...)``,
``Model.query`` (Flask-SQLAlchemy), ``session.get/add/add_all/merge/delete(...)``, a Core table's
``t.select()``/``t.insert()``..., or an instance's ``save()``/``delete()``. Everything in the
chain's arguments belongs to the same query (joins, filters, subqueries) except nested queries
that run on their own (``Other.objects.get(...)`` as an argument runs first), which are queries of
their own. A query bound to a local variable (``qs = Model.objects.filter(...)``) is continued by
later chains on that variable (``qs.update(...)``), so the write is seen.

Names are kept as written: which of them are models is decided after extraction. Locally bound
names (parameters, local variables) are never model names, so ``order.id`` on an instance is not
a reference to a table.
"""
from __future__ import annotations

import ast
import re
from dataclasses import replace
from typing import NamedTuple, Optional

from ..model import ModelRef, OrmQuery, Transaction
from .orm import Imports, const_str, dotted, excerpt, keyword

READ, WRITE = "read", "write"

DJANGO_MANAGERS = {"objects", "_default_manager", "_base_manager"}
DJANGO_LAZY = {"filter", "exclude", "all", "order_by", "values", "values_list", "select_related",
               "prefetch_related", "annotate", "alias", "distinct", "only", "defer", "using",
               "select_for_update", "reverse", "none", "union", "intersection", "difference", "dates",
               "datetimes", "complex_filter", "extra"}
DJANGO_EVAL = {"get", "first", "last", "latest", "earliest", "count", "exists", "aggregate", "create",
               "get_or_create", "update_or_create", "bulk_create", "bulk_update", "update", "delete",
               "in_bulk", "iterator", "contains", "explain", "aget", "afirst", "alast", "acount", "aexists",
               "acreate", "aget_or_create", "aupdate_or_create", "abulk_create", "aupdate", "adelete", "_raw_delete"}
DJANGO_WRITES = {"update": "update", "delete": "delete", "create": "insert", "bulk_create": "insert",
                 "get_or_create": "insert", "update_or_create": "update", "bulk_update": "update",
                 "_raw_delete": "delete"}
DJANGO_SINGLE = {"get", "first", "last", "latest", "earliest", "create", "get_or_create", "update_or_create"}
DJANGO_LOOKUP_KW = {"filter", "exclude", "get", "get_or_create", "update_or_create", "aget"}
DJANGO_LOOKUP_STR = {"select_related", "values", "values_list", "order_by", "only", "defer", "distinct"}
DJANGO_EXPRESSIONS = {"F", "Count", "Sum", "Avg", "Min", "Max", "StdDev", "Variance", "ArrayAgg",
                      "StringAgg", "JSONBAgg", "BoolAnd", "BoolOr", "FilteredRelation"}

SA_BUILDERS = {"select": "select", "insert": "insert", "update": "update", "delete": "delete",
               "exists": "select", "union": "select", "union_all": "select", "join": "select",
               "outerjoin": "select"}
SA_TABLE_METHODS = {"select": "select", "insert": "insert", "update": "update", "delete": "delete",
                    "join": "select", "outerjoin": "select"}
# Methods of a select()/query() that return the statement still unexecuted.
SA_LAZY = {"where", "filter", "filter_by", "join", "outerjoin", "join_from", "outerjoin_from", "select_from",
           "order_by", "group_by", "having", "limit", "offset", "distinct", "subquery", "scalar_subquery", "cte",
           "alias", "exists", "correlate", "correlate_except", "union", "union_all", "except_", "intersect",
           "with_only_columns", "add_columns", "options", "label", "values", "returning", "lateral",
           "execution_options", "params", "with_for_update", "slice", "fetch", "prefix_with", "suffix_with",
           "as_scalar", "ordered_values", "inline", "from_select", "on_conflict_do_nothing",
           "on_conflict_do_update", "enable_eagerloads", "statement"}
SA_EVAL = {"all", "first", "one", "one_or_none", "scalar", "scalar_one", "scalar_one_or_none", "count",
           "get", "first_or_404", "get_or_404", "one_or_404", "paginate", "update", "delete"}
SA_SINGLE = {"first", "one", "one_or_none", "scalar_one", "scalar_one_or_none", "scalar", "get",
             "first_or_404", "get_or_404", "one_or_404"}
SA_PACKAGES = ("sqlalchemy", "sqlmodel", "flask_sqlalchemy")
SA_MODULE_ALIASES = {"sa", "sqlalchemy", "sqlmodel", "db"}
SESSION_OPS = {"get", "get_one", "add", "add_all", "merge", "delete"}
_SESSION = re.compile(r"session|^_?db$|^s$|^sess$|^uow$", re.I)
RELATIVE = "relative-update"


class Ent(NamedTuple):
    """A model as the query names it: a dotted Python name, a Django label or a literal table."""

    name: str = ""
    label: str = ""
    table: str = ""

    def ref(self, role: str, action: str, line: int, **kw) -> ModelRef:
        return ModelRef(self.name, role, action, line, label=self.label, table=self.table, **kw)


class _Var:
    """A local variable holding a model instance."""

    __slots__ = ("ent", "state", "relative", "update")

    def __init__(self, ent: Ent, state: str):
        self.ent = ent
        self.state = state          # new | loaded | added
        self.relative = False       # saw obj.x -= n (Django: flag the next save())
        self.update: Optional[_Group] = None   # SQLAlchemy: the dirty-attribute update already reported


class _Scope:
    __slots__ = ("kind", "qualname", "start", "parent", "locals", "aliases", "types", "qvars")

    def __init__(self, kind: str, qualname: str, start: int, parent: Optional["_Scope"], local_names=()):
        self.kind = kind
        self.qualname = qualname
        self.start = start
        self.parent = parent
        self.locals: set[str] = set(local_names)
        self.aliases: dict[str, Ent] = {}     # o2 = aliased(Order); Order = apps.get_model("shop", "Order")
        self.types: dict[str, _Var] = {}
        self.qvars: dict[str, _Group] = {}

    def find(self, attr: str, name: str):
        s = self
        while s is not None:
            d = getattr(s, attr)
            if name in d:
                return d[name]
            if s.kind == "function" and name in s.locals:
                return None     # shadowed by a local that is not of this kind
            s = s.parent
        return None

    def is_local(self, name: str) -> bool:
        s = self
        while s is not None:
            if s.kind == "function" and name in s.locals:
                return True
            s = s.parent
        return False


class _Group:
    """One query being built."""

    def __init__(self, node: ast.AST, orm: str, scope: _Scope):
        self.node = node
        self.orm = orm
        self.scope = scope
        self.line = node.lineno
        self.end_line = node.end_lineno or node.lineno
        self.refs: list[ModelRef] = []
        self.flags: set[str] = set()
        self.base: Optional[Ent] = None       # the model a terminal update()/delete() writes
        self.manager = ""
        self.lookups: list[str] = []
        self.separate: list[str] = []         # prefetch_related paths: queries of their own
        self.base_action = ("read", "select", 0)
        self.entity: Optional[Ent] = None     # first whole-model entity: what .first() returns
        self.evaluated = False
        self.known_lazy = True                # only methods known to keep it an unexecuted query:
                                              # then it may run inside another query (a subquery)
        self.single = False                   # evaluates to one instance
        self.consumed = False                 # merged into another query: not reported alone
        self.skip = False                     # .raw(...): the SQL itself is analysed instead
        self.extra: list[ModelRef] = []       # the writes of get_or_create & co.
        self.query_entity: Optional[Ent] = None   # session.query(A) / A.query: what .update()/.delete() write
        self.last_node = node                 # latest expression that extended the query

    def add(self, ref: ModelRef) -> None:
        self.refs.append(ref)

    def fork(self, node: ast.AST) -> "_Group":
        """The same query continued after it already ran inside another one (as a subquery)."""
        g = _Group(node, self.orm, self.scope)
        g.refs = list(self.refs)
        g.base, g.manager, g.entity, g.query_entity = self.base, self.manager, self.entity, self.query_entity
        g.lookups = list(self.lookups)
        return g

    def merge(self, other: "_Group", line: int = 0) -> None:
        """Take in a subquery; one kept in a variable runs where it is used (``line``)."""
        for r in other.finish_refs():
            self.refs.append(replace(r, line=line) if line else r)
        self.flags |= other.flags
        other.consumed = True

    def finish_refs(self) -> list[ModelRef]:
        refs = list(self.refs)
        if self.base is not None:
            role, action, line = self.base_action
            orm = "django" if self.orm == "django" else ""
            line = line or self.line
            refs.insert(0, self.base.ref(role, action, line, orm=orm, manager=self.manager,
                                         lookups=tuple(self.lookups)))
            refs.extend(self.extra)
            if self.separate:
                refs.append(self.base.ref(READ, "select", line, orm=orm, manager=self.manager,
                                          lookups=tuple(self.separate), separate=True))
        return refs


def _spine(e: ast.expr) -> list[ast.expr]:
    """Root first: Order.objects.filter(x=1).first() -> [Order, .objects, .filter, (..), .first, ()]."""
    nodes = [e]
    while True:
        t = type(e)
        if t is ast.Call:
            e = e.func
        elif t is ast.Attribute or t is ast.Subscript:
            e = e.value
        else:
            break
        nodes.append(e)
    nodes.reverse()
    return nodes


def _method_calls(nodes: list[ast.expr], start: int):
    """(method name, Call) for each `.m(...)` in the spine from index start."""
    for j in range(max(start, 1), len(nodes)):
        n = nodes[j]
        if type(n) is ast.Call and type(n.func) is ast.Attribute:
            yield n.func.attr, n


def _looks_like_class(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last[:1].isupper()


def _is_relative(value: ast.expr) -> bool:
    """x - n / x + n where x is F(...) or a column attribute: a relative update."""
    for n in ast.walk(value):
        if type(n) is ast.BinOp and type(n.op) in (ast.Add, ast.Sub):
            for side in (n.left, n.right):
                if type(side) is ast.Call and dotted(side.func) in ("F", "models.F"):
                    return True
                if type(side) is ast.Attribute:
                    return True
    return False


class _Collector:
    def __init__(self, path: str, imports: Imports, transactions: list[Transaction]):
        self.path = path
        self.imports = imports
        self.transactions = transactions
        self.groups: list[_Group] = []
        self.too_deep: list[int] = []         # lines of statements nested too deeply to analyse

    # ------------------------------------------------------------------ statements
    def block(self, body: list[ast.stmt], scope: _Scope) -> None:
        for st in body:
            try:
                self.stmt(st, scope)
            except RecursionError:     # one absurdly deep expression must not lose the file
                self.too_deep.append(st.lineno)

    def stmt(self, st: ast.stmt, scope: _Scope) -> None:
        t = type(st)
        if t in (ast.FunctionDef, ast.AsyncFunctionDef):
            for d in st.decorator_list:
                self.expr(d, scope)
            for d in (*st.args.defaults, *(x for x in st.args.kw_defaults if x is not None)):
                self.expr(d, scope)
            start = min([st.lineno, *(d.lineno for d in st.decorator_list)])
            qual = f"{scope.qualname}.{st.name}" if scope.qualname else st.name
            inner = _Scope("function", qual, start, scope, _bound_names(st))
            self._annotated_params(st, inner)
            self.block(st.body, inner)
            if scope.kind == "function":
                scope.locals.add(st.name)
            return
        if t is ast.ClassDef:
            for d in (*st.decorator_list, *st.bases, *(k.value for k in st.keywords)):
                self.expr(d, scope)
            qual = f"{scope.qualname}.{st.name}" if scope.qualname else st.name
            self.block(st.body, _Scope("class", qual, scope.start, scope))
            return
        if t is ast.Assign:
            groups = self.expr(st.value, scope)
            for target in st.targets:
                self.bind(target, st.value, groups, scope)
            return
        if t is ast.AnnAssign:
            if st.value is not None:
                groups = self.expr(st.value, scope)
                self.bind(st.target, st.value, groups, scope)
            return
        if t is ast.AugAssign:
            self.expr(st.value, scope)
            self.aug_assign(st, scope)
            return
        if t in (ast.For, ast.AsyncFor):
            groups = self.expr(st.iter, scope)
            self.bind_loop(st.target, st.iter, groups, scope)
            self.block(st.body, scope)
            self.block(st.orelse, scope)
            return
        if t in (ast.With, ast.AsyncWith):
            for item in st.items:
                self.expr(item.context_expr, scope)
                if item.optional_vars is not None:
                    self.forget(item.optional_vars, scope)
            self.block(st.body, scope)
            return
        if t in (ast.If, ast.While):
            self.expr(st.test, scope)
            self.block(st.body, scope)
            self.block(st.orelse, scope)
            return
        if t is ast.Try or t.__name__ == "TryStar":
            self.block(st.body, scope)
            for h in st.handlers:
                self.block(h.body, scope)
            self.block(st.orelse, scope)
            self.block(st.finalbody, scope)
            return
        if t.__name__ == "Match":
            self.expr(st.subject, scope)
            for case in st.cases:
                self.block(case.body, scope)
            return
        for child in ast.iter_child_nodes(st):
            if isinstance(child, ast.expr):
                self.expr(child, scope)

    def _annotated_params(self, fn, scope: _Scope) -> None:
        a = fn.args
        for p in (*a.posonlyargs, *a.args, *a.kwonlyargs):
            if p.annotation is None:
                continue
            name = _annotation_class(p.annotation)
            if name and not self.imports.from_package(name, "typing", *SA_PACKAGES):
                scope.types[p.arg] = _Var(Ent(name), "loaded")

    # ------------------------------------------------------------------ bindings
    def bind(self, target: ast.expr, value: ast.expr, groups: list[_Group], scope: _Scope) -> None:
        t = type(target)
        if t is ast.Attribute:
            self.attribute_write(target, value, scope)
            return
        if t in (ast.Tuple, ast.List):
            # obj, created = Model.objects.get_or_create(...)
            if target.elts and type(target.elts[0]) is ast.Name and groups and groups[-1].single \
                    and groups[-1].last_node is value and groups[-1].entity is not None:
                self.forget(target, scope)
                scope.types[target.elts[0].id] = _Var(groups[-1].entity, "loaded")
                return
            self.forget(target, scope)
            return
        if t is not ast.Name:
            self.forget(target, scope)
            return
        name = target.id
        self.forget(target, scope)
        if scope.kind == "module" and name[:1].isupper():
            return    # a module-level alias of a model is resolved across files, not here
        alias = self.alias_of(value, scope)
        if alias is not None:
            scope.aliases[name] = alias
            return
        top = groups[-1] if groups and groups[-1].last_node is value else None
        if top is not None and not top.evaluated:
            scope.qvars[name] = top
            return
        if top is not None and top.single and top.entity is not None:
            scope.types[name] = _Var(top.entity, "loaded")
            return
        if type(value) is ast.Call:
            callee = dotted(value.func)
            if callee in ("get_object_or_404", "shortcuts.get_object_or_404") and value.args:
                ent = self.entity(value.args[0], scope)
                if ent is not None:
                    scope.types[name] = _Var(ent, "loaded")
                return
            if callee and _looks_like_class(callee):
                ent = self.entity(value.func, scope)
                if ent is not None:
                    scope.types[name] = _Var(ent, "new")

    def bind_loop(self, target: ast.expr, iterable: ast.expr, groups: list[_Group], scope: _Scope) -> None:
        self.forget(target, scope)
        if type(target) is not ast.Name:
            return
        group = None
        if groups and groups[-1].last_node is iterable:
            group = groups[-1]
        elif type(iterable) is ast.Name:
            group = scope.find("qvars", iterable.id)
        if group is not None and group.entity is not None and not group.single:
            scope.types[target.id] = _Var(group.entity, "loaded")

    def forget(self, target: ast.expr, scope: _Scope) -> None:
        for n in ast.walk(target):
            if type(n) is ast.Name:
                scope.types.pop(n.id, None)
                scope.qvars.pop(n.id, None)
                scope.aliases.pop(n.id, None)

    def alias_of(self, value: ast.expr, scope: _Scope) -> Optional[Ent]:
        """aliased(Order), apps.get_model("shop", "Order"), table("orders") / Table("orders", ...)."""
        if type(value) is not ast.Call:
            return None
        callee = dotted(value.func) or ""
        short = callee.rsplit(".", 1)[-1]
        if short == "aliased" and value.args:
            return self.entity(value.args[0], scope)
        if short == "get_model" and callee != "get_model":
            parts = [const_str(a) for a in value.args]
            if len(parts) == 2 and all(parts):
                return Ent(label=f"{parts[0]}.{parts[1]}")
            if len(parts) == 1 and parts[0] and "." in parts[0]:
                return Ent(label=parts[0])
            return None
        if short in ("table", "Table") and value.args and const_str(value.args[0]) \
                and (self.imports.from_package(callee, *SA_PACKAGES)
                     or callee.split(".")[0] in SA_MODULE_ALIASES):
            name = const_str(value.args[0])
            schema = const_str(keyword(value, "schema"))
            return Ent(table=f"{schema}.{name}" if schema else name)
        return None

    def attribute_write(self, target: ast.Attribute, value: ast.expr, scope: _Scope) -> None:
        """obj.x = ... on a loaded instance: an UPDATE at flush (SQLAlchemy); F()/x - n marks Django saves."""
        if type(target.value) is not ast.Name:
            return
        var = scope.find("types", target.value.id)
        if var is None:
            return
        relative = _is_relative(value)
        if relative:
            var.relative = True
        self._dirty(var, target, relative, scope)

    def aug_assign(self, st: ast.AugAssign, scope: _Scope) -> None:
        target = st.target
        if type(target) is ast.Name:
            self.forget(target, scope)
            return
        if type(target) is ast.Attribute and type(target.value) is ast.Name:
            var = scope.find("types", target.value.id)
            if var is None:
                return
            relative = type(st.op) in (ast.Add, ast.Sub)
            var.relative = var.relative or relative
            self._dirty(var, target, relative, scope)

    def _dirty(self, var: _Var, target: ast.Attribute, relative: bool, scope: _Scope) -> None:
        if var.state != "loaded":
            return
        if var.update is None:
            g = _Group(target, "sqlalchemy", scope)
            g.evaluated = True
            g.add(var.ent.ref(WRITE, "update", target.lineno, attr=target.attr, orm="sqlalchemy"))
            self.groups.append(g)
            var.update = g
        if relative:
            var.update.flags.add(RELATIVE)

    # ------------------------------------------------------------------ expressions
    def expr(self, e: Optional[ast.expr], scope: _Scope) -> list[_Group]:
        """Queries found in an expression, registered; the list is in source order."""
        if e is None:
            return []
        t = type(e)
        if t is ast.Call or t is ast.Attribute or t is ast.Subscript:
            g = self.chain(e, scope)
            if g is not None:
                if g.skip:
                    return []
                if g not in self.groups:
                    self.groups.append(g)
                return [g]
        if t is ast.Lambda:
            inner = _Scope("function", scope.qualname, scope.start, scope,
                           [a.arg for a in (*e.args.posonlyargs, *e.args.args, *e.args.kwonlyargs)])
            return self.expr(e.body, inner)
        if t in (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp):
            inner = _Scope("function", scope.qualname, scope.start, scope,
                           [n.id for g in e.generators for n in ast.walk(g.target) if type(n) is ast.Name])
            out = []
            for g in e.generators:
                out += self.expr(g.iter, scope)
                for cond in g.ifs:
                    out += self.expr(cond, inner)
            for part in ((e.key, e.value) if t is ast.DictComp else (e.elt,)):
                out += self.expr(part, inner)
            return out
        out = []
        for child in ast.iter_child_nodes(e):
            if isinstance(child, ast.expr):
                out += self.expr(child, scope)
            elif type(child) is ast.keyword:
                out += self.expr(child.value, scope)
        return out

    def entity(self, e: ast.expr, scope: _Scope) -> Optional[Ent]:
        """The model a name stands for here: None for locals (parameters, local variables)."""
        d = dotted(e)
        if d is None:
            return None
        head, _, rest = d.partition(".")
        alias = scope.find("aliases", head)
        if alias is not None:
            return alias if not rest else Ent(f"{alias.name}.{rest}" if alias.name else "", alias.label, alias.table)
        if scope.is_local(head) or head in ("self", "cls"):
            return None
        if self.imports.from_package(d, *SA_PACKAGES, "django", "typing", "datetime", "decimal", "uuid"):
            return None
        return Ent(d)

    def chain(self, e: ast.expr, scope: _Scope) -> Optional[_Group]:
        nodes = _spine(e)
        root = nodes[0]
        g: Optional[_Group] = None
        start = len(nodes)
        # a query held in a local variable, continued
        if type(root) is ast.Name and len(nodes) > 1:
            held = scope.find("qvars", root.id)
            if held is not None and held.consumed:
                held = held.fork(e)
                scope.qvars[root.id] = held
            if held is not None:
                g, start = held, 1
                g.end_line = max(g.end_line, e.end_lineno or e.lineno)
                g.last_node = e
        if g is None:
            g, start = self._anchor(nodes, e, scope)
        if g is None:
            return None
        self._links(g, nodes, start, scope)
        return g

    def _anchor(self, nodes: list[ast.expr], e: ast.expr, scope: _Scope) -> tuple[Optional[_Group], int]:
        n = len(nodes)
        for i in range(1, n):
            node = nodes[i]
            t = type(node)
            if t is ast.Attribute:
                owner = node.value
                attr = node.attr
                nxt = nodes[i + 1] if i + 1 < n else None
                # Django: Model.objects / Model._default_manager / Model.<custom manager>.filter(...)
                if attr in DJANGO_MANAGERS or (
                        nxt is not None and type(nxt) is ast.Attribute and (nxt.attr in DJANGO_LAZY or nxt.attr in DJANGO_EVAL)
                        and i + 2 < n and type(nodes[i + 2]) is ast.Call and not attr.startswith("_")
                        and attr != "query"):
                    ent = self.entity(owner, scope)
                    if ent is not None and (ent.label or _looks_like_class(ent.name)):
                        g = _Group(e, "django", scope)
                        g.base, g.manager, g.entity = ent, attr, ent
                        return g, i + 1
                # Flask-SQLAlchemy: Model.query.filter_by(...)
                if attr == "query" and (nxt is None or type(nxt) is not ast.Call):
                    ent = self.entity(owner, scope)
                    if ent is not None and (ent.label or _looks_like_class(ent.name)):
                        g = _Group(e, "sqlalchemy", scope)
                        g.query_entity, g.entity = ent, ent
                        g.add(ent.ref(READ, "select", node.lineno, orm="sqlalchemy"))
                        return g, i + 1
                if nxt is None or type(nxt) is not ast.Call:
                    continue
                call = nxt
                # session.query(A, B.x)
                if attr == "query" and call.args:
                    g = _Group(e, "sqlalchemy", scope)
                    first = self.entity(call.args[0], scope)
                    if first is not None and _looks_like_class(first.name or "X"):
                        g.entity = g.query_entity = first
                    self._scan_args(g, call, scope)
                    return g, i + 2
                # session.get(Model, id) / add(Model(...)) / delete(obj)
                if attr in SESSION_OPS and _SESSION.search(_last_name(owner)):
                    g = self._session_op(attr, call, e, scope)
                    if g is not None:
                        return g, i + 2
                    continue
                # sa.select(...) / sqlalchemy.insert(Model)
                callee = dotted(node)
                if callee and attr in SA_BUILDERS and self._sa_function(callee):
                    return self._builder(attr, call, e, scope), i + 2
                # Core table: orders.insert() / Model.__table__.delete()
                if attr in SA_TABLE_METHODS and callee:
                    owner_name = dotted(owner)
                    if owner_name and not self._sa_function(owner_name + ".x") \
                            and owner_name not in self.imports.modules:
                        ent = self.entity(owner, scope)
                        if ent is not None:
                            if ent.name.endswith(".__table__"):
                                ent = Ent(ent.name[: -len(".__table__")], ent.label, ent.table)
                            g = _Group(e, "sqlalchemy", scope)
                            action = SA_TABLE_METHODS[attr]
                            g.add(ent.ref(WRITE if action != "select" else READ, action, call.lineno,
                                          orm="sqlalchemy"))
                            self._scan_args(g, call, scope)
                            return g, i + 2
                # instance.save() / instance.delete()
                if attr in ("save", "delete", "asave", "adelete") and type(owner) is ast.Name and i == 1:
                    var = scope.find("types", owner.id)
                    if var is not None:
                        return self._instance_op(var, attr, call, e, scope), i + 2
            elif t is ast.Call and i == 1:
                callee = dotted(node.func) or ""
                short = callee.rsplit(".", 1)[-1]
                if short in SA_BUILDERS and self._sa_function(callee):
                    return self._builder(short, node, e, scope), i + 1
                if short in ("get_object_or_404", "get_list_or_404") and node.args:
                    g = _Group(e, "django", scope)
                    g.evaluated = True
                    g.single = short == "get_object_or_404"
                    ent = self.entity(node.args[0], scope) if type(node.args[0]) is not ast.Call else None
                    if ent is not None:
                        g.base, g.entity = ent, ent
                        g.lookups.extend(k.arg for k in node.keywords if k.arg)
                    else:
                        self._scan_args(g, node, scope)
                    return g, i + 1
        return None, n

    def _sa_function(self, callee: str) -> bool:
        head = callee.split(".")[0]
        if "." not in callee:
            return self.imports.from_package(callee, *SA_PACKAGES)
        if self.imports.from_package(head, *SA_PACKAGES):
            return True
        return head in SA_MODULE_ALIASES and not self.imports.target(head).startswith(("django",))

    def _builder(self, name: str, call: ast.Call, e: ast.expr, scope: _Scope) -> _Group:
        g = _Group(e, "sqlalchemy", scope)
        action = SA_BUILDERS[name]
        if action in ("insert", "update", "delete") and call.args:
            ent = self.entity(call.args[0], scope)
            if ent is not None:
                g.add(ent.ref(WRITE, action, call.lineno, orm="sqlalchemy"))
            for a in call.args[1:]:
                self._scan(g, a, scope)
            for k in call.keywords:
                self._scan(g, k.value, scope)
            return g
        if name == "select" and call.args:
            first = self.entity(call.args[0], scope)
            if first is not None and _looks_like_class(first.name or "X"):
                g.entity = first
        self._scan_args(g, call, scope)
        return g

    def _session_op(self, op: str, call: ast.Call, e: ast.expr, scope: _Scope) -> Optional[_Group]:
        if not call.args:
            return None
        g = _Group(e, "sqlalchemy", scope)
        g.evaluated = True
        a0 = call.args[0]
        if op in ("get", "get_one"):
            ent = self.entity(a0, scope)
            if ent is None:
                return None
            g.add(ent.ref(READ, "select", call.lineno, orm="sqlalchemy"))
            g.entity, g.single = ent, True
            return g
        if op == "delete":
            var = scope.find("types", a0.id) if type(a0) is ast.Name else None
            if var is None:
                return None
            g.add(var.ent.ref(WRITE, "delete", call.lineno, orm="sqlalchemy"))
            return g
        items = a0.elts if op == "add_all" and type(a0) in (ast.List, ast.Tuple) else [a0]
        if op == "add_all" and type(a0) in (ast.ListComp, ast.GeneratorExp):
            items = [a0.elt]
        for item in items:
            if type(item) is ast.Call and dotted(item.func) and _looks_like_class(dotted(item.func)):
                ent = self.entity(item.func, scope)
                if ent is not None:
                    g.add(ent.ref(WRITE, "insert", item.lineno, orm="sqlalchemy"))
                for a in (*item.args, *(k.value for k in item.keywords)):
                    self.expr(a, scope)
            elif type(item) is ast.Name:
                var = scope.find("types", item.id)
                if var is not None and var.state == "new":
                    g.add(var.ent.ref(WRITE, "insert", call.lineno, orm="sqlalchemy"))
                    var.state = "added"
                elif var is not None and op == "merge":
                    g.add(var.ent.ref(WRITE, "update", call.lineno, orm="sqlalchemy"))
        return g if g.refs else None

    def _instance_op(self, var: _Var, op: str, call: ast.Call, e: ast.expr, scope: _Scope) -> _Group:
        g = _Group(e, "django", scope)
        g.evaluated = True
        if op in ("save", "asave"):
            action = "insert" if var.state == "new" else "update"
            fields = keyword(call, "update_fields")
            if var.relative and action == "update":
                g.flags.add(RELATIVE)
            var.state, var.relative = "loaded", False
            if fields is not None and action == "insert":
                action = "update"
        else:
            action = "delete"
        g.add(var.ent.ref(WRITE, action, call.lineno, orm="django"))
        return g

    # ------------------------------------------------------------------ chain links
    def _links(self, g: _Group, nodes: list[ast.expr], start: int, scope: _Scope) -> None:
        last_method = ""
        for method, call in _method_calls(nodes, start):
            last_method = method
            if g.orm == "django":
                self._django_method(g, method, call, scope)
            else:
                self._sa_method(g, method, call, scope)
        if last_method:
            lazy = DJANGO_LAZY if g.orm == "django" else SA_LAZY
            if any(m not in lazy for m, _ in _method_calls(nodes, start)):
                g.known_lazy = False
            if g.orm == "django":
                g.evaluated = g.evaluated or last_method in DJANGO_EVAL
                g.single = last_method in DJANGO_SINGLE
            else:
                g.evaluated = g.evaluated or last_method in SA_EVAL
                g.single = g.single or last_method in SA_SINGLE

    def _django_method(self, g: _Group, method: str, call: ast.Call, scope: _Scope) -> None:
        if method == "raw":
            g.skip = True
            return
        if method in DJANGO_WRITES and g.base is not None:
            action = DJANGO_WRITES[method]
            if method in ("get_or_create", "update_or_create"):
                g.extra.append(g.base.ref(WRITE, action, call.lineno, orm="django", manager=g.manager))
            else:
                g.base_action = (WRITE, action, call.lineno)
            if method in ("update", "update_or_create", "bulk_update"):
                values = [k.value for k in call.keywords if k.arg not in (None, "defaults")]
                defaults = keyword(call, "defaults")
                if type(defaults) is ast.Dict:
                    values.extend(defaults.values)
                if any(_is_relative(v) for v in values):
                    g.flags.add(RELATIVE)
        if method in DJANGO_LOOKUP_KW:
            g.lookups.extend(k.arg for k in call.keywords if k.arg and k.arg not in ("defaults", "create_defaults"))
        if method in DJANGO_LOOKUP_STR:
            fetch = "+" if method == "select_related" else ""   # "+": the relation itself is joined
            g.lookups.extend(fetch + s.lstrip("-") for s in (const_str(a) for a in call.args) if s)
        if method == "prefetch_related":
            for a in call.args:
                s = const_str(a)
                if s:
                    g.separate.append(s)
                elif type(a) is ast.Call and dotted(a.func) in ("Prefetch", "models.Prefetch"):
                    p = const_str(a.args[0]) if a.args else None
                    if p:
                        g.separate.append(p)
        self._scan_args(g, call, scope)

    def _sa_method(self, g: _Group, method: str, call: ast.Call, scope: _Scope) -> None:
        if method in ("update", "delete") and g.query_entity is not None:
            g.add(g.query_entity.ref(WRITE, method, call.lineno, orm="sqlalchemy"))
            if method == "update" and call.args and _is_relative(call.args[0]):
                g.flags.add(RELATIVE)
        if method in ("values", "ordered_values") and any(
                _is_relative(v) for v in (*call.args, *(k.value for k in call.keywords))):
            if any(r.role == WRITE and r.action == "update" for r in g.refs):
                g.flags.add(RELATIVE)
        self._scan_args(g, call, scope)

    def _scan_args(self, g: _Group, call: ast.Call, scope: _Scope) -> None:
        for a in call.args:
            self._scan(g, a.value if type(a) is ast.Starred else a, scope)
        for k in call.keywords:
            self._scan(g, k.value, scope)

    def _scan(self, g: _Group, e: ast.expr, scope: _Scope) -> None:
        """Models named inside a query's arguments: nested queries, and (SQLAlchemy) model and
        column expressions such as Customer or Customer.email."""
        stack = [e]
        while stack:
            x = stack.pop()
            t = type(x)
            if t is ast.Name:
                held = scope.find("qvars", x.id)
                if held is not None and held is not g:
                    if held.known_lazy and not held.evaluated:
                        g.merge(held, x.lineno)
                    continue
            if t in (ast.Call, ast.Attribute, ast.Subscript):
                sub = self.chain(x, scope)
                if sub is not None and sub.skip:
                    continue
                if sub is not None and sub is not g:
                    if sub.evaluated or not sub.known_lazy:
                        if sub not in self.groups:
                            self.groups.append(sub)
                    else:   # a query kept in a variable runs here, not where it was built
                        g.merge(sub, x.lineno if sub.line < g.line else 0)
                        if sub in self.groups:
                            self.groups.remove(sub)
                    continue
            if g.orm == "django":
                if t is ast.Call:
                    name = (dotted(x.func) or "").rsplit(".", 1)[-1]
                    if name == "Q":
                        g.lookups.extend(k.arg for k in x.keywords if k.arg)
                    elif name in DJANGO_EXPRESSIONS and x.args and const_str(x.args[0]):
                        g.lookups.append(const_str(x.args[0]))
            elif t in (ast.Name, ast.Attribute):
                d = dotted(x)
                if d is not None:
                    ent = self.entity(x, scope)
                    if ent is not None:
                        name = _strip_table_suffix(ent.name) if ent.name else ent.name
                        g.add(ModelRef(name, READ, "select", x.lineno, label=ent.label, table=ent.table,
                                       orm="sqlalchemy"))
                    continue
            if t is ast.Subscript and type(x.value) is ast.Attribute and dotted(x.value) \
                    and dotted(x.value).endswith(".c"):
                stack.append(x.value)
                continue
            if t is ast.Lambda:
                continue
            for child in ast.iter_child_nodes(x):
                if isinstance(child, ast.expr):
                    stack.append(child)
                elif type(child) is ast.keyword:
                    stack.append(child.value)

    # ------------------------------------------------------------------ result
    def queries(self) -> list[OrmQuery]:
        out = []
        for g in self.groups:
            if g.consumed or g.skip:
                continue
            refs = g.finish_refs()
            if not refs:
                continue
            seen, unique = set(), []
            for r in refs:
                if r not in seen:
                    seen.add(r)
                    unique.append(r)
            line = min([g.line, *(r.line for r in unique)])
            out.append(OrmQuery(line, max(g.end_line, line), excerpt(g.node), tuple(unique),
                                g.scope.qualname, self._transaction(line, g.scope), tuple(sorted(g.flags))))
        out.sort(key=lambda q: (q.line, q.end_line, q.text))
        return out

    def _transaction(self, line: int, scope: _Scope) -> int:
        """The outermost explicit transaction block around the line, within the same function."""
        best: Optional[Transaction] = None
        for t in self.transactions:
            if t.line <= line <= t.end_line and t.line >= scope.start:
                if best is None or t.line < best.line:
                    best = t
        return best.id if best else 0


def _strip_table_suffix(name: str) -> str:
    parts = name.split(".")
    for marker in ("c", "columns", "__table__"):
        if marker in parts[1:]:
            return ".".join(parts[:parts.index(marker, 1)])
    return name


def _last_name(e: ast.expr) -> str:
    if type(e) is ast.Name:
        return e.id
    if type(e) is ast.Attribute:
        return e.attr
    if type(e) is ast.Call:
        return _last_name(e.func)
    return ""


def _annotation_class(node: ast.expr) -> str:
    """`order: Order`, `"Order"`, `Optional[Order]`, `Order | None` -> Order."""
    t = type(node)
    if t is ast.Constant and type(node.value) is str:
        try:
            return _annotation_class(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return ""
    if t is ast.Subscript and (dotted(node.value) or "").rsplit(".", 1)[-1] == "Optional":
        return _annotation_class(node.slice)
    if t is ast.BinOp and type(node.op) is ast.BitOr:
        left, right = node.left, node.right
        if type(right) is ast.Constant and right.value is None:
            return _annotation_class(left)
        if type(left) is ast.Constant and left.value is None:
            return _annotation_class(right)
        return ""
    d = dotted(node) if t in (ast.Name, ast.Attribute) else None
    return d if d and _looks_like_class(d) else ""


def _bound_names(fn) -> set[str]:
    """Names a function binds locally: parameters and assignment targets (not nested scopes),
    but not imports (an import inside a function still names the module-level thing)."""
    a = fn.args
    names = {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
    for p in (a.vararg, a.kwarg):
        if p is not None:
            names.add(p.arg)
    declared_global: set[str] = set()
    stack = list(fn.body)
    while stack:
        node = stack.pop()
        t = type(node)
        if t in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            names.add(node.name)
            continue
        if t is ast.Lambda:
            continue
        if t in (ast.Global, ast.Nonlocal):
            declared_global.update(node.names)
        elif t is ast.Name and type(node.ctx) is ast.Store:
            names.add(node.id)
        elif t is ast.ExceptHandler and node.name:
            names.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return names - declared_global


def collect_queries(path: str, tree: ast.Module, imports: Imports,
                    transactions: list[Transaction]) -> tuple[list[OrmQuery], list[int]]:
    """The file's ORM queries, and the lines of statements too deeply nested to analyse."""
    c = _Collector(path, imports, transactions)
    c.block(tree.body, _Scope("module", "", 0, None))
    return c.queries(), sorted(set(c.too_deep))
