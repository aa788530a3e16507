"""What a check is: a small unit over the ownership graph that yields hits for one rule."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Callable

from ..graph import OwnershipGraph
from ..livegraph import LiveModel
from ..model import Severity


@dataclass(frozen=True)
class Hit:
    """One violation as a check sees it; code, name and hint come from the catalog."""

    path: str
    line: int
    message: str
    end_line: int = 0
    service: str = ""
    table: str = ""
    severity: Severity | None = None     # overrides the rule's default severity for this hit


CheckFn = Callable[[OwnershipGraph], Iterable[Hit]]
REGISTRY: dict[str, CheckFn] = {}


def check(name: str) -> Callable[[CheckFn], CheckFn]:
    """Register a check under its public kebab-case rule name (must exist in rules/<name>.yaml)."""

    def register(fn: CheckFn) -> CheckFn:
        if name in REGISTRY:
            raise ValueError(f"check {name} registered twice")
        REGISTRY[name] = fn
        return fn

    return register


# Checks of a live database (`dbowner verify`): the same Hit, judged from the catalog facts in a
# LiveModel. `needs` names the fact groups (livefacts.SOURCES) the check cannot do without: when
# one of them could not be read, the check is skipped and verify says so.
LiveCheckFn = Callable[[LiveModel], Iterable[Hit]]
LIVE_REGISTRY: dict[str, tuple[LiveCheckFn, tuple[str, ...]]] = {}


def live_check(name: str, needs: tuple[str, ...]) -> Callable[[LiveCheckFn], LiveCheckFn]:
    """Register a check of a live database under its rule name (must exist in rules/<name>.yaml)."""

    def register(fn: LiveCheckFn) -> LiveCheckFn:
        if name in LIVE_REGISTRY:
            raise ValueError(f"live check {name} registered twice")
        LIVE_REGISTRY[name] = (fn, needs)
        return fn

    return register


def catalog_location(schema: str, name: str) -> str:
    """Where a finding about a database object points: `pg_catalog:<schema>.<name>`."""
    return f"pg_catalog:{schema}.{name}"
