"""ORM extraction, one file at a time: the facts a user's models and queries leave behind."""
from __future__ import annotations

import textwrap

from dbowner.extract import extract_file
from dbowner.extract.python import extract_python_file
from dbowner.model import FileFacts


def facts(src: str, path: str = "svc/app/views.py") -> FileFacts:
    return extract_python_file(path, textwrap.dedent(src).lstrip("\n"))


def queries(src: str, path: str = "svc/app/views.py"):
    """(line, [(name or label, role, action)]) per query, in source order."""
    return [(q.line, [(r.name or r.label or r.table, r.role, r.action) for r in q.refs])
            for q in facts(src, path).orm.queries]


# ------------------------------------------------------------------------------- imports

def test_relative_and_absolute_imports_point_at_absolute_dotted_names():
    f = facts("""
        from . import models
        from .models import Order as O
        from ..billing.models import Invoice
        import shop.customers.models as cm
        import os.path
    """, path="shop/orders/views.py")
    got = {(i.local, i.target) for i in f.orm.imports}
    assert {("models", "shop.orders.models"), ("O", "shop.orders.models.Order"),
            ("Invoice", "shop.billing.models.Invoice"), ("cm", "shop.customers.models"),
            ("os", "os")} <= got


def test_package_init_resolves_relative_imports_against_its_own_folder():
    f = facts("from .models import Order\nfrom .x import *\n", path="shop/orders/__init__.py")
    assert {(i.local, i.target) for i in f.orm.imports} == {("Order", "shop.orders.models.Order"),
                                                           ("*", "shop.orders.x")}


# ------------------------------------------------------------------------------- model classes

def test_sqlalchemy_declarative_model_facts():
    f = facts("""
        from sqlalchemy import Column, ForeignKey, ForeignKeyConstraint, Integer
        from sqlalchemy.orm import Mapped, mapped_column, relationship
        from .base import Base

        class Order(Base):
            __tablename__ = "orders"
            __table_args__ = (ForeignKeyConstraint(["shop_id"], ["shops.shops.id"]), {"schema": "sales"})
            id: Mapped[int] = mapped_column(primary_key=True)
            customer_id = Column(Integer, ForeignKey("crm.customers.id"))
            seller_id: Mapped[int] = mapped_column(ForeignKey(Seller.id))
            items: Mapped[list["Item"]] = relationship(secondary="order_items")
            STATUS_NEW = "new"
    """, path="svc/app/models.py")
    (cls,) = f.orm.classes
    assert (cls.name, cls.bases, cls.table, cls.schema) == ("Order", ("Base",), "orders", "sales")
    assert set(cls.columns) == {"id", "customer_id", "seller_id", "items"}      # not STATUS_NEW
    rels = {(r.field, r.kind, r.target, r.target_kind, r.through) for r in cls.relations}
    assert rels == {("", "fk", "shops.shops", "table", ""), ("customer_id", "fk", "crm.customers", "table", ""),
                    ("seller_id", "fk", "Seller", "name", ""),
                    ("items", "relationship", "Item", "registry", "order_items")}


def test_django_model_facts_meta_relations_and_managers():
    f = facts("""
        from django.conf import settings
        from django.contrib.contenttypes.fields import GenericForeignKey
        from django.db import models

        class Order(Base):
            user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
            product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, db_constraint=False)
            tags = models.ManyToManyField(Tag, through="OrderTag")
            target = GenericForeignKey("content_type", "object_id")
            paid = PaidManager()

            class Meta:
                db_table = "sales_orders"
                app_label = "sales"
                abstract = True
    """, path="shop/sales/models.py")
    (cls,) = f.orm.classes
    assert (cls.table, cls.app_label, cls.abstract, cls.proxy, cls.managers) == (
        "sales_orders", "sales", True, False, ("paid",))
    rels = {(r.field, r.kind, r.target, r.target_kind, r.constraint, r.related, r.through) for r in cls.relations}
    assert rels == {("user", "fk", "AUTH_USER_MODEL", "setting", True, "orders", ""),
                    ("product", "fk", "catalog.Product", "label", False, "", ""),
                    ("tags", "m2m", "Tag", "name", True, "", "OrderTag")}   # GenericForeignKey: no relation


def test_unreadable_table_name_is_a_diagnostic_not_a_guess():
    f = facts("""
        class Order(Base):
            __tablename__ = make_name("orders")
    """, path="svc/app/models.py")
    assert [(d.line, d.kind) for d in f.diagnostics] == [(1, "orm-dynamic")]
    assert f.orm.classes[0].table == ""


def test_declared_attr_lower_tablename_is_understood():
    f = facts("""
        class Named:
            @declared_attr
            def __tablename__(cls):
                return cls.__name__.lower()
    """, path="svc/app/models.py")
    assert f.orm.classes[0].tablename_rule == "lower"


def test_core_tables_bases_metadata_and_settings_are_symbols():
    f = facts("""
        import sqlalchemy as sa
        from flask_sqlalchemy import SQLAlchemy
        from rich.table import Table as RichTable
        meta = sa.MetaData(schema="inv")
        stock = sa.Table("stock", meta, sa.Column("sku", sa.String, sa.ForeignKey("catalog.products.sku")))
        Base = sa.orm.declarative_base(metadata=meta)
        db = SQLAlchemy()
        report = RichTable("Name", "Qty")
        AUTH_USER_MODEL = "accounts.User"
    """, path="svc/app/tables.py")
    got = {(s.name, s.kind, s.table, s.value) for s in f.orm.symbols}
    assert got == {("meta", "metadata", "", ""), ("stock", "table", "stock", "meta"), ("Base", "base", "", "meta"),
                   ("db", "flask_db", "", ""), ("AUTH_USER_MODEL", "setting", "", "accounts.User")}
    stock = next(s for s in f.orm.symbols if s.name == "stock")
    assert [(r.target, r.target_kind) for r in stock.relations] == [("catalog.products", "table")]


# ------------------------------------------------------------------------------- queries

def test_django_manager_queries_and_terminal_writes():
    got = queries("""
        def f(pk):
            Order.objects.filter(pk=pk).update(status="x")
            Order.objects.filter(pk=pk).delete()
            Order.objects.create(status="x")
            Order.objects.get_or_create(pk=pk)
            return Order.objects.filter(pk=pk).exists()
    """)
    assert got == [(2, [("Order", "write", "update")]), (3, [("Order", "write", "delete")]),
                   (4, [("Order", "write", "insert")]),
                   (5, [("Order", "read", "select"), ("Order", "write", "insert")]),
                   (6, [("Order", "read", "select")])]


def test_a_queryset_in_a_variable_is_continued_by_its_later_write():
    got = queries("""
        def f():
            qs = Order.objects.filter(status="old")
            qs = qs.exclude(pk=1)
            qs.delete()
    """)
    assert got == [(2, [("Order", "write", "delete")])]


def test_lazy_subquery_is_one_query_but_an_evaluated_argument_is_its_own():
    got = queries("""
        def f():
            Order.objects.filter(customer__in=Customer.objects.filter(vip=True))
            Order.objects.create(customer=Customer.objects.get(pk=1))
            Order.objects.filter(ct=ContentType.objects.get_for_model(Order))
    """)
    assert got == [(2, [("Order", "read", "select"), ("Customer", "read", "select")]),
                   (3, [("Customer", "read", "select")]), (3, [("Order", "write", "insert")]),
                   (4, [("ContentType", "read", "select")]), (4, [("Order", "read", "select")])]


def test_two_queries_in_one_python_statement_stay_two_queries():
    got = queries("""
        def view(request):
            return render(request, "t.html", {"o": Order.objects.all(), "c": Customer.objects.all()})
    """)
    assert got == [(2, [("Customer", "read", "select")]), (2, [("Order", "read", "select")])]


def test_instances_save_and_delete_by_what_they_were_built_from():
    got = queries("""
        def f(order: Order):
            o = Order(status="new")
            o.save()
            o.save()
            c = Customer.objects.get(pk=1)
            c.delete()
            order.save()
    """)
    assert got == [(3, [("Order", "write", "insert")]), (4, [("Order", "write", "update")]),
                   (5, [("Customer", "read", "select")]), (6, [("Customer", "write", "delete")]),
                   (7, [("Order", "write", "update")])]


def test_relative_updates_carry_a_flag():
    f = facts("""
        from django.db.models import F
        from sqlalchemy import update
        def a(pk):
            Stock.objects.filter(pk=pk).update(qty=F("qty") - 1)
        def b(session):
            session.execute(update(Stock).values(qty=Stock.qty - 1))
        def c(pk):
            s = Stock.objects.get(pk=pk)
            s.qty -= 1
            s.save()
        def d(pk):
            Stock.objects.filter(pk=pk).update(qty=0)
    """)
    assert [(q.line, q.flags) for q in f.orm.queries] == [
        (4, ("relative-update",)), (6, ("relative-update",)), (8, ()), (9, ("relative-update",)),
        (10, ("relative-update",)), (12, ())]


def test_sqlalchemy_query_shapes():
    got = queries("""
        from sqlalchemy import delete, insert, select
        def f(session, cid):
            session.execute(select(Order.id, Customer.name).join(Customer).where(Customer.id == cid))
            session.query(Order).filter(Order.id == cid).delete()
            session.get(Order, cid)
            session.add(Order(total=1))
            session.add_all([Order(total=1), Item(sku="x")])
            Order.query.filter_by(id=cid).update({"total": 2})
            session.execute(insert(Order).values(total=1))
            orders_table.delete().where(orders_table.c.id == cid)
    """)
    assert got == [
        (3, [("Order.id", "read", "select"), ("Customer.name", "read", "select"), ("Customer", "read", "select"),
             ("Customer.id", "read", "select")]),
        (4, [("Order", "read", "select"), ("Order.id", "read", "select"), ("Order", "write", "delete")]),
        (5, [("Order", "read", "select")]),
        (6, [("Order", "write", "insert")]),
        (7, [("Order", "write", "insert"), ("Item", "write", "insert")]),
        (8, [("Order", "read", "select"), ("Order", "write", "update")]),
        (9, [("Order", "write", "insert")]),
        (10, [("orders_table", "write", "delete"), ("orders_table", "read", "select")]),
    ]


def test_locals_and_parameters_are_never_model_names():
    got = queries("""
        from sqlalchemy import select
        def f(session, orders, customer):
            orders.update({"a": 1})                       # a dict parameter
            session.execute(select(Order).where(Order.customer_id == customer.id))
    """)
    assert got == [(4, [("Order", "read", "select"), ("Order.customer_id", "read", "select")])]


def test_a_select_that_is_not_sqlalchemys_is_not_a_query():
    assert queries("""
        import select
        def f(sock):
            select.select([sock], [], [])
            update(Order)
    """) == []


def test_raw_sql_is_left_to_the_sql_extractor():
    f = facts("""
        def f():
            return list(Order.objects.raw("SELECT * FROM shop_order"))
    """)
    assert f.orm.queries == []
    assert [str(a.table) for s in f.statements for a in s.accesses] == ["shop_order"]


def test_queries_inside_a_transaction_block_carry_its_id():
    f = facts("""
        from django.db import transaction
        def f():
            with transaction.atomic():
                Order.objects.create()
            Order.objects.create()
            def later():
                Order.objects.create()
    """)
    assert [(q.line, q.transaction) for q in f.orm.queries] == [(4, 1), (5, 0), (7, 0)]


def test_model_table_names_spliced_into_sql_become_placeholders():
    f = facts("""
        def f(cursor):
            cursor.execute(f"SELECT * FROM {Order._meta.db_table}")
            cursor.execute("DELETE FROM {}".format(Item.__tablename__))
    """)
    assert [str(a.table) for s in f.statements for a in s.accesses] == ["__orm0__", "__orm1__"]
    assert [(r.index, r.name) for r in f.orm.table_refs] == [(0, "Order"), (1, "Item")]


# ------------------------------------------------------------------------------- migrations

def test_alembic_operations_are_statements_and_downgrade_is_not_reported():
    f = facts("""
        import sqlalchemy as sa
        from alembic import op

        def upgrade():
            op.create_table("orders", sa.Column("cid", sa.Integer, sa.ForeignKey("crm.customers.id")),
                            sa.ForeignKeyConstraint(["sid"], ["shops.id"]), schema="sales")
            op.add_column("orders", sa.Column("x", sa.Integer, sa.ForeignKey("users.id")), schema="sales")
            op.create_foreign_key(None, "orders", "items", ["i"], ["id"], source_schema="sales")
            op.alter_column("orders", "x", nullable=False, schema="sales")
            with op.batch_alter_table("lines") as batch_op:
                batch_op.create_foreign_key("fk", "products", ["p"], ["id"])
            op.bulk_insert(sa.table("statuses", sa.column("name")), [{"name": "new"}])
            op.execute("UPDATE orders SET x = 1")

        def downgrade():
            op.drop_table("orders", schema="sales")
    """, path="svc/migrations/versions/0001.py")
    got = [(s.line, s.kind, s.origin, [(str(a.table), a.role, a.action) for a in s.accesses]) for s in f.statements]
    assert got == [
        (5, "create", "migration", [("sales.orders", "ddl", "create"), ("crm.customers", "reference", "references"),
                                    ("shops", "reference", "references")]),
        (7, "alter", "migration", [("sales.orders", "ddl", "alter"), ("users", "reference", "references")]),
        (8, "alter", "migration", [("sales.orders", "ddl", "alter"), ("items", "reference", "references")]),
        (9, "alter", "migration", [("sales.orders", "ddl", "alter")]),
        (10, "alter", "migration", [("lines", "ddl", "alter")]),
        (11, "alter", "migration", [("lines", "ddl", "alter"), ("products", "reference", "references")]),
        (12, "insert", "migration", [("statuses", "write", "insert")]),
        (13, "update", "python", [("orders", "write", "update")]),
    ]


def test_op_from_elsewhere_is_not_alembic():
    f = facts("""
        def upgrade(op):
            op.create_table("orders")
    """, path="svc/migrations/versions/0001.py")
    assert f.statements == []


def test_django_migration_operations():
    f = facts("""
        from django.conf import settings
        from django.db import migrations, models

        class Migration(migrations.Migration):
            operations = [
                migrations.CreateModel(
                    name="Order",
                    fields=[("id", models.AutoField(primary_key=True)),
                            ("user", models.ForeignKey(on_delete=models.CASCADE, to=settings.AUTH_USER_MODEL))],
                    options={"db_table": "orders"},
                ),
                migrations.AddField(model_name="order", name="product",
                                    field=models.ForeignKey(on_delete=models.CASCADE, to="catalog.product")),
                migrations.RemoveField(model_name="order", name="product"),
                migrations.DeleteModel(name="Order"),
            ]
    """, path="shop/sales/migrations/0001_initial.py")
    got = [(o.op, o.model, o.field, o.db_table, [(r.field, r.target, r.target_kind) for r in o.relations])
           for o in f.orm.migration_ops]
    assert got == [("create_model", "Order", "", "orders", [("user", "AUTH_USER_MODEL", "setting")]),
                   ("add_field", "order", "product", "", [("product", "catalog.product", "label")]),
                   ("remove_field", "order", "product", "", []), ("delete_model", "Order", "", "", [])]


# ------------------------------------------------------------------------------- facts as data

def test_orm_facts_round_trip_through_json_shaped_dicts():
    import json
    src = textwrap.dedent("""
        from django.db import models, transaction
        from django.db.models import F
        class Order(models.Model):
            user = models.ForeignKey("auth.User", on_delete=models.CASCADE)
        def f():
            with transaction.atomic():
                Order.objects.filter(user__email="x").update(n=F("n") + 1)
    """)
    f = extract_file("shop/sales/models.py", src.encode())
    assert not f.orm.empty()
    again = FileFacts.from_dict(json.loads(json.dumps(f.to_dict())))
    assert again == f
    plain = extract_file("shop/x.sql", b"SELECT 1")
    assert "orm" not in plain.to_dict() and FileFacts.from_dict(plain.to_dict()) == plain


def test_an_absurdly_deep_expression_costs_one_statement_not_the_file():
    import ast

    import pytest
    src = "def f():\n    x = " + " + ".join(['"a"'] * 1500) + "\n    Order.objects.all()\n"
    try:
        ast.parse(src)
    except RecursionError:   # pragma: no cover - depends on the interpreter's parser limits
        pytest.skip("this Python cannot parse the expression at all")
    f = extract_python_file("svc/app/views.py", src)
    assert [(d.line, d.kind) for d in f.diagnostics] == [(2, "parse-error")]
    assert [q.line for q in f.orm.queries] == [3]


def test_a_queryset_used_as_a_subquery_and_then_written_is_still_written():
    got = queries("""
        def f():
            vips = Customer.objects.filter(vip=True)
            Order.objects.filter(customer__in=vips).count()
            vips.update(vip=False)
    """)
    assert got == [(3, [("Order", "read", "select"), ("Customer", "read", "select")]),
                   (4, [("Customer", "write", "update")])]
