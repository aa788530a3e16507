"""Sagas after resolution: steps with their compensations, the pivot, and what each step does."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..graph import StatementInfo
from .effects import Effects
from .index import FunctionRef

# What a step's action or compensation is known to do.
WRITES = "writes"                       # its body (in this repository) writes the database
READ_ONLY = "read-only"                 # its body is here and changes nothing
REMOTE_COMMAND = "remote command"       # HTTP POST/PUT/PATCH/DELETE or a broker publish
REMOTE_QUERY = "remote query"           # HTTP GET
COMMAND = "command (not analysed)"       # calls code not here, named like a command (reserve_credit)
UNKNOWN = "unknown"                     # unresolved and not named like a command or query

# How a finding says what a state-changing step does.
DOES = {
    WRITES: "writes the database",
    REMOTE_COMMAND: "sends a command to another service",
    COMMAND: "calls another service's command",
}


@dataclass
class Target:
    """What a step or a compensation runs."""

    text: str                               # as shown to users: "debit_account", "POST /credits"
    ref: Optional[FunctionRef] = None       # its definition, when it is in the repository
    statements: list[StatementInfo] = field(default_factory=list)   # an inline SQL step
    effects: Optional[Effects] = None
    effect: str = UNKNOWN

    @property
    def changes_state(self) -> bool:
        return self.effect in (WRITES, REMOTE_COMMAND, COMMAND)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "definition": str(self.ref) if self.ref else None, "effect": self.effect}


@dataclass
class Step:
    index: int
    path: str                               # where the step is declared
    line: int
    action: Target
    compensation: Optional[Target] = None
    compensation_path: str = ""
    compensation_line: int = 0
    pivot_declared: bool = False
    name: str = ""
    failure_paths: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        return self.name or self.action.text


@dataclass
class PathInfo:
    """A failure path of an orchestrator and which steps it compensates."""

    line: int
    end_line: int
    kind: str                               # if, except
    owners: tuple[int, ...]                 # steps whose failure leads here
    compensates: set[int] = field(default_factory=set)
    opaque: list[str] = field(default_factory=list)   # calls we cannot see into (might compensate)


@dataclass
class Saga:
    name: str
    style: str                              # orchestrator, compensation-list, declared, manifest
    convention: str
    path: str
    line: int
    end_line: int
    service: str
    steps: list[Step]
    paths: list[PathInfo] = field(default_factory=list)
    pivot: Optional[int] = None
    pivot_declared: bool = False
    manifest: str = ""                      # the manifest saga that declares or refines it
    problems: list = field(default_factory=list)   # Problem, filled by verdicts

    @property
    def key(self) -> tuple:
        return (self.path, self.line, self.name)


@dataclass(frozen=True)
class Problem:
    """One rule violation found in a saga (or a function, for dual-write)."""

    rule: str
    path: str
    line: int
    message: str
    service: str = ""
    table: str = ""
    end_line: int = 0
    saga: str = ""
