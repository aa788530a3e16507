"""Which service owns a table named in some service's code."""
from __future__ import annotations

import pytest

from dbowner.manifest import load_manifest
from dbowner.manifest.ownership import Ownership
from dbowner.model import TableName

MANIFEST = """
version: 1
services:
  orders:
    paths: ["services/orders/**"]
    database: orders_db
    tables: [orders, order_items, "saga_*", customers]
    reads: [users.accounts]
    event_store: [order_events]
  delivery:
    paths: ["services/delivery/**"]
    database: delivery_db
    tables: [customers, shipments]
  users:
    paths: ["services/users/**"]
    database: users_db
    schemas: [users]
  billing:
    paths: ["services/billing/**"]
    database: orders_db
    tables: [billing.invoices, ledger]
"""


@pytest.fixture
def own(make_repo) -> Ownership:
    root = make_repo({"dbowner.yaml": MANIFEST})
    return Ownership(load_manifest(root / "dbowner.yaml"))


def owner(own: Ownership, service: str, name: str) -> str | None:
    parts = name.split(".")
    table = TableName(parts[-1], parts[-2] if len(parts) > 1 else "")
    res = own.resolve(service, table)
    return res.owner if res.kind == "owned" else res.kind


def test_own_table_first(own):
    assert owner(own, "orders", "orders") == "orders"
    assert owner(own, "orders", "saga_state") == "orders"        # glob
    assert owner(own, "orders", "order_events") == "orders"      # event store is owned


def test_same_name_in_two_databases_resolves_to_the_callers_own(own):
    assert owner(own, "orders", "customers") == "orders"
    assert owner(own, "delivery", "customers") == "delivery"


def test_same_name_from_a_third_service_is_ambiguous_not_guessed(own):
    res = own.resolve("users", TableName("customers"))
    assert res.kind == "ambiguous" and res.candidates == ("delivery", "orders")


def test_same_database_owner_wins_over_others(own):
    # billing shares orders_db with orders: `customers` from billing means orders' table
    assert owner(own, "billing", "customers") == "orders"


def test_unique_owner_anywhere(own):
    assert owner(own, "orders", "shipments") == "delivery"


def test_schema_qualified_names(own):
    assert owner(own, "orders", "users.accounts") == "users"       # wholly owned schema
    assert owner(own, "orders", "billing.invoices") == "billing"   # exact schema.table entry
    assert owner(own, "billing", "invoices") == "billing"         # unqualified own table with a schema entry
    assert owner(own, "orders", "public.orders") == "orders"      # default schema
    assert owner(own, "orders", "archive.nothing") == "unowned"


def test_unqualified_name_in_schema_owning_service_is_its_own(own):
    assert owner(own, "users", "accounts") == "users"


def test_unknown_dynamic_and_system_tables(own):
    assert owner(own, "orders", "audit_log") == "unowned"
    assert owner(own, "orders", "__p0__") == "dynamic"
    assert owner(own, "orders", "events___p1__") == "dynamic"
    assert owner(own, "orders", "pg_catalog.pg_class") == "system"
    assert owner(own, "orders", "information_schema.tables") == "system"


def test_declared_reads(own):
    assert own.declared_read("orders", TableName("accounts", "users"))
    assert not own.declared_read("orders", TableName("invoices", "billing"))


def test_qualified_and_unqualified_names_of_one_table_share_an_identity(own):
    a = own.resolve("billing", TableName("invoices")).key
    b = own.resolve("orders", TableName("invoices", "billing")).key
    assert a == b and a.display == "billing.invoices" and a.database == "orders_db"
