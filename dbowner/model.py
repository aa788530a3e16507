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
                         # create, create_temp, alter, drop, references
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
    origin: str = "sql"          # "sql" (.sql file) or "python" (SQL string passed to a DB call)
    detail: StatementDetail | None = None   # DML/SELECT shape for the idempotency rules

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["accesses"] = [a.to_dict() for a in self.accesses]
        d["detail"] = dump(self.detail) if self.detail is not None else None
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Statement":
        d = dict(d)
        d["accesses"] = tuple(TableAccess.from_dict(a) for a in d["accesses"])
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


@dataclass
class FileFacts:
    """Everything extraction learned from one file. Pure function of (path, bytes, options)."""

    path: str
    statements: list[Statement] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    two_phase: list[TwoPhaseUse] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    code: CodeFacts | None = None    # Python structure for the saga and dual-write rules

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "statements": [s.to_dict() for s in self.statements],
            "transactions": [t.to_dict() for t in self.transactions],
            "two_phase": [t.to_dict() for t in self.two_phase],
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "code": self.code.to_dict() if self.code is not None else None,
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "FileFacts":
        return FileFacts(
            path=d["path"],
            statements=[Statement.from_dict(s) for s in d["statements"]],
            transactions=[Transaction(**t) for t in d["transactions"]],
            two_phase=[TwoPhaseUse(**t) for t in d["two_phase"]],
            diagnostics=[Diagnostic(**x) for x in d["diagnostics"]],
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
