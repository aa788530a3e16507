"""SQL text -> statement facts: what a user sees per statement (tables, roles, lines, kinds, errors)."""
from __future__ import annotations

import logging
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbowner.extract.sql import SqlFacts, assign_transactions, extract_sql_file, parse_sql
from dbowner.model import Statement, TableAccess, TableName, Transaction, TwoPhaseUse


def facts(sql: str, **kw) -> SqlFacts:
    return parse_sql(textwrap.dedent(sql).strip("\n"), **kw)


def acc(stmt: Statement) -> set[tuple[str, str, str]]:
    return {(str(a.table), a.role, a.action) for a in stmt.accesses}


def one(sql: str, **kw) -> set[tuple[str, str, str]]:
    """Accesses of a text holding exactly one statement (and no error)."""
    f = facts(sql, **kw)
    assert f.errors == []
    assert len(f.statements) == 1, f.statements
    return acc(f.statements[0])


def kinds(sql: str) -> list[str]:
    return [s.kind for s in facts(sql).statements]


# ----------------------------------------------------------------------------- reads and writes
@pytest.mark.parametrize("sql, expected", [
    ("SELECT a FROM orders o JOIN users u ON u.id = o.user_id",
     {("orders", "read", "select"), ("users", "read", "select")}),
    ("SELECT * FROM a WHERE x IN (SELECT y FROM b) AND EXISTS (SELECT 1 FROM c)",
     {("a", "read", "select"), ("b", "read", "select"), ("c", "read", "select")}),
    ("SELECT (SELECT max(x) FROM d) FROM (SELECT * FROM e) AS sub",
     {("d", "read", "select"), ("e", "read", "select")}),
    ("SELECT * FROM a UNION SELECT * FROM b",
     {("a", "read", "select"), ("b", "read", "select")}),
    ("TABLE orders", {("orders", "read", "select")}),
    ("INSERT INTO billing.invoices (id, amount) SELECT o.id, o.total FROM orders o JOIN users u ON TRUE",
     {("billing.invoices", "write", "insert"), ("orders", "read", "select"), ("users", "read", "select")}),
    ("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = EXCLUDED.a RETURNING id",
     {("t", "write", "insert")}),
    ("INSERT INTO t2 SELECT * FROM t2", {("t2", "write", "insert"), ("t2", "read", "select")}),
    ("UPDATE orders AS o SET paid = true FROM payments p WHERE p.order_id = o.id",
     {("orders", "write", "update"), ("payments", "read", "select")}),
    ("UPDATE ONLY orders SET a = (SELECT max(a) FROM limits)",
     {("orders", "write", "update"), ("limits", "read", "select")}),
    ("DELETE FROM orders d USING users u WHERE d.user_id = u.id AND u.deleted",
     {("orders", "write", "delete"), ("users", "read", "select")}),
    ("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE banned)",
     {("sessions", "write", "delete"), ("users", "read", "select")}),
    ("MERGE INTO stock s USING incoming i ON s.id = i.id "
     "WHEN MATCHED THEN UPDATE SET qty = i.qty WHEN NOT MATCHED THEN INSERT (id, qty) VALUES (i.id, i.qty)",
     {("stock", "write", "merge"), ("incoming", "read", "select")}),
    ("SELECT * INTO archive_orders FROM orders",
     {("archive_orders", "write", "select_into"), ("orders", "read", "select")}),
    ("COPY orders FROM STDIN", {("orders", "write", "copy")}),
    ("COPY orders (id, note) FROM '/tmp/x.csv' WITH (FORMAT csv)", {("orders", "write", "copy")}),
    ("COPY orders TO STDOUT", {("orders", "read", "copy")}),
    ("COPY (SELECT * FROM orders) TO STDOUT", {("orders", "read", "select")}),
    ("TRUNCATE TABLE carts, sessions", {("carts", "write", "truncate"), ("sessions", "write", "truncate")}),
    ("SELECT * FROM a FOR UPDATE OF a", {("a", "read", "select")}),
])
def test_reads_and_writes(sql, expected):
    assert one(sql) == expected


def test_statement_kinds():
    sql = """
        SELECT 1 FROM a; INSERT INTO a VALUES (1); UPDATE a SET x = 1; DELETE FROM a;
        MERGE INTO a USING b ON TRUE WHEN MATCHED THEN DELETE; CREATE TABLE c (id int);
        ALTER TABLE c ADD COLUMN x int; DROP TABLE c; TRUNCATE a; COPY a TO STDOUT;
        BEGIN; COMMIT; ROLLBACK; VACUUM a
    """
    assert kinds(sql) == ["select", "insert", "update", "delete", "merge", "create", "alter", "drop",
                          "truncate", "copy", "begin", "commit", "rollback", "other"]


# ----------------------------------------------------------------------------- CTEs
def test_writable_cte():
    assert one("WITH ins AS (INSERT INTO audit (a) VALUES (1) RETURNING id) SELECT * FROM ins") == {
        ("audit", "write", "insert")}
    assert one("WITH moved AS (DELETE FROM queue WHERE done RETURNING *) "
               "INSERT INTO archive SELECT * FROM moved") == {
        ("queue", "write", "delete"), ("archive", "write", "insert")}


def test_cte_named_like_a_table_shadows_it():
    assert one("WITH orders AS (SELECT * FROM public.orders) SELECT * FROM orders") == {
        ("public.orders", "read", "select")}
    # Inside its own (non-recursive) body the name still means the real table.
    assert one("WITH orders AS (SELECT * FROM orders WHERE paid) SELECT * FROM orders") == {
        ("orders", "read", "select")}
    # Case-insensitive for unquoted names; a qualified name is never a CTE.
    assert one("WITH Recent AS (SELECT * FROM o) SELECT * FROM RECENT JOIN public.recent ON TRUE") == {
        ("o", "read", "select"), ("public.recent", "read", "select")}


def test_cte_chain_and_recursive_cte():
    assert one("WITH recent AS (SELECT * FROM orders), x AS (SELECT * FROM recent) "
               "SELECT * FROM x JOIN public.users u ON TRUE") == {
        ("orders", "read", "select"), ("public.users", "read", "select")}
    assert one("WITH RECURSIVE tree(id) AS (SELECT id FROM nodes UNION ALL "
               "SELECT n.id FROM nodes n JOIN tree t ON n.parent = t.id) SELECT * FROM tree") == {
        ("nodes", "read", "select")}
    # A CTE is visible only in later CTEs and the main query, not in earlier CTEs.
    assert one("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a, b") == {
        ("b", "read", "select")}


def test_cte_in_insert_and_in_view():
    assert one("WITH c AS (SELECT * FROM src) INSERT INTO dst SELECT * FROM c") == {
        ("dst", "write", "insert"), ("src", "read", "select")}
    assert one("CREATE VIEW v AS WITH c AS (SELECT * FROM x) SELECT * FROM c") == {
        ("v", "ddl", "create"), ("x", "read", "select")}


# ----------------------------------------------------------------------------- not tables
def test_aliases_named_like_tables_are_not_tables():
    assert one("SELECT customers.id FROM orders AS customers") == {("orders", "read", "select")}


def test_columns_named_like_tables_are_not_tables():
    assert one("SELECT customers, orders.id FROM orders WHERE payments > 0") == {
        ("orders", "read", "select")}


def test_table_functions_are_not_tables():
    assert one("SELECT * FROM generate_series(1, 3) g, unnest(ARRAY[1]) u, json_each('{}') j, "
               "orders o, LATERAL jsonb_array_elements(o.items) e, "
               "LATERAL (SELECT * FROM items i WHERE i.o = o.id) z") == {
        ("orders", "read", "select"), ("items", "read", "select")}
    assert one("SELECT * FROM my_func(1) f") == set()


@pytest.mark.parametrize("ph", ["$1", "%s", "%(name)s", ":name", "?"])
def test_placeholders_parse(ph):
    assert one(f"SELECT * FROM orders WHERE a = {ph} AND b IN (SELECT c FROM d WHERE e = {ph})") == {
        ("orders", "read", "select"), ("d", "read", "select")}
    assert one(f"INSERT INTO t (a, b) VALUES ({ph}, {ph})") == {("t", "write", "insert")}
    assert one(f"SELECT * FROM {ph}") == set()   # a table placeholder is not a table


def test_psycopg_idioms_parse():
    assert one("INSERT INTO t (a, b) VALUES %s") == {("t", "write", "insert")}
    assert one("SELECT * FROM t WHERE a = ANY(%s) AND b LIKE 'x%%' AND c = %s::int") == {
        ("t", "read", "select")}


def test_placeholders_in_other_dialects_fall_back_to_postgres():
    f = facts("SELECT * FROM orders WHERE id = %s", dialect="mysql")
    assert f.errors == [] and acc(f.statements[0]) == {("orders", "read", "select")}
    f = facts("SELECT *\nFROM orders\nWHERE id = %(id)s", dialect="sqlite", line_offset=10)
    assert f.errors == [] and [a.line for a in f.statements[0].accesses] == [12]


def test_fstring_hole_identifiers_are_kept_as_written():
    assert one("SELECT * FROM __p0__ JOIN Users___p1__ ON TRUE JOIN __p2__.Orders ON TRUE") == {
        ("__p0__", "read", "select"), ("Users___p1__", "read", "select"),
        ("__p2__.orders", "read", "select")}


def test_comments_never_produce_tables():
    f = facts("""
        -- SELECT * FROM secret_a;
        /* DELETE FROM secret_b; */
        SELECT 1 /* FROM secret_c */ FROM visible -- JOIN secret_d
    """)
    assert f.errors == []
    assert [acc(s) for s in f.statements] == [{("visible", "read", "select")}]
    assert facts("-- only a comment\n/* and another; */").statements == []


# ----------------------------------------------------------------------------- names
def test_names_schema_and_case():
    f = facts('SELECT * FROM "MixedCase"."Orders" o, Billing.Orders, cat.sch.Tab, "lower"')
    assert [a.table for a in f.statements[0].accesses] == [
        TableName("Orders", "MixedCase"), TableName("orders", "billing"),
        TableName("tab", "sch", "cat"), TableName("lower")]


def test_backtick_and_bracket_quoting():
    assert one("SELECT * FROM `Orders`", dialect="mysql") == {("Orders", "read", "select")}
    assert one("SELECT * FROM [dbo].[Orders]", dialect="tsql") == {("dbo.Orders", "read", "select")}


# ----------------------------------------------------------------------------- DDL and references
def test_create_table_with_inline_and_table_level_foreign_keys():
    assert one("""
        CREATE TABLE billing.payments (
            id bigserial PRIMARY KEY,
            order_id int REFERENCES orders.orders(id) ON DELETE CASCADE,
            owner int REFERENCES users,
            user_id int NOT NULL,
            CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES auth.users (id)
        )
    """) == {("billing.payments", "ddl", "create"), ("orders.orders", "reference", "references"),
             ("users", "reference", "references"), ("auth.users", "reference", "references")}


def test_alter_table_add_foreign_key():
    assert one("ALTER TABLE a ADD CONSTRAINT fk_b FOREIGN KEY (b_id) REFERENCES b(id)") == {
        ("a", "ddl", "alter"), ("b", "reference", "references")}
    assert one("ALTER TABLE ONLY public.orders ADD CONSTRAINT fk FOREIGN KEY (u) "
               "REFERENCES public.users(id) NOT VALID") == {
        ("public.orders", "ddl", "alter"), ("public.users", "reference", "references")}
    assert one("ALTER TABLE a ADD COLUMN c_id int REFERENCES c") == {
        ("a", "ddl", "alter"), ("c", "reference", "references")}


@pytest.mark.parametrize("sql, expected", [
    ("CREATE TABLE IF NOT EXISTS t (id int)", {("t", "ddl", "create")}),
    ("CREATE UNLOGGED TABLE u (id int)", {("u", "ddl", "create")}),
    ("CREATE TEMP TABLE tt (a int)", {("tt", "ddl", "create_temp")}),
    ("CREATE TEMPORARY TABLE tt AS SELECT * FROM orders",
     {("tt", "ddl", "create_temp"), ("orders", "read", "select")}),
    ("CREATE TABLE summary AS SELECT user_id, sum(total) FROM orders GROUP BY 1",
     {("summary", "ddl", "create"), ("orders", "read", "select")}),
    ("CREATE TABLE foo AS TABLE bar", {("foo", "ddl", "create"), ("bar", "read", "select")}),
    ("CREATE VIEW v_orders AS SELECT * FROM orders o JOIN users u ON TRUE",
     {("v_orders", "ddl", "create"), ("orders", "read", "select"), ("users", "read", "select")}),
    ("CREATE OR REPLACE VIEW v (a, b) AS SELECT 1, 2 FROM t", {("v", "ddl", "create"), ("t", "read", "select")}),
    ("CREATE MATERIALIZED VIEW mv AS SELECT * FROM o", {("mv", "ddl", "create"), ("o", "read", "select")}),
    # pg_dump form; sqlglot turns it into a Command, the trailing WITH NO DATA is dropped
    ("CREATE MATERIALIZED VIEW mv AS SELECT * FROM o WITH NO DATA",
     {("mv", "ddl", "create"), ("o", "read", "select")}),
    ("CREATE INDEX idx ON orders (a)", {("orders", "ddl", "alter")}),
    ("CREATE INDEX ON orders (a)", {("orders", "ddl", "alter")}),
    ("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx ON public.orders USING gin (data jsonb_path_ops)",
     {("public.orders", "ddl", "alter")}),
    # sqlglot cannot parse ON ONLY (pg_dump); recovered from tokens, no error
    ("CREATE UNIQUE INDEX idx ON ONLY public.orders (lower(email))", {("public.orders", "ddl", "alter")}),
    ("CREATE TRIGGER trg AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION audit()",
     {("orders", "ddl", "alter")}),
    ("DROP TRIGGER IF EXISTS trg ON public.orders", {("public.orders", "ddl", "alter")}),
    ("ALTER TABLE IF EXISTS ONLY public.orders ADD COLUMN note text", {("public.orders", "ddl", "alter")}),
    # sqlglot keeps these as Command; the table is recovered from tokens
    ("ALTER TABLE public.orders OWNER TO app", {("public.orders", "ddl", "alter")}),
    ("ALTER TABLE orders ENABLE ROW LEVEL SECURITY", {("orders", "ddl", "alter")}),
    ("ALTER TABLE s.a RENAME TO b", {("s.a", "ddl", "alter"), ("s.b", "ddl", "rename")}),
    ("DROP TABLE IF EXISTS a, b.c CASCADE", {("a", "ddl", "drop"), ("b.c", "ddl", "drop")}),
    ("DROP VIEW v", {("v", "ddl", "drop")}),
    ("DROP MATERIALIZED VIEW mv", {("mv", "ddl", "drop")}),
    ("CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (10)", {("p1", "ddl", "create"), ("p", "ddl", "alter")}),
    ("CREATE TABLE c (a int) INHERITS (p)", {("c", "ddl", "create"), ("p", "ddl", "alter")}),
    ("CREATE TABLE t2 (LIKE t1 INCLUDING ALL)", {("t2", "ddl", "create"), ("t1", "read", "select")}),
])
def test_ddl(sql, expected):
    assert one(sql) == expected


@pytest.mark.parametrize("sql", [
    "CREATE SEQUENCE public.orders_id_seq START WITH 1",
    "CREATE SEQUENCE s OWNED BY orders.id",
    "CREATE FUNCTION f() RETURNS int AS $$ SELECT count(*) FROM orders $$ LANGUAGE sql",
    "CREATE TYPE mood AS ENUM ('sad', 'ok')",
    "CREATE EXTENSION IF NOT EXISTS pgcrypto",
    "CREATE SCHEMA billing",
    "DROP SEQUENCE s", "DROP INDEX idx", "DROP FUNCTION f(int)", "DROP TYPE mood", "DROP SCHEMA s CASCADE",
    "ALTER SEQUENCE s RESTART", "ALTER INDEX i RENAME TO j",
])
def test_ddl_on_non_tables_has_no_table_access(sql):
    assert one(sql) == set()


def test_index_and_sequence_names_are_not_tables():
    f = facts("CREATE INDEX orders_idx ON orders (a); CREATE SEQUENCE orders_seq")
    assert [acc(s) for s in f.statements] == [{("orders", "ddl", "alter")}, set()]
    assert [s.kind for s in f.statements] == ["create", "create"]


# ----------------------------------------------------------------------------- errors
def test_broken_statement_in_the_middle():
    f = facts("""
        SELECT a FROM good1;
        SELECT FROM WHERE (;
        INSERT INTO good2 (a) VALUES (1);
        UPDATE SET x = ;
        DELETE FROM good3
        WHERE id = 1
    """)
    assert [acc(s) for s in f.statements] == [
        {("good1", "read", "select")}, {("good2", "write", "insert")}, {("good3", "write", "delete")}]
    assert [(s.line, s.end_line) for s in f.statements] == [(1, 1), (3, 3), (5, 6)]
    assert [line for line, _ in f.errors] == [2, 4]
    assert f.errors[0][1] == "cannot parse SQL statement: Expected table name but got WHERE"
    assert all("\n" not in m and "\x1b" not in m for _, m in f.errors)


def test_unterminated_quote_is_one_error_for_the_rest():
    f = facts("""
        SELECT 1 FROM before_it;
        SELECT x,
          'abc FROM hidden;
        SELECT * FROM also_hidden;
    """)
    assert [acc(s) for s in f.statements] == [{("before_it", "read", "select")}]
    assert len(f.errors) == 1
    line, msg = f.errors[0]
    assert line == 3 and "unterminated string literal" in msg


@pytest.mark.parametrize("sql, what", [
    ("SELECT 1 FROM t;\nDO $$ BEGIN", "unterminated dollar-quoted string"),
    ('SELECT 1 FROM t;\nSELECT "abc', "unterminated quoted identifier"),
    ("SELECT 1 FROM t;\nSELECT 1 /* never closed", "unterminated /* comment"),
])
def test_unterminated_other_quotes(sql, what):
    f = parse_sql(sql)
    assert [acc(s) for s in f.statements] == [{("t", "read", "select")}]
    assert len(f.errors) == 1 and f.errors[0][0] == 2 and what in f.errors[0][1]


def test_sqlglotc_type_error_is_an_error_not_a_crash():
    f = parse_sql("select( all)?; SELECT 1 FROM ok")
    assert len(f.errors) == 1
    assert [acc(s) for s in f.statements] == [{("ok", "read", "select")}]


def test_sqlglot_never_logs(caplog, capsys):
    with caplog.at_level(logging.DEBUG):
        parse_sql("VACUUM ANALYZE orders; CREATE EXTENSION x; SELECT FROM WHERE; ALTER TABLE t OWNER TO x")
    assert caplog.records == []
    assert capsys.readouterr().err == ""
    assert logging.getLogger("sqlglot").disabled is False


def test_unknown_dialect_is_a_value_error():
    with pytest.raises(ValueError):
        parse_sql("SELECT 1", dialect="no-such-dialect")


# ----------------------------------------------------------------------------- utility statements
@pytest.mark.parametrize("sql", [
    "VACUUM ANALYZE orders", "ANALYZE orders", "SET search_path TO billing, public", "RESET ALL",
    "SHOW search_path", "LISTEN orders_channel", "NOTIFY orders_channel, 'x'", "UNLISTEN *",
    "GRANT SELECT ON orders TO reporting", "REVOKE ALL ON orders FROM app",
    "COMMENT ON TABLE orders IS 'x'", "DO $$ BEGIN PERFORM 1; DELETE FROM x; END $$",
    "LOCK TABLE orders IN EXCLUSIVE MODE", "SAVEPOINT sp1", "RELEASE SAVEPOINT sp1",
    "ROLLBACK TO SAVEPOINT sp1", "ROLLBACK WORK TO sp1", "EXPLAIN SELECT * FROM orders",
    "REFRESH MATERIALIZED VIEW mv", "CALL do_it()", "EXECUTE plan1(1)", "DEALLOCATE plan1",
    "END IF",
])
def test_utility_statements_are_other(sql):
    f = parse_sql(sql)
    assert f.errors == []
    assert [(s.kind, s.accesses) for s in f.statements] == [("other", ())]


def test_psql_meta_commands():
    f = facts(r"""
        \restrict abc123
        \connect billing
        CREATE TABLE x (id int);
        \copy orders FROM 'orders.csv' csv header
        SELECT 1 FROM y \gexec
    """)
    assert f.errors == []
    assert [(s.line, s.kind, acc(s)) for s in f.statements] == [
        (1, "other", set()), (2, "other", set()), (3, "create", {("x", "ddl", "create")}),
        (4, "copy", {("orders", "write", "copy")}), (5, "select", {("y", "read", "select")}),
        (5, "other", set())]


def test_pg_dump_copy_data_is_not_sql():
    f = facts(r"""
        COPY public.orders (id, note) FROM stdin;
        1	it's a note; DROP TABLE x
        2	\N
        \.
        SELECT * FROM after_copy;
    """)
    assert f.errors == []
    assert [(s.line, acc(s)) for s in f.statements] == [
        (1, {("public.orders", "write", "copy")}), (5, {("after_copy", "read", "select")})]


def test_empty_input():
    for text in ("", "   \n\t", ";;;", "-- nothing"):
        f = parse_sql(text)
        assert (f.statements, f.two_phase, f.errors) == ([], [], [])


# ----------------------------------------------------------------------------- transactions, 2PC
def test_transaction_control_kinds():
    assert kinds("BEGIN; BEGIN WORK; BEGIN ISOLATION LEVEL SERIALIZABLE; START TRANSACTION READ ONLY; "
                 "COMMIT; COMMIT WORK; END; END TRANSACTION; ROLLBACK; ABORT") == [
        "begin", "begin", "begin", "begin", "commit", "commit", "commit", "commit", "rollback", "rollback"]


@pytest.mark.parametrize("sql, what", [
    ("PREPARE TRANSACTION 'tx1'", "PREPARE TRANSACTION"),
    ("COMMIT PREPARED 'tx1'", "COMMIT PREPARED"),
    ("ROLLBACK PREPARED 'tx1'", "ROLLBACK PREPARED"),
    ("XA START 'x1'", "XA START"), ("XA BEGIN 'x1'", "XA BEGIN"), ("XA END 'x1'", "XA END"),
    ("XA PREPARE 'x1'", "XA PREPARE"), ("XA COMMIT 'x1'", "XA COMMIT"),
    ("XA ROLLBACK 'x1'", "XA ROLLBACK"), ("XA RECOVER", "XA RECOVER"),
])
def test_two_phase_commit(sql, what):
    f = parse_sql("SELECT 1;\n" + sql, line_offset=5)
    assert f.errors == []
    assert f.two_phase == [TwoPhaseUse(7, 7, what)]
    assert [(s.kind, s.accesses) for s in f.statements][1:] == [("two_phase", ())]


def test_prepare_statement_is_not_two_phase():
    f = facts("""
        PREPARE get_order (int) AS
          SELECT * FROM orders WHERE id = $1;
        DECLARE c CURSOR WITH HOLD FOR SELECT * FROM cursor_src
    """)
    assert f.two_phase == [] and f.errors == []
    assert [(s.kind, s.line, s.end_line, acc(s)) for s in f.statements] == [
        ("select", 1, 2, {("orders", "read", "select")}),
        ("select", 3, 3, {("cursor_src", "read", "select")})]
    assert [a.line for a in f.statements[0].accesses] == [2]


def test_extract_sql_file_assigns_transactions():
    text = textwrap.dedent("""\
        SELECT * FROM outside_before;
        BEGIN;
        UPDATE accounts SET balance = balance - 1 WHERE id = 1;
        UPDATE accounts SET balance = balance + 1 WHERE id = 2;
        COMMIT;
        INSERT INTO log VALUES (1);
        START TRANSACTION;
        DELETE FROM carts;
        ROLLBACK;
        SELECT * FROM outside_after;
    """)
    ff = extract_sql_file("db/tx.sql", text)
    assert ff.path == "db/tx.sql" and ff.diagnostics == [] and ff.two_phase == []
    assert [(s.text.split()[0], s.transaction) for s in ff.statements] == [
        ("SELECT", 0), ("BEGIN", 1), ("UPDATE", 1), ("UPDATE", 1), ("COMMIT", 1), ("INSERT", 0),
        ("START", 2), ("DELETE", 2), ("ROLLBACK", 2), ("SELECT", 0)]
    assert ff.transactions == [Transaction(1, 2, 5, "BEGIN ... COMMIT"),
                               Transaction(2, 7, 9, "BEGIN ... ROLLBACK")]
    assert all(s.origin == "sql" for s in ff.statements)


def test_extract_sql_file_diagnostics_and_two_phase():
    ff = extract_sql_file("m/001.sql", "BEGIN;\nINSERT INTO t VALUES (1);\nPREPARE TRANSACTION 'a';\n"
                                       "COMMIT PREPARED 'a';\nSELECT FROM WHERE;\n")
    assert [(d.path, d.line, d.kind, d.message) for d in ff.diagnostics] == [
        ("m/001.sql", 5, "parse-error", "cannot parse SQL statement: Expected table name but got WHERE")]
    assert [t.what for t in ff.two_phase] == ["PREPARE TRANSACTION", "COMMIT PREPARED"]
    assert ff.transactions == [Transaction(1, 1, 3, "BEGIN ... PREPARE TRANSACTION")]
    assert [s.transaction for s in ff.statements] == [1, 1, 1, 0]


def test_assign_transactions_edge_cases():
    def st(kind: str, line: int, transaction: int = 0) -> Statement:
        return Statement(line, line, kind, kind.upper(), transaction=transaction)

    out, txs = assign_transactions(
        [st("commit", 1), st("begin", 2), st("begin", 3), st("select", 4, transaction=9),
         st("insert", 5), st("begin", 8)], first_id=4)
    assert [s.transaction for s in out] == [0, 4, 4, 9, 4, 4]   # stray COMMIT, nested BEGIN ignored
    assert txs == [Transaction(4, 2, 8, "BEGIN ... (no COMMIT)")]
    assert assign_transactions([], 1) == ([], [])


# ----------------------------------------------------------------------------- lines, text, origin
def test_multi_line_statement_lines():
    f = facts("""
        SELECT o.id

        FROM orders o
          JOIN users u ON u.id = o.user_id
        WHERE o.total > $1;
        INSERT INTO
          audit (a) VALUES ($1,
          $2)
    """)
    s1, s2 = f.statements
    assert (s1.line, s1.end_line) == (1, 5)
    assert {(str(a.table), a.line) for a in s1.accesses} == {("orders", 3), ("users", 4)}
    # `$1` used to shift sqlglot's line counter (heredoc-tag look-ahead); lines must not drift.
    assert (s2.line, s2.end_line) == (6, 8)
    assert [(str(a.table), a.line) for a in s2.accesses] == [("audit", 7)]


def test_line_offset_applies_everywhere():
    f = facts("""
        SELECT *
        FROM orders;
        SELECT FROM WHERE;
        PREPARE TRANSACTION 'x'
    """, line_offset=39)
    assert [(s.line, s.end_line) for s in f.statements] == [(40, 41), (43, 43)]
    assert [a.line for a in f.statements[0].accesses] == [41]
    assert f.errors[0][0] == 42
    assert f.two_phase == [TwoPhaseUse(43, 43, "PREPARE TRANSACTION")]
    assert parse_sql("SELECT 1 FROM t;\nSELECT 'x", line_offset=10).errors[0][0] == 12


def test_each_access_once_per_statement_at_its_first_line():
    f = facts("""
        SELECT * FROM orders
        JOIN orders o2 ON TRUE
        WHERE id IN (SELECT id FROM orders)
    """)
    assert f.statements[0].accesses == (TableAccess(TableName("orders"), "read", "select", 1),)


def test_text_excerpt_is_folded_and_short():
    f = parse_sql("SELECT a,\n\n      b   FROM t WHERE c IN (" + ", ".join(str(i) for i in range(500)) + ")")
    text = f.statements[0].text
    assert text.startswith("SELECT a, b FROM t WHERE c IN (0, 1, 2")
    assert len(text) <= 200 and "\n" not in text


def test_origin_and_function_are_passed_through():
    f = parse_sql("SELECT 1 FROM t", origin="python", function="Repo.load")
    assert (f.statements[0].origin, f.statements[0].function) == ("python", "Repo.load")


def test_statements_round_trip_through_dict():
    ff = extract_sql_file("x.sql", "BEGIN; INSERT INTO a SELECT * FROM b; COMMIT;")
    for s in ff.statements:
        assert Statement.from_dict(s.to_dict()) == s


# ----------------------------------------------------------------------------- never raises
_SQLISH = st.sampled_from([
    "SELECT", "FROM", "WHERE", "INSERT", "INTO", "UPDATE", "SET", "DELETE", "WITH", "AS", "MERGE",
    "USING", "CREATE", "TABLE", "INDEX", "VIEW", "ON", "ONLY", "ALTER", "DROP", "TRUNCATE", "COPY",
    "STDIN", "REFERENCES", "FOREIGN KEY", "BEGIN", "COMMIT", "END", "ROLLBACK", "TO", "PREPARE",
    "TRANSACTION", "XA", "START", "DECLARE", "CURSOR", "FOR", "REPLACE", "LATERAL", "JOIN",
    "t", "a.b", '"Q"', "__p0__", "(", ")", ",", ";", ";", "'", '"', "`", "$$", "$tag$", "$1", "%s",
    "%(n)s", ":n", "?", "\\", "\\.", "--", "/*", "*/", "*", "=", "\n", "\r\n", "\t", "E'", "[", "]",
])


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(_SQLISH, max_size=40).map(" ".join)),
       st.sampled_from(["postgres", "mysql", "sqlite"]))
def test_never_raises(text, dialect):
    f = parse_sql(text, dialect=dialect, line_offset=3)
    last = text.count("\n") + text.count("\r") + 4
    for s in f.statements:
        assert 4 <= s.line <= s.end_line <= last
        assert all(s.line <= a.line <= s.end_line for a in s.accesses)
        assert len(s.text) <= 200
    assert all(4 <= line <= last for line, _ in f.errors)
    ff = extract_sql_file("x.sql", text, dialect=dialect)
    assert all(d.kind == "parse-error" for d in ff.diagnostics)


def test_alter_table_drop_constraint_drops_no_table():
    from dbowner.extract.sql import parse_sql
    f = parse_sql("ALTER TABLE orders DROP CONSTRAINT orders_customer_fk; DROP TABLE old_orders")
    assert [(str(a.table), a.role, a.action) for s in f.statements for a in s.accesses] == [
        ("orders", "ddl", "alter"), ("old_orders", "ddl", "drop")]
