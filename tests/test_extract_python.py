"""extract_python_file: which SQL a Python file hands to a database, as a user sees it."""
from __future__ import annotations

import ast
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbowner.extract.python import extract_python_file
from dbowner.model import READ, WRITE, DDL


def extract(src: str):
    return extract_python_file("svc/app.py", textwrap.dedent(src).lstrip("\n"))


def accesses(statement):
    """A statement's accesses in source order (line, then table name)."""
    return sorted(statement.accesses, key=lambda a: (a.line, str(a.table), a.role))


def tables(facts) -> list[tuple[str, str, str]]:
    """(table, role, action) of every access, statements in order."""
    return [(str(a.table), a.role, a.action) for s in facts.statements for a in accesses(s)]


def names(facts) -> list[str]:
    return [str(a.table) for s in facts.statements for a in accesses(s)]


def only(facts):
    assert len(facts.statements) == 1, facts.statements
    assert facts.diagnostics == []
    return facts.statements[0]


# ---------------------------------------------------------------------------------- call styles

def test_asyncpg_fetchrow_with_dollar_params():
    f = extract("""
        async def get_user(conn, uid):
            return await conn.fetchrow("SELECT id, name FROM users WHERE id = $1", uid)
    """)
    s = only(f)
    assert tables(f) == [("users", READ, "select")]
    assert (s.kind, s.line, s.end_line, s.function, s.origin) == ("select", 2, 2, "get_user", "python")


def test_psycopg_percent_s_is_a_driver_placeholder_not_python_formatting():
    f = extract("""
        def add(cur, x):
            cur.execute("INSERT INTO orders (id, note) VALUES (%s, 'ok %%')", (x,))
            cur.execute("UPDATE orders SET state = %(state)s WHERE id = %(id)s", {"state": 1, "id": x})
    """)
    assert tables(f) == [("orders", WRITE, "insert"), ("orders", WRITE, "update")]
    assert f.diagnostics == []


def test_sqlalchemy_text_inside_execute_is_reported_once():
    f = extract("""
        from sqlalchemy import text
        import sqlalchemy as sa
        def close(session, cid):
            session.execute(text("UPDATE carts SET closed = true WHERE id = :id"), {"id": cid})
            session.execute(sa.text("DELETE FROM carts WHERE id = :id").bindparams(id=cid))
    """)
    assert tables(f) == [("carts", WRITE, "update"), ("carts", WRITE, "delete")]
    assert [s.line for s in f.statements] == [4, 5]


def test_text_as_class_attribute_used_through_self():
    f = extract("""
        import sqlalchemy as sa
        class Repo:
            GET = sa.text("SELECT * FROM items WHERE id = :id")
            UNUSED = sa.text("SELECT * FROM ghosts")
            SOME_LABEL = sa.text("Update your profile")

            def get(self, s, i):
                return s.execute(self.GET, {"id": i})
    """)
    assert [(s.function, s.line, names_of(s)) for s in f.statements] == [
        ("Repo", 4, ["ghosts"]), ("Repo.get", 8, ["items"])]


def test_text_bound_to_a_name_is_reported_where_it_is_executed():
    f = extract("""
        from sqlalchemy import text
        ACTIVE = text("SELECT * FROM customers WHERE active")

        def a(conn):
            return conn.execute(ACTIVE).all()

        def b(conn):
            return conn.execute(ACTIVE).first()

        def c():
            return select(User).from_statement(text("SELECT * FROM users"))
    """)
    assert [(s.function, s.line, names_of(s)) for s in f.statements] == [
        ("a", 5, ["customers"]), ("b", 8, ["customers"]), ("c", 11, ["users"])]


def names_of(statement) -> list[str]:
    return [str(a.table) for a in accesses(statement)]


def test_exec_driver_sql_and_keyword_argument():
    f = extract("""
        def f(conn, cur):
            conn.exec_driver_sql("TRUNCATE TABLE sessions")
            cur.execute(operation="SELECT * FROM a", parameters=())
            cur.execute(sql="SELECT * FROM b")
            db.fetch_all(query="SELECT * FROM c")
    """)
    assert tables(f) == [("sessions", WRITE, "truncate"), ("a", READ, "select"),
                         ("b", READ, "select"), ("c", READ, "select")]


def test_django_cursor_execute_and_objects_raw():
    f = extract("""
        from django.db import connection
        def report():
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM shop_order WHERE paid = %s", [True])
            return Person.objects.raw("SELECT * FROM myapp_person WHERE last_name = %s", ["x"])
    """)
    assert tables(f) == [("shop_order", READ, "select"), ("myapp_person", READ, "select")]
    assert [s.function for s in f.statements] == ["report", "report"]


def test_alembic_op_execute():
    f = extract("""
        import sqlalchemy as sa
        from alembic import op
        def upgrade():
            op.execute("ALTER TABLE billing.invoices ADD COLUMN note TEXT")
            op.execute(sa.text("UPDATE billing.invoices SET note = ''"))
    """)
    assert tables(f) == [("billing.invoices", DDL, "alter"), ("billing.invoices", WRITE, "update")]
    assert all(s.function == "upgrade" for s in f.statements)


def test_django_runsql_strings_lists_pairs_and_reverse_sql():
    f = extract("""
        from django.db import migrations
        class Migration(migrations.Migration):
            operations = [
                migrations.RunSQL("CREATE TABLE audit_log (id int)", reverse_sql="DROP TABLE audit_log"),
                migrations.RunSQL(
                    ["INSERT INTO audit_log (id) VALUES (1)",
                     ("INSERT INTO audit_log (id) VALUES (%s)", [2])],
                    ["DELETE FROM audit_log"],
                ),
                migrations.RunSQL(migrations.RunSQL.noop),
            ]
    """)
    assert tables(f) == [("audit_log", DDL, "create"), ("audit_log", DDL, "drop"),
                         ("audit_log", WRITE, "insert"), ("audit_log", WRITE, "insert"),
                         ("audit_log", WRITE, "delete")]
    assert [s.line for s in f.statements] == [4, 4, 5, 5, 5]
    assert all(s.end_line == 9 for s in f.statements[2:])


def test_executemany_execute_values_copy_expert_fetch_variants():
    f = extract("""
        from psycopg2.extras import execute_values, execute_batch
        def load(cur, conn, rows, fh):
            cur.executemany("INSERT INTO a (x) VALUES (%s)", rows)
            execute_values(cur, "INSERT INTO b (x) VALUES %s", rows)
            execute_batch(cur, "UPDATE c SET x = %s", rows)
            cur.copy_expert("COPY d (x) FROM STDIN", fh)
            conn.fetchval("SELECT max(x) FROM e")
            conn.fetch("SELECT * FROM g")
            db.fetch_one("SELECT * FROM h")
            db.fetch_val("SELECT 1 FROM i")
            cur.mogrify("SELECT * FROM j WHERE x = %s", (1,))
    """)
    assert names(f) == ["a", "b", "c", "d", "e", "g", "h", "i", "j"]
    assert tables(f)[:3] == [("a", WRITE, "insert"), ("b", WRITE, "insert"), ("c", WRITE, "update")]
    assert f.diagnostics == []


def test_peewee_django_rawsql_and_pandas():
    f = extract("""
        import pandas as pd
        from django.db.models.expressions import RawSQL
        def f(db, con):
            db.execute_sql("UPDATE tweets SET n = n + 1")
            Book.objects.annotate(n=RawSQL("SELECT count(*) FROM reviews WHERE book_id = %s", (1,)))
            Book.objects.annotate(n=RawSQL("price * 2", ()))
            return pd.read_sql("SELECT * FROM metrics", con), pd.read_sql_query(sql="SELECT * FROM m2", con=con)
    """)
    assert tables(f) == [("tweets", WRITE, "update"), ("reviews", READ, "select"),
                         ("metrics", READ, "select"), ("m2", READ, "select")]


def test_query_only_when_the_text_is_sql_shaped():
    f = extract("""
        def f(session, db):
            session.query(User).filter(User.id == 1)
            db.query("hello world")
            search.query("update the index please")
            return db.query("SELECT * FROM invoices WHERE id = :id", id=1)
    """)
    assert tables(f) == [("invoices", READ, "select")]
    assert f.statements[0].line == 5


def test_executescript_with_several_statements_all_point_at_the_call():
    f = extract("""
        def init(con):
            con.executescript('''
                CREATE TABLE IF NOT EXISTS kv (k text, v text);
                INSERT INTO kv VALUES ('a', 'b');
            ''')
    """)
    assert [s.kind for s in f.statements] == ["create", "insert"]
    assert all((s.line, s.end_line) == (2, 5) for s in f.statements)
    assert [a.line for s in f.statements for a in s.accesses] == [3, 4]


# ---------------------------------------------------------------------------------- resolving text

def test_module_constant_and_local_variable():
    f = extract("""
        USERS_SQL = "SELECT * FROM users WHERE id = %s"

        def get(cur, uid):
            cur.execute(USERS_SQL, (uid,))

        def put(cur):
            sql = "INSERT INTO profiles (id) VALUES (1)"
            cur.execute(sql)
    """)
    assert tables(f) == [("users", READ, "select"), ("profiles", WRITE, "insert")]
    assert [(s.function, s.line) for s in f.statements] == [("get", 4), ("put", 8)]


def test_module_constant_defined_after_the_function_is_used():
    f = extract("""
        def get(cur):
            cur.execute(LATER)

        LATER = "SELECT * FROM late_table"
    """)
    assert names(f) == ["late_table"]


def test_last_assignment_before_the_call_wins_and_plus_equals_appends():
    f = extract("""
        def f(cur, only_paid):
            q = "SELECT * FROM wrong"
            q = "SELECT * FROM orders o"
            q += " JOIN payments p ON p.order_id = o.id"
            if only_paid:
                q += " WHERE p.paid"
            cur.execute(q)
            q = "SELECT * FROM after_the_call"
    """)
    assert sorted(names(f)) == ["orders", "payments"]


def test_module_level_code_sees_the_assignment_before_it():
    f = extract("""
        Q = "SELECT * FROM first"
        conn.execute(Q)
        Q = "SELECT * FROM second"
        conn.execute(Q)
    """)
    assert names(f) == ["first", "second"]
    assert [s.function for s in f.statements] == ["", ""]


def test_self_referencing_growth_is_bounded():
    lines = ["def f(cur):", "    q = 'SELECT * FROM t '"] + ["    q = q + q"] * 64 + ["    cur.execute(q)"]
    f = extract_python_file("grow.py", "\n".join(lines) + "\n")
    assert f.diagnostics == [] and f.statements == []


def test_parameter_shadows_module_constant_and_unresolvable_is_silent():
    f = extract("""
        sql = "SELECT * FROM module_level"

        def f(cur, sql, make_sql):
            cur.execute(sql)
            cur.execute(make_sql())
            cur.execute(build_query(1))
            cur.execute(self.query_text)
    """)
    assert f.statements == [] and f.diagnostics == []


def test_class_attributes_via_self_cls_and_class_name_including_a_base_class():
    f = extract("""
        class Base:
            TABLE_SQL = "SELECT * FROM base_table"

        class Repo(Base):
            GET = "SELECT * FROM repo_items WHERE id = $1"

            async def get(self, conn, i):
                return await conn.fetchrow(self.GET, i)

            @classmethod
            def all(cls, cur):
                cur.execute(cls.TABLE_SQL)

        def outside(cur):
            cur.execute(Repo.GET)
    """)
    assert [(s.function, names_of(s)) for s in f.statements] == [
        ("Repo.get", ["repo_items"]), ("Repo.all", ["base_table"]), ("outside", ["repo_items"])]


def test_implicit_concatenation_and_plus():
    f = extract("""
        BASE = "SELECT o.id FROM orders o "

        def f(cur, status):
            cur.execute("SELECT * "
                        "FROM inventory "
                        "WHERE sku = %s", (1,))
            cur.execute(BASE + "JOIN customers c ON c.id = o.customer_id")
            cur.execute("UPDATE shipments SET status = '" + status + "' WHERE id = 1")
    """)
    assert names(f) == ["inventory", "customers", "orders", "shipments"]
    # implicit concatenation keeps each part's line; text pieced together with + points at the call
    assert [a.line for s in f.statements for a in s.accesses] == [5, 7, 7, 8]


def test_fstring_table_hole_becomes_a_placeholder_and_value_holes_keep_the_table():
    f = extract("""
        def f(cur, table, uid, schema):
            cur.execute(f"SELECT * FROM {table}")
            cur.execute(f"SELECT * FROM accounts WHERE id = {uid} AND kind = '{schema}'")
            cur.execute(f"UPDATE {schema}.ledger SET x = 1 WHERE id = {uid}")
    """)
    assert names(f) == ["__p0__", "accounts", "__p0__.ledger"]
    assert f.diagnostics == []


def test_fstring_hole_naming_a_table_constant_uses_the_constant():
    f = extract("""
        TABLE = "billing.invoices"

        def f(cur):
            cur.execute(f"DELETE FROM {TABLE} WHERE id = %s", (1,))
    """)
    assert tables(f) == [("billing.invoices", WRITE, "delete")]


def test_format_and_percent_formatting():
    f = extract("""
        def f(cur, t, n):
            cur.execute("SELECT * FROM {} WHERE a = {x}".format(t, x=n))
            cur.execute("SELECT * FROM events_{shard} e".format(shard=n))
            cur.execute("SELECT * FROM %s WHERE note LIKE 'a%%'" % t)
            cur.execute("DELETE FROM %(tbl)s WHERE id = %(id)d" % {"tbl": "sessions", "id": 3})
    """)
    assert names(f) == ["__p0__", "events___p0__", "__p0__", "sessions"]
    assert tables(f)[-1] == ("sessions", WRITE, "delete")
    assert f.diagnostics == []


def test_constant_fragments_are_substituted_into_format_holes():
    f = extract('''
        class Reader:
            _ORDER = "ORDER BY ts DESC"
            _LAST = """
                SELECT * FROM records
                WHERE id = (SELECT max(id) FROM records) %s;""" % _ORDER
            _BY_ID = "SELECT * FROM records r JOIN {owner} o ON o.id = r.owner WHERE r.id = ? {order}".format(
                owner="owners", order=_ORDER)

            def last(self, cur):
                return cur.execute(self._LAST).fetchone()

            def by_id(self, cur, i):
                return cur.execute(self._BY_ID, (i,)).fetchone()
    ''')
    assert f.diagnostics == []
    assert [names_of(s) for s in f.statements] == [["records"], ["owners", "records"]]
    assert "ORDER BY ts DESC" in f.statements[0].text
    assert f.statements[0].accesses[0].line == 4   # still one literal: the table's own line


def test_psycopg2_sql_composition():
    f = extract("""
        from psycopg2 import sql
        def f(cur, name):
            cur.execute(sql.SQL("INSERT INTO {} (a) VALUES (%s)").format(sql.Identifier("audit", "events")), (1,))
            cur.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(name)))
    """)
    assert tables(f) == [("audit.events", WRITE, "insert"), ("__p0__", READ, "select")]


def test_dedent_and_strip_keep_the_exact_lines():
    f = extract('''
        import textwrap
        def f(cur):
            cur.execute(textwrap.dedent("""
                SELECT *
                FROM wrapped
            """).strip())
    ''')
    s = only(f)
    assert names(f) == ["wrapped"]
    assert (s.line, s.end_line) == (3, 6)
    assert s.accesses[0].line == 5


def test_multiline_literal_access_line_is_the_table_line_statement_line_is_the_call():
    f = extract('''
        def transfer(cur, a, b):
            cur.execute(
                """
                UPDATE accounts
                   SET balance = balance - 1
                  FROM limits
                 WHERE accounts.id = %s
                """,
                (a,),
            )
    ''')
    s = only(f)
    assert (s.line, s.end_line, s.kind) == (2, 10, "update")
    assert [(str(a.table), a.line) for a in accesses(s)] == [("accounts", 4), ("limits", 6)]


def test_multiline_module_constant_points_at_its_own_lines():
    f = extract('''
        REPORT = """SELECT *
        FROM ledger"""

        def report(cur):
            cur.execute(REPORT)
    ''')
    s = only(f)
    assert (s.line, s.accesses[0].line) == (5, 2)


def test_seed_debit_account_example():
    f = extract("""
        async def debit_account(account_id, amount, saga_id):
            # Check if already processed
            existing = await db.fetchone(
                "SELECT * FROM transactions WHERE saga_id = $1 AND operation = 'debit'",
                saga_id
            )
            if existing:
                return {"success": True, "transaction_id": existing.id}

            # Process debit
            result = await db.execute(
                "UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance >= $1",
                amount, account_id
            )

            if result.rowcount == 0:
                return {"success": False, "error": "Insufficient funds"}

            # Record transaction
            await db.execute(
                "INSERT INTO transactions (saga_id, account_id, amount, operation) VALUES ($1, $2, $3, 'debit')",
                saga_id, account_id, amount
            )

            return {"success": True}
    """)
    assert tables(f) == [("transactions", READ, "select"), ("accounts", WRITE, "update"),
                         ("transactions", WRITE, "insert")]
    assert [(s.line, s.end_line) for s in f.statements] == [(3, 6), (11, 14), (20, 23)]
    assert [a.line for s in f.statements for a in s.accesses] == [4, 12, 21]
    assert {s.function for s in f.statements} == {"debit_account"}
    assert {s.transaction for s in f.statements} == {0}
    assert f.diagnostics == [] and f.transactions == []


# ---------------------------------------------------------------------------------- never SQL

def test_strings_not_passed_to_a_db_call_are_never_sql():
    f = extract('''
        """Module docstring: SELECT * FROM docs_table."""
        import logging
        logger = logging.getLogger(__name__)
        UNUSED = "DELETE FROM never_used"

        def f(order_id):
            """UPDATE orders SET this docstring = 1"""
            # cur.execute("DELETE FROM commented_out")
            logger.info("DELETE FROM orders WHERE id = %s", order_id)
            plain = "INSERT INTO plain_variable VALUES (1)"
            print(plain)
            raise ValueError("UPDATE accounts SET balance = 0")
    ''')
    assert f.statements == [] and f.diagnostics == [] and f.transactions == []


def test_non_sql_arguments_to_db_named_calls_are_skipped_silently():
    f = extract("""
        def f(executor, task, client, http):
            executor.execute(task)
            executor.execute(lambda: 1)
            executor.execute(42)
            client.execute("SET", "key", "value")
            client.execute("DELETE", "/users/1")
            http.fetch("https://example.com/api?q=select")
            executor.execute("update_cache")
            cur.fetchone()
            cur.fetchmany(10)
    """)
    assert f.statements == [] and f.diagnostics == []


def test_broken_sql_that_looks_like_sql_is_a_diagnostic_at_the_call():
    f = extract("""
        def f(cur):
            cur.execute("SELECT FROM WHERE (")
            cur.execute("this is not sql at all (")
    """)
    assert f.statements == []
    assert [(d.kind, d.line, d.path) for d in f.diagnostics] == [("parse-error", 2, "svc/app.py")]
    assert "SQL" in f.diagnostics[0].message


def test_unparsable_dynamic_sql_says_it_was_built_at_run_time():
    f = extract("""
        def f(cur, col, direction):
            cur.execute(f"SELECT * FROM t ORDER BY {col} {direction}")
    """)
    assert [(d.kind, d.line) for d in f.diagnostics] == [("parse-error", 2)]
    assert "placeholders" in f.diagnostics[0].message


# ---------------------------------------------------------------------------------- function names

def test_function_names_are_dotted_and_empty_at_module_level():
    f = extract("""
        conn.execute("SELECT * FROM at_import")

        class Service:
            def handle(self, cur):
                def inner():
                    cur.execute("SELECT * FROM nested")
                cur.execute("SELECT * FROM method")

        def outer(cur):
            async def helper():
                await cur.fetch("SELECT * FROM helper")
    """)
    assert [(s.function, names_of(s)) for s in f.statements] == [
        ("", ["at_import"]), ("Service.handle.inner", ["nested"]),
        ("Service.handle", ["method"]), ("outer.helper", ["helper"])]


# ---------------------------------------------------------------------------------- transactions

def test_transaction_blocks_of_each_kind():
    f = extract("""
        from django.db import transaction
        from django.db.transaction import atomic

        def sa(session):
            with session.begin():
                session.execute(text("UPDATE a SET x = 1"))
            session.execute(text("UPDATE outside SET x = 1"))

        def sa_nested(session):
            with session.begin_nested() as sp:
                sp.execute("DELETE FROM b")

        async def pg(pool):
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("INSERT INTO c VALUES (1)")

        def dj():
            with transaction.atomic(using="default"):
                cursor.execute("UPDATE d SET x = 1")
            with atomic():
                cursor.execute("UPDATE e SET x = 1")

        def engine_begin(engine):
            with engine.begin() as conn:
                conn.execute(text("SELECT * FROM f"))
    """)
    by_table = {names_of(s)[0]: s.transaction for s in f.statements}
    assert by_table == {"a": 1, "outside": 0, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}
    assert [(t.id, t.line, t.end_line, t.how) for t in f.transactions] == [
        (1, 5, 6, "with session.begin()"),
        (2, 10, 11, "with session.begin_nested()"),
        (3, 14, 15, "async with conn.transaction()"),
        (4, 18, 19, "with transaction.atomic(using='default')"),
        (5, 20, 21, "with atomic()"),
        (6, 24, 25, "with engine.begin()"),
    ]


def test_nested_blocks_belong_to_the_outermost():
    f = extract("""
        def f(session):
            with session.begin():
                session.execute(text("UPDATE a SET x = 1"))
                with session.begin_nested():
                    session.execute(text("UPDATE b SET x = 1"))
                session.execute(text("UPDATE c SET x = 1"))
    """)
    assert [s.transaction for s in f.statements] == [1, 1, 1]
    assert [(t.id, t.line, t.end_line) for t in f.transactions] == [(1, 2, 6)]


def test_atomic_decorator_makes_the_function_one_transaction():
    f = extract("""
        from django.db import transaction

        @transaction.atomic
        def transfer(cursor):
            cursor.execute("UPDATE accounts SET b = b - 1 WHERE id = 1")
            with transaction.atomic():
                cursor.execute("UPDATE accounts SET b = b + 1 WHERE id = 2")

        @atomic(using="billing")
        def bill(cursor):
            cursor.execute("INSERT INTO invoices VALUES (1)")

        def plain(cursor):
            cursor.execute("SELECT * FROM accounts")
    """)
    assert [(s.function, s.transaction) for s in f.statements] == [
        ("transfer", 1), ("transfer", 1), ("bill", 2), ("plain", 0)]
    assert [(t.id, t.line, t.end_line, t.how) for t in f.transactions] == [
        (1, 3, 7, "@transaction.atomic"), (2, 9, 11, "@atomic(using='billing')")]


def test_begin_commit_strings_form_transactions_after_the_with_block_ids():
    f = extract("""
        def a(session):
            with session.begin():
                session.execute(text("SELECT * FROM w"))

        def b(cur):
            cur.execute("BEGIN")
            cur.execute("UPDATE stock SET n = n - 1")
            cur.execute("INSERT INTO moves VALUES (1)")
            cur.execute("COMMIT")
            cur.execute("SELECT * FROM after_commit")

        def c(cur):
            cur.execute("UPDATE not_in_txn SET n = 1")
            cur.execute("START TRANSACTION; DELETE FROM carts; COMMIT")
    """)
    by_table = {names_of(s)[0]: s.transaction for s in f.statements if s.accesses}
    assert by_table == {"w": 1, "stock": 2, "moves": 2, "after_commit": 0, "not_in_txn": 0, "carts": 3}
    assert [(s.kind, s.transaction) for s in f.statements if s.function == "b"][0] == ("begin", 2)
    ids = [t.id for t in f.transactions]
    assert ids == [1, 2, 3]
    assert [(t.line, t.end_line) for t in f.transactions[1:]] == [(6, 9), (14, 14)]


def test_begin_in_one_function_does_not_pair_with_commit_in_another():
    f = extract("""
        def start(cur):
            cur.execute("BEGIN")
            cur.execute("UPDATE a SET x = 1")

        def finish(cur):
            cur.execute("UPDATE b SET x = 1")
            cur.execute("COMMIT")
    """)
    by_table = {names_of(s)[0]: s.transaction for s in f.statements if s.accesses}
    assert by_table["b"] == 0


def test_function_defined_inside_a_transaction_block_is_not_in_it():
    f = extract("""
        def f(session):
            with session.begin():
                def later():
                    session.execute(text("UPDATE runs_later SET x = 1"))
                session.execute(text("UPDATE now SET x = 1"))
    """)
    assert {names_of(s)[0]: s.transaction for s in f.statements} == {"runs_later": 0, "now": 1}


# ---------------------------------------------------------------------------------- two-phase commit

def test_tpc_calls_and_two_phase_sql():
    f = extract("""
        def pay(conn, xid):
            conn.tpc_begin(xid)
            conn.cursor().execute("UPDATE a SET x = 1")
            conn.tpc_prepare()
            conn.tpc_commit()

        def recover(conn, cur):
            conn.tpc_rollback(conn.tpc_recover()[0])
            cur.execute("BEGIN; UPDATE b SET x = 1; PREPARE TRANSACTION 'tx1'")
            cur.execute(
                "COMMIT PREPARED 'tx1'"
            )
    """)
    calls = [(t.line, t.what) for t in f.two_phase if t.what.endswith("()")]
    assert calls == [(2, "tpc_begin()"), (4, "tpc_prepare()"), (5, "tpc_commit()"),
                     (8, "tpc_rollback()"), (8, "tpc_recover()")]
    sql_uses = [(t.line, t.end_line, t.what) for t in f.two_phase if not t.what.endswith("()")]
    assert sql_uses == [(9, 9, "PREPARE TRANSACTION"), (10, 12, "COMMIT PREPARED")]
    # BEGIN ... PREPARE TRANSACTION in one string is a transaction block
    assert [s.transaction for s in f.statements if s.line == 9] == [1, 1, 1]
    assert [(t.id, t.line) for t in f.transactions] == [(1, 9)]


# ---------------------------------------------------------------------------------- robustness

def test_syntax_error_is_one_diagnostic():
    f = extract("""
        def f(cur):
            cur.execute("SELECT * FROM t"
        x = = 1
    """)
    assert f.statements == [] and f.transactions == [] and f.two_phase == []
    assert len(f.diagnostics) == 1
    d = f.diagnostics[0]
    assert (d.kind, d.path) == ("parse-error", "svc/app.py")
    assert d.line >= 2 and d.message.startswith("cannot parse Python: ")


def test_null_bytes_and_deep_nesting_are_diagnostics_not_exceptions():
    for src in ("x = 1\0\n", "x = " + "[" * 300 + "]" * 300):
        f = extract_python_file("bad.py", src)
        assert [d.kind for d in f.diagnostics] == ["parse-error"]
        assert f.statements == []
    # 100k-deep expression: CPython 3.11+ refuses it (RecursionError -> diagnostic), 3.10 parses
    # it and the walk (an explicit stack, no recursion) gets through it.
    f = extract_python_file("deep.py", "x = " + "1 + " * 100_000 + "1\ncur.execute('SELECT * FROM t')\n")
    assert [d.kind for d in f.diagnostics] in (["parse-error"], [])
    assert names(f) in ([], ["t"])


def test_long_concatenation_chain_resolves():
    parts = " + ".join(['"SELECT * FROM big "'] + ['" "'] * 400)
    f = extract_python_file("big.py", f"def f(cur):\n    cur.execute({parts})\n")
    assert names(f) == ["big"]


def test_unknown_dialect_is_a_caller_error():
    with pytest.raises(ValueError):
        extract_python_file("a.py", "cur.execute('SELECT 1')\n", dialect="no-such-dialect")


def test_facts_serialise():
    f = extract("""
        def f(session):
            with session.begin():
                session.execute(text("UPDATE a SET x = 1"))
    """)
    d = f.to_dict()
    assert d["statements"][0]["accesses"][0]["table"]["name"] == "a"
    assert type(f).from_dict(d).to_dict() == d


_FRAGMENTS = st.sampled_from([
    "cur.execute(", "await conn.fetchrow(", "session.execute(text(", "op.execute(", "RunSQL([",
    "execute_values(cur, ", "db.query(", "Model.objects.raw(", "conn.tpc_prepare()",
    '"SELECT * FROM t WHERE id = %s"', "'INSERT INTO a VALUES ($1)'", 'f"SELECT * FROM {t}"',
    'f"UPDATE {s}.x SET a = {v!r:>{w}}"', '"""\nDELETE FROM\n  x\n"""', "'BEGIN'", "'COMMIT'",
    '"%s" % x', '"{}".format(y)', "Q", "self.Q", "Cls.Q", "textwrap.dedent(", ".strip()",
    "(", ")", "[", "]", "{", "}", ",", " + ", " % ", ":", "\n", "\n    ", "def f(cur):",
    "async def g():", "class C:", "with s.begin():", "async with c.transaction():",
    "@transaction.atomic", "Q = ", "q += ", "'", '"', '"""', "f'", "\\", "#", "lambda:", "\0",
    "'SELECT FROM WHERE ('", "'%(name)s'", "'{{}}'", "\ue000", "'\\N{BULLET}'", "x :=", "*a",
])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_arbitrary_text_never_raises(src):
    f = extract_python_file("fuzz.py", src)
    assert f.path == "fuzz.py"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_FRAGMENTS, max_size=8).map("".join), max_size=12).map("\n".join))
def test_python_ish_text_never_raises(src):
    f = extract_python_file("fuzz.py", src)
    for s in f.statements:
        assert s.origin == "python" and s.line <= s.end_line
    ids = [t.id for t in f.transactions]
    assert len(ids) == len(set(ids))
    assert {s.transaction for s in f.statements} <= set(ids) | {0}


_STR_EXPR = st.recursive(
    st.sampled_from(['"SELECT * FROM t WHERE id = %s"', "'INSERT INTO a VALUES ($1)'",
                     'f"SELECT * FROM {t} WHERE id = {x!r}"', '"""\nDELETE FROM\n  x\n"""', "'BEGIN'",
                     "'COMMIT'", "Q", "self.Q", "C.Q", "q", "x", "'{} {x}'", "'%s %(k)s %%'",
                     "'UPDATE t SET a = 1; PREPARE TRANSACTION 1'", "'SELECT FROM ('"])
    | st.text(max_size=20).map(repr),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"{t[0]} + {t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]} % ({t[1]},)"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]} % {{'k': {t[1]}}}"),
        inner.map(lambda e: f"({e}).format(1, x=2)"),
        inner.map(lambda e: f"text({e})"),
        inner.map(lambda e: f"textwrap.dedent({e}).strip()"),
    ),
    max_leaves=6,
)
_LINE = st.one_of(
    _STR_EXPR.map(lambda e: f"cur.execute({e})"), _STR_EXPR.map(lambda e: f"q = {e}"),
    _STR_EXPR.map(lambda e: f"q += {e}"), _STR_EXPR.map(lambda e: f"Q = {e}"),
    _STR_EXPR.map(lambda e: f"await conn.fetchrow({e}, 1)"),
    _STR_EXPR.map(lambda e: f"migrations.RunSQL([{e}], reverse_sql={e})"),
    st.sampled_from(["conn.tpc_prepare()", "for q in rows: pass", "pass"]),
).map(lambda line: [line])
_HEADERS = st.sampled_from(["def f(cur, t, x):", "async def g(self, conn):", "class C:",
                            "with s.begin():", "async with c.transaction():",
                            "with transaction.atomic():", "@transaction.atomic\ndef h(cur):",
                            "if x:", "for t in T:"])
_PROGRAM = st.recursive(
    _LINE,
    lambda inner: st.tuples(_HEADERS, st.lists(inner, min_size=1, max_size=4)).map(
        lambda hb: hb[0].split("\n") + ["    " + ln for block in hb[1] for ln in block]),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PROGRAM, min_size=1, max_size=4).map(
    lambda blocks: "\n".join(ln for b in blocks for ln in b) + "\n"))
def test_generated_valid_python_never_raises(src):
    f = extract_python_file("gen.py", src)
    try:
        ast.parse(src)
    except SyntaxError:
        return
    assert not any(d.message.startswith("cannot parse Python") for d in f.diagnostics)
    for s in f.statements:
        assert s.origin == "python" and 1 <= s.line <= s.end_line
        assert all(1 <= a.line <= src.count("\n") for a in s.accesses)
    ids = [t.id for t in f.transactions]
    assert sorted(ids) == list(range(1, len(ids) + 1))
    assert {s.transaction for s in f.statements} <= set(ids) | {0}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["SELECT * FROM t", "DELETE FROM t WHERE a = '", "x", "UPDATE t SET",
                        "\\", "{", "%", "%(", "\"", "'''", "\n", "$$", "--"]).flatmap(
    lambda head: st.text(max_size=30).map(lambda tail: head + tail)))
def test_execute_of_odd_string_literals_never_raises(sql):
    src = f"def f(cur, x):\n    cur.execute({sql!r})\n    cur.execute(f{sql!r} % x)\n"
    extract_python_file("fuzz.py", src)
