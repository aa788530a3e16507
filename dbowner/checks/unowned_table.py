from ..livefacts import RELATIONS
from ._common import verb
from .base import Hit, catalog_location, check, live_check


@check("unowned-table")
def unowned_table(og):
    temp_tables = {(info.path, ra.access.table.name)
                   for info in og.statements for ra in info.accesses if ra.access.action == "create_temp"}
    for info in og.statements:
        for ra in info.accesses:
            if ra.resolution.kind != "unowned" or (info.path, ra.access.table.name) in temp_tables:
                continue
            yield Hit(info.path, ra.access.line, end_line=info.statement.end_line, service=info.service,
                      table=ra.key.display,
                      message=f"{ra.key.display} is not owned by any service in the manifest "
                              f"({verb(ra.access.action)} in {info.service or 'unassigned code'})")


@live_check("unowned-table", needs=(RELATIONS,))
def live_unowned_table(model):
    for rel in model.facts.relations:
        if rel.partition_of:
            continue   # a partition is judged with its parent table
        if model.owner_of(rel.schema, rel.name).kind != "unowned":
            continue
        yield Hit(catalog_location(rel.schema, rel.name), 1, service=model.service_of_role(rel.owner_role) or "",
                  table=rel.display,
                  message=f"{rel.kind} {rel.display} exists in database {model.facts.database} but no service "
                          f"in the manifest owns it (its owner role is {rel.owner_role})")
