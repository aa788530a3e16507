from ..model import DDL, REFERENCE
from .base import Hit, check


@check("cross-service-foreign-key")
def cross_service_foreign_key(og):
    for info in og.statements:
        # DDL target, or the table an ORM model maps (its ForeignKey fields)
        sources = [ra for ra in info.accesses if (ra.access.role == DDL or ra.access.action == "map") and ra.owner]
        source_owner = sources[0].owner if sources else info.service
        source_name = sources[0].key.display if sources else "a table"
        for ra in info.accesses:
            if ra.access.role != REFERENCE or not ra.owner or not source_owner or ra.owner == source_owner:
                continue
            yield Hit(info.path, ra.access.line, end_line=info.statement.end_line, service=info.service,
                      table=ra.key.display,
                      message=f"foreign key from {source_name} ({source_owner}) to {ra.key.display}, "
                              f"a table owned by {ra.owner}")
