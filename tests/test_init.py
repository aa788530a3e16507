"""`dbowner init`: a draft manifest from the layout, the DDL and the deployment config."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from dbowner.draft import detect_services, draft_manifest
from dbowner.manifest import load_manifest, manifest_schema

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dbowner", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def copy_without_manifest(fixture: str, tmp_path: Path) -> Path:
    target = tmp_path / fixture
    shutil.copytree(ROOT / "fixtures" / fixture, target)
    (target / "dbowner.yaml").unlink()
    return target


def test_layout_detection(make_repo):
    root = make_repo({
        "services/orders/Dockerfile": "FROM python\n",
        "services/orders/app/main.py": "x = 1\n",
        "services/users/app.py": "x = 1\n",                      # no marker, but under services/
        "services/empty/README.md": "nothing\n",                  # no code, no marker: not a service
        "apps/billing/pyproject.toml": "[project]\nname='billing'\n",
        "payments/requirements.txt": "asyncpg\n",                 # any folder with a marker
        "platform/catalog/manage.py": "import django\n",          # Django project, one level down
        "platform/catalog/products/apps.py": "x = 1\n",           # its app: inside the service, not another
        "docs/requirements.txt": "mkdocs\n",                      # docs, tests, scripts...: never services
        "scripts/Dockerfile": "FROM python\n",
        "pyproject.toml": "[project]\nname='monorepo'\n",         # the root itself is not a service
        "mysql/Dockerfile": "FROM mysql:8\nCOPY seed.sql /docker-entrypoint-initdb.d/\n",
        "gateway/Dockerfile": "FROM node:20 AS build\nFROM nginx:1.25\n",
    })
    detected = detect_services(root)
    assert [(s.folder, s.role) for s in detected if s.role != "service"] == [
        ("gateway", "infrastructure"), ("mysql", "database")]
    got = [(s.name, s.folder, s.guessed) for s in detected if s.role == "service"]
    assert got == [
        ("billing", "apps/billing", False),
        ("payments", "payments", False),
        ("catalog", "platform/catalog", False),
        ("orders", "services/orders", False),
        ("users", "services/users", True),
    ]


def test_same_folder_names_get_unique_service_names(make_repo):
    root = make_repo({"orders/api/Dockerfile": "x\n", "users/api/Dockerfile": "x\n"})
    assert [s.name for s in detect_services(root)] == ["orders-api", "users-api"]


def test_owned_tables_come_from_ddl_and_databases_from_config(make_repo):
    root = make_repo({
        "services/orders/Dockerfile": "x\n",
        "services/orders/migrations/001.sql": """
            CREATE TABLE orders (id bigserial PRIMARY KEY);
            CREATE TEMP TABLE scratch (id int);
            CREATE TABLE order_items (order_id bigint REFERENCES orders (id));
        """,
        "services/inventory/Dockerfile": "x\n",
        "services/inventory/migrations/001.sql": """
            CREATE SCHEMA inventory;
            CREATE TABLE inventory.products (sku text PRIMARY KEY);
            CREATE TABLE inventory.stock (sku text);
        """,
        "services/users/Dockerfile": "x\n",
        "services/users/repo.py": """
            def add(cur, name):
                cur.execute("INSERT INTO customers (name) VALUES (%s)", (name,))
        """,
        "docker-compose.yml": """
            services:
              orders:
                build: ./services/orders
                environment: {DATABASE_URL: "postgresql://o:S3cret-pw@pg:5432/orders"}
              users:
                build: ./services/users
                environment: {DATABASE_URL: "mysql://u:S3cret-pw@mysql:3306/users"}
        """,
    })
    draft = draft_manifest(root)
    by = {s.name: s for s in draft.services}
    assert sorted(by["orders"].tables) == ["order_items", "orders"]        # the temp table is not owned
    assert by["orders"].database == "orders"
    assert by["users"].used_tables and "customers" in by["users"].used_tables   # only writer, no CREATE
    assert by["users"].database == "users" and by["users"].dialect == "mysql"
    data = yaml.safe_load(draft.text)
    assert data["services"]["inventory"] == {"paths": ["services/inventory/**"], "schemas": ["inventory"]}
    assert data["services"]["orders"]["tables"] == ["order_items", "orders"]
    assert data["services"]["users"] == {"paths": ["services/users/**"], "database": "users", "dialect": "mysql",
                                         "tables": ["customers"]}
    assert "S3cret" not in draft.text
    assert "# from docker-compose.yml:4 (DATABASE_URL)" in draft.text
    assert "guess: no CREATE TABLE found, only users writes it" in draft.text


def test_database_server_images_are_left_out_and_their_seed_tables_listed(make_repo):
    root = make_repo({
        "ratings/Dockerfile": "FROM php:7.4-apache\n",
        "ratings/api.py": "x = 1\n",
        "mysql/Dockerfile": "FROM mysql:5.7\n",
        "mysql/scripts/20-ratings.sql": "CREATE DATABASE ratings;\nUSE ratings;\nCREATE TABLE ratings (sku text);\n",
    })
    draft = draft_manifest(root)
    assert [s.name for s in draft.services] == ["ratings"]
    assert draft.unassigned_tables == {"ratings": ["mysql/scripts/20-ratings.sql:3"]}
    assert "# Left out as database servers, not services: mysql/ (Dockerfile FROM mysql)" in draft.text
    assert "#   ratings  (mysql/scripts/20-ratings.sql:3)" in draft.text


def test_a_table_several_services_write_but_nobody_creates_stays_unassigned(make_repo):
    root = make_repo({
        "services/orders/app.py": "def f(cur):\n    cur.execute('UPDATE stock SET n = n - 1')\n",
        "services/inventory/app.py": "def g(cur):\n    cur.execute('INSERT INTO stock (n) VALUES (1)')\n",
    })
    draft = draft_manifest(root)
    assert all(not s.tables and not s.used_tables for s in draft.services)
    assert "#   stock  (no CREATE TABLE found; written by inventory, orders)" in draft.text


def test_a_table_two_services_create_is_listed_for_both_with_a_warning_comment(make_repo):
    root = make_repo({
        "services/orders/m.sql": "CREATE TABLE processed_events (id text);\n",
        "services/reporting/m.sql": "CREATE TABLE processed_events (id text);\n",
    })
    text = draft_manifest(root).text
    assert text.count("processed_events") == 2
    assert "guess: reporting creates it too, decide who owns it" in text


def test_the_draft_validates_against_the_manifest_schema(tmp_path):
    root = copy_without_manifest("deploy", tmp_path)
    text = draft_manifest(root).text
    jsonschema.validate(yaml.safe_load(text), manifest_schema())
    (root / "dbowner.yaml").write_text(text)
    manifest = load_manifest(root / "dbowner.yaml")       # the loader's semantic checks pass too
    assert set(manifest.services) == {"billing", "catalog", "notifications", "orders", "payments", "reporting",
                                      "shipping", "users"}
    assert manifest.services["orders"].database == "shop"


def test_init_writes_the_draft_and_shows_what_the_check_reports(tmp_path):
    root = copy_without_manifest("shop", tmp_path)
    proc = run_cli("init", str(root))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Wrote dbowner.yaml: 5 service(s) (inventory, orders, payments, reporting, users)")
    assert "What `dbowner check` reports with this draft" in proc.stdout
    assert "DBO102 cross-service-write" in proc.stdout       # the planted violation is found with the draft
    assert "services orders and reporting both claim table 'processed_events'" in proc.stdout
    manifest = load_manifest(root / "dbowner.yaml")
    assert manifest.services["payments"].schemas == ("payments",)
    check = run_cli("check", str(root), "--format", "json")
    assert check.returncode == 1 and '"cross-service-write"' in check.stdout


def test_init_refuses_to_overwrite_without_force(tmp_path):
    root = copy_without_manifest("shop", tmp_path)
    (root / "dbowner.yaml").write_text("# mine\n")
    proc = run_cli("init", str(root))
    assert proc.returncode == 2
    assert "dbowner.yaml already exists; not overwritten (use --force to replace it)" in proc.stderr
    assert (root / "dbowner.yaml").read_text() == "# mine\n"
    proc = run_cli("init", str(root), "--force", "--no-check")
    assert proc.returncode == 0, proc.stderr
    assert "What `dbowner check` reports" not in proc.stdout
    assert (root / "dbowner.yaml").read_text().startswith("# dbowner.yaml: a draft written by `dbowner init`")


def test_init_never_prints_or_writes_passwords(tmp_path):
    root = copy_without_manifest("deploy", tmp_path)
    proc = run_cli("init", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "shared-database" in proc.stdout
    assert "S3cret" not in proc.stdout + proc.stderr + (root / "dbowner.yaml").read_text()


def test_init_says_which_services_got_no_tables(make_repo):
    root = make_repo({"services/orders/app.py": "x = 1\n",
                      "services/users/m.sql": "CREATE TABLE customers (id int);\n"})
    proc = run_cli("init", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "No tables found for orders (dbowner reads .sql files and SQL in Python)" in proc.stdout


def test_init_without_any_service_folder_explains_and_writes_nothing(make_repo):
    root = make_repo({"README.md": "hello\n", "main.py": "x = 1\n"})
    proc = run_cli("init", str(root))
    assert proc.returncode == 2
    assert "no service folders found" in proc.stderr and "Traceback" not in proc.stderr
    assert not (root / "dbowner.yaml").exists()
