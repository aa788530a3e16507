"""What a check is: a small unit over the ownership graph that yields hits for one rule."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Callable

from ..graph import OwnershipGraph
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
