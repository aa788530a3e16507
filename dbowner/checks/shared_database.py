from collections import defaultdict

from ..model import Severity
from .base import Hit, check


def _owns_only_whole_schemas(svc) -> bool:
    """The seed's 'separate schemas' option: the service owns schemas, and no table outside them."""
    return bool(svc.schemas) and all(not p.schema or p.schema in svc.schemas for p in svc.owned)


@check("shared-database")
def shared_database(og):
    m = og.manifest
    by_db = defaultdict(list)
    for svc in m.services.values():
        if svc.database:
            by_db[svc.database].append(svc)
    for database, services in sorted(by_db.items()):
        if len(services) < 2:
            continue
        names = ", ".join(s.name for s in services)
        separated = all(_owns_only_whole_schemas(s) for s in services)
        if separated:
            message = (f"services {names} share database '{database}' with separate schemas: "
                       "acceptable for dev/test, use separate instances in production")
        else:
            message = f"services {names} share database '{database}'"
        last = services[-1]
        yield Hit(m.display_path, m.line_of("services", last.name, "database"), service=last.name,
                  message=message, severity=Severity.WARNING if separated else None)
