from ..model import DDL, WRITE
from ._common import foreign_accesses, verb
from .base import Hit, check


@check("cross-service-write")
def cross_service_write(og):
    for info, ra in foreign_accesses(og, {WRITE, DDL}):
        if ra.access.action == "create_temp":
            continue
        yield Hit(info.path, ra.access.line, end_line=info.statement.end_line, service=info.service,
                  table=ra.key.display,
                  message=f"{info.service} {'changes the schema of' if ra.access.role == DDL else 'writes'} "
                          f"{ra.key.display} ({verb(ra.access.action)}), a table owned by {ra.owner}")
