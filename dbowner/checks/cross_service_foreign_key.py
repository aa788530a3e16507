from ..livefacts import FOREIGN_KEYS, RELATIONS
from ..model import DDL, REFERENCE
from .base import Hit, catalog_location, check, live_check


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


@live_check("cross-service-foreign-key", needs=(RELATIONS, FOREIGN_KEYS))
def live_cross_service_foreign_key(model):
    for fk in model.facts.foreign_keys:
        source = model.owner_of(fk.schema, fk.table)
        target = model.owner_of(fk.ref_schema, fk.ref_table)
        if source.kind != "owned" or target.kind != "owned" or source.owner == target.owner:
            continue
        yield Hit(catalog_location(fk.schema, fk.table), 1, service=source.owner,
                  table=f"{fk.ref_schema}.{fk.ref_table}",
                  message=f"foreign key {fk.name} from {fk.schema}.{fk.table} ({source.owner}) to "
                          f"{fk.ref_schema}.{fk.ref_table}, a table owned by {target.owner}")
