from ..model import READ
from ._common import foreign_accesses
from .base import Hit, check


@check("cross-service-read")
def cross_service_read(og):
    for info, ra in foreign_accesses(og, {READ}):
        if og.ownership.declared_read(info.service, ra.access.table, ra.key):
            continue
        note = ""
        if ra.access.action == "map":
            note = " (an ORM model here maps it: mapping another service's table couples this code to its schema)"
        yield Hit(info.path, ra.access.line, end_line=info.statement.end_line, service=info.service,
                  table=ra.key.display,
                  message=f"{info.service} reads {ra.key.display}, a table owned by {ra.owner}, "
                          f"without declaring it in services.{info.service}.reads{note}")
