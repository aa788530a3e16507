"""Indexes that let big estates (a merge of 1,000 repositories) be checked in seconds answer exactly
as the plain scans would, on random manifests with globs and schemas: the ownership lookup (only
services that can own a name are scored) and manifest-conflict (only pairs that can clash)."""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dbowner.checks import manifest_conflict as mc
from dbowner.discover import Discovery
from dbowner.graph import build_graph
from dbowner.manifest import Manifest, Service, TablePattern
from dbowner.manifest.ownership import Ownership
from dbowner.model import TableName

NAMES = ["orders", "stock", "saga_state", "customers", "ledger"]
SCHEMAS = ["", "public", "inventory", "billing"]
PATTERNS = NAMES + ["saga_*", "sto?k", "[ol]*"]

pattern = st.builds(lambda schema, name: TablePattern.parse(f"{schema}.{name}" if schema else name),
                    st.sampled_from(SCHEMAS), st.sampled_from(PATTERNS))
service = st.builds(
    lambda tables, schemas, database, events: (tuple(tables), tuple(schemas), database, tuple(events)),
    st.lists(pattern, max_size=4), st.lists(st.sampled_from(SCHEMAS[2:]), max_size=2, unique=True),
    st.sampled_from([None, "db1", "db2"]), st.lists(pattern, max_size=1))
table = st.builds(TableName, st.sampled_from(NAMES), st.sampled_from(SCHEMAS), st.sampled_from(["", "db1"]))


@settings(max_examples=150, deadline=None)
@given(st.lists(service, min_size=1, max_size=6), st.lists(table, min_size=1, max_size=6))
def test_indexed_candidates_equal_scoring_every_service(specs, tables):
    services = {f"s{i}": Service(f"s{i}", ("x/**",), database=db, schemas=schemas, tables=tables_, event_store=ev)
                for i, (tables_, schemas, db, ev) in enumerate(specs)}
    manifest = Manifest(Path("dbowner.yaml"), services=services)
    own = Ownership(manifest)
    for t in tables:
        scored = [(own._strength(s, t), s) for s in services.values()]
        top = max(score for score, _ in scored)
        expected = [s for score, s in scored if score == top] if top else []
        if t.catalog and expected:
            expected = [s for s in expected if s.database == t.catalog] or expected
        assert own.candidates(t) == expected
        for me in [None, *services]:     # the memoised answer is the one a fresh lookup gives
            assert own.resolve(me, t) == Ownership(manifest)._resolve(me, t)


@settings(max_examples=150, deadline=None)
@given(st.lists(service, min_size=2, max_size=7))
def test_manifest_conflict_pairs_index_misses_no_clash(specs):
    services = {f"s{i}": Service(f"s{i}", ("x/**",), database=db, schemas=schemas, tables=tables_, event_store=ev)
                for i, (tables_, schemas, db, ev) in enumerate(specs)}
    og = build_graph(Manifest(Path("dbowner.yaml"), services=services), Discovery(), [])
    indexed = list(mc.manifest_conflict(og))
    every_pair = mc._pairs_that_may_clash
    try:
        mc._pairs_that_may_clash = lambda s: list(combinations(s, 2))
        assert list(mc.manifest_conflict(og)) == indexed
    finally:
        mc._pairs_that_may_clash = every_pair
