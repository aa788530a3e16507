"""shared-database: two services on one database, by the manifest's `database` keys or by what
their deployment config (compose, .env, settings, alembic.ini, Kubernetes env) connects them to."""
from collections import defaultdict

from ..deployment import ServiceConnection, attribute_connections, display_target, labels_compatible
from ..livefacts import PRIVILEGES, RELATIONS
from ..model import Severity
from .base import Hit, check, live_check


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
    reported = set()
    for database, services in sorted(by_db.items()):
        if len(services) < 2:
            continue
        reported.update(frozenset((a.name, b.name)) for a in services for b in services if a is not b)
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
    yield from _config_hits(og, reported)


def _config_hits(og, reported):
    """One hit per pair of services whose config connects both to the same host:port/database."""
    m = og.manifest
    mine: dict[str, list[ServiceConnection]] = defaultdict(list)
    for sc in attribute_connections(m, og.discovery, og.facts):
        if sc.service and sc.key() is not None:
            mine[sc.service].append(sc)
    names = list(m.services)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if frozenset((a, b)) in reported:
                continue      # the manifest already says so: one finding per pair
            pairs = sorted(((x, y) for x in mine[a] for y in mine[b]
                            if x.key() == y.key() and labels_compatible(x.label, y.label)),
                           key=lambda p: (p[1].path, p[1].connection.line, p[0].path, p[0].connection.line))
            if not pairs:
                continue
            x, y = pairs[0]
            separated = _owns_only_whole_schemas(m.services[a]) and _owns_only_whole_schemas(m.services[b])
            tail = (": acceptable for dev/test with separate schemas, use separate instances in production"
                    if separated else "")
            message = (f"services {a} and {b} connect to the same database {display_target(x.key())} "
                       f"({a}: {x.where()}, {b}: {y.where()}){tail}")
            yield Hit(y.path, y.connection.line, message, service=b,
                      severity=Severity.WARNING if separated else None)


@live_check("shared-database", needs=(RELATIONS, PRIVILEGES))
def live_shared_database(model):
    """Roles of services the manifest puts in different databases hold rights on one schema's tables."""
    m = model.manifest
    in_schema: dict[str, set[str]] = defaultdict(set)
    for rel in model.facts.relations:
        for svc in m.services.values():
            access = model.access(svc.name, rel)
            if access.owner_via or access.privileges:
                in_schema[rel.schema].add(svc.name)
    for schema, names in sorted(in_schema.items()):
        services = [m.services[n] for n in sorted(names) if m.services[n].database]
        if len({s.database for s in services}) < 2:
            continue   # the manifest does not say they are apart (or already says they share)
        listed = ", ".join(f"{s.name} ({s.database})" for s in services)
        # point at a service the manifest places elsewhere than this database
        elsewhere = [s for s in services if s.database != model.scope.logical_database] or services
        last = elsewhere[-1]
        yield Hit(m.display_path, m.line_of("services", last.name, "database"), service=last.name, table=schema,
                  message=f"services {listed} all hold privileges on tables of schema '{schema}' in database "
                          f"{model.facts.database}: they share it, though the manifest gives them different databases")
