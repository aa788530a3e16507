"""Across repositories: `dbowner facts` per repository, `dbowner merge` of them, and the merged
result accepted by check, report, graph and tables, as a CI matrix would run them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dbowner.cli import main

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "fixtures" / "shop"

ORDERS_MANIFEST = """
version: 1
services:
  orders:
    paths: ["app/**", "migrations/**"]
    database: orders_db
    tables: [orders, order_items]
"""
ORDERS_CODE = '''
async def checkout(conn, order_id, sku):
    await conn.execute("INSERT INTO orders (id) VALUES ($1)", order_id)
    await conn.execute("UPDATE inventory.stock SET qty = qty - 1 WHERE sku = $1", sku)


async def names(conn):
    return await conn.fetch("SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id")
'''
ORDERS_MIGRATION = """
CREATE TABLE orders (id UUID PRIMARY KEY, customer_id UUID);
CREATE TABLE order_items (order_id UUID REFERENCES orders (id), sku TEXT REFERENCES inventory.products (sku));
"""
INVENTORY_MANIFEST = """
version: 1
services:
  inventory:
    paths: ["src/**"]
    database: shop_db
    schemas: [inventory]
"""
USERS_MANIFEST = """
version: 1
services:
  users:
    paths: ["src/**"]
    database: users_db
    tables: [customers]
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def estate(tmp_path: Path, make_repo) -> Path:
    """Three repositories side by side: orders reaches into inventory's and users' tables."""
    make_repo({
        "orders-repo/dbowner.yaml": ORDERS_MANIFEST,
        "orders-repo/app/checkout.py": ORDERS_CODE,
        "orders-repo/migrations/001.sql": ORDERS_MIGRATION,
        "inventory-repo/dbowner.yaml": INVENTORY_MANIFEST,
        "inventory-repo/src/001.sql": "CREATE TABLE inventory.stock (sku TEXT PRIMARY KEY, qty INT);\n"
                                      "CREATE TABLE inventory.products (sku TEXT PRIMARY KEY);\n",
        "users-repo/dbowner.yaml": USERS_MANIFEST,
        "users-repo/src/001.sql": "CREATE TABLE customers (id UUID PRIMARY KEY, name TEXT);\n",
    })
    facts = tmp_path / "facts"
    facts.mkdir()
    for repo in ("orders-repo", "inventory-repo", "users-repo"):
        code, _, err = run("facts", str(tmp_path / repo), "-o", str(facts / f"{repo}.json"))
        assert code == 0, err
        assert f"wrote facts of repository {repo}" in err
    return tmp_path


def findings(stdout: str) -> list[tuple[str, str, int, str | None]]:
    return [(f["name"], f["path"], f["line"], f["table"]) for f in json.loads(stdout)["findings"]]


def test_a_repository_alone_cannot_see_whose_tables_it_touches(estate):
    code, out, _ = run("check", str(estate / "orders-repo"), "--format", "json")
    assert code == 0      # only warnings: inventory.stock, customers... are nobody's here
    assert {f[0] for f in findings(out)} == {"unowned-table"}


def test_merge_finds_cross_service_access_across_repositories(estate):
    facts = sorted(str(p) for p in (estate / "facts").glob("*.json"))
    code, out, err = run("merge", *facts, "--format", "json")
    assert code == 1, err
    assert findings(out) == [
        ("cross-service-write", "orders-repo/app/checkout.py", 3, "inventory.stock"),
        ("cross-service-read", "orders-repo/app/checkout.py", 7, "customers"),
        ("cross-service-join", "orders-repo/app/checkout.py", 7, "customers"),
        ("cross-service-foreign-key", "orders-repo/migrations/001.sql", 2, "inventory.products"),
    ]
    doc = json.loads(out)
    assert doc["summary"]["files"]["analysed"] == 4
    assert doc["manifest"] == "(merged manifest)"


def test_merged_facts_file_is_accepted_by_check_report_graph_and_tables(estate, tmp_path):
    facts = sorted(str(p) for p in (estate / "facts").glob("*.json"))
    merged = tmp_path / "merged.json"
    code, merge_out, _ = run("merge", *facts, "-o", str(merged), "--format", "json")
    assert code == 1 and merged.is_file()
    code, check_out, _ = run("check", str(merged), "--format", "json")
    assert code == 1 and check_out == merge_out
    code, tables_out, _ = run("tables", str(merged), "--format", "json")
    rows = {r["table"]: r for r in json.loads(tables_out)["tables"]}
    assert rows["inventory.stock"]["owner"] == "inventory" and rows["inventory.stock"]["writers"] == ["orders"]
    code, graph_out, _ = run("graph", str(merged), "--format", "json")
    edges = json.loads(graph_out)["edges"]
    write = [e for e in edges if e["source"] == "service:orders" and e["target"] == "table:shop_db/inventory.stock"]
    assert write and write[0]["path"] == "orders-repo/app/checkout.py" and write[0]["cross_service"]
    code, _, err = run("report", str(merged), "-o", str(tmp_path / "org.html"))
    assert code == 0, err
    html = (tmp_path / "org.html").read_text("utf-8")
    assert "orders-repo/app/checkout.py:3" in html
    # no source tree at hand: the excerpt is the statement dbowner recorded
    assert "UPDATE inventory.stock SET qty = qty - 1 WHERE sku = $1" in html


def test_merging_merged_files_again_gives_the_same_result(estate, tmp_path):
    facts = estate / "facts"
    first = tmp_path / "first.json"
    run("merge", str(facts / "inventory-repo.json"), str(facts / "orders-repo.json"), "-o", str(first))
    _, again, _ = run("merge", str(first), str(facts / "users-repo.json"), "--format", "json")
    _, direct, _ = run("merge", *sorted(str(p) for p in facts.glob("*.json")), "--format", "json")
    assert again == direct


def test_one_repository_checked_from_its_facts_equals_checking_its_source(tmp_path):
    facts = tmp_path / "shop.json"
    assert run("facts", str(SHOP), "-o", str(facts))[0] == 0
    _, from_facts, _ = run("check", str(facts), "--format", "json")
    _, from_source, _ = run("check", str(SHOP), "--format", "json")
    assert from_facts == from_source
    # merging it (even alone) names the repository in every path
    _, merged, _ = run("merge", str(facts), "--format", "json")
    paths = {f["path"] for f in json.loads(merged)["findings"]}
    assert paths and all(p.startswith("shop/") for p in paths)
    assert "shop/dbowner.yaml" in paths       # manifest findings point into the repository's manifest


def test_facts_hold_statement_excerpts_not_source(tmp_path):
    facts = tmp_path / "shop.json"
    run("facts", str(SHOP), "-o", str(facts), "--repo", "the-shop")
    text = facts.read_text("utf-8")
    doc = json.loads(text)
    assert doc["format"] == "dbowner-facts" and doc["version"] == 1
    assert [r["name"] for r in doc["repositories"]] == ["the-shop"]
    statements = [s for f in doc["repositories"][0]["files"] for s in f["statements"]]
    assert statements and all(len(s["text"]) <= 200 for s in statements)
    # the code around the SQL is never in the facts
    for line in (SHOP / "services/orders/app/checkout.py").read_text("utf-8").splitlines():
        if line.strip().startswith(("def ", "async def ", "import ", "from ")):
            assert line.strip() not in text


def test_same_service_defined_differently_in_two_repositories_is_a_manifest_conflict(make_repo, tmp_path):
    make_repo({
        "a/dbowner.yaml": "version: 1\nservices:\n  billing:\n    paths: ['src/**']\n    tables: [invoices]\n",
        "a/src/x.sql": "SELECT * FROM invoices;\n",
        "b/dbowner.yaml": "version: 1\nservices:\n  other:\n    paths: ['x/**']\n"
                          "  billing:\n    paths: ['src/**']\n    tables: [invoices, refunds]\n",
        "b/src/x.sql": "SELECT * FROM refunds;\n",
    })
    for repo in ("a", "b"):
        run("facts", str(tmp_path / repo), "-o", str(tmp_path / f"{repo}.json"))
    code, out, _ = run("merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert [(f["name"], f["path"], f["line"], f["service"]) for f in doc["findings"]] == [
        ("manifest-conflict", "b/dbowner.yaml", 5, "billing")]
    assert "defined differently in repositories a and b (tables differ)" in doc["findings"][0]["message"]


def test_two_services_claiming_one_table_point_into_the_later_repository_manifest(make_repo, tmp_path):
    make_repo({
        "a/dbowner.yaml": "version: 1\nservices:\n  users:\n    paths: ['src/**']\n    tables: [customers]\n",
        "b/dbowner.yaml": "version: 1\nservices:\n  crm:\n    paths: ['src/**']\n    tables: [leads, customers]\n",
    })
    for repo in ("a", "b"):
        run("facts", str(tmp_path / repo), "-o", str(tmp_path / f"{repo}.json"))
    _, out, _ = run("merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--format", "json")
    got = [(f["name"], f["path"], f["line"], f["service"]) for f in json.loads(out)["findings"]]
    assert got == [("manifest-conflict", "b/dbowner.yaml", 5, "crm")]


def test_org_manifest_owns_tables_no_repository_declares(make_repo, tmp_path):
    org = ("version: 1\nservices:\n"
           "  orders:\n    paths: ['orders-repo/**']\n    tables: [orders, order_items]\n"
           "  inventory:\n    paths: ['inventory-repo/**']\n    schemas: [inventory]\n"
           "  users:\n    paths: ['users-repo/**']\n    tables: [customers]\n")
    make_repo({
        "orders-repo/dbowner.yaml": ORDERS_MANIFEST,
        "orders-repo/app/checkout.py": ORDERS_CODE,
        "org.yaml": org,
        "org-without-orders.yaml": org.replace("orders, order_items", "order_items"),
    })
    run("facts", str(tmp_path / "orders-repo"), "-o", str(tmp_path / "orders.json"))
    code, out, _ = run("merge", str(tmp_path / "orders.json"), "--manifest", str(tmp_path / "org.yaml"),
                       "--format", "json")
    assert code == 1
    assert sorted({(f["name"], f["table"]) for f in json.loads(out)["findings"]}) == [
        ("cross-service-join", "customers"), ("cross-service-read", "customers"),
        ("cross-service-write", "inventory.stock")]
    # the org manifest alone decides ownership: what the repository's manifest claims does not count
    _, out, _ = run("merge", str(tmp_path / "orders.json"), "--manifest", str(tmp_path / "org-without-orders.yaml"),
                    "--format", "json")
    assert ("unowned-table", "orders") in {(f["name"], f["table"]) for f in json.loads(out)["findings"]}


def test_org_manifest_paths_reassign_files_to_its_services(make_repo, tmp_path):
    make_repo({
        "mono/dbowner.yaml": "version: 1\nservices:\n  mono:\n    paths: ['**']\n    tables: [orders, stock]\n",
        "mono/orders/a.sql": "UPDATE stock SET qty = 0;\n",
        "mono/stock/b.sql": "UPDATE stock SET qty = 1;\n",
        "org.yaml": "version: 1\nservices:\n"
                    "  orders:\n    paths: ['mono/orders/**']\n    tables: [orders]\n"
                    "  stock:\n    paths: ['mono/stock/**']\n    tables: [stock]\n",
    })
    run("facts", str(tmp_path / "mono"), "-o", str(tmp_path / "mono.json"))
    _, out, _ = run("merge", str(tmp_path / "mono.json"), "--manifest", str(tmp_path / "org.yaml"), "--format", "json")
    assert findings(out) == [("cross-service-write", "mono/orders/a.sql", 1, "stock")]


@pytest.mark.parametrize("content, message", [
    ("{not json", "x.json:1: not valid JSON"),
    ('{"format": "something-else"}', 'x.json: not a dbowner facts file'),
    ('{"format": "dbowner-facts", "version": 99, "repositories": []}', "facts format version 99 is not supported"),
    ('{"format": "dbowner-facts", "version": 1, "repositories": [{"name": "r"}]}',
     "x.json: repositories[0]: malformed facts (missing key 'manifest')"),
    ('{"format": "dbowner-facts", "version": 1, "repositories": [{"name": "../up"}]}',
     "x.json: repositories[0]: invalid repository name '../up'"),
])
def test_bad_facts_files_are_one_line_errors(tmp_path, content, message):
    bad = tmp_path / "x.json"
    bad.write_text(content)
    for args in (("merge", str(bad)), ("check", str(bad))):
        code, out, err = run(*args)
        assert code == 2
        assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_duplicate_repository_names_are_refused(estate, tmp_path):
    f = estate / "facts" / "users-repo.json"
    copy = tmp_path / "copy.json"
    copy.write_text(f.read_text())
    code, _, err = run("merge", str(f), str(copy))
    assert code == 2
    assert "repository 'users-repo' is also in" in err and "--repo NAME" in err


def test_many_repositories_each_reaching_into_the_next(tmp_path, make_repo):
    """A ring of 40 repositories: each writes a table of the next; the merge reports exactly those."""
    n = 40
    files = {}
    for i in range(n):
        files[f"r{i}/dbowner.yaml"] = (f"version: 1\nservices:\n  s{i}:\n    paths: ['src/**']\n"
                                       f"    database: db{i}\n    tables: [t{i}]\n")
        files[f"r{i}/src/q.sql"] = f"UPDATE t{i} SET x = 1;\nINSERT INTO t{(i + 1) % n} VALUES (1);\n"
    make_repo(files)
    paths = []
    for i in range(n):
        paths.append(str(tmp_path / f"r{i}.json"))
        assert run("facts", str(tmp_path / f"r{i}"), "-o", paths[-1])[0] == 0
    code, out, _ = run("merge", *paths, "--format", "json")
    assert code == 1
    assert sorted(findings(out)) == sorted(("cross-service-write", f"r{i}/src/q.sql", 2, f"t{(i + 1) % n}")
                                           for i in range(n))
