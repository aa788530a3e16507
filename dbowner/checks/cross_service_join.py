from ..model import READ, WRITE, DDL
from .base import Hit, check


@check("cross-service-join")
def cross_service_join(og):
    for info in og.statements:
        if not info.service:
            continue
        owners: dict[str, list[str]] = {}
        foreign_at: list[tuple[int, str]] = []   # (line, table) of each other owner's table
        for ra in info.accesses:
            if ra.access.role not in (READ, WRITE, DDL) or not ra.owner or ra.access.action in ("create_temp", "rename"):
                continue
            if ra.owner != info.service and og.ownership.declared_read(info.service, ra.access.table, ra.key):
                continue   # a declared read is part of the contract, not another owner
            if ra.owner != info.service:
                foreign_at.append((ra.access.line, ra.key.display))
            tables = owners.setdefault(ra.owner, [])
            if ra.key.display not in tables:
                tables.append(ra.key.display)
        if len(owners) < 2:
            continue
        parts = "; ".join(f"{', '.join(t)} ({o})" for o, t in sorted(owners.items()))
        # at the first other owner's table (line and name), like the read/write findings of the statement
        line, table = min(foreign_at) if foreign_at else (info.statement.line, "")
        yield Hit(info.path, line, end_line=info.statement.end_line, service=info.service,
                  table=table,
                  message=f"one statement combines tables of {len(owners)} owners: {parts}")
