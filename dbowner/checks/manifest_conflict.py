from fnmatch import fnmatchcase
from itertools import combinations

from .base import Hit, check


def _same_database(a, b) -> bool:
    return a.database is None or b.database is None or a.database == b.database


def _overlap(p, q) -> bool:
    if (p.schema or q.schema) and p.schema != q.schema and p.schema and q.schema:
        return False
    return p.name == q.name or fnmatchcase(p.name, q.name) or fnmatchcase(q.name, p.name)


def _pairs_that_may_clash(services: list) -> list:
    """Pairs (in manifest order) that share a plain table name or a schema, or where one has a glob:
    no other pair can clash, and an estate of 1,000 services has half a million pairs."""
    index = {s.name: i for i, s in enumerate(services)}
    by_key: dict[tuple[str, str], set[int]] = {}
    globbed = set()
    for s in services:
        for p in s.owned:
            if any(ch in p.name for ch in "*?["):
                globbed.add(index[s.name])
            else:
                by_key.setdefault(("name", p.name), set()).add(index[s.name])
        for schema in s.schemas:
            by_key.setdefault(("schema", schema), set()).add(index[s.name])
    pairs = {pair for group in by_key.values() if len(group) > 1 for pair in combinations(sorted(group), 2)}
    pairs |= {tuple(sorted((g, i))) for g in globbed for i in range(len(services)) if i != g}
    return [(services[i], services[j]) for i, j in sorted(pairs)]


@check("manifest-conflict")
def manifest_conflict(og):
    m = og.manifest
    where = m.display_path
    for a, b in _pairs_that_may_clash(list(m.services.values())):
        if not _same_database(a, b):
            continue
        owned_b = [("tables", i, p) for i, p in enumerate(b.tables)] + \
                  [("event_store", i, p) for i, p in enumerate(b.event_store)]
        for field, i, q in owned_b:
            clash = next((p for p in a.owned if _overlap(p, q)), None)
            if clash is not None:
                yield Hit(where, m.line_of("services", b.name, field, i), service=b.name, table=q.text,
                          message=f"services {a.name} and {b.name} both claim table '{q.text}'"
                                  + (f" (matches '{clash.text}')" if clash.text != q.text else ""))
        for i, schema in enumerate(b.schemas):
            if schema in a.schemas:
                yield Hit(where, m.line_of("services", b.name, "schemas", i), service=b.name, table=schema,
                          message=f"services {a.name} and {b.name} both claim schema '{schema}'")
    for (a, b), path in sorted(og.discovery.overlaps.items()):
        yield Hit(where, m.line_of("services", b, "paths"), service=b,
                  message=f"paths of services {a} and {b} overlap: {path} matches both "
                          f"(it is analysed as {a})")
