from ..model import WRITE
from .base import Hit, check

MUTATIONS = {"update", "delete", "truncate"}


@check("event-store-mutation")
def event_store_mutation(og):
    for info in og.statements:
        for ra in info.accesses:
            if ra.access.role != WRITE or ra.access.action not in MUTATIONS or not ra.owner:
                continue
            if og.ownership.is_event_store(ra.key, ra.owner):
                yield Hit(info.path, ra.access.line, end_line=info.statement.end_line, service=info.service,
                          table=ra.key.display,
                          message=f"{ra.access.action.upper()} on {ra.key.display}, an append-only event "
                                  f"store of {ra.owner}")
