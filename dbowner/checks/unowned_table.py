from .base import Hit, check


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
                              f"({info.statement.kind.upper()} in {info.service or 'unassigned code'})")
