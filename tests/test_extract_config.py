"""Extraction of deployment config: each kind of file -> connections and deploy units, per file."""
from __future__ import annotations

import base64
import textwrap

import pytest

from dbowner.extract import extract_file
from dbowner.extract.dburl import UNRESOLVED, interpolate, parse_any, parse_url
from dbowner.filekinds import config_kind, env_label
from dbowner.model import FileFacts


def facts(path: str, text: str) -> FileFacts:
    return extract_file(path, textwrap.dedent(text).lstrip("\n").encode())


def targets(ff: FileFacts) -> list[tuple]:
    return [(c.line, c.key, c.driver, c.host, c.port, c.database, c.partial, c.unit) for c in ff.connections]


# ---- URLs and DSNs ----------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("postgresql://orders:pw@db:5432/orders", ("postgresql", "db", "5432", "orders", False)),
    ("postgresql+asyncpg://u:p%40ss@DB.internal/shop?sslmode=require", ("postgresql", "db.internal", "", "shop", False)),
    ("postgres://u:p@ss/w@db/shop", ("postgresql", "db", "", "shop", False)),      # '@' and '/' in a password
    ("mysql+pymysql://root:pw@mysql:3306/catalog", ("mysql", "mysql", "3306", "catalog", False)),
    ("jdbc:postgresql://pg:5432/orders", ("postgresql", "pg", "5432", "orders", False)),
    ("mongodb://mongo:27017/carts", ("mongodb", "mongo", "27017", "carts", False)),
    ("postgresql:///orders", ("postgresql", "localhost", "", "orders", False)),    # no host: local socket
    ("mysql://root:pw@mysql:3306/", ("mysql", "mysql", "3306", "", True)),          # no database: unknown
    ("sqlite:///./app.db", ("sqlite", "", "", "./app.db", False)),
])
def test_database_urls_parse_to_driver_host_port_database(url, expected):
    t = parse_url(url)
    assert (t.driver, t.host, t.port, t.database, t.partial) == expected


@pytest.mark.parametrize("text", ["https://api.example.com/orders", "redis://cache:6379/0",
                                  "driver://user:pass@localhost/dbname", "amqp://rabbit:5672/", "orders"])
def test_other_urls_are_not_databases(text):
    assert parse_any(text) is None


def test_libpq_and_ado_connection_strings():
    t = parse_any("host=db port=5433 dbname=orders user=o password='s e c'")
    assert (t.driver, t.host, t.port, t.database, t.partial) == ("postgresql", "db", "5433", "orders", False)
    t = parse_any("Host=pg;Port=5432;Database=basket;Username=u;Password=p")
    assert (t.driver, t.host, t.port, t.database) == ("postgresql", "pg", "5432", "basket")
    t = parse_any("Server=tcp:sqldata,1433;Initial Catalog=Ordering;User Id=sa;Password=Pass@word")
    assert (t.driver, t.host, t.port, t.database) == ("mssql", "sqldata", "1433", "Ordering")
    assert parse_any("a=1 b=2") is None


def test_credentials_never_reach_the_facts():
    for text in ["postgresql://orders:Hunter2@db:5432/orders", "postgresql://:Hunter2/orders",
                 "host=db dbname=orders user=o password=Hunter2", "Host=db;Database=o;Password=Hunter2",
                 "mysql://root:Hunter2@mysql:Hunter2/x"]:
        t = parse_any(text)
        assert t is not None and "Hunter2" not in repr(t), text


def test_host_variables_may_carry_the_port():
    from dbowner.extract.dburl import split_settings
    [(_, _, t)] = split_settings({"MONGO_HOST": "user-db:27017", "MONGO_DB": "users"})
    assert (t.driver, t.host, t.port, t.database, t.partial) == ("mongodb", "user-db", "27017", "users", False)


def test_interpolation_uses_defaults_and_marks_unknown_variables():
    known = {"SET": "x", "EMPTY": ""}.get
    assert interpolate("${DB_HOST:-postgres}", known) == "postgres"
    assert interpolate("${SET:-d}/${EMPTY:-d}/${EMPTY-d}", known) == "x/d/"
    assert interpolate("$$HOME ${NOPE:-${SET}y}", known) == "$HOME xy"
    assert interpolate("${NOPE}", known) == UNRESOLVED
    assert interpolate("${NOPE:?must be set}", known) == UNRESOLVED
    assert interpolate("$NOPE", known) == UNRESOLVED


def test_unresolved_parts_make_the_target_partial_but_an_unknown_password_does_not():
    assert parse_url(f"postgresql://u:{UNRESOLVED}@db:5432/orders").partial is False
    assert parse_url(f"postgresql://u:p@{UNRESOLVED}:5432/orders").partial is True
    assert parse_url(f"postgresql://u:p@db:{UNRESOLVED}/orders").partial is True
    assert parse_url(f"postgresql://u:p@db:5432/{UNRESOLVED}").partial is True


# ---- file kinds -------------------------------------------------------------------------------

@pytest.mark.parametrize("path, kind, label", [
    ("docker-compose.yml", "compose", ""), ("deploy/compose.prod.yaml", "compose", "prod"),
    ("docker-compose.override.yml", "compose", ""), (".env", "dotenv", ""), (".env.test", "dotenv", "test"),
    ("services/orders/orders.env", "dotenv", ""), (".env.example", None, ""), ("alembic.ini", "alembic", ""),
    ("k8s/orders.yaml", "yaml", ""), ("app/settings/production.py", None, "prod"),
    ("services/orders/tests/conftest.py", None, "test"), ("app/db.py", None, ""),
])
def test_config_files_are_known_by_name(path, kind, label):
    assert config_kind(path) == kind
    assert env_label(path) == label


# ---- docker compose ---------------------------------------------------------------------------

COMPOSE = """
x-env: &env
  LOG_LEVEL: info
services:
  postgres:
    image: postgres:16
    environment:
      POSTGRES_DB: shop
      POSTGRES_PASSWORD: secret
  orders:
    build: ./services/orders
    environment:
      <<: *env
      DATABASE_URL: postgresql://orders:${PW:-pw}@${DB_HOST:-postgres}:5432/shop
  users:
    build:
      context: .
      dockerfile: services/users/Dockerfile
    env_file:
      - ./services/users/.env
      - path: ./shared.env
        required: false
    environment:
      - DB_HOST=postgres
      - DB_NAME=users
      - DB_PASSWORD
  worker:
    image: registry.example.com/shop/orders-worker:1.2
    environment:
      DATABASE_URL: postgresql://w@${WORKER_DB_HOST}:5432/shop
"""


def test_compose_services_become_units_with_build_context_and_env_files():
    ff = facts("deploy/docker-compose.yml", COMPOSE)
    units = {u.name: u for u in ff.deploy_units}
    assert set(units) == {"postgres", "orders", "users", "worker"}
    assert units["orders"].build == ("deploy/services/orders",)
    assert units["orders"].line == 9
    assert units["users"].build == ("deploy", "deploy/services/users")
    assert units["users"].sources == ("file:deploy/services/users/.env", "file:deploy/shared.env")
    assert units["worker"].names == ("worker", "orders-worker")
    assert ff.diagnostics == []


def test_compose_environment_urls_and_split_settings_are_connections():
    ff = facts("docker-compose.yml", COMPOSE)
    assert targets(ff) == [
        (13, "DATABASE_URL", "postgresql", "postgres", "5432", "shop", False, "orders"),
        (23, "DB_*", "", "postgres", "", "users", False, "users"),
        (29, "DATABASE_URL", "postgresql", "", "5432", "shop", True, "worker"),   # host unknown: partial
    ]   # the postgres server's own POSTGRES_DB has no host: it is not a client connection


def test_invalid_yaml_is_a_diagnostic_that_never_quotes_the_file():
    ff = facts("docker-compose.yml", "services:\n  a:\n    environment: [DATABASE_URL=postgres://u:Hunter2@db/x\n")
    assert [d.kind for d in ff.diagnostics] == ["parse-error"]
    assert "Hunter2" not in ff.diagnostics[0].message


# ---- .env, alembic.ini --------------------------------------------------------------------------

def test_dotenv_values_with_quotes_export_comments_and_variables():
    ff = facts("services/orders/.env", """
        # comment
        export DB_USER=orders
        DB_SERVER=pg
        DATABASE_URL="postgresql://${DB_USER}:pw@${DB_SERVER}:5432/orders"   # main
        READ_URL='postgresql://${DB_USER}@replica/orders'
        BROKEN="postgresql://x@db/unterminated
        OTHER_URL=postgres://u@${UNSET}/orders # trailing comment
    """)
    assert targets(ff) == [
        (3, "DB_*", "", "pg", "", "", True, ""),              # a host without a database name: partial
        (4, "DATABASE_URL", "postgresql", "pg", "5432", "orders", False, ""),
        (5, "READ_URL", "postgresql", "replica", "", "orders", False, ""),   # single quotes: no expansion
        (7, "OTHER_URL", "postgresql", "", "", "orders", True, ""),
    ]


def test_alembic_ini_sqlalchemy_url():
    ff = facts("services/billing/alembic.ini", """
        [alembic]
        script_location = migrations
        sqlalchemy.url = postgresql+psycopg://billing:pw@postgres/billing

        [replica]
        sqlalchemy.url = postgresql://%(DB_USER)s@%(DB_HOST)s/billing
    """)
    assert targets(ff) == [
        (3, "sqlalchemy.url", "postgresql", "postgres", "", "billing", False, ""),
        (6, "[replica] sqlalchemy.url", "postgresql", "", "", "billing", True, ""),
    ]
    assert facts("alembic.ini", "[alembic]\nsqlalchemy.url = driver://user:pass@localhost/dbname\n").connections == []


# ---- Django settings and Python literals --------------------------------------------------------

def test_django_databases_with_env_defaults():
    ff = facts("services/catalog/catalog/settings.py", """
        import os
        import dj_database_url
        from pathlib import Path
        BASE_DIR = Path(__file__).resolve().parent.parent
        DB_NAME = "catalog"
        DATABASES = {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": DB_NAME,
                "HOST": os.environ.get("DB_HOST", "postgres"),
                "PORT": os.getenv("DB_PORT", 5432),
                "PASSWORD": os.environ["DB_PASSWORD"],
            },
            "replica": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "catalog",
                "HOST": os.environ["REPLICA_HOST"],
            },
            "legacy": dj_database_url.config(default="mysql://u:p@legacy-db:3306/catalog_old"),
            "local": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"},
            "env": {"ENGINE": "django.db.backends.postgresql", "NAME": env.str("DB_NAME"),
                    "HOST": env.str("DB_HOST", default="pg"), "PORT": str(5432)},
        }
    """)
    assert targets(ff) == [
        (7, "DATABASES.default", "postgresql", "postgres", "5432", "catalog", False, ""),
        (14, "DATABASES.replica", "postgresql", "", "", "catalog", True, ""),
        (19, "DATABASES.legacy", "mysql", "legacy-db", "3306", "catalog_old", False, ""),
        (20, "DATABASES.local", "sqlite", "", "", "", True, ""),
        (21, "DATABASES.env", "postgresql", "pg", "5432", "", True, ""),   # env.str without default: unknown
    ]


def test_database_url_literals_in_python_config():
    ff = facts("services/orders/app/config.py", """
        import os
        from sqlalchemy import create_engine
        SQLALCHEMY_DATABASE_URI = os.getenv("DATABASE_URL", "postgresql://o:pw@orders-db:5432/orders")
        engine = create_engine("mysql://u:p@mysql/legacy")
        DOCS = "see https://example.com/postgres for help"
        WHO = f"postgresql://{os.getenv('H')}/orders"
    """)
    assert targets(ff) == [
        (3, "DATABASE_URL", "postgresql", "orders-db", "5432", "orders", False, ""),
        (4, "create_engine()", "mysql", "mysql", "", "legacy", False, ""),
        (6, "WHO", "postgresql", "", "", "orders", True, ""),            # host only known at run time
    ]


def test_python_without_database_urls_gets_no_connections():
    assert facts("app/views.py", "import requests\nURL = 'https://example.com'\n").connections == []


# ---- Kubernetes ---------------------------------------------------------------------------------

def test_kubernetes_deployment_env_configmap_and_secret():
    secret_url = base64.b64encode(b"postgresql://u:pw@orders-db:5432/orders").decode()
    ff = facts("k8s/orders.yaml", f"""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: orders-env
        data:
          DB_HOST: orders-db
          DB_NAME: orders
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: orders-secret
        data:
          DATABASE_URL: {secret_url}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: orders
          labels: {{app: orders}}
        spec:
          template:
            spec:
              containers:
                - name: api
                  image: gcr.io/shop/orders-service:v3
                  envFrom:
                    - configMapRef: {{name: orders-env}}
                  env:
                    - name: PGHOST
                      value: pg
                    - name: PGDATABASE
                      value: orders
                    - name: URL
                      value: postgresql://$(PGHOST)/$(PGDATABASE)
                    - name: PASSWORD
                      valueFrom:
                        secretKeyRef: {{name: orders-secret, key: pw}}
    """)
    units = {u.name: u for u in ff.deploy_units}
    api = units["Deployment/orders/api"]
    assert api.kind == "k8s-container"
    assert api.names == ("api", "orders", "orders-service")
    assert api.sources == ("secret:orders-secret", "configmap:orders-env")
    assert units["configmap:orders-env"].kind == "k8s-configmap"
    assert targets(ff) == [
        (6, "DB_*", "", "orders-db", "", "orders", False, "configmap:orders-env"),
        (14, "DATABASE_URL", "postgresql", "orders-db", "5432", "orders", False, "secret:orders-secret"),
        (30, "PG_*", "postgresql", "pg", "", "orders", False, "Deployment/orders/api"),
        (34, "URL", "postgresql", "pg", "", "orders", False, "Deployment/orders/api"),   # $(VAR) resolved
    ]


def test_helm_templates_and_non_kubernetes_yaml():
    ff = facts("charts/orders/templates/deployment.yaml", """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}
        spec:
          template:
            spec:
              containers:
                - name: orders
                  env:
        {{- range $k, $v := .Values.env }}
                    - name: {{ $k }}
                      value: {{ $v | quote }}
        {{- end }}
    """)
    assert [d.kind for d in ff.diagnostics] == ["skipped-template"]
    ff = facts("k8s/orders.yaml", """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: orders}
        spec:
          template:
            spec:
              containers:
                - name: orders
                  env:
                    - name: DATABASE_URL
                      value: "postgresql://o@{{ .Values.dbHost }}:5432/orders"
                    - name: ALERT_TEXT
                      value: "{{ .Labels.alertname }} fired"
    """)
    assert ff.diagnostics == []          # a template that parses as YAML is read; {{ }} is unknown
    assert targets(ff) == [(10, "DATABASE_URL", "postgresql", "", "5432", "orders", True, "Deployment/orders/orders")]
    ff = facts("mkdocs.yml", "site_name: docs\nnav: [{home: index.md}]\n")
    assert ff.connections == [] and ff.diagnostics == [] and ff.deploy_units == []


def test_config_facts_round_trip_through_json():
    ff = facts("docker-compose.yml", COMPOSE)
    assert ff.connections and ff.deploy_units
    assert FileFacts.from_dict(ff.to_dict()) == ff
