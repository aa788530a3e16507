from ..livefacts import PRIVILEGES, RELATIONS
from ..livegraph import (
    PUBLIC, READ_ALL_ROLE, READ_PRIVILEGES, REFERENCE_PRIVILEGES, WRITE_ALL_ROLE, WRITE_PRIVILEGES,
)
from ..model import Severity
from .base import Hit, catalog_location, live_check


def _via(access, privileges) -> str:
    ways = sorted({v for p in privileges for v in access.privileges[p]})
    return "; ".join(ways)


def _role_wide(model, others_tables):
    """Rights over every table at once: superuser, pg_write_all_data, pg_read_all_data."""
    for name in sorted(model.manifest.services):
        if not others_tables.get(name):
            continue
        for role in model.service_roles(name):
            acting = model.acts_as(role)
            location = f"pg_catalog:roles/{role}"
            if model.is_superuser(role):
                yield Hit(location, 1, service=name,
                          message=f"role {role} of {name} is a superuser: it can read and write every "
                                  "service's tables, bypassing every grant")
            elif WRITE_ALL_ROLE in acting:
                yield Hit(location, 1, service=name,
                          message=f"role {role} of {name} has {WRITE_ALL_ROLE}: it can write every service's tables")
            elif READ_ALL_ROLE in acting:
                yield Hit(location, 1, service=name, severity=Severity.WARNING,
                          message=f"role {role} of {name} has {READ_ALL_ROLE}: it can read every service's tables")


@live_check("cross-service-grant", needs=(RELATIONS, PRIVILEGES))
def cross_service_grant(model):
    services = sorted(name for name, svc in model.manifest.services.items() if svc.roles)
    others_tables: dict[str, int] = {}
    for rel in model.facts.relations:
        owner = model.owner_of(rel.schema, rel.name)
        if owner.kind != "owned":
            continue
        where = catalog_location(rel.schema, rel.name)
        for name in services:
            if name == owner.owner:
                continue
            others_tables[name] = others_tables.get(name, 0) + 1
            access = model.access(name, rel)
            tail = f"{rel.kind} {rel.display}, owned by {owner.owner}"
            writes = access.has(WRITE_PRIVILEGES)
            if access.owner_via:
                yield Hit(where, 1, service=name, table=rel.display,
                          message=f"{rel.kind} {rel.display} belongs to {owner.owner}, but in the database it is "
                                  f"owned by {'; '.join(sorted(access.owner_via))} (a role of {name}), so {name} "
                                  "can alter, drop and write it")
            elif writes:
                yield Hit(where, 1, service=name, table=rel.display,
                          message=f"{name} can {', '.join(writes)} {tail} (granted to {_via(access, writes)})")
            else:
                reads = [p for p in access.has(READ_PRIVILEGES)
                         if not model.declared_read(name, rel.schema, rel.name)]
                reads += access.has(REFERENCE_PRIVILEGES)
                if reads:
                    undeclared = "" if model.declared_read(name, rel.schema, rel.name) else \
                        f", not declared in services.{name}.reads"
                    yield Hit(where, 1, service=name, table=rel.display, severity=Severity.WARNING,
                              message=f"{name} can {', '.join(reads)} {tail}{undeclared} "
                                      f"(granted to {_via(access, reads)})")
        public = model.public_privileges(rel)
        public_writes = [p for p in public if p.split("(", 1)[0] in WRITE_PRIVILEGES]
        others = [n for n in model.manifest.services if n != owner.owner]
        if public_writes:
            yield Hit(where, 1, service=owner.owner, table=rel.display,
                      message=f"{PUBLIC} can {', '.join(public_writes)} {rel.kind} {rel.display}, owned by "
                              f"{owner.owner}: every role, other services' roles included, may write it")
        elif any(p.split("(", 1)[0] in READ_PRIVILEGES + REFERENCE_PRIVILEGES for p in public) and any(
                not model.declared_read(n, rel.schema, rel.name) for n in others):
            shown = [p for p in public if p.split("(", 1)[0] in READ_PRIVILEGES + REFERENCE_PRIVILEGES]
            yield Hit(where, 1, service=owner.owner, table=rel.display, severity=Severity.WARNING,
                      message=f"{PUBLIC} can {', '.join(shown)} {rel.kind} {rel.display}, owned by {owner.owner}: "
                              "every role, other services' roles included, may read it")
    yield from _role_wide(model, others_tables)
