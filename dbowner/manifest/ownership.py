"""Who owns a table named in some service's code.

An unqualified name resolves first to a table the referencing service owns, then to the owner
among services of the same database, then to a unique owner anywhere. A schema-qualified name
prefers an exact `schema.table` entry, then a wholly owned schema, then a bare entry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from ..model import TableName
from .model import Manifest, Service, TablePattern

DYNAMIC = re.compile(r"__p\d+__")        # f-string / format holes put in by the Python extractor
SYSTEM_SCHEMAS = {"pg_catalog", "information_schema", "pg_toast", "sys", "mysql", "performance_schema"}
SYSTEM_TABLES = {"sqlite_master", "sqlite_sequence", "sqlite_schema", "dual"}
DEFAULT_SCHEMAS = {"", "public", "dbo", "main"}
GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, order=True)
class TableKey:
    """Identity of a table in the estate: (database, schema, table)."""

    database: str
    schema: str
    name: str

    @property
    def display(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    @property
    def node(self) -> str:
        return f"{self.database}/{self.display}" if self.database else self.display


@dataclass(frozen=True)
class Resolution:
    kind: str                  # owned | unowned | ambiguous | dynamic | system
    key: TableKey | None = None
    owner: str | None = None
    candidates: tuple[str, ...] = ()


def entry_name(pattern: TablePattern) -> str:
    """The table name of a manifest entry as written there (`tabSalary Slip`, not lower-cased)."""
    return pattern.text.rsplit(".", 1)[-1]


def _is_glob(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def _matches(pattern: TablePattern, table: TableName) -> int:
    """0 no match; 1 the names match (bare entry, or unqualified name vs schema.table entry);
    3 a schema.table entry matches a qualified name exactly.

    Manifest entries are lower case; a quoted name in code (`"User"`, MySQL's `tabEmployee`) keeps
    its case, so names are compared case-insensitively (else such a table could never be owned)."""
    name = table.name.lower()
    if GLOB_CHARS.isdisjoint(pattern.name):
        if name != pattern.name:    # plain name: no need for a glob match
            return 0
    elif not fnmatchcase(name, pattern.name):
        return 0
    if not pattern.schema or not table.schema:
        return 1
    schema = table.schema.lower()
    if pattern.schema == schema or (pattern.schema in DEFAULT_SCHEMAS and schema in DEFAULT_SCHEMAS):
        return 3
    return 0


class Ownership:
    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.services = manifest.services
        # Index so a lookup scores only services that can own the name (estates of 1,000+ services):
        # a service scores above 0 only through an entry matching the name or a schema it owns.
        order = {name: i for i, name in enumerate(self.services)}
        self._order = order
        self._by_name: dict[str, set[str]] = {}
        self._by_schema: dict[str, set[str]] = {}
        self._with_globs: set[str] = set()
        for svc in self.services.values():
            for p in svc.owned:
                if GLOB_CHARS & set(p.name):
                    self._with_globs.add(svc.name)
                else:
                    self._by_name.setdefault(p.name, set()).add(svc.name)
            for schema in svc.schemas:
                self._by_schema.setdefault(schema, set()).add(svc.name)
        self._resolved: dict[tuple[str, TableName], Resolution] = {}

    def _strength(self, svc: Service, table: TableName) -> int:
        best = max((_matches(p, table) for p in svc.owned), default=0)
        schema = table.schema.lower()
        if schema and schema in svc.schemas:
            best = max(best, 2)
        if schema and best == 1 and schema not in DEFAULT_SCHEMAS and svc.schemas:
            best = 0   # `billing.orders` is not this service's bare `orders` when it lives in other schemas
        return best

    def _possible(self, table: TableName) -> list[Service]:
        names = self._with_globs | self._by_name.get(table.name.lower(), set()) | self._by_schema.get(table.schema.lower(), set())
        return [self.services[n] for n in sorted(names, key=self._order.__getitem__)]

    def candidates(self, table: TableName) -> list[Service]:
        scored = [(self._strength(s, table), s) for s in self._possible(table)]
        top = max((score for score, _ in scored), default=0)
        if top == 0:
            return []
        found = [s for score, s in scored if score == top]
        if table.catalog:
            same_db = [s for s in found if s.database == table.catalog]
            found = same_db or found
        return found

    def resolve(self, service: str | None, table: TableName) -> Resolution:
        key = (service or "", table)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._resolve(service, table)
        return found

    def _resolve(self, service: str | None, table: TableName) -> Resolution:
        if DYNAMIC.search(table.name) or DYNAMIC.search(table.schema):
            return Resolution("dynamic")
        if table.schema in SYSTEM_SCHEMAS or table.name in SYSTEM_TABLES or (
                not table.schema and table.name.startswith("pg_")):
            return Resolution("system")
        me = self.services.get(service or "")
        found = self.candidates(table)
        owner: Service | None = None
        if me is not None and me in found:
            owner = me
        elif me is not None and me.database and [s for s in found if s.database == me.database]:
            same = [s for s in found if s.database == me.database]
            owner = same[0] if len(same) == 1 else None
            if owner is None:
                return Resolution("ambiguous", candidates=tuple(sorted(s.name for s in same)))
        elif len(found) == 1:
            owner = found[0]
        elif len(found) > 1:
            return Resolution("ambiguous", candidates=tuple(sorted(s.name for s in found)))
        elif me is not None and not table.schema and me.schemas:
            owner = me   # unqualified name in a schema-owning service: its search_path
        if owner is None:
            schema = "" if table.schema in DEFAULT_SCHEMAS else table.schema
            return Resolution("unowned", TableKey(table.catalog or (me.database if me and me.database else ""),
                                                  schema, table.name))
        name = table.name   # spelt as the manifest's entry: one table, however the code quotes it
        entry = next((p for p in owner.owned if p.name == name.lower() and not _is_glob(p.name)), None)
        if entry is not None:
            name = entry_name(entry)
        return Resolution("owned", TableKey(owner.database or "", self._schema_for(owner, table), name),
                          owner.name)

    def _schema_for(self, owner: Service, table: TableName) -> str:
        if table.schema and table.schema not in DEFAULT_SCHEMAS:
            return table.schema
        for p in owner.owned:
            if p.schema and p.schema not in DEFAULT_SCHEMAS and fnmatchcase(table.name.lower(), p.name):
                return p.schema
        if not table.schema and len(owner.schemas) == 1:
            return owner.schemas[0]
        return ""

    def declared_read(self, service: str | None, table: TableName, key: TableKey | None = None) -> bool:
        me = self.services.get(service or "")
        if me is None:
            return False
        probes = [table]
        if key is not None:
            probes.append(TableName(key.name, key.schema))
        return any(_matches(p, t) for p in me.reads for t in probes)

    def is_event_store(self, key: TableKey, owner: str | None) -> bool:
        svc = self.services.get(owner or "")
        if svc is None:
            return False
        return any(_matches(p, TableName(key.name, key.schema)) for p in svc.event_store)
