"""Manifest loading: valid files become objects, every bad one a one-line error with file and line."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from dbowner.manifest import ManifestError, find_manifest, load_manifest

GOOD = """
version: 1
dialect: postgres
exclude: ["**/tests/**"]
services:
  orders:
    paths: ["services/orders/**"]
    database: orders_db
    schemas: [orders]
    tables: [orders, order_items, "saga_*", Billing.Invoices]
    reads: [customers]
    event_store: [order_events]
  users:
    paths: ["services/users/**"]
    database: users_db
    dialect: mysql
    tables: [customers]
sagas: {}
"""


def errors_of(make_repo, text: str) -> list[str]:
    root = make_repo({"dbowner.yaml": text})
    with pytest.raises(ManifestError) as exc:
        load_manifest(root / "dbowner.yaml")
    return exc.value.problems


def test_valid_manifest_loads_with_lowercased_names(make_repo):
    root = make_repo({"dbowner.yaml": GOOD})
    m = load_manifest(root / "dbowner.yaml")
    orders = m.services["orders"]
    assert [(p.schema, p.name) for p in orders.tables] == [("", "orders"), ("", "order_items"), ("", "saga_*"),
                                                         ("billing", "invoices")]
    assert [p.name for p in orders.owned][-1] == "order_events"   # event stores are owned
    assert m.dialect_of("users") == "mysql" and m.dialect_of("orders") == "postgres"
    assert m.exclude == ("**/tests/**",)
    assert m.line_of("services", "orders", "tables", 1) == 9


def test_manifest_found_in_nearest_parent(make_repo):
    root = make_repo({"dbowner.yaml": GOOD, "services/orders/app/x.py": ""})
    assert find_manifest(root / "services" / "orders" / "app") == root / "dbowner.yaml"


def test_missing_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(ManifestError, match="no dbowner.yaml here or in any parent"):
        find_manifest(tmp_path)


def test_unknown_key_suggests_the_right_one_with_line(make_repo):
    problems = errors_of(make_repo, "version: 1\nservices:\n  orders:\n    paths: [a]\n    tabels: [orders]\n")
    assert problems == ["dbowner.yaml:5: services.orders.tabels: unknown key 'tabels' (did you mean 'tables'?)"]


def test_unknown_top_level_key_lists_choices_when_nothing_is_close(make_repo):
    problems = errors_of(make_repo, "version: 1\nservices:\n  a:\n    paths: [x]\nzzz: 1\n")
    assert problems == ["dbowner.yaml:5: zzz: unknown key 'zzz' (expected one of: dialect, exclude, rules, sagas, "
                        "services, version)"]


def test_wrong_types_and_missing_keys_all_reported(make_repo):
    problems = errors_of(make_repo, "version: 2\nservices:\n  a:\n    database: 5\n  b:\n    paths: orders\n")
    assert "dbowner.yaml:1: version: expected 1, got 2" in problems
    assert "dbowner.yaml:3: services.a: missing required key 'paths'" in problems
    assert "dbowner.yaml:4: services.a.database: expected a string, got a number (5)" in problems
    assert "dbowner.yaml:6: services.b.paths: expected a list, got a string ('orders')" in problems


def test_yaml_syntax_error_has_a_line(make_repo):
    problems = errors_of(make_repo, "version: 1\nservices:\n  a: [\n")
    assert len(problems) == 1 and problems[0].startswith("dbowner.yaml:") and "invalid YAML" in problems[0]


def test_duplicate_service_is_an_error(make_repo):
    problems = errors_of(make_repo, "version: 1\nservices:\n  a:\n    paths: [x]\n  a:\n    paths: [y]\n")
    assert problems == ["dbowner.yaml:5: duplicate key 'a'"]


def test_unknown_dialect_and_bad_table_names(make_repo):
    problems = errors_of(make_repo, "version: 1\ndialect: postgress\nservices:\n  a:\n    paths: [x]\n"
                                    "    tables: [a.b.c, .x]\n")
    assert "dbowner.yaml:2: dialect: unknown SQL dialect 'postgress'" in problems
    assert any(p.startswith("dbowner.yaml:6: services.a.tables[0]: 'a.b.c' is not a table name") for p in problems)


def test_sagas_are_validated(make_repo):
    problems = errors_of(make_repo, "version: 1\nservices:\n  a:\n    paths: [x]\nsagas:\n  close:\n    steps:\n"
                                    "      - action: app.py\n        pivot: yes please\n")
    assert any("sagas.close.steps[0].action: 'app.py' is not of the form path/to/module.py:function" in p
               for p in problems)
    assert any("sagas.close.steps[0].pivot: expected true or false" in p for p in problems)


def test_saga_step_file_must_exist(make_repo):
    problems = errors_of(make_repo, "version: 1\nservices:\n  a:\n    paths: [x]\nsagas:\n  close:\n    steps:\n"
                                    "      - action: app/closure.py:freeze\n")
    assert problems == ["dbowner.yaml:8: sagas.close.steps[0].action: file 'app/closure.py' does not exist"]


YAMLISH = st.lists(st.sampled_from([
    "version: 1", "services:", "  a:", "    paths: [x]", "    tables: [t]", "sagas:", "  s:", "    steps:",
    "      - action: x.py:f", "  - 1", "{", "]", "&a", "*a", "!!python/object:os.system", "key: 'x", "\t",
    "    database: [1, 2]", "exclude: 3", "dialect: ~", "services: []",
]), max_size=12).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), YAMLISH))
def test_any_input_is_a_manifest_or_a_line_numbered_error(tmp_path_factory, text):
    root = tmp_path_factory.mktemp("m")
    (root / "dbowner.yaml").write_text(text, "utf-8")
    try:
        load_manifest(root / "dbowner.yaml")
    except ManifestError as e:
        assert all(p.startswith("dbowner.yaml:") for p in e.problems)
