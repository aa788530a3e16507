"""Plain facts read from a live PostgreSQL database, as `dbowner.introspect` returns them.

Nothing here queries or judges: these are the catalog's answers (relations, foreign keys, view
dependencies, privileges, roles, memberships, pg_stat_statements rows), JSON round-trippable so
that `verify --format json` can carry them and the rule examples can state them as YAML.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Names of the fact groups; a check needs some of them, and a group the connecting role could not
# read (or whose extension is missing) is listed in LiveFacts.unavailable with the reason.
RELATIONS = "relations"
FOREIGN_KEYS = "foreign_keys"
VIEW_DEPENDENCIES = "view_dependencies"
PRIVILEGES = "privileges"        # grants, roles and role memberships
STATEMENTS = "statements"        # pg_stat_statements
SOURCES = (RELATIONS, FOREIGN_KEYS, VIEW_DEPENDENCIES, PRIVILEGES, STATEMENTS)

KIND_NAMES = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view",
              "f": "foreign table"}


@dataclass(frozen=True, order=True)
class Relation:
    schema: str
    name: str
    kind: str                  # table, partitioned table, view, materialized view, foreign table
    owner_role: str
    partition_of: str = ""     # "schema.name" of the parent table, for a partition

    @property
    def display(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True, order=True)
class ForeignKey:
    schema: str                # the referencing table
    table: str
    name: str                  # constraint name
    ref_schema: str            # the referenced table
    ref_table: str


@dataclass(frozen=True, order=True)
class ViewDependency:
    """A view or materialized view reads a relation (pg_depend of its rewrite rule)."""

    schema: str
    view: str
    ref_schema: str
    ref_name: str


@dataclass(frozen=True, order=True)
class Grant:
    """One privilege on a relation from its ACL (or a column's ACL), as aclexplode() shows it."""

    schema: str
    table: str
    grantee: str               # a role name, or PUBLIC
    privilege: str             # SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER, ...
    column: str = ""           # "" for a table privilege


@dataclass(frozen=True, order=True)
class Role:
    name: str
    superuser: bool = False
    login: bool = False


@dataclass(frozen=True, order=True)
class Membership:
    """`member` was granted `role`. It acts with the role's privileges when inherit or set is true."""

    member: str
    role: str
    inherit: bool = True
    set: bool = True


@dataclass(frozen=True, order=True)
class RuntimeStatement:
    """One pg_stat_statements entry of this database, summed over its rows for (queryid, role)."""

    queryid: str
    role: str
    calls: int
    text: str


@dataclass
class LiveFacts:
    database: str = ""
    server_version: str = ""
    connected_as: str = ""
    relations: list[Relation] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    view_dependencies: list[ViewDependency] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    statements: list[RuntimeStatement] = field(default_factory=list)
    hidden_statements: int = 0         # pg_stat_statements rows of other roles the connection may not read
    unavailable: dict[str, str] = field(default_factory=dict)   # fact group -> why it was not read

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = [asdict(x) for x in value] if isinstance(value, list) else value
        return out

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "LiveFacts":
        """Build facts from a dict (verify's JSON, or a rule example); missing keys are empty."""
        item_types = {"relations": Relation, "foreign_keys": ForeignKey, "view_dependencies": ViewDependency,
                      "grants": Grant, "roles": Role, "memberships": Membership, "statements": RuntimeStatement}
        kwargs: dict[str, Any] = {}
        for key, value in d.items():
            if key in item_types:
                kwargs[key] = [item_types[key](**x) for x in value or []]
            elif key in {"database", "server_version", "connected_as", "hidden_statements"}:
                kwargs[key] = value
            elif key == "unavailable":
                kwargs[key] = dict(value or {})
            else:
                raise ValueError(f"unknown key in live facts: {key}")
        return LiveFacts(**kwargs)

    def sort(self) -> "LiveFacts":
        for name in ("relations", "foreign_keys", "view_dependencies", "grants", "roles", "memberships"):
            getattr(self, name).sort()
        self.statements.sort(key=lambda s: (s.queryid, s.role))
        return self
