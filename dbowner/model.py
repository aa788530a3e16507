"""Plain data passed between pipeline stages.

Facts are small, immutable and JSON-serialisable (``to_dict``/``from_dict``) so that extraction
can run in worker processes and be cached per file. No stage below ``checks`` knows about rules.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from .codefacts import CodeFacts, StatementDetail, dump, load


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


# Roles of a table reference inside one statement.
READ = "read"            # FROM, JOIN, subquery, USING, CTE body, COPY ... TO
WRITE = "write"          # INSERT/UPDATE/DELETE/MERGE/TRUNCATE/COPY FROM target, SELECT INTO
DDL = "ddl"              # CREATE/ALTER/DROP of the table itself
REFERENCE = "reference"  # FOREIGN KEY ... REFERENCES <table>
ROLES = (READ, WRITE, DDL, REFERENCE)


@dataclass(frozen=True, order=True)
class TableName:
    """A table as written in code, identifiers already case-normalised (unquoted -> lower)."""

    name: str
    schema: str = ""
    catalog: str = ""   # database qualifier, rare (db.schema.table)

    def __str__(self) -> str:
        return ".".join(p for p in (self.catalog, self.schema, self.name) if p)


@dataclass(frozen=True)
class TableAccess:
    table: TableName
    role: str            # one of ROLES
    action: str          # select, insert, update, delete, merge, truncate, copy, select_into,
                         # create, create_temp, alter, rename, drop, references
    line: int            # 1-based line in the analysed file

    def to_dict(self) -> dict[str, Any]:
        return {"table": asdict(self.table), "role": self.role, "action": self.action, "line": self.line}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "TableAccess":
        return TableAccess(TableName(**d["table"]), d["role"], d["action"], d["line"])


@dataclass(frozen=True)
class Statement:
    """One SQL statement found in a file, with every table it touches."""

    line: int                    # first line of the statement (or of the call that runs it)
    end_line: int
    kind: str                    # select, insert, update, delete, merge, create, alter, drop,
                                 # truncate, copy, begin, commit, rollback, two_phase, other
    text: str                    # short excerpt (<= 200 chars, whitespace folded)
    accesses: tuple[TableAccess, ...] = ()
    function: str = ""           # enclosing Python function (dotted: Class.method), "" at module level
    transaction: int = 0         # >0: id of the explicit transaction block it runs in (unique per file)
    origin: str = "sql"          # "sql" (.sql file), "python" (SQL string passed to a DB call),
                                 # "orm" (ORM query or model definition), "migration" (Alembic op or
                                 # Django migration operation)
    flags: tuple[str, ...] = ()  # e.g. "relative-update": SET x = x - n, F("x") - n, obj.x -= n
    detail: StatementDetail | None = None   # DML/SELECT shape for the idempotency rules

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["accesses"] = [a.to_dict() for a in self.accesses]
        d["flags"] = list(self.flags)
        d["detail"] = dump(self.detail) if self.detail is not None else None
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Statement":
        d = dict(d)
        d["accesses"] = tuple(TableAccess.from_dict(a) for a in d["accesses"])
        d["flags"] = tuple(d.get("flags", ()))
        if d.get("detail") is not None:
            d["detail"] = load(StatementDetail, d["detail"])
        return Statement(**d)


@dataclass(frozen=True)
class Transaction:
    """An explicit transaction block: BEGIN..COMMIT, ``with session.begin()``, ``atomic()``..."""

    id: int                      # referenced by Statement.transaction
    line: int
    end_line: int
    how: str                     # e.g. "BEGIN ... COMMIT", "async with conn.transaction()"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TwoPhaseUse:
    """A two-phase-commit construct: PREPARE TRANSACTION, COMMIT PREPARED, XA ..., tpc_*()."""

    line: int
    end_line: int
    what: str                    # e.g. "PREPARE TRANSACTION", "tpc_prepare()"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Diagnostic:
    """Something dbowner could not analyse; never a rule violation."""

    path: str                    # posix, relative to the manifest folder
    line: int                    # 0 when not tied to a line
    kind: str                    # parse-error, decode, skipped-binary, skipped-large, skipped-symlink,
                                 # read-error, ambiguous-table
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Connection:
    """A database a deployment config connects to (compose env, .env, settings, alembic.ini, k8s env).

    Never holds credentials: user names, passwords and tokens are dropped at extraction.
    """

    line: int
    key: str                     # where: env var name, "DATABASES.default", "sqlalchemy.url"
    driver: str                  # postgresql, mysql, sqlite, mssql, oracle, mongodb; "" unknown
    host: str                    # "" when unknown
    port: str                    # "" when not given (the driver's default port applies)
    database: str                # "" when unknown
    partial: bool = False        # a part is missing or came from an unresolved variable: never compared
    unit: str = ""               # the DeployUnit.name it belongs to; "" = the whole file
    label: str = ""              # environment named by the file (.env.test -> "test"); "" = any

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DeployUnit:
    """Something deployed that gets an environment: a compose service, a k8s container or ConfigMap."""

    name: str                    # compose service name, "Deployment/orders/app", "configmap:db-env"
    line: int
    kind: str                    # compose-service, k8s-container, k8s-configmap, k8s-secret
    names: tuple[str, ...] = ()  # names that may be a manifest service's (service, container, image...)
    build: tuple[str, ...] = ()  # repo-relative folders it is built from (build context, Dockerfile's folder)
    sources: tuple[str, ...] = ()  # where its env comes from: "file:<repo path>", "configmap:<name>", "secret:<name>"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "DeployUnit":
        return DeployUnit(d["name"], d["line"], d["kind"], tuple(d.get("names", ())), tuple(d.get("build", ())),
                          tuple(d.get("sources", ())))


@dataclass(frozen=True)
class Suppression:
    """A `dbowner: ignore[...]` comment. It covers findings on lines start_line..end_line (the
    comment's line, or every line of the Python statement it sits in); ``file_level``: the whole file."""

    line: int                    # line of the comment itself
    rules: tuple[str, ...]       # as written in the brackets, lower-cased: rule names or codes
    reason: str = ""             # text after the brackets; "" when none was given
    file_level: bool = False     # `ignore-file[...]`
    start_line: int = 0
    end_line: int = 0

    def covers(self, line: int) -> bool:
        return self.file_level or self.start_line <= line <= self.end_line

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rules"] = list(self.rules)
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Suppression":
        return Suppression(**{**d, "rules": tuple(d["rules"])})


@dataclass
class FileFacts:
    """Everything extraction learned from one file. Pure function of (path, bytes, options)."""

    path: str
    statements: list[Statement] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    two_phase: list[TwoPhaseUse] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    deploy_units: list[DeployUnit] = field(default_factory=list)
    suppressions: list[Suppression] = field(default_factory=list)
    orm: "OrmFacts" = field(default_factory=lambda: OrmFacts())
    code: CodeFacts | None = None    # Python structure for the saga and dual-write rules

    def to_dict(self) -> dict[str, Any]:
        d = {
            "path": self.path,
            "statements": [s.to_dict() for s in self.statements],
            "transactions": [t.to_dict() for t in self.transactions],
            "two_phase": [t.to_dict() for t in self.two_phase],
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "connections": [c.to_dict() for c in self.connections],
            "deploy_units": [u.to_dict() for u in self.deploy_units],
            "suppressions": [s.to_dict() for s in self.suppressions],
            "code": self.code.to_dict() if self.code is not None else None,
        }
        if not self.orm.empty():
            d["orm"] = self.orm.to_dict()
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "FileFacts":
        return FileFacts(
            path=d["path"],
            statements=[Statement.from_dict(s) for s in d["statements"]],
            transactions=[Transaction(**t) for t in d["transactions"]],
            two_phase=[TwoPhaseUse(**t) for t in d["two_phase"]],
            diagnostics=[Diagnostic(**x) for x in d["diagnostics"]],
            connections=[Connection(**c) for c in d.get("connections", ())],
            deploy_units=[DeployUnit.from_dict(u) for u in d.get("deploy_units", ())],
            suppressions=[Suppression.from_dict(x) for x in d.get("suppressions", [])],
            orm=OrmFacts.from_dict(d.get("orm") or {}),
            code=CodeFacts.from_dict(d["code"]) if d.get("code") is not None else None,
        )


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    severity: Severity
    path: str
    line: int
    end_line: int
    message: str
    hint: str
    service: str = ""
    table: str = ""

    def sort_key(self) -> tuple:
        return (self.path, self.line, self.code, self.table, self.service, self.message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "name": self.name, "severity": self.severity.value,
            "path": self.path, "line": self.line, "end_line": self.end_line,
            "service": self.service or None, "table": self.table or None,
            "message": self.message, "hint": self.hint,
        }


# --------------------------------------------------------------------------------------- ORM facts
# What one Python file says about ORM models, before any cross-file resolution. Model names stay
# as written (plus the file's imports); the graph stage maps them to tables (dbowner/orm_resolve.py).

@dataclass(frozen=True)
class OrmRelation:
    """A relation declared on a model or Core table: ForeignKey, Django relation field, relationship()."""

    field: str                   # attribute name; "" for a table-level constraint
    kind: str                    # fk | o2o | m2m | relationship
    target: str                  # as written, read according to target_kind
    target_kind: str             # table: SQL name "schema.table" | name: dotted Python name |
                                 # label: Django "app.Model", "Model" or "self" | setting: a Django
                                 # setting name (AUTH_USER_MODEL) | registry: SQLAlchemy class-name string |
                                 # dynamic: an expression dbowner cannot read (kept for the message)
    line: int
    through: str = ""            # Django through= / SQLAlchemy secondary= (as written)
    through_kind: str = ""       # same vocabulary as target_kind
    db_table: str = ""           # Django ManyToManyField(db_table=...)
    constraint: bool = True      # False: db_constraint=False, no foreign key in the database
    related: str = ""            # Django related_query_name or related_name ("+": none)


@dataclass(frozen=True)
class OrmClass:
    """A class that may be a model (Django, SQLAlchemy declarative, SQLModel) or a Django AppConfig.
    Whether it is one is decided after extraction, when its bases are resolved across files."""

    name: str
    line: int
    end_line: int
    bases: tuple[str, ...] = ()      # dotted names as written
    decorators: tuple[str, ...] = ()
    table: str = ""                  # __tablename__, __table__ = Table("x", ...), Meta.db_table
    schema: str = ""                 # __table_args__ / Table(schema=...)
    tablename_rule: str = ""         # "lower": declared_attr returning cls.__name__.lower();
                                     # "dynamic": a __tablename__ dbowner cannot read
    metadata_schema: str = ""        # metadata = MetaData(schema=...) on a declarative base
    app_label: str = ""              # Django Meta.app_label
    abstract: bool = False           # Meta.abstract / __abstract__
    proxy: bool = False              # Django Meta.proxy
    table_kw: bool = False           # SQLModel class keyword table=True
    columns: tuple[str, ...] = ()    # mapped attribute names: columns, relationships, Django fields
    managers: tuple[str, ...] = ()   # Django manager attributes declared on the class
    relations: tuple[OrmRelation, ...] = ()
    config_name: str = ""            # Django AppConfig.name
    config_label: str = ""           # Django AppConfig.label


@dataclass(frozen=True)
class OrmSymbol:
    """A module-level name with ORM meaning."""

    name: str
    kind: str                        # table: Core Table(...) / table(...) | base: declarative_base() |
                                     # metadata: MetaData(...) | flask_db: SQLAlchemy() |
                                     # setting: a Django setting string | settings: a Django settings module
    line: int
    table: str = ""
    schema: str = ""
    value: str = ""                  # table/base: its MetaData variable; setting: the value
    columns: tuple[str, ...] = ()
    relations: tuple[OrmRelation, ...] = ()


@dataclass(frozen=True)
class OrmImport:
    local: str                       # bound name; "*" for a star import
    target: str                      # absolute dotted target (relative imports resolved by path)
    line: int


@dataclass(frozen=True)
class ModelRef:
    """One model (or Core table) named in an ORM query, with what the query does to it."""

    name: str                        # dotted Python name as written; "" when label or table is set
    role: str                        # read | write
    action: str                      # select | insert | update | delete
    line: int
    attr: str = ""                   # Order.total: counts only if it is a mapped attribute
    label: str = ""                  # Django "app.Model" (apps.get_model)
    table: str = ""                  # a literal SQL table name: a local table("x") / Table("x", ...)
    orm: str = ""                    # django | sqlalchemy: the construct only exists in that ORM
    manager: str = ""                # Django manager attribute the query starts from
    lookups: tuple[str, ...] = ()    # Django lookup paths from this model ("customer__email"; a
                                     # leading "+" joins the last relation too: select_related)
    separate: bool = False           # runs as a query of its own (prefetch_related)


@dataclass(frozen=True)
class OrmQuery:
    """One ORM statement: a query chain, a session.add, an instance save()..."""

    line: int
    end_line: int
    text: str                        # short excerpt of the code
    refs: tuple[ModelRef, ...]
    function: str = ""
    transaction: int = 0
    flags: tuple[str, ...] = ()      # "relative-update"


@dataclass(frozen=True)
class OrmTableRef:
    """`Model._meta.db_table` / `Model.__tablename__` spliced into SQL text: the SQL names the
    table ``__orm<index>__`` until the model is resolved."""

    index: int
    name: str
    line: int


@dataclass(frozen=True)
class MigrationOp:
    """A Django migration operation that shapes a table."""

    op: str                          # create_model | add_field | alter_field | remove_field |
                                     # delete_model | rename_model | alter_model_table
    model: str
    line: int
    end_line: int
    field: str = ""
    new_name: str = ""
    db_table: str = ""
    relations: tuple[OrmRelation, ...] = ()


def _from_plain(cls, d: dict[str, Any]):
    """Rebuild a frozen ORM fact from asdict() output: lists back to tuples, nested relations."""
    kw = {}
    for k, v in d.items():
        if k in ("relations",):
            v = tuple(OrmRelation(**r) for r in v)
        elif k == "refs":
            v = tuple(_from_plain(ModelRef, r) for r in v)
        elif isinstance(v, list):
            v = tuple(v)
        kw[k] = v
    return cls(**kw)


_ORM_LISTS = {"imports": OrmImport, "classes": OrmClass, "symbols": OrmSymbol, "queries": OrmQuery,
              "table_refs": OrmTableRef, "migration_ops": MigrationOp}


@dataclass
class OrmFacts:
    imports: list[OrmImport] = field(default_factory=list)
    classes: list[OrmClass] = field(default_factory=list)
    symbols: list[OrmSymbol] = field(default_factory=list)
    queries: list[OrmQuery] = field(default_factory=list)
    table_refs: list[OrmTableRef] = field(default_factory=list)
    migration_ops: list[MigrationOp] = field(default_factory=list)

    def empty(self) -> bool:
        return not any(getattr(self, k) for k in _ORM_LISTS)

    def to_dict(self) -> dict[str, Any]:
        return {k: [asdict(x) for x in getattr(self, k)] for k in _ORM_LISTS if getattr(self, k)}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "OrmFacts":
        return OrmFacts(**{k: [_from_plain(cls, x) for x in d.get(k, ())] for k, cls in _ORM_LISTS.items()})
