from ..livefacts import RELATIONS
from ..manifest.ownership import DEFAULT_SCHEMAS
from .base import Hit, live_check

GLOB = set("*?[")


def _exists(model, pattern) -> bool:
    for rel in model.facts.relations:
        if rel.name.lower() != pattern.name:
            continue
        if not pattern.schema or pattern.schema == rel.schema.lower() or (
                pattern.schema in DEFAULT_SCHEMAS and rel.schema in DEFAULT_SCHEMAS):
            return True
    return False


@live_check("missing-table", needs=(RELATIONS,))
def missing_table(model):
    """Tables (and wholly owned schemas) the manifest places in this database that it does not have."""
    m = model.manifest
    database = model.facts.database
    schemas_in_use = {rel.schema.lower() for rel in model.facts.relations}
    for name in model.scope.services:
        svc = m.services[name]
        for field in ("tables", "event_store"):
            for i, pattern in enumerate(getattr(svc, field)):
                if GLOB & set(pattern.text) or _exists(model, pattern):
                    continue   # a glob may rightly match nothing yet
                yield Hit(m.display_path, m.line_of("services", name, field, i), service=name, table=pattern.text,
                          message=f"services.{name}.{field}[{i}]: table '{pattern.text}' does not exist in "
                                  f"database {database}")
        for i, schema in enumerate(svc.schemas):
            if schema not in schemas_in_use:
                yield Hit(m.display_path, m.line_of("services", name, "schemas", i), service=name, table=schema,
                          message=f"services.{name}.schemas[{i}]: schema '{schema}' has no tables in database "
                                  f"{database} (or does not exist)")
