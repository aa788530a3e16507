"""ORM names resolved across files into tables, as `dbowner check` reports them: what must be
flagged and, above all, what must not."""
from __future__ import annotations

from dbowner.analysis import analyze
from dbowner.manifest import load_manifest

MANIFEST = """
version: 1
services:
  orders:
    paths: ["orders/**"]
    database: orders_db
    tables: [orders, order_items, "shop_*"]
  users:
    paths: ["users/**"]
    database: users_db
    tables: [customers, "accounts_*"]
"""


def run(make_repo, files: dict[str, str], manifest: str = MANIFEST):
    root = make_repo({"dbowner.yaml": manifest, **files})
    return analyze(load_manifest(root / "dbowner.yaml"))


def found(analysis) -> list[tuple[str, str, int, str]]:
    return sorted((f.name, f.path, f.line, f.table) for f in analysis.findings)


USERS_SA = {
    "users/app/__init__.py": "from .models import Base, Customer\n",
    "users/app/models.py": """
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        class Base(DeclarativeBase):
            pass

        class Customer(Base):
            __tablename__ = "customers"
            id: Mapped[int] = mapped_column(primary_key=True)
            email: Mapped[str]
            KIND_VIP = "vip"
    """,
}


# ------------------------------------------------------------------------------- SQLAlchemy

def test_model_imported_through_a_package_reexport_is_the_owners_table(make_repo):
    a = run(make_repo, {**USERS_SA, "orders/app/views.py": """
        from sqlalchemy import select
        from users.app import Customer

        def emails(session):
            return session.scalars(select(Customer.email)).all()
    """})
    assert found(a) == [("cross-service-read", "orders/app/views.py", 5, "customers")]


def test_model_module_imported_whole_and_used_dotted(make_repo):
    a = run(make_repo, {**USERS_SA, "orders/app/views.py": """
        import users.app.models as um

        def get(session, cid):
            return session.get(um.Customer, cid)
    """})
    assert found(a) == [("cross-service-read", "orders/app/views.py", 4, "customers")]


def test_a_model_named_like_another_services_table_maps_its_own_tablename(make_repo):
    a = run(make_repo, {**USERS_SA, "orders/app/models.py": """
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        class Base(DeclarativeBase):
            pass

        class Customer(Base):
            __tablename__ = "shop_customers"
            id: Mapped[int] = mapped_column(primary_key=True)
    """, "orders/app/views.py": """
        from .models import Customer

        def get(session, cid):
            return session.get(Customer, cid)
    """})
    assert found(a) == []


def test_mapping_another_services_table_is_a_read_with_a_note(make_repo):
    a = run(make_repo, {**USERS_SA, "orders/app/legacy.py": """
        from sqlalchemy import Column, Integer
        from users.app.models import Base

        class CustomerRow(Base):
            __tablename__ = "customers"
            id = Column(Integer, primary_key=True)
    """})
    (f,) = a.findings
    assert (f.name, f.path, f.line, f.table) == ("cross-service-read", "orders/app/legacy.py", 4, "customers")
    assert "an ORM model here maps it" in f.message


def test_class_constants_and_unknown_names_are_not_tables(make_repo):
    a = run(make_repo, {**USERS_SA, "orders/app/models.py": """
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        class Base(DeclarativeBase):
            pass

        class Order(Base):
            __tablename__ = "orders"
            id: Mapped[int] = mapped_column(primary_key=True)
            kind: Mapped[str]
    """, "orders/app/views.py": """
        from sqlalchemy import select
        from users.app import Customer
        from .models import Order
        from .elsewhere import Invoice

        def vip_orders(session):
            return session.execute(select(Order).where(Order.kind == Customer.KIND_VIP)).all()

        def invoices(session):
            return session.execute(select(Invoice)).all()
    """})
    assert found(a) == []


def test_sqlalchemy_foreign_keys_by_string_and_by_model(make_repo):
    a = run(make_repo, {**USERS_SA, "orders/app/models.py": """
        from sqlalchemy import ForeignKey
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
        from users.app.models import Customer

        class Base(DeclarativeBase):
            pass

        class Order(Base):
            __tablename__ = "orders"
            id: Mapped[int] = mapped_column(primary_key=True)
            customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
            buyer_id: Mapped[int] = mapped_column(ForeignKey(Customer.id))

        class OrderItem(Base):
            __tablename__ = "order_items"
            order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    """})
    assert found(a) == [("cross-service-foreign-key", "orders/app/models.py", 11, "customers"),
                        ("cross-service-foreign-key", "orders/app/models.py", 12, "customers")]


def test_abstract_and_single_table_inheritance(make_repo):
    a = run(make_repo, {"orders/app/models.py": """
        from sqlalchemy import Column, ForeignKey, Integer, String
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()

        class Audited(Base):
            __abstract__ = True
            created_by = Column(Integer, ForeignKey("customers.id"))

        class Order(Audited):
            __tablename__ = "orders"
            id = Column(Integer, primary_key=True)
            kind = Column(String)

        class RushOrder(Order):
            __mapper_args__ = {"polymorphic_identity": "rush"}
    """, "orders/app/views.py": """
        from .models import RushOrder

        def rush(session):
            return session.query(RushOrder).all()
    """})
    # the abstract class has no table; its foreign key is in orders (reported at the class using it)
    assert found(a) == [("cross-service-foreign-key", "orders/app/models.py", 10, "customers")]
    (rush,) = [s for s in a.graph.statements if s.path == "orders/app/views.py"]
    assert [ra.key.display for ra in rush.accesses] == ["orders"]


def test_the_same_table_name_in_two_databases_is_not_shared(make_repo):
    manifest = MANIFEST.replace("tables: [customers, \"accounts_*\"]", "tables: [customers, addresses]") \
                       .replace("tables: [orders, order_items, \"shop_*\"]", "tables: [orders, addresses]")
    a = run(make_repo, {**USERS_SA, "users/app/addresses.py": """
        from sqlalchemy import Column, Integer
        from .models import Base

        class Address(Base):
            __tablename__ = "addresses"
            id = Column(Integer, primary_key=True)
    """, "orders/app/models.py": """
        from sqlalchemy import Column, Integer
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()

        class Address(Base):
            __tablename__ = "addresses"
            id = Column(Integer, primary_key=True)
    """, "orders/app/views.py": """
        from users.app.addresses import Address as UserAddress
        from .models import Address

        def mine(session, i):
            return session.get(Address, i)

        def theirs(session, i):
            return session.get(UserAddress, i)
    """}, manifest)
    assert found(a) == [("cross-service-read", "orders/app/views.py", 8, "addresses")]
    assert not [d for d in a.diagnostics if d.kind == "ambiguous-table"]


def test_flask_sqlalchemy_sqlmodel_and_imperative_mapping_table_names(make_repo):
    a = run(make_repo, {
        "users/app/ext.py": "from flask_sqlalchemy import SQLAlchemy\ndb = SQLAlchemy()\n",
        "users/app/models.py": """
            from sqlmodel import Field, SQLModel
            from .ext import db

            class AccountsProfile(db.Model):          # Flask-SQLAlchemy: accounts_profile
                id = db.Column(db.Integer, primary_key=True)

            class CustomerBase(SQLModel):             # not a table
                email: str

            class Customers(CustomerBase, table=True):  # SQLModel: customers
                id: int = Field(primary_key=True)
        """,
        "orders/app/orm.py": """
            from sqlalchemy import Column, Integer, MetaData, Table
            from sqlalchemy.orm import registry
            from . import domain

            metadata = MetaData()
            orders = Table("orders", metadata, Column("id", Integer, primary_key=True))
            registry().map_imperatively(domain.Order, orders)
        """,
        "orders/app/domain.py": "class Order:\n    pass\n",
        "orders/app/views.py": """
            from users.app.models import AccountsProfile, CustomerBase, Customers
            from .domain import Order

            def f(session):
                session.query(AccountsProfile).all()
                session.query(Customers).all()
                session.query(CustomerBase).all()
                session.query(Order).all()
        """,
    })
    assert found(a) == [("cross-service-read", "orders/app/views.py", 5, "accounts_profile"),
                        ("cross-service-read", "orders/app/views.py", 6, "customers")]


def test_core_table_used_by_another_service_and_local_shadowing(make_repo):
    a = run(make_repo, {"users/app/tables.py": """
        from sqlalchemy import Column, Integer, MetaData, Table
        metadata = MetaData()
        customers = Table("customers", metadata, Column("id", Integer, primary_key=True))
    """, "orders/app/jobs.py": """
        from sqlalchemy import select
        from users.app.tables import customers

        def purge(conn):
            conn.execute(customers.delete())

        def local(customers):
            customers.update({"x": 1})          # a parameter named like the table: not the table
            return select(customers.c.id)
    """})
    assert found(a) == [("cross-service-write", "orders/app/jobs.py", 5, "customers")]


def test_unresolved_names_and_sql_placeholders_are_no_fact(make_repo):
    a = run(make_repo, {"orders/app/views.py": """
        from sqlalchemy import select
        from third_party.models import Customer

        def f(session, cursor):
            session.execute(select(Customer)).all()
            cursor.execute(f"DELETE FROM {Customer.__tablename__}")
    """})
    assert found(a) == [] and a.diagnostics == []


# ------------------------------------------------------------------------------- Django

DJANGO = """
version: 1
services:
  accounts: {paths: ["accounts/**"], tables: ["accounts_*"]}
  shop: {paths: ["shop/**"], tables: ["shop_*"]}
  catalog: {paths: ["catalog/**"], tables: ["products_*"]}
  core: {paths: ["core/**", "settings.py"], tables: ["core_*", "django_*", "auth_*"]}
"""

DJANGO_BASE = {
    "settings.py": 'INSTALLED_APPS = ["accounts", "shop", "catalog"]\nAUTH_USER_MODEL = "accounts.User"\n',
    "accounts/models.py": """
        from django.contrib.auth.models import AbstractUser
        from django.db import models

        class User(AbstractUser):
            phone = models.CharField(max_length=20)
    """,
    "catalog/apps.py": """
        from django.apps import AppConfig

        class CatalogConfig(AppConfig):
            name = "catalog"
            label = "products"
    """,
    "catalog/models.py": """
        from django.db import models

        class Product(models.Model):
            name = models.CharField(max_length=100)
            stock = models.IntegerField()
    """,
}


def test_django_default_table_names_use_the_real_app_label(make_repo):
    a = run(make_repo, {**DJANGO_BASE, "shop/models.py": """
        from django.conf import settings
        from django.db import models

        class Order(models.Model):
            user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
            product = models.ForeignKey("products.Product", on_delete=models.CASCADE)
            legacy = models.ForeignKey("catalog.Product", on_delete=models.CASCADE)   # no such label
    """}, DJANGO)
    assert found(a) == [("cross-service-foreign-key", "shop/models.py", 5, "accounts_user"),
                        ("cross-service-foreign-key", "shop/models.py", 6, "products_product")]
    assert [(d.line, d.kind) for d in a.diagnostics] == [(7, "orm-unresolved")]


def test_django_meta_app_label_and_db_table_and_models_package(make_repo):
    a = run(make_repo, {**DJANGO_BASE, "shop/models/__init__.py": "from .order import Order\n",
                        "shop/models/order.py": """
        from django.db import models

        class Order(models.Model):
            class Meta:
                app_label = "accounts"          # lives in shop/, belongs to the accounts app
    """, "shop/views.py": """
        from .models import Order

        def f():
            return Order.objects.count()
    """}, DJANGO)
    assert found(a) == [("cross-service-read", "shop/models/order.py", 3, "accounts_order"),
                        ("cross-service-read", "shop/views.py", 4, "accounts_order")]


def test_abstract_models_generic_foreign_keys_and_proxies(make_repo):
    a = run(make_repo, {**DJANGO_BASE, "core/models.py": """
        from django.conf import settings
        from django.contrib.contenttypes.fields import GenericForeignKey
        from django.contrib.contenttypes.models import ContentType
        from django.db import models

        class Owned(models.Model):
            owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
            class Meta:
                abstract = True

        class Tagged(models.Model):
            content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
            object_id = models.IntegerField()
            target = GenericForeignKey("content_type", "object_id")
    """, "shop/models.py": """
        from core.models import Owned
        from catalog.models import Product

        class Basket(Owned):
            pass

        class CheapProduct(Product):
            class Meta:
                proxy = True
    """, "shop/views.py": """
        from .models import CheapProduct

        def f():
            return CheapProduct.objects.filter(stock__lt=5)
    """}, DJANGO)
    assert found(a) == [
        ("cross-service-foreign-key", "shop/models.py", 4, "accounts_user"),   # Owned.owner, in shop_basket
        ("cross-service-read", "shop/views.py", 4, "products_product"),       # the proxy's table
    ]


def test_django_lookups_join_only_when_they_cross_the_relation(make_repo):
    a = run(make_repo, {**DJANGO_BASE, "shop/models.py": """
        from django.conf import settings
        from django.db import models

        class Order(models.Model):
            user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
            tags = models.ManyToManyField("products.Product")
    """, "shop/views.py": """
        from accounts.models import User
        from .models import Order

        def f(u):
            Order.objects.filter(user=u)                     # the FK column: no join
            Order.objects.filter(user__in=[1, 2])            # still the column
            Order.objects.filter(user__phone="1")            # joins accounts_user
            Order.objects.select_related("user")             # joins accounts_user
            Order.objects.filter(tags=3)                     # the join table only
            Order.objects.prefetch_related("user", "tags")   # separate queries, no join
    """, "accounts/views.py": """
        from .models import User

        def g():
            return User.objects.filter(orders__id=3)        # reverse relation: joins shop_order
    """}, DJANGO)
    got = [(f.name, f.path, f.line) for f in a.findings if f.name != "cross-service-foreign-key"]
    assert sorted(got) == sorted([
        ("cross-service-read", "shop/views.py", 7), ("cross-service-join", "shop/views.py", 7),
        ("cross-service-read", "shop/views.py", 8), ("cross-service-join", "shop/views.py", 8),
        ("cross-service-read", "shop/views.py", 10), ("cross-service-read", "shop/views.py", 10),
        ("cross-service-read", "accounts/views.py", 4), ("cross-service-join", "accounts/views.py", 4),
    ])


def test_django_custom_managers_must_exist_on_the_model(make_repo):
    a = run(make_repo, {**DJANGO_BASE, "catalog/models.py": """
        from django.db import models

        class Product(models.Model):
            stock = models.IntegerField()
            available = models.Manager()
            KINDS = {"a": 1}
    """, "shop/views.py": """
        from catalog.models import Product

        def f():
            Product.available.filter(stock__gt=0)
            Product.KINDS.get("a")
    """}, DJANGO)
    assert found(a) == [("cross-service-read", "shop/views.py", 4, "products_product")]


def test_migrations_report_only_what_the_models_do_not(make_repo):
    migration = """
        from django.db import migrations, models

        class Migration(migrations.Migration):
            operations = [
                migrations.CreateModel(name="Order", fields=[
                    ("user", models.ForeignKey(on_delete=models.CASCADE, to="accounts.user"))]),
                migrations.CreateModel(name="Gone", fields=[
                    ("user", models.ForeignKey(on_delete=models.CASCADE, to="accounts.user"))]),
                migrations.CreateModel(name="Orphan", fields=[
                    ("user", models.ForeignKey(on_delete=models.CASCADE, to="accounts.user"))]),
                migrations.DeleteModel(name="Gone"),
            ]
    """
    a = run(make_repo, {**DJANGO_BASE, "shop/migrations/0001_initial.py": migration, "shop/models.py": """
        from django.db import models

        class Order(models.Model):
            user = models.ForeignKey("accounts.User", on_delete=models.CASCADE)
    """}, DJANGO)
    assert found(a) == [("cross-service-foreign-key", "shop/migrations/0001_initial.py", 10, "accounts_user"),
                        ("cross-service-foreign-key", "shop/models.py", 4, "accounts_user")]


def test_model_table_name_in_raw_sql(make_repo):
    a = run(make_repo, {**DJANGO_BASE, "shop/reports.py": """
        from django.db import connection
        from catalog.models import Product

        def low():
            with connection.cursor() as cur:
                cur.execute("SELECT * FROM {} WHERE stock < 5".format(Product._meta.db_table))
    """}, DJANGO)
    assert found(a) == [("cross-service-read", "shop/reports.py", 6, "products_product")]


def test_django_event_store_mutation_through_the_orm(make_repo):
    manifest = DJANGO.replace('tables: ["shop_*"]', 'tables: ["shop_*"], event_store: [shop_orderevent]')
    a = run(make_repo, {**DJANGO_BASE, "shop/models.py": """
        from django.db import models

        class OrderEvent(models.Model):
            kind = models.CharField(max_length=20)
    """, "shop/views.py": """
        from .models import OrderEvent

        def f():
            OrderEvent.objects.create(kind="placed")
            OrderEvent.objects.filter(kind="placed").delete()
    """}, manifest)
    assert found(a) == [("event-store-mutation", "shop/views.py", 5, "shop_orderevent")]


def test_a_model_in_a_subfolder_of_an_app_belongs_to_that_app(make_repo):
    a = run(make_repo, {**DJANGO_BASE, "shop/models.py": "from .extra.things import Thing\n",
                        "shop/extra/things.py": """
        from django.db import models

        class Thing(models.Model):
            user = models.ForeignKey("accounts.User", on_delete=models.CASCADE)
    """}, DJANGO)
    assert found(a) == [("cross-service-foreign-key", "shop/extra/things.py", 4, "accounts_user")]
    (model,) = [s for s in a.graph.statements if s.path == "shop/extra/things.py"]
    assert model.accesses[0].key.display == "shop_thing"


def test_a_relation_whose_target_is_computed_is_a_diagnostic(make_repo):
    a = run(make_repo, {**DJANGO_BASE, "shop/models.py": """
        from django.db import models

        class Order(models.Model):
            user = models.ForeignKey(get_user_model(), on_delete=models.CASCADE)
    """}, DJANGO)
    assert found(a) == []
    assert [(d.path, d.line, d.kind) for d in a.diagnostics] == [("shop/models.py", 4, "orm-dynamic")]
    assert "get_user_model()" in a.diagnostics[0].message
