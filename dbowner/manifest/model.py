"""The validated manifest as plain objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TablePattern:
    """An owned-table entry: `orders`, `orders.orders` or a glob such as `saga_*`."""

    text: str        # as written in the manifest
    schema: str      # "" when bare
    name: str        # may contain glob characters

    @staticmethod
    def parse(text: str) -> "TablePattern":
        parts = text.lower().split(".")
        if len(parts) == 1:
            return TablePattern(text, "", parts[0])
        return TablePattern(text, parts[-2], parts[-1])


@dataclass(frozen=True)
class Service:
    name: str
    paths: tuple[str, ...]
    database: str | None = None
    dialect: str | None = None
    schemas: tuple[str, ...] = ()
    tables: tuple[TablePattern, ...] = ()
    reads: tuple[TablePattern, ...] = ()
    event_store: tuple[TablePattern, ...] = ()
    roles: tuple[str, ...] = ()          # database roles it connects as (dbowner verify)

    @property
    def owned(self) -> tuple[TablePattern, ...]:
        """Every owned-table entry: `tables` plus `event_store` (event stores are owned too)."""
        return self.tables + self.event_store


@dataclass(frozen=True)
class SagaStepRef:
    action: str
    compensation: str | None = None
    pivot: bool = False


@dataclass(frozen=True)
class SagaSpec:
    name: str
    steps: tuple[SagaStepRef, ...]
    description: str = ""


@dataclass(frozen=True)
class RulesConfig:
    """The manifest's `rules:` section, as written (selectors are rule names, codes or code prefixes)."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: tuple[tuple[str, str], ...] = ()            # (selector, error|warning|info), in file order
    require_reasons: bool = False
    per_path_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()   # (glob, selectors), in file order


@dataclass
class Manifest:
    path: Path                       # the dbowner.yaml file
    dialect: str = "postgres"
    exclude: tuple[str, ...] = ()
    services: dict[str, Service] = field(default_factory=dict)
    sagas: dict[str, SagaSpec] = field(default_factory=dict)
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)
    rules: RulesConfig = field(default_factory=RulesConfig)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def display_path(self) -> str:
        return self.path.name

    def line_of(self, *keypath: Any) -> int:
        """Line of a key path such as ("services", "orders", "tables", 2); nearest parent if absent."""
        path = tuple(keypath)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def dialect_of(self, service: str | None) -> str:
        svc = self.services.get(service or "")
        return (svc.dialect if svc and svc.dialect else self.dialect)
