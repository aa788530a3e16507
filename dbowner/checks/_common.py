"""Small helpers the access checks share."""
from __future__ import annotations

from collections.abc import Iterator

from ..graph import OwnershipGraph, ResolvedAccess, StatementInfo


def foreign_accesses(og: OwnershipGraph, roles: set[str]) -> Iterator[tuple[StatementInfo, ResolvedAccess]]:
    """Accesses in the given roles to tables owned by a service other than the one running the code."""
    for info in og.statements:
        for ra in info.accesses:
            if ra.access.role in roles and ra.owner and info.service and ra.owner != info.service:
                yield info, ra


def verb(action: str) -> str:
    return {"select_into": "SELECT INTO", "create_temp": "CREATE TEMP TABLE"}.get(action, action.upper())
