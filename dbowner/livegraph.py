"""Live facts resolved against the manifest: which service owns each relation in the database,
which service each role acts for, and what each service's roles may do to each relation.

This is for `dbowner verify` what `graph` is for `dbowner check`: facts in, resolved facts out,
no rule logic. Role membership is followed both ways a member gets a role's rights: inheriting
them, or `SET ROLE` (before PostgreSQL 16 every member may SET ROLE).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .livefacts import Grant, LiveFacts, Relation
from .manifest import Manifest
from .manifest.ownership import Ownership
from .model import TableName

WRITE_PRIVILEGES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER")
READ_PRIVILEGES = ("SELECT",)
REFERENCE_PRIVILEGES = ("REFERENCES",)
READ_ALL_ROLE = "pg_read_all_data"     # predefined roles (PostgreSQL 14+) that reach every table
WRITE_ALL_ROLE = "pg_write_all_data"
PUBLIC = "PUBLIC"


@dataclass(frozen=True)
class LiveOwner:
    kind: str                         # owned | unowned | ambiguous
    owner: str = ""
    candidates: tuple[str, ...] = ()


@dataclass
class Access:
    """What one service's roles may do to one relation, and through which role each right comes."""

    privileges: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # privilege -> via
    owner_via: set[str] = field(default_factory=set)      # roles through which it owns the relation

    def has(self, names: tuple[str, ...]) -> list[str]:
        """Privileges held among `names`; column privileges are shown as `UPDATE(col)`."""
        return sorted(p for p in self.privileges if p.split("(", 1)[0] in names)


@dataclass
class Scope:
    """The services whose tables the manifest places in this database (for missing-table)."""

    logical_database: str | None
    services: tuple[str, ...]
    reason: str = ""                  # why no service is in scope, when none is


class LiveModel:
    def __init__(self, manifest: Manifest, facts: LiveFacts, database: str | None = None) -> None:
        self.manifest = manifest
        self.facts = facts
        self.ownership = Ownership(manifest)
        self.scope = _scope(manifest, database, facts.database)
        self.relations = {(r.schema, r.name): r for r in facts.relations}
        self.roles = {r.name: r for r in facts.roles}
        self._members_of: dict[str, set[str]] = defaultdict(set)     # member -> roles it acts as
        for m in facts.memberships:
            if m.inherit or m.set:
                self._members_of[m.member].add(m.role)
        self.declared: dict[str, str] = {role: svc.name for svc in manifest.services.values() for role in svc.roles}
        self.grants: dict[tuple[str, str], list[Grant]] = defaultdict(list)
        for g in facts.grants:
            self.grants[(g.schema, g.table)].append(g)
        self._owners: dict[tuple[str, str], LiveOwner] = {}
        self._acts_as: dict[str, frozenset[str]] = {}
        self._access: dict[tuple[str, str, str], Access] = {}

    # ------------------------------------------------------------------ relations
    def owner_of(self, schema: str, name: str) -> LiveOwner:
        """The service owning a relation; a partition belongs to whoever owns its parent table."""
        key = (schema, name)
        if key not in self._owners:
            rel = self.relations.get(key)
            if rel is not None and rel.partition_of:
                parent_schema, _, parent = rel.partition_of.partition(".")
                self._owners[key] = self.owner_of(parent_schema, parent)
            else:
                self._owners[key] = self._resolve(schema, name)
        return self._owners[key]

    def _resolve(self, schema: str, name: str) -> LiveOwner:
        found = [s.name for s in self.ownership.candidates(TableName(name, schema))]
        here = [s for s in found if s in self.scope.services]
        found = here or found
        if len(found) == 1:
            return LiveOwner("owned", found[0])
        if found:
            return LiveOwner("ambiguous", candidates=tuple(sorted(found)))
        return LiveOwner("unowned")

    def declared_read(self, service: str, schema: str, name: str) -> bool:
        return self.ownership.declared_read(service, TableName(name, schema))

    # ------------------------------------------------------------------ roles
    def acts_as(self, role: str) -> frozenset[str]:
        """The role and every role whose rights it has through membership, transitively."""
        if role not in self._acts_as:
            seen = {role}
            todo = [role]
            while todo:
                for granted in self._members_of.get(todo.pop(), ()):
                    if granted not in seen:
                        seen.add(granted)
                        todo.append(granted)
            self._acts_as[role] = frozenset(seen)
        return self._acts_as[role]

    def service_of_role(self, role: str) -> str | None:
        """The service a role acts for: declared in `roles`, or a member of exactly one service's roles."""
        if role in self.declared:
            return self.declared[role]
        services = {self.declared[r] for r in self.acts_as(role) if r in self.declared}
        return services.pop() if len(services) == 1 else None

    def service_roles(self, service: str) -> list[str]:
        """The service's declared roles that exist in the database."""
        return [r for r in self.manifest.services[service].roles if r in self.roles]

    def missing_roles(self) -> list[tuple[str, str]]:
        return [(svc.name, r) for svc in self.manifest.services.values() for r in svc.roles if r not in self.roles]

    def is_superuser(self, role: str) -> bool:
        return any(self.roles[r].superuser for r in self.acts_as(role) if r in self.roles)

    # ------------------------------------------------------------------ privileges
    def access(self, service: str, rel: Relation) -> Access:
        """What the service's declared roles may do to `rel` through grants to them or to roles they
        act as, and through owning it. PUBLIC, superuser and pg_*_all_data are reported apart."""
        key = (service, rel.schema, rel.name)
        if key in self._access:
            return self._access[key]
        out = self._access[key] = Access()
        for role in self.service_roles(service):
            for acting in sorted(self.acts_as(role)):
                via = role if acting == role else f"{acting}, of which {role} is a member"
                if acting == rel.owner_role:
                    out.owner_via.add(via)
                    continue        # the owner's own ACL entries are ownership, reported as such
                for g in self.grants.get((rel.schema, rel.name), ()):
                    if g.grantee == acting:
                        out.privileges[f"{g.privilege}({g.column})" if g.column else g.privilege].add(via)
        return out

    def public_privileges(self, rel: Relation) -> list[str]:
        return sorted({f"{g.privilege}({g.column})" if g.column else g.privilege
                       for g in self.grants.get((rel.schema, rel.name), ()) if g.grantee == PUBLIC})


def _scope(manifest: Manifest, database: str | None, actual: str) -> Scope:
    services = manifest.services.values()
    declared = sorted({s.database for s in services if s.database})
    if not declared:
        return Scope(database, tuple(sorted(s.name for s in services)))
    logical = database or (actual if actual in declared else None)
    if logical is None:
        return Scope(None, (), f"no service in the manifest has database '{actual}' (its databases: "
                               f"{', '.join(declared)}); pass --database to say which one this is")
    return Scope(logical, tuple(sorted(s.name for s in services if s.database == logical)),
                 "" if logical in declared else f"no service in the manifest has database '{logical}'")
