"""ORM resolution: model names used in one file -> the tables they map, across files.

Extraction leaves ORM facts as written (a class, its bases, the names a query uses, the file's
imports). Here, with every file's facts at hand:

1. imports are followed to the module that defines a name (``from shop.models import Order``,
   package ``__init__`` re-exports, ``import shop.models as m`` + ``m.Order``, star imports);
2. a class is a model when its bases lead to ``django.db.models.Model``, a SQLAlchemy declarative
   base (``DeclarativeBase``, ``declarative_base()``, Flask-SQLAlchemy ``db.Model``) or a SQLModel
   ``table=True`` class;
3. each model gets its table: ``__tablename__``/``Meta.db_table``, or Django's
   ``<app_label>_<model>`` with the app label of the folder that holds ``models.py`` (or its
   AppConfig ``label``), schema from ``__table_args__``/``MetaData(schema=...)``;
4. ORM queries, model definitions (with their foreign keys) and Django migrations become ordinary
   statements, so every rule applies to them unchanged.

A name that does not resolve to a model is no fact: precision over recall. Model tables carry the
database of the service whose code defines the model, so a model imported into another service
still names the defining service's table.
"""
from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Optional

from .discover import Discovery
from .extract.orm import module_parts
from .manifest import Manifest
from .model import (DDL, READ, REFERENCE, WRITE, Diagnostic, FileFacts, MigrationOp, ModelRef, OrmClass,
                    OrmQuery, OrmRelation, OrmSymbol, Statement, TableAccess, TableName)

DJANGO_ROOTS = {"django.db.models.Model", "django.db.models.base.Model"}
# Abstract models of Django and common packages: their subclasses are concrete models.
DJANGO_ABSTRACT_ROOTS = {
    "django.contrib.auth.models.AbstractUser", "django.contrib.auth.models.AbstractBaseUser",
    "django.contrib.auth.base_user.AbstractBaseUser", "django.contrib.auth.models.PermissionsMixin",
    "mptt.models.MPTTModel", "polymorphic.models.PolymorphicModel", "model_utils.models.TimeStampedModel",
    "django_extensions.db.models.TimeStampedModel", "taggit.models.TaggedItemBase", "taggit.models.TagBase",
    "taggit.models.GenericTaggedItemBase", "treebeard.mp_tree.MP_Node", "treebeard.ns_tree.NS_Node",
    "treebeard.al_tree.AL_Node", "modelcluster.models.ClusterableModel",
}
SA_ROOTS = {"sqlalchemy.orm.DeclarativeBase", "sqlalchemy.orm.DeclarativeBaseNoMeta",
            "sqlalchemy.orm.decl_api.DeclarativeBase", "sqlalchemy.orm.decl_api.DeclarativeBaseNoMeta"}
SQLMODEL_ROOTS = {"sqlmodel.SQLModel", "sqlmodel.main.SQLModel"}
SA_DECORATORS = ("as_declarative", "mapped", "mapped_as_dataclass")
APPCONFIG_ROOTS = {"django.apps.AppConfig", "django.apps.config.AppConfig"}
# Django's own models, when the analysed code refers to them: label -> table.
DJANGO_CONTRIB = {
    "auth.user": "auth_user", "auth.group": "auth_group", "auth.permission": "auth_permission",
    "contenttypes.contenttype": "django_content_type", "sites.site": "django_site",
    "sessions.session": "django_session", "admin.logentry": "django_admin_log",
    "redirects.redirect": "django_redirect", "flatpages.flatpage": "django_flatpage",
}
DJANGO_CONTRIB_CLASSES = {
    "django.contrib.auth.models.User": "auth.user", "django.contrib.auth.models.Group": "auth.group",
    "django.contrib.auth.models.Permission": "auth.permission",
    "django.contrib.contenttypes.models.ContentType": "contenttypes.contenttype",
    "django.contrib.sites.models.Site": "sites.site", "django.contrib.sessions.models.Session": "sessions.session",
    "django.contrib.admin.models.LogEntry": "admin.logentry",
}
DJANGO_MANAGERS = {"objects", "_default_manager", "_base_manager"}
# Lookup words that end a Django lookup path ("customer__in", "created__year__gte").
DJANGO_LOOKUPS = {
    "exact", "iexact", "contains", "icontains", "in", "gt", "gte", "lt", "lte", "startswith", "istartswith",
    "endswith", "iendswith", "range", "date", "year", "iso_year", "month", "day", "week", "week_day",
    "iso_week_day", "quarter", "time", "hour", "minute", "second", "isnull", "regex", "iregex", "search",
    "unaccent", "trigram_similar", "contained_by", "overlap", "has_key", "has_keys", "has_any_keys", "len",
    "pk", "id", "net_contained", "net_contained_or_equal", "net_contains", "net_contains_or_equals",
    "family", "lower", "upper", "keys", "values",
}
POSTGRES_NAME_MAX = 63


@dataclass
class _Module:
    path: str
    service: str
    classes: dict[str, OrmClass] = field(default_factory=dict)
    symbols: dict[str, OrmSymbol] = field(default_factory=dict)
    imports: dict[str, str] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)


@dataclass
class ModelInfo:
    """A model (or Core table) and the table it maps."""

    orm: str                       # django | sqlalchemy | table
    name: str                      # class name, or the Table variable
    path: str                      # file that defines it
    service: str
    table: TableName
    line: int
    end_line: int
    label: str = ""                # Django "app.model" (lower case)
    columns: frozenset = frozenset()
    managers: frozenset = frozenset()
    relations: tuple = ()          # ((OrmRelation, inherited: bool, defining module path), ...)
    parents: tuple = ()            # Django multi-table inheritance parents (ModelInfo)
    concrete: Optional["ModelInfo"] = None    # proxy model -> the model whose table it uses


# Names resolve to tuples: ("module", _Module) | ("class", _Module, OrmClass) |
# ("symbol", _Module, OrmSymbol) | ("external", "dotted.name") | ("flask_model", _Module, OrmSymbol)


def _snake(name: str) -> str:
    """Flask-SQLAlchemy's default table name: CamelCase -> camel_case."""
    name = re.sub(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))", r"_\1", name)
    return name.lower().lstrip("_")


def _truncate(name: str, dialect: str) -> str:
    """Django's truncate_name for generated names longer than the database allows (PostgreSQL: 63)."""
    if dialect != "postgres" or len(name) <= POSTGRES_NAME_MAX:
        return name
    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()[:4]
    return name[:POSTGRES_NAME_MAX - 4] + digest


def _table_name(text: str, catalog: str) -> TableName:
    schema, _, name = text.lower().rpartition(".")
    return TableName(name, schema, catalog)


class OrmIndex:
    """Every file's ORM facts, with names resolvable across files."""

    def __init__(self, manifest: Manifest, discovery: Discovery, facts: list[FileFacts]):
        self.manifest = manifest
        self.service_of = {f.path: f.service for f in discovery.files}
        self.modules: dict[str, _Module] = {}
        self.by_suffix: dict[str, list[_Module]] = defaultdict(list)
        self.diagnostics: list[Diagnostic] = []
        self.settings: dict[str, set[str]] = defaultdict(set)
        self.has_settings = False
        self.mappings: list[tuple[_Module, OrmSymbol]] = []
        for ff in facts:
            if not ff.path.endswith(".py"):
                continue
            m = _Module(ff.path, self.service_of.get(ff.path, ""))
            for c in ff.orm.classes:
                m.classes[c.name] = c
            for s in ff.orm.symbols:
                if s.kind == "mapping":
                    self.mappings.append((m, s))
                elif s.kind == "setting":
                    self.settings[s.name].add(s.value)
                elif s.kind == "settings":
                    self.has_settings = True
                else:
                    m.symbols.setdefault(s.name, s)
            for i in ff.orm.imports:
                if i.local == "*":
                    m.stars.append(i.target)
                else:
                    m.imports.setdefault(i.local, i.target)
            self.modules[ff.path] = m
            parts = module_parts(ff.path)
            for k in range(len(parts)):
                self.by_suffix[".".join(parts[k:])].append(m)
        self._kind: dict[tuple[str, str], str] = {}
        self._models: dict[tuple[str, str], Optional[ModelInfo]] = {}
        self._labels: Optional[dict[str, ModelInfo]] = None
        self._registry: Optional[dict[str, list[ModelInfo]]] = None
        self._imperative: Optional[dict[tuple[str, str], tuple[_Module, OrmSymbol]]] = None
        self._app_labels: dict[str, str] = {}
        self._app_markers: Optional[set[str]] = None

    # ------------------------------------------------------------------ names
    def find_module(self, fq: str, service: str) -> Optional[_Module]:
        found = self.by_suffix.get(fq)
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        exact = [m for m in found if ".".join(module_parts(m.path)) == fq]
        if len(exact) == 1:
            return exact[0]
        mine = [m for m in found if m.service == service]
        return mine[0] if len(mine) == 1 else None

    def lookup(self, module: _Module, name: str, depth: int = 0) -> Optional[tuple]:
        if depth > 12:
            return None
        if name in module.classes:
            return ("class", module, module.classes[name])
        if name in module.symbols:
            return ("symbol", module, module.symbols[name])
        if name in module.imports:
            return self.target(module.imports[name], module, depth + 1)
        for star in module.stars:
            m = self.find_module(star, module.service)
            if m is not None and m is not module:
                found = self.lookup(m, name, depth + 1)
                if found is not None:
                    return found
        # a submodule of a package: `from shop import models` with no import of it in __init__
        if module.path.endswith("__init__.py"):
            sub = self.find_module(".".join(module_parts(module.path)) + "." + name, module.service)
            if sub is not None:
                return ("module", sub)
        return None

    def target(self, fq: str, origin: _Module, depth: int = 0) -> Optional[tuple]:
        m = self.find_module(fq, origin.service)
        if m is not None:
            return ("module", m)
        prefix, _, last = fq.rpartition(".")
        if prefix:
            pm = self.find_module(prefix, origin.service)
            if pm is not None:
                return self.lookup(pm, last, depth + 1) if pm is not origin else None
        return ("external", fq)

    def resolve(self, module: _Module, dotted: str) -> Optional[tuple]:
        """What a dotted name written in a module stands for."""
        parts = dotted.split(".")
        ent = self.lookup(module, parts[0])
        for part in parts[1:]:
            if ent is None:
                return None
            kind = ent[0]
            if kind == "module":
                ent = self.lookup(ent[1], part)
            elif kind == "external":
                ent = ("external", f"{ent[1]}.{part}")
            elif kind == "symbol" and ent[2].kind == "flask_db" and part == "Model":
                ent = ("flask_model", ent[1], ent[2])
            else:
                return None
        return ent

    # ------------------------------------------------------------------ models
    def class_kind(self, module: _Module, cls: OrmClass, depth: int = 0) -> str:
        """django | sqlalchemy | sqlmodel | appconfig | "" (not a model)."""
        key = (module.path, cls.name)
        if key in self._kind:
            return self._kind[key]
        self._kind[key] = ""      # cycles resolve to "not a model"
        kind = ""
        if any(d.rsplit(".", 1)[-1] in SA_DECORATORS for d in cls.decorators):
            kind = "sqlalchemy"
        for base in cls.bases:
            if kind or depth > 30:
                break
            ent = self.resolve(module, base)
            if ent is None:
                continue
            if ent[0] == "external":
                fq = ent[1]
                if fq in DJANGO_ROOTS or fq in DJANGO_ABSTRACT_ROOTS or fq in DJANGO_CONTRIB_CLASSES:
                    kind = "django"
                elif fq in SA_ROOTS:
                    kind = "sqlalchemy"
                elif fq in SQLMODEL_ROOTS:
                    kind = "sqlmodel"
                elif fq in APPCONFIG_ROOTS:
                    kind = "appconfig"
            elif ent[0] == "flask_model":
                kind = "sqlalchemy"
            elif ent[0] == "symbol" and ent[2].kind == "base":
                kind = "sqlalchemy"
            elif ent[0] == "class":
                kind = self.class_kind(ent[1], ent[2], depth + 1)
        self._kind[key] = kind
        return kind

    def _base_classes(self, module: _Module, cls: OrmClass) -> list[tuple]:
        out = []
        for base in cls.bases:
            ent = self.resolve(module, base)
            if ent is not None:
                out.append(ent)
        return out

    def app_folder(self, path: str) -> str:
        """The Django app a file belongs to: the nearest folder (the file's own or above) that holds
        apps.py, models.py, models/ or migrations/, as Django finds the app containing a module."""
        if self._app_markers is None:
            self._app_markers = set()
            for p in self.modules:
                folder = p.rsplit("/", 1)[0] if "/" in p else ""
                name = p.rsplit("/", 1)[-1]
                if name in ("apps.py", "models.py"):
                    self._app_markers.add(folder)
                elif folder.endswith(("/models", "/migrations")) or folder in ("models", "migrations"):
                    self._app_markers.add(folder.rsplit("/", 1)[0] if "/" in folder else "")
        folder = app_folder(path)
        probe = folder
        while probe:
            if probe in self._app_markers:
                return probe
            probe = probe.rsplit("/", 1)[0] if "/" in probe else ""
        return folder

    def app_label(self, path: str) -> str:
        folder = self.app_folder(path)
        if folder in self._app_labels:
            return self._app_labels[folder]
        label = folder.rsplit("/", 1)[-1]
        for candidate in (f"{folder}/apps.py", f"{folder}/__init__.py"):
            m = self.modules.get(candidate.lstrip("/"))
            if m is None:
                continue
            for c in m.classes.values():
                if (c.config_label or c.config_name) and self.class_kind(m, c) == "appconfig":
                    label = c.config_label or c.config_name.rsplit(".", 1)[-1]
                    break
        self._app_labels[folder] = label
        return label

    def model(self, module: _Module, cls: OrmClass) -> Optional[ModelInfo]:
        key = (module.path, cls.name)
        if key in self._models:
            return self._models[key]
        self._models[key] = None     # cycle guard
        kind = self.class_kind(module, cls)
        info = None
        if kind == "django":
            info = self._django_model(module, cls)
        elif kind in ("sqlalchemy", "sqlmodel"):
            info = self._sa_model(module, cls, kind)
        self._models[key] = info
        return info

    def catalog(self, service: str) -> str:
        """The logical database of a service: where the tables its models map live."""
        svc = self.manifest.services.get(service)
        return svc.database or "" if svc else ""

    def _inherited(self, module: _Module, cls: OrmClass, want: str, seen=None) -> list[tuple]:
        """Relations/columns/managers from abstract (Django) or unmapped (SQLAlchemy mixin) bases."""
        seen = seen if seen is not None else set()
        out = []
        for ent in self._base_classes(module, cls):
            if ent[0] != "class" or (ent[1].path, ent[2].name) in seen:
                continue
            seen.add((ent[1].path, ent[2].name))
            bm, bc = ent[1], ent[2]
            if self.model(bm, bc) is not None and not bc.abstract:
                continue           # a concrete parent: its fields live in its own table
            if want == "relations":
                out.extend((r, True, bm.path) for r in bc.relations)
            else:
                out.extend(getattr(bc, want))
            out.extend(self._inherited(bm, bc, want, seen))
        return out

    def _django_model(self, module: _Module, cls: OrmClass) -> Optional[ModelInfo]:
        if cls.abstract:
            return None
        parents, concrete = [], None
        for ent in self._base_classes(module, cls):
            parent = None
            if ent[0] == "class":
                parent = self.model(ent[1], ent[2])
            elif ent[0] == "external" and ent[1] in DJANGO_CONTRIB_CLASSES:   # class ObjectType(ContentType)
                parent = self.label_model(DJANGO_CONTRIB_CLASSES[ent[1]])
            if parent is not None:
                parents.append(parent.concrete or parent)
        label = (cls.app_label or self.app_label(module.path))
        if cls.proxy:
            if not parents:
                return None
            concrete = parents[0]
            table = concrete.table
        else:
            dialect = self.manifest.dialect_of(module.service)
            name = cls.table or _truncate(f"{label}_{cls.name.lower()}", dialect)
            table = TableName(name.lower(), cls.schema.lower(), self.catalog(module.service))
        columns = set(cls.columns) | set(self._inherited(module, cls, "columns"))
        managers = set(cls.managers) | set(self._inherited(module, cls, "managers"))
        relations = tuple((r, False, module.path) for r in cls.relations) + tuple(self._inherited(module, cls, "relations"))
        for p in parents:
            columns |= p.columns
            managers |= p.managers
        return ModelInfo("django", cls.name, module.path, module.service, table, cls.line, cls.end_line,
                         f"{label}.{cls.name}".lower(), frozenset(columns), frozenset(managers),
                         relations if not cls.proxy else (), tuple(parents) if not cls.proxy else (), concrete)

    def _sa_model(self, module: _Module, cls: OrmClass, kind: str) -> Optional[ModelInfo]:
        if cls.abstract:
            return None
        if kind == "sqlmodel" and not cls.table_kw:
            return None
        bases = [e for e in self._base_classes(module, cls) if e[0] == "class"]
        columns = set(cls.columns) | set(self._inherited(module, cls, "columns"))
        relations = tuple((r, False, module.path) for r in cls.relations) + tuple(self._inherited(module, cls, "relations"))
        table_text = cls.table
        parent = None
        if not table_text:
            for ent in bases:
                info = self.model(ent[1], ent[2])
                if info is not None:
                    parent = info          # single-table inheritance: the parent's table
                    break
        if parent is not None:
            return ModelInfo("sqlalchemy", cls.name, module.path, module.service, parent.table, cls.line,
                             cls.end_line, columns=frozenset(columns | parent.columns), relations=relations)
        imperative = self.imperative().get((module.path, cls.name))
        if not table_text and imperative is not None:
            sym_ent = self.resolve(imperative[0], imperative[1].value)
            if sym_ent and sym_ent[0] == "symbol" and sym_ent[2].kind == "table":
                t = self.table_symbol(sym_ent[1], sym_ent[2])
                return ModelInfo("sqlalchemy", cls.name, module.path, module.service, t.table, cls.line,
                                 cls.end_line, columns=frozenset(columns | t.columns), relations=relations)
        if not table_text:
            rule = self._inherited_tablename(module, cls)
            if rule == "lower" or kind == "sqlmodel":
                table_text = cls.name.lower()
            elif rule and rule not in ("dynamic",):
                table_text = rule
            elif self._is_flask(module, cls):
                table_text = _snake(cls.name)
        if not table_text:
            return None
        schema = cls.schema or self._inherited_schema(module, cls)
        table = TableName(table_text.lower(), schema.lower(), self.catalog(module.service))
        return ModelInfo("sqlalchemy", cls.name, module.path, module.service, table, cls.line, cls.end_line,
                         columns=frozenset(columns), relations=relations)

    def _walk_bases(self, module: _Module, cls: OrmClass, depth: int = 0):
        """(module, class) or symbol entities of all ancestors, depth first."""
        if depth > 30:
            return
        for ent in self._base_classes(module, cls):
            yield ent
            if ent[0] == "class":
                yield from self._walk_bases(ent[1], ent[2], depth + 1)

    def _inherited_tablename(self, module: _Module, cls: OrmClass) -> str:
        if cls.tablename_rule:
            return cls.tablename_rule
        for ent in self._walk_bases(module, cls):
            if ent[0] == "class":
                if ent[2].table:
                    return ent[2].table
                if ent[2].tablename_rule:
                    return ent[2].tablename_rule
        return ""

    def _inherited_schema(self, module: _Module, cls: OrmClass) -> str:
        if cls.metadata_schema:
            return cls.metadata_schema
        for ent in self._walk_bases(module, cls):
            if ent[0] == "class" and (ent[2].schema or ent[2].metadata_schema):
                return ent[2].schema or ent[2].metadata_schema
            if ent[0] in ("symbol", "flask_model"):
                return self._symbol_schema(ent[1], ent[2])
        return ""

    def _symbol_schema(self, module: _Module, sym: OrmSymbol) -> str:
        if sym.schema:
            return sym.schema
        if sym.value:
            ent = self.resolve(module, sym.value)
            if ent and ent[0] == "symbol" and ent[2].kind == "metadata":
                return ent[2].schema
        return ""

    def _is_flask(self, module: _Module, cls: OrmClass) -> bool:
        return any(e[0] == "flask_model" for e in self._walk_bases(module, cls))

    def table_symbol(self, module: _Module, sym: OrmSymbol) -> ModelInfo:
        key = (module.path, "table:" + sym.name)
        info = self._models.get(key)
        if info is None:
            schema = sym.schema or self._symbol_schema(module, sym)
            if "." in sym.table and not schema:
                schema, _, name = sym.table.rpartition(".")
            else:
                name = sym.table
            info = ModelInfo("table", sym.name, module.path, module.service,
                             TableName(name.lower(), schema.lower(), self.catalog(module.service)),
                             sym.line, sym.line, columns=frozenset(sym.columns),
                             relations=tuple((r, False, module.path) for r in sym.relations))
            self._models[key] = info
        return info

    def imperative(self) -> dict[tuple[str, str], tuple[_Module, OrmSymbol]]:
        """Classes mapped with registry.map_imperatively(Class, table) / mapper(Class, table)."""
        if self._imperative is None:
            self._imperative = {}
            for m, sym in self.mappings:
                ent = self.resolve(m, sym.name)
                if ent and ent[0] == "class":
                    self._imperative[(ent[1].path, ent[2].name)] = (m, sym)
        return self._imperative

    def imperative_model(self, module: _Module, cls: OrmClass) -> Optional[ModelInfo]:
        """A plain domain class mapped imperatively (it has no declarative base)."""
        found = self.imperative().get((module.path, cls.name))
        if found is None:
            return None
        ent = self.resolve(found[0], found[1].value)
        if not ent or ent[0] != "symbol" or ent[2].kind != "table":
            return None
        t = self.table_symbol(ent[1], ent[2])
        return replace(t, orm="sqlalchemy", name=cls.name, path=module.path, line=cls.line, end_line=cls.end_line)

    def entity_model(self, ent: Optional[tuple]) -> Optional[ModelInfo]:
        if ent is None:
            return None
        if ent[0] == "class":
            info = self.model(ent[1], ent[2])
            if info is None and (ent[1].path, ent[2].name) in self.imperative():
                info = self.imperative_model(ent[1], ent[2])
            return info
        if ent[0] == "symbol" and ent[2].kind == "table":
            return self.table_symbol(ent[1], ent[2])
        if ent[0] == "external":
            label = DJANGO_CONTRIB_CLASSES.get(ent[1])
            return self.label_model(label) if label else None
        return None

    def labels(self) -> dict[str, ModelInfo]:
        if self._labels is None:
            self._labels = {}
            dup = set()
            for m in self.modules.values():
                for c in m.classes.values():
                    info = self.model(m, c)
                    if info is not None and info.orm == "django":
                        if info.label in self._labels:
                            dup.add(info.label)
                        self._labels[info.label] = info
            for label in dup:          # two models claim one label: don't guess
                del self._labels[label]
        return self._labels

    def label_model(self, label: str, app: str = "") -> Optional[ModelInfo]:
        label = label.lower()
        if "." not in label:
            label = f"{app}.{label}" if app else label
        found = self.labels().get(label)
        if found is not None:
            return found
        if label in DJANGO_CONTRIB:
            return ModelInfo("django", label, "", "", TableName(DJANGO_CONTRIB[label]), 0, 0, label)
        return None

    def setting(self, name: str) -> Optional[str]:
        values = self.settings.get(name)
        if values and len(values) == 1:
            return next(iter(values))
        if not values and name == "AUTH_USER_MODEL" and self.has_settings:
            return "auth.User"   # Django's default when the settings module does not set it
        return None

    def registry(self) -> dict[str, list[ModelInfo]]:
        if self._registry is None:
            self._registry = defaultdict(list)
            for m in self.modules.values():
                for c in m.classes.values():
                    info = self.model(m, c)
                    if info is not None and info.orm == "sqlalchemy":
                        self._registry[c.name].append(info)
        return self._registry

    def relation_target(self, rel: OrmRelation, owner: ModelInfo, module_path: str,
                        through: bool = False) -> Optional[ModelInfo]:
        target = rel.through if through else rel.target
        kind = rel.through_kind if through else rel.target_kind
        module = self.modules.get(module_path)
        if kind == "table":
            t = _table_name(target, owner.table.catalog)
            return ModelInfo("table", target, "", "", t, rel.line, rel.line)
        if kind == "name" and module is not None:
            return self.entity_model(self.resolve(module, target))
        if kind == "label":
            if target == "self":
                return owner
            return self.label_model(target, owner.label.split(".")[0] if owner.label else "")
        if kind == "setting":
            value = self.setting(target)
            return self.label_model(value) if value else None
        if kind == "registry":
            found = self.registry().get(target, [])
            mine = [f for f in found if f.service == owner.service]
            pick = mine if len(mine) == 1 else found
            return pick[0] if len(pick) == 1 else None
        return None


def app_folder(path: str) -> str:
    """The Django app a file belongs to: the folder that holds models.py, models/ or migrations/."""
    parts = path.split("/")[:-1]
    if "models" in parts:
        parts = parts[:len(parts) - 1 - parts[::-1].index("models")]
    elif parts and parts[-1] == "migrations":
        parts = parts[:-1]
    return "/".join(parts)


# ---------------------------------------------------------------------------------- statements

class _Builder:
    def __init__(self, index: OrmIndex):
        self.ix = index

    def model_statements(self, module: _Module) -> list[Statement]:
        out = []
        for cls in module.classes.values():
            info = self.ix.model(module, cls)
            if info is None or info.concrete is not None:
                continue
            out.extend(self._definition(info, module))
        for sym in module.symbols.values():
            if sym.kind == "table":
                out.extend(self._definition(self.ix.table_symbol(module, sym), module))
        return out

    def _definition(self, info: ModelInfo, module: _Module) -> list[Statement]:
        accesses = [TableAccess(info.table, READ, "map", info.line)]
        extra: list[Statement] = []
        what = {"django": "Django model", "sqlalchemy": "SQLAlchemy model", "table": "Core table"}[info.orm]
        for rel, inherited, defined_in in info.relations:
            line = info.line if inherited else rel.line
            target = self.ix.relation_target(rel, info, defined_in)
            if target is None:
                field_name = f"{info.name}.{rel.field or '<constraint>'}"
                if rel.target_kind == "dynamic":
                    self.ix.diagnostics.append(Diagnostic(
                        module.path, line, "orm-dynamic",
                        f"{field_name}: cannot read the target `{rel.target}` statically; not checked"))
                elif rel.kind != "relationship" and rel.constraint:
                    self.ix.diagnostics.append(Diagnostic(
                        module.path, line, "orm-unresolved",
                        f"{field_name}: foreign key target {rel.target} "
                        f"is not a model or table dbowner found; not checked"))
                continue
            if rel.kind == "relationship":
                stmt_accesses = [TableAccess(target.table, READ, "relationship", line)]
                if rel.through:
                    secondary = self.ix.relation_target(rel, info, defined_in, through=True)
                    if secondary is not None:
                        stmt_accesses.append(TableAccess(secondary.table, READ, "relationship", line))
                extra.append(Statement(line, line, "select", f"relationship {info.name}.{rel.field} -> {rel.target}",
                                       tuple(stmt_accesses), "", 0, "orm"))
                continue
            if rel.kind == "m2m" and not rel.through:
                join = TableName(_truncate(rel.db_table or f"{info.table.name}_{rel.field}",
                                           self.ix.manifest.dialect_of(info.service)).lower(),
                                 info.table.schema, info.table.catalog)
                if rel.constraint:
                    extra.append(Statement(line, line, "model", f"{info.name}.{rel.field} join table {join}",
                                           (TableAccess(join, READ, "map", line),
                                            TableAccess(target.table, REFERENCE, "references", line)), "", 0, "orm"))
                continue
            if rel.kind == "m2m" or not rel.constraint:
                continue
            accesses.append(TableAccess(target.table, REFERENCE, "references", line))
        for parent in info.parents:   # multi-table inheritance: <parent>_ptr one-to-one
            accesses.append(TableAccess(parent.table, REFERENCE, "references", info.line))
        main = Statement(info.line, info.end_line, "model", f"{what} {info.name} -> {_display(info.table)}",
                         tuple(accesses), "", 0, "orm")
        return [main, *extra]

    def query_statement(self, module: _Module, q: OrmQuery) -> list[Statement]:
        accesses: list[TableAccess] = []
        separate: list[TableAccess] = []
        for ref in q.refs:
            together, alone = self._ref_accesses(module, ref)
            accesses.extend(together)
            separate.extend(alone)
        out = []
        if accesses:
            out.append(self._statement(q, accesses))
        for key in dict.fromkeys((a.table, a.role, a.action) for a in separate):
            out.append(self._statement(q, [next(a for a in separate if (a.table, a.role, a.action) == key)]))
        return out

    def _statement(self, q: OrmQuery, accesses: list[TableAccess]) -> Statement:
        written = {a.table for a in accesses if a.role == WRITE}
        seen, unique = set(), []
        for a in accesses:
            if a.role == READ and a.table in written:
                continue
            key = (a.table, a.role, a.action)
            if key not in seen:
                seen.add(key)
                unique.append(a)
        unique.sort(key=lambda a: (a.line, str(a.table), a.role))
        kind = next((a.action for a in unique if a.role == WRITE), "select")
        return Statement(q.line, q.end_line, kind, q.text, tuple(unique), q.function, q.transaction, "orm", q.flags)

    def _ref_model(self, module: _Module, ref: ModelRef) -> tuple[Optional[ModelInfo], str]:
        """The model a reference names, and the attribute after it (Order.total -> total)."""
        if ref.table:
            svc = module.service
            return ModelInfo("table", ref.table, module.path, svc, _table_name(ref.table, self.ix.catalog(svc)),
                             ref.line, ref.line), ""
        if ref.label:
            return self.ix.label_model(ref.label), ""
        parts = ref.name.split(".")
        for k in range(len(parts), 0, -1):
            ent = self.ix.resolve(module, ".".join(parts[:k]))
            if ent is None:
                continue
            info = self.ix.entity_model(ent)
            if info is not None:
                return info, parts[k] if k < len(parts) else ""
            if ent[0] != "module":
                return None, ""      # a name that is something else (a class, a constant)
        return None, ""

    def _ref_accesses(self, module: _Module, ref: ModelRef) -> tuple[list[TableAccess], list[TableAccess]]:
        """Accesses of one reference: those of the query itself, and those that run as statements
        of their own (prefetch_related queries, a multi-table parent's INSERT/DELETE)."""
        info, attr = self._ref_model(module, ref)
        none: tuple[list[TableAccess], list[TableAccess]] = ([], [])
        if info is None:
            return none
        if ref.orm == "django" and info.orm != "django":
            return none
        if ref.orm == "sqlalchemy" and info.orm == "django":
            return none
        if ref.manager and ref.manager not in DJANGO_MANAGERS and ref.manager not in info.managers:
            return none
        attr = ref.attr or attr
        extra: list[TableAccess] = []
        if attr:
            if info.orm == "table" or attr not in info.columns:
                return none    # Order.STATUS_PAID, a method: not a column of the query
            for rel, _inh, defined_in in info.relations:
                if rel.field == attr and rel.kind == "relationship" and ref.role == READ:
                    target = self.ix.relation_target(rel, info, defined_in)
                    if target is not None:
                        extra.append(TableAccess(target.table, READ, "select", ref.line))
        joined = [TableAccess(t, READ, "select", ref.line)
                  for path in ref.lookups
                  for t in self._joined(info, path.lstrip("+"), ref.separate or path.startswith("+"))]
        if ref.separate:
            return [], joined
        out = [TableAccess(info.table, ref.role, ref.action, ref.line), *extra, *joined]
        alone = []
        for parent in info.parents:     # multi-table inheritance: reads join the parent's table,
            if ref.action in ("insert", "delete"):    # inserts/deletes run one statement per table,
                alone.append(TableAccess(parent.table, ref.role, ref.action, ref.line))
            elif ref.role == READ:          # an update touches whichever table holds its fields
                out.append(TableAccess(parent.table, READ, "select", ref.line))
        return out, alone

    def _joined(self, info: ModelInfo, path: str, fetch: bool) -> list[TableName]:
        """Tables a Django lookup path joins: customer__email joins customer's table."""
        out: list[TableName] = []
        segments = path.split("__")
        current = info
        for i, seg in enumerate(segments):
            if i > 5 or seg in DJANGO_LOOKUPS:
                break
            more = i + 1 < len(segments) and segments[i + 1] not in DJANGO_LOOKUPS
            step = self._forward(current, seg)
            if step is not None:
                rel, target, through = step
                if rel.kind == "m2m" and through is not None:
                    out.append(through)      # tags=..., tags__in=...: the join table only
                if not (more or fetch):
                    break          # customer=..., customer__in=...: the foreign key column, no join
                out.append(target.table)
                current = target
                continue
            back = self._reverse(current, seg)
            if back is None:
                break
            out.append(back.table)
            current = back
        return out

    def _forward(self, info: ModelInfo, name: str):
        for rel, _inh, defined_in in info.relations:
            if rel.field == name and rel.kind in ("fk", "o2o", "m2m"):
                target = self.ix.relation_target(rel, info, defined_in)
                if target is None:
                    return None
                through = None
                if rel.kind == "m2m":
                    if rel.through:
                        t = self.ix.relation_target(rel, info, defined_in, through=True)
                        through = t.table if t else None
                    else:
                        through = TableName((rel.db_table or f"{info.table.name}_{rel.field}").lower(),
                                            info.table.schema, info.table.catalog)
                return rel, target, through
        return None

    def _reverse(self, info: ModelInfo, name: str) -> Optional[ModelInfo]:
        """A reverse relation: Customer -> orders (related_name) or -> order (the model's name)."""
        if info.orm != "django":
            return None
        matches = []
        for other in self.ix.labels().values():
            for rel, _inh, defined_in in other.relations:
                if rel.kind not in ("fk", "o2o", "m2m") or rel.related.endswith("+"):
                    continue
                names = {rel.related} if rel.related else {other.name.lower(), other.name.lower() + "_set"}
                if name not in names:
                    continue
                target = self.ix.relation_target(rel, other, defined_in)
                if target is not None and target.table == info.table:
                    matches.append(other)
        return matches[0] if len(matches) == 1 else None


def _display(t: TableName) -> str:
    return f"{t.schema}.{t.name}" if t.schema else t.name


# ---------------------------------------------------------------------------------- migrations

def _migration_statements(index: OrmIndex, facts: list[FileFacts]) -> dict[str, list[Statement]]:
    """Replay each Django app's migrations; report what survives for models not defined in code
    (models in code are reported from their class, once)."""
    by_app: dict[str, list[tuple[str, MigrationOp]]] = defaultdict(list)
    for ff in facts:
        for op in ff.orm.migration_ops:
            by_app[index.app_folder(ff.path)].append((ff.path, op))
    out: dict[str, list[Statement]] = defaultdict(list)
    for folder, ops in sorted(by_app.items()):
        ops.sort(key=lambda x: (x[0], x[1].line))
        label = index.app_label(ops[0][0])
        state: dict[str, dict] = {}
        for path, op in ops:
            key = op.model.lower()
            if op.op == "create_model":
                state[key] = {"name": op.model, "path": path, "line": op.line, "end": op.end_line,
                              "db_table": op.db_table, "fields": {r.field: (r, path, op.line) for r in op.relations}}
            elif key not in state:
                continue
            elif op.op in ("add_field", "alter_field"):
                fields = state[key]["fields"]
                if op.relations:
                    old = fields.get(op.field)
                    fields[op.field] = (op.relations[0], old[1], old[2]) if old and op.op == "alter_field" \
                        else (op.relations[0], path, op.line)
                else:
                    fields.pop(op.field, None)
            elif op.op == "remove_field":
                state[key]["fields"].pop(op.field, None)
            elif op.op == "rename_field" and op.field in state[key]["fields"]:
                state[key]["fields"][op.new_name] = state[key]["fields"].pop(op.field)
            elif op.op == "delete_model":
                del state[key]
            elif op.op == "rename_model":
                state[op.new_name.lower()] = {**state.pop(key), "name": op.new_name}
            elif op.op == "alter_model_table":
                state[key]["db_table"] = op.db_table
        for key, m in sorted(state.items()):
            if index.labels().get(f"{label}.{key}") is not None:
                continue       # the model is in the code: its class is the one place to report
            service = index.service_of.get(m["path"], "")
            dialect = index.manifest.dialect_of(service)
            table = TableName((m["db_table"] or _truncate(f"{label}_{key}", dialect)).lower(), "",
                              index.catalog(service))
            owner = ModelInfo("django", m["name"], m["path"], service, table, m["line"], m["end"], f"{label}.{key}")
            per_file: dict[tuple[str, int], list[TableAccess]] = defaultdict(list)
            per_file[(m["path"], m["line"])].append(TableAccess(table, DDL, "create", m["line"]))
            for rel, path, line in m["fields"].values():
                if not rel.constraint or rel.kind == "m2m":
                    continue
                target = index.relation_target(rel, owner, path)
                if target is None:
                    continue
                if (path, line) not in per_file:
                    per_file[(path, line)].append(TableAccess(table, DDL, "alter", line))
                per_file[(path, line)].append(TableAccess(target.table, REFERENCE, "references", rel.line))
            for (path, line), accesses in per_file.items():
                kind = "create" if accesses[0].action == "create" else "alter"
                out[path].append(Statement(line, line, kind, f"migration: {kind} {m['name']} ({_display(table)})",
                                           tuple(accesses), "", 0, "migration"))
    return out


# ---------------------------------------------------------------------------------- entry point

_ORM_PLACEHOLDER = re.compile(r"__orm(\d+)__")


def resolve_orm(manifest: Manifest, discovery: Discovery, facts: list[FileFacts]) -> list[FileFacts]:
    """The facts with ORM models, queries and Django migrations as statements. Pure: the input
    facts are not changed."""
    if not any(not ff.orm.empty() for ff in facts):
        return facts
    index = OrmIndex(manifest, discovery, facts)
    builder = _Builder(index)
    migrations = _migration_statements(index, facts)
    out = []
    for ff in facts:
        module = index.modules.get(ff.path)
        if module is None or (ff.orm.empty() and ff.path not in migrations):
            out.append(ff)
            continue
        added: list[Statement] = builder.model_statements(module)
        for q in ff.orm.queries:
            added.extend(builder.query_statement(module, q))
        added.extend(migrations.get(ff.path, []))
        statements = [_fill_placeholders(index, module, ff, s) for s in ff.statements] + added
        statements.sort(key=lambda s: (s.line, s.end_line, s.origin, s.text))
        diagnostics = ff.diagnostics + [d for d in index.diagnostics if d.path == ff.path]
        index.diagnostics = [d for d in index.diagnostics if d.path != ff.path]
        out.append(replace(ff, statements=statements, diagnostics=diagnostics))
    return out


def _fill_placeholders(index: OrmIndex, module: _Module, ff: FileFacts, stmt: Statement) -> Statement:
    """SQL that spliced Model._meta.db_table in: put the model's table where __ormN__ stands."""
    if "__orm" not in stmt.text:
        return stmt
    names = {r.index: r.name for r in ff.orm.table_refs}
    accesses = []
    for a in stmt.accesses:
        m = _ORM_PLACEHOLDER.fullmatch(a.table.name)
        if m is None:
            accesses.append(a)
            continue
        name = names.get(int(m.group(1)))
        info = index.entity_model(index.resolve(module, name)) if name else None
        table = info.table if info is not None else TableName("__p0__")   # unknown: a dynamic name
        accesses.append(replace(a, table=table))
    return replace(stmt, accesses=tuple(accesses))
