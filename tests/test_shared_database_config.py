"""shared-database from deployment config: what services actually connect to."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dbowner.analysis import analyze, select_rules
from dbowner.manifest import load_manifest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "fixtures" / "deploy"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dbowner", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def shared(root: Path) -> list[tuple[str, int, str, str]]:
    analysis = analyze(load_manifest(root / "dbowner.yaml"), select_rules(["shared-database"]))
    return [(f.path, f.line, f.service, f.message) for f in analysis.findings]


def test_the_deploy_fixture_reports_exactly_the_shared_databases():
    got = shared(DEPLOY)
    assert [(p, line, svc) for p, line, svc, _ in got] == [
        ("docker-compose.yml", 23, "users"),             # orders + users: 'shop' on postgres:5432
        ("k8s/shipping.yaml", 6, "shipping"),            # k8s ConfigMap + compose payments: 'payments'
        ("services/billing/alembic.ini", 4, "billing"),  # alembic.ini + Django settings: 'catalog'
    ]
    messages = [m for *_, m in got]
    assert messages[0] == ("services orders and users connect to the same database 'shop' on postgres:5432 "
                           "(orders: docker-compose.yml:16, users: docker-compose.yml:23)")
    assert "(payments: docker-compose.yml:28, shipping: k8s/shipping.yaml:6)" in messages[1]
    assert ("(catalog: services/catalog/catalog/settings.py:10, billing: services/billing/alembic.ini:4)"
            in messages[2])
    # not reported: payments and orders (same server, other databases), notifications (own database via
    # env_file), reports-worker (host unresolved), shipping's tracking-db URL (nobody else uses it)


def test_json_and_text_output_never_print_passwords():
    assert "S3cret" in (DEPLOY / "docker-compose.yml").read_text()   # the fixture does hold them
    for fmt in ("text", "json"):
        proc = run_cli("check", "fixtures/deploy", "--format", fmt)
        assert proc.returncode == 1, proc.stderr
        assert "shared-database" in proc.stdout
        assert "S3cret" not in proc.stdout + proc.stderr
    doc = json.loads(run_cli("check", "fixtures/deploy", "--format", "json").stdout)
    assert "S3cret" not in json.dumps(doc)
    assert "S3cret" not in run_cli("tables", "fixtures/deploy").stdout


MANIFEST = """
version: 1
services:
  orders:
    paths: ["services/orders/**"]
  users:
    paths: ["services/users/**"]
"""


def repo(make_repo, compose: str, manifest: str = MANIFEST, **files: str) -> Path:
    return make_repo({"dbowner.yaml": manifest, "docker-compose.yml": compose,
                      "services/orders/app.py": "x = 1\n", "services/users/app.py": "x = 1\n", **files})


def two(url_a: str, url_b: str) -> str:
    return f"""
    services:
      orders:
        build: ./services/orders
        environment:
          DATABASE_URL: {url_a}
      users:
        build: {{context: ./services/users}}
        environment:
          DATABASE_URL: {url_b}
    """


def test_same_database_on_the_same_server_is_flagged(make_repo):
    root = repo(make_repo, two("postgresql://o:pw@db:5432/shop", "postgresql+asyncpg://u:pw@DB/shop"))
    assert [(p, line, svc) for p, line, svc, _ in shared(root)] == [("docker-compose.yml", 9, "users")]


def test_same_server_with_different_databases_is_fine(make_repo):
    root = repo(make_repo, two("postgresql://o:pw@db:5432/orders", "postgresql://u:pw@db:5432/users"))
    assert shared(root) == []


def test_same_database_name_on_different_servers_or_ports_is_fine(make_repo):
    assert shared(repo(make_repo, two("postgresql://o@orders-db/app", "postgresql://u@users-db/app"))) == []
    assert shared(repo(make_repo, two("postgresql://o@db:5432/app", "postgresql://u@db:5433/app"))) == []


def test_unresolved_variables_make_a_connection_partial_and_never_a_finding(make_repo):
    for a, b in [("postgresql://o@${DB_HOST}:5432/shop", "postgresql://u@${DB_HOST}:5432/shop"),
                 ("postgresql://o@db:5432/${DB_NAME}", "postgresql://u@db:5432/${DB_NAME}"),
                 ("postgresql://o@db:${PORT}/shop", "postgresql://u@db:5432/shop")]:
        assert shared(repo(make_repo, two(a, b))) == [], (a, b)


def test_defaults_of_variables_are_used(make_repo):
    root = repo(make_repo, two("postgresql://o:${PW}@${DB_HOST:-db}:${DB_PORT:-5432}/shop",
                               "postgresql://u@db/${DB_NAME:-shop}"))
    assert len(shared(root)) == 1


def test_localhost_inside_containers_is_not_compared_but_on_a_developer_machine_it_is(make_repo):
    assert shared(repo(make_repo, two("postgresql://o@localhost/shop", "postgresql://u@127.0.0.1/shop"))) == []
    root = make_repo({"dbowner.yaml": MANIFEST,
                      "services/orders/.env": "DATABASE_URL=postgresql://o:pw@localhost:5432/shop\n",
                      "services/users/.env": "DATABASE_URL=postgres://u:pw@127.0.0.1/shop\n"})
    assert [(p, line, svc) for p, line, svc, _ in shared(root)] == [("services/users/.env", 1, "users")]


def test_test_configs_and_different_environments_are_not_compared(make_repo):
    root = make_repo({"dbowner.yaml": MANIFEST,
                      "services/orders/.env.test": "DATABASE_URL=postgresql://o@localhost/test\n",
                      "services/users/.env.test": "DATABASE_URL=postgresql://u@localhost/test\n",
                      "services/orders/.env.prod": "DATABASE_URL=postgresql://o@db/shop\n",
                      "services/users/.env.dev": "DATABASE_URL=postgresql://u@db/shop\n"})
    assert shared(root) == []
    (root / "services/users/.env.prod").write_text("DATABASE_URL=postgresql://u@db/shop\n")
    assert [(p, svc) for p, _, svc, _ in shared(root)] == [("services/users/.env.prod", "users")]


def test_root_env_file_loaded_by_two_compose_services_is_shared(make_repo):
    root = repo(make_repo, """
    services:
      orders:
        build: ./services/orders
        env_file: .env
      users:
        build: ./services/users
        env_file: [.env]
    """, **{".env": "DATABASE_URL=postgresql://app:pw@db:5432/shop\n"})
    got = shared(root)
    assert [(p, line, svc) for p, line, svc, _ in got] == [(".env", 1, "users")]


def test_compose_services_are_matched_by_name_when_they_have_no_build_context(make_repo):
    root = repo(make_repo, """
    services:
      orders-service:
        image: shop/orders-service:1.0
        environment: [DATABASE_URL=postgresql://o@db/shop]
      users_api:
        image: shop/users:1.0
        environment: [DATABASE_URL=postgresql://u@db/shop]
      postgres:
        image: postgres:16
        environment: [POSTGRES_DB=shop]
    """)
    assert [(p, svc) for p, _, svc, _ in shared(root)] == [("docker-compose.yml", "users")]


def test_a_pair_the_manifest_already_reports_is_reported_once(make_repo):
    manifest = MANIFEST.replace('paths: ["services/orders/**"]', 'paths: ["services/orders/**"]\n    database: shop') \
                       .replace('paths: ["services/users/**"]', 'paths: ["services/users/**"]\n    database: shop')
    root = repo(make_repo, two("postgresql://o@db/shop", "postgresql://u@db/shop"), manifest=manifest)
    assert [(p, svc) for p, _, svc, _ in shared(root)] == [("dbowner.yaml", "users")]


def test_services_owning_whole_schemas_on_one_database_get_a_warning(make_repo):
    manifest = MANIFEST.replace('paths: ["services/orders/**"]', 'paths: ["services/orders/**"]\n    schemas: [orders]') \
                       .replace('paths: ["services/users/**"]', 'paths: ["services/users/**"]\n    schemas: [users]')
    root = repo(make_repo, two("postgresql://o@db/shop", "postgresql://u@db/shop"), manifest=manifest)
    analysis = analyze(load_manifest(root / "dbowner.yaml"), select_rules(["shared-database"]))
    assert [f.severity.value for f in analysis.findings] == ["warning"]
    assert "separate schemas" in analysis.findings[0].message


def test_connections_of_unknown_compose_services_are_ignored(make_repo):
    root = repo(make_repo, """
    services:
      adminer:
        image: adminer
        environment: [DATABASE_URL=postgresql://a@db/shop]
      orders:
        build: ./services/orders
        environment: [DATABASE_URL=postgresql://o@db/shop]
    """)
    assert shared(root) == []
