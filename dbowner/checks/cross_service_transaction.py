from collections import defaultdict

from ..model import WRITE
from .base import Hit, check


@check("cross-service-transaction")
def cross_service_transaction(og):
    blocks: dict[tuple[str, int], dict[str, list[str]]] = defaultdict(dict)
    services: dict[tuple[str, int], str] = {}
    for info in og.statements:
        if not info.statement.transaction:
            continue
        key = (info.path, info.statement.transaction)
        services[key] = info.service
        for ra in info.accesses:
            if ra.access.role == WRITE and ra.owner:
                tables = blocks[key].setdefault(ra.owner, [])
                if ra.key.display not in tables:
                    tables.append(ra.key.display)
    declared = {(ff.path, t.id): t for ff in og.facts for t in ff.transactions}
    for key, owners in sorted(blocks.items()):
        if len(owners) < 2:
            continue
        tx = declared.get(key)
        parts = "; ".join(f"{', '.join(t)} ({o})" for o, t in sorted(owners.items()))
        foreign = sorted(t for o, ts in owners.items() if o != services[key] for t in ts)
        how = f" ({tx.how})" if tx else ""
        yield Hit(key[0], tx.line if tx else 0, end_line=tx.end_line if tx else 0, service=services[key],
                  table=foreign[0] if foreign else "",
                  message=f"one transaction{how} writes tables of {len(owners)} owners: {parts}")
