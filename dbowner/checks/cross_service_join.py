from ..model import READ, WRITE, DDL
from .base import Hit, check


@check("cross-service-join")
def cross_service_join(og):
    for info in og.statements:
        if not info.service:
            continue
        owners: dict[str, list[str]] = {}
        foreign_lines = []
        for ra in info.accesses:
            if ra.access.role not in (READ, WRITE, DDL) or not ra.owner or ra.access.action == "create_temp":
                continue
            if ra.owner != info.service and og.ownership.declared_read(info.service, ra.access.table, ra.key):
                continue   # a declared read is part of the contract, not another owner
            if ra.owner != info.service:
                foreign_lines.append(ra.access.line)
            tables = owners.setdefault(ra.owner, [])
            if ra.key.display not in tables:
                tables.append(ra.key.display)
        if len(owners) < 2:
            continue
        parts = "; ".join(f"{', '.join(t)} ({o})" for o, t in sorted(owners.items()))
        foreign = sorted(t for o, ts in owners.items() if o != info.service for t in ts)
        # at the first other owner's table, like the read/write findings of the same statement
        line = min(foreign_lines) if foreign_lines else info.statement.line
        yield Hit(info.path, line, end_line=info.statement.end_line, service=info.service,
                  table=foreign[0] if foreign else "",
                  message=f"one statement combines tables of {len(owners)} owners: {parts}")
