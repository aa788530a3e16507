from ..livefacts import RELATIONS, VIEW_DEPENDENCIES
from ..model import READ
from ._common import foreign_accesses
from .base import Hit, catalog_location, check, live_check


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


@live_check("cross-service-read", needs=(RELATIONS, VIEW_DEPENDENCIES))
def live_cross_service_read(model):
    """Views and materialized views in the database that read another service's tables."""
    for dep in model.facts.view_dependencies:
        view = model.owner_of(dep.schema, dep.view)
        table = model.owner_of(dep.ref_schema, dep.ref_name)
        if view.kind != "owned" or table.kind != "owned" or view.owner == table.owner:
            continue
        if model.declared_read(view.owner, dep.ref_schema, dep.ref_name):
            continue
        rel = model.relations.get((dep.schema, dep.view))
        kind = rel.kind if rel else "view"
        yield Hit(catalog_location(dep.schema, dep.view), 1, service=view.owner,
                  table=f"{dep.ref_schema}.{dep.ref_name}",
                  message=f"{kind} {dep.schema}.{dep.view} of {view.owner} reads {dep.ref_schema}.{dep.ref_name}, "
                          f"a table owned by {table.owner}, without declaring it in services.{view.owner}.reads")
