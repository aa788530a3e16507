"""Regressions found by running dbowner on public repositories (docs/field-test.md).

Each test is a minimal reduction, written for this suite, of what the real code did.
"""
from __future__ import annotations

import textwrap

import pytest

from dbowner.analysis import analyze
from dbowner.extract.sql import parse_sql
from dbowner.manifest import load_manifest


def accesses(sql: str) -> list[set[tuple[str, str, str]]]:
    f = parse_sql(textwrap.dedent(sql).strip("\n"))
    assert f.errors == []
    return [{(str(a.table), a.role, a.action) for a in s.accesses} for s in f.statements]


def findings(make_repo, files: dict[str, str]) -> list[tuple[str, int, str, str]]:
    root = make_repo(files)
    a = analyze(load_manifest(root / "dbowner.yaml"))
    return sorted((f.name, f.line, f.table, f.message) for f in a.findings)


TWO_SERVICES = """
    version: 1
    services:
      people:
        paths: ["people/**"]
        tables: [users, follows]
      content:
        paths: ["content/**"]
        tables: [articles]
"""


# ----------------------------------------------------------------------------- SQL extraction
@pytest.mark.parametrize("sql", [
    "ALTER TABLE accounts DROP CONSTRAINT accounts_name_chk",
    "ALTER TABLE IF EXISTS ONLY accounts DROP CONSTRAINT IF EXISTS a_fkey, ADD CONSTRAINT b_chk CHECK (x > 0)",
    "ALTER TABLE accounts DROP COLUMN note, DROP CONSTRAINT accounts_note_key",
])
def test_dropped_constraint_is_not_a_table(sql):
    # a migrations.sql: the constraint name was reported as an unowned table
    assert accesses(sql) == [{("accounts", "ddl", "alter")}]


# ----------------------------------------------------------------------------- rules
def test_join_finding_names_the_table_on_its_line(make_repo):
    # the line was the first other owner's table, the table the alphabetically first one
    out = findings(make_repo, {
        "dbowner.yaml": TWO_SERVICES,
        "content/feed.sql": """
            SELECT a.title,
                   (SELECT name FROM users WHERE id = a.author_id) AS author
            FROM articles a
            JOIN follows f ON f.followee = a.author_id;
        """,
    })
    joins = [(line, table) for name, line, table, _ in out if name == "cross-service-join"]
    assert joins == [(2, "users")]


def test_user_defined_overload_of_a_known_function_still_parses():
    # a payments app defines sum(currency_amount, currency); sqlglot's sum() takes one argument
    assert accesses("""
        UPDATE takes AS take
           SET paid = coalesce((SELECT sum(tr.amount, take.amount::currency)
                                  FROM transfers tr WHERE tr.tippee = take.member), 0)
    """) == [{("takes", "write", "update"), ("transfers", "read", "select")}]


def test_a_syntax_error_is_still_reported_not_parsed_leniently():
    f = parse_sql("SELECT * FROM t WHERE x = ;\nUPDATE p SET goal = sum(goal, ;")
    assert [line for line, _ in f.errors] == [1, 2]


def test_unparsable_operator_definition_is_not_a_parse_error():
    # a currencies.sql defines operators for a composite type; sqlglot cannot parse `commutator = =`
    f = parse_sql("""CREATE OPERATOR = (
    leftarg = currency_amount, rightarg = currency_amount,
    procedure = currency_amount_eq, commutator = =
);
DROP OPERATOR IF EXISTS = (currency_amount, currency_amount);
UPDATE wallets SET x = 1;""")
    assert f.errors == []
    assert [(s.kind, [str(a.table) for a in s.accesses]) for s in f.statements] == [
        ("create", []), ("drop", []), ("update", ["wallets"])]


# ----------------------------------------------------------------------------- Python extraction
def python_statements(source: str) -> list[tuple[int, str, set[tuple[str, str, str]]]]:
    from dbowner.extract.python import extract_python_file
    ff = extract_python_file("m.py", textwrap.dedent(source).lstrip("\n"))
    assert [d.message for d in ff.diagnostics] == []
    return [(s.line, s.text, {(str(a.table), a.role, a.action) for a in s.accesses}) for s in ff.statements]


def test_if_elif_appends_are_alternatives_not_one_text():
    # a web.py app: `query += " WHERE ..."` in the if and in the elif made "... WHERE a AND b WHERE c"
    out = python_statements('''
        def count(db, shelf_ids=None, since=None):
            query = "SELECT count(*) FROM shelf_books"
            if shelf_ids:
                query += " WHERE shelf_id IN $shelf_ids"
                if since:
                    query += " AND created >= $since"
            elif since:
                query += " WHERE created >= $since"
            else:
                query += " WHERE TRUE"
            return db.query(query, vars=locals())
    ''')
    assert out == [(11, "SELECT count(*) FROM shelf_books WHERE shelf_id IN $shelf_ids AND created >= $since",
                    {("shelf_books", "read", "select")})]


def test_else_branch_value_is_kept_when_the_body_does_not_touch_the_name():
    out = python_statements('''
        def rows(cur, joined):
            sql = "SELECT * FROM a"
            if not joined:
                pass
            else:
                sql += " JOIN b USING (id)"
            cur.execute(sql)
    ''')
    assert out[0][2] == {("a", "read", "select"), ("b", "read", "select")}


def test_conditional_expression_takes_its_first_branch():
    # "SELECT count(%s work_id) FROM ratings" % ("DISTINCT" if distinct else "") could not parse
    out = python_statements('''
        def n(db, distinct, since):
            db.query("SELECT count(%s work_id) FROM ratings" % ("DISTINCT" if distinct else ""))
            db.query(f"""SELECT work_id FROM shelf_books
                         WHERE {"shelf_id IN $ids" if since else "shelf_id IS NOT NULL"}
                         {"AND created >= $since" if since else ""}""")
    ''')
    assert [(line, tables) for line, _, tables in out] == [
        (2, {("ratings", "read", "select")}), (3, {("shelf_books", "read", "select")})]


def test_psql_string_variable_in_a_sql_file():
    # a dump script run with `psql --set=upto=...`: WHERE created <= (:'upto'::date + '1 day'::interval)
    from dbowner.extract.sql import extract_sql_file
    ff = extract_sql_file("dump.sql", "COPY (\n  SELECT rating FROM ratings\n"
                          "  WHERE created <= (:'upto'::date + '1 day'::interval)\n) TO stdout;\n"
                          "SELECT ':' || 'x', a[1:2] FROM t;\n")
    assert ff.diagnostics == []
    assert [(s.line, [(str(a.table), a.role, a.line) for a in s.accesses]) for s in ff.statements] == [
        (1, [("ratings", "read", 2)]), (5, [("t", "read", 5)])]


def test_python_syntax_error_names_the_interpreter_version():
    # a project on Python 3.14 (`except A, B:`) analysed by dbowner on an older Python
    import sys
    from dbowner.extract.python import extract_python_file
    ff = extract_python_file("m.py", "def f(:\n    pass\n")
    [d] = ff.diagnostics
    assert d.message.startswith("cannot parse Python: ")
    assert f"read as Python {sys.version_info[0]}.{sys.version_info[1]}" in d.message


def test_unowned_table_message_says_how_the_table_is_used(make_repo):
    # "django_content_type is not owned ... (ALTER in permission)" for a REFERENCES target of an ALTER TABLE
    out = findings(make_repo, {
        "dbowner.yaml": TWO_SERVICES,
        "people/m.sql": """
            ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (type_id) REFERENCES content_types (id);
            INSERT INTO follows SELECT * FROM legacy_follows;
        """,
    })
    assert [(line, msg) for name, line, _, msg in out if name == "unowned-table"] == [
        (1, "content_types is not owned by any service in the manifest (REFERENCES in people)"),
        (2, "legacy_follows is not owned by any service in the manifest (SELECT in people)")]


def test_rename_is_one_table_not_a_join(make_repo):
    # a Django migration moving a model between apps: ALTER TABLE old_app_x RENAME TO new_app_x
    out = findings(make_repo, {
        "dbowner.yaml": TWO_SERVICES,
        "content/0042_move.sql": "ALTER TABLE users RENAME TO articles;\n",
    })
    assert [(name, table) for name, _, table, _ in out] == [("cross-service-write", "users")]


def test_inet_containment_operators_parse():
    # RawSQL('SELECT COUNT(*) FROM ipam_prefix WHERE ipam_prefix.prefix <<= ipam_aggregate.prefix')
    assert accesses("SELECT count(*) FROM prefixes p WHERE p.prefix <<= %s OR p.prefix >>= %s") == [
        {("prefixes", "read", "select")}]


def accesses_at(source: str) -> list[tuple[int, list[tuple[str, int]]]]:
    from dbowner.extract.python import extract_python_file
    ff = extract_python_file("m.py", textwrap.dedent(source).lstrip("\n"))
    assert [d.message for d in ff.diagnostics] == []
    return [(s.line, [(str(a.table), a.line) for a in s.accesses]) for s in ff.statements]


def test_implicitly_concatenated_sql_reports_each_table_on_its_line():
    # a Django migration: RunSQL('ALTER TABLE ... RENAME CONSTRAINT ' 'old TO new') over lines
    assert accesses_at('''
        ops = [
            RunSQL(
                "UPDATE orders SET total = 0 "
                "FROM customers c "
                "WHERE c.id = orders.customer_id"
            ),
            RunSQL("SELECT a FROM t1,"   # no whitespace at the break: left on the call's line
                   "t2"),
        ]
    ''') == [(2, [("orders", 3), ("customers", 4)]), (7, [("t1", 7), ("t2", 7)])]


def test_backslash_continued_triple_quoted_sql_keeps_its_lines():
    # cls.db.run(\"\"\"\\  (the body starts on the next line)
    assert accesses_at('''
        def f(db):
            db.run("""\\

                WITH recent AS (SELECT * FROM transfers)
                SELECT * FROM recent JOIN paydays USING (id)
            """)
    ''') == [(2, [("transfers", 4), ("paydays", 5)])]


def test_a_comment_open_at_a_line_break_is_not_closed_by_it():
    # "SELECT a -- note " "FROM t" runs SELECT a alone: no line break is added, lines stay on the call
    assert accesses_at('''
        cur.execute("SELECT a FROM s -- note "
                    "JOIN t ON TRUE")
    ''') == [(1, [("s", 1)])]


def test_multi_line_fragment_formatted_into_sql_keeps_the_lines_of_the_rest():
    # tips = db.all("""SELECT ... {} ORDER BY (SELECT 1 FROM takes ...)""".format(exclude)), where
    # `exclude` is a multi-line AND NOT EXISTS (...) clause in one branch and "" in the other
    assert accesses_at('''
        def f(db, other):
            if other:
                exclude = """
                    AND NOT EXISTS (SELECT 1 FROM payins WHERE id = 1)
                """
            else:
                exclude = ""
            return db.all("""
                SELECT t.*
                  FROM tips t
                 WHERE t.tipper = 1 {}
              ORDER BY (SELECT 1 FROM takes WHERE takes.member = t.tipper)
            """.format(exclude))
    ''') == [(8, [("tips", 10), ("payins", 11), ("takes", 12)])]


@pytest.mark.parametrize("sql, expected", [
    # a payday job: the temp table's source tables were silently lost (sqlglot keeps it as raw text)
    ("CREATE TEMPORARY TABLE payday_tips ON COMMIT DROP AS SELECT t.id FROM tips t JOIN users u ON TRUE",
     {("payday_tips", "ddl", "create_temp"), ("tips", "read", "select"), ("users", "read", "select")}),
    ("CREATE TEMP TABLE t2 (LIKE src) ON COMMIT DELETE ROWS", {("t2", "ddl", "create_temp"), ("src", "read", "select")}),
    ("CREATE TEMP TABLE t3 ON COMMIT PRESERVE ROWS AS SELECT 1 FROM src",
     {("t3", "ddl", "create_temp"), ("src", "read", "select")}),
    ("CREATE TABLE t4 (a int REFERENCES r) ON COMMIT DROP", {("t4", "ddl", "create"), ("r", "reference", "references")}),
    ("CREATE TABLE t5 (a int) WITHOUT OIDS", {("t5", "ddl", "create")}),
])
def test_create_table_storage_clauses_do_not_hide_tables(sql, expected):
    [got] = accesses(sql)
    assert got == expected


def test_select_into_temp_is_a_temp_table():
    assert accesses("SELECT * INTO TEMP scratch FROM orders") == [
        {("scratch", "ddl", "create_temp"), ("orders", "read", "select")}]
    assert accesses("SELECT * INTO archive FROM orders") == [
        {("archive", "write", "select_into"), ("orders", "read", "select")}]


def test_postgres_convert_function_is_not_a_cast():
    # UPDATE participants SET goal = convert(goal, 'EUR') (a user function; the builtin has 3 arguments)
    assert accesses("""
        UPDATE participants
           SET goal = convert(goal, 'EUR'), note = convert(note::bytea, 'UTF8', 'LATIN1'),
               paid = (x - convert(%(amount)s, t.amount::currency))
          FROM rates r
         WHERE r.id = 1
    """) == [{("participants", "write", "update"), ("rates", "read", "select")}]


def test_psql_echo_with_an_apostrophe_does_not_swallow_the_script():
    # an upgrade script: \echo Don't forget ...; the quote opened a string up to the next \echo's
    from dbowner.extract.sql import extract_sql_file
    ff = extract_sql_file("up.sql", "BEGIN;\nUPDATE a SET x = 1;\n\\echo Don't forget to run types.sql\nCOMMIT;\n"
                          "\\echo If you're running a setup\nSELECT grant_all('reader');\nUPDATE b SET y = 2;\n")
    assert ff.diagnostics == []
    assert [(s.line, s.kind, s.transaction) for s in ff.statements if s.kind != "other"] == [
        (1, "begin", 1), (2, "update", 1), (4, "commit", 1), (6, "select", 0), (7, "update", 0)]


def test_postgres_py_calls_and_cursor_blocks():
    # liberapay-style code: self.db.one / cursor.run inside `with self.db.get_cursor() as cursor:`
    from dbowner.extract.python import extract_python_file
    ff = extract_python_file("m.py", textwrap.dedent('''
        def pay(self, amount):
            with self.db.get_cursor() as cursor:
                cursor.run("UPDATE wallets SET balance = balance - %s", (amount,))
                cursor.one("INSERT INTO transfers (amount) VALUES (%s) RETURNING id", (amount,))
            n = self.db.one("SELECT count(*) FROM transfers")
            subprocess.run("select a tool")      # not SQL-shaped: never read
            return all("SELECT" in x for x in n)
    ''').lstrip("\n"))
    assert [(s.line, s.transaction, [str(a.table) for a in s.accesses]) for s in ff.statements] == [
        (3, 1, ["wallets"]), (4, 1, ["transfers"]), (5, 0, ["transfers"])]
    assert [t.how for t in ff.transactions] == ["with self.db.get_cursor()"]


@pytest.mark.parametrize("sql", [
    "ALTER TABLE alertsubscription RENAME tidsperiodeid TO time_period_id",
    "ALTER TABLE IF EXISTS alertsubscription RENAME COLUMN tidsperiodeid TO time_period_id",
])
def test_column_rename_without_column_keyword_is_not_a_table(sql):
    # an upgrade script renaming columns: sqlglot reads `RENAME a TO b` as renaming the table to "a"
    assert accesses(sql) == [{("alertsubscription", "ddl", "alter")}]


def test_queries_chosen_by_if_elif_are_all_read():
    # query = "...FROM cam JOIN arp..." if category == 'IP', elif 'MAC': "...FROM cam JOIN ports..."
    assert accesses_at('''
        def find(cur, category):
            query = ""
            if category == "IP":
                query = "SELECT * FROM cam JOIN arp USING (mac)"
            elif category == "MAC":
                query = """SELECT * FROM cam
                           JOIN ports USING (port)"""
            cur.execute(query)
    ''') == [(8, [("cam", 4), ("arp", 4)]), (8, [("cam", 6), ("ports", 7)])]


def test_an_appended_clause_does_not_repeat_the_statement():
    assert accesses_at('''
        def count(db, since):
            query = "SELECT count(*) FROM ratings"
            if since:
                query += " WHERE created >= $since"
            return db.query(query)
    ''') == [(5, [("ratings", 5)])]


def test_the_other_branch_is_read_when_the_first_cannot_be_parsed():
    # a psql client: a catalog query per server version; sqlglot cannot parse `::regtype[]`
    from dbowner.extract.python import extract_python_file
    ff = extract_python_file("m.py", textwrap.dedent('''
        def functions(cur, version):
            if version >= 110000:
                query = "SELECT proargtypes::regtype[] FROM pg_proc JOIN new_catalog USING (oid)"
            else:
                query = "SELECT proargtypes FROM pg_proc JOIN old_catalog USING (oid)"
            cur.execute(query)
            cur.execute(query if version else "SELECT 1 FROM fallback")
    ''').lstrip("\n"))
    assert [d.line for d in ff.diagnostics] == [3]
    assert [(s.line, sorted(str(a.table) for a in s.accesses)) for s in ff.statements] == [
        (6, ["old_catalog", "pg_proc"]), (7, ["old_catalog", "pg_proc"]), (7, ["fallback"])]


def test_driver_placeholders_in_mysql_sql_from_python():
    # frappe.db.sql("select name from `tabEmployee` where name = %s and status = 'Active'", ...)
    from dbowner.extract.python import extract_python_file
    ff = extract_python_file("m.py", textwrap.dedent('''
        def f(frappe, emp):
            frappe.db.sql("select name from `tabEmployee` where name = %s and x LIKE '100%%s'", emp)
            frappe.db.sql("""select name from `tabLeave Allocation`
                             where employee=%(employee)s and leave_type IN %(types)s""", {})
            frappe.db.sql("SELECT a::int FROM pg_style WHERE id = %s", emp)
    ''').lstrip("\n"), dialect="mysql")
    assert ff.diagnostics == []
    assert [(s.line, [(str(a.table), a.line) for a in s.accesses]) for s in ff.statements] == [
        (2, [("tabEmployee", 2)]), (3, [("tabLeave Allocation", 3)]), (5, [("pg_style", 5)])]


def test_quoted_mixed_case_table_names_resolve_to_their_owner(make_repo):
    # frappe: `tabEmployee` (MySQL backticks keep the case); Prisma-style "User" in PostgreSQL
    out = findings(make_repo, {
        "dbowner.yaml": """
            version: 1
            services:
              hr:
                paths: ["hr/**"]
                tables: [tabEmployee, "User"]
              payroll:
                paths: ["payroll/**"]
                tables: [tabSalary Slip]
        """,
        "payroll/q.sql": 'SELECT * FROM "tabSalary Slip" s JOIN "tabEmployee" e ON TRUE JOIN tabemployee x ON TRUE;\n'
                         'SELECT * FROM "User";\n',
    })
    assert [(name, line, table) for name, line, table, _ in out] == [
        ("cross-service-join", 1, "tabEmployee"), ("cross-service-read", 1, "tabEmployee"),
        ("cross-service-read", 2, "User")]


def test_a_hole_for_a_whole_clause_does_not_lose_the_statement():
    # frappe reports: """select ... from `tabSalary Slip` where docstatus = 1 {conditions}""".format(...)
    from dbowner.extract.python import extract_python_file
    ff = extract_python_file("m.py", textwrap.dedent('''
        def rows(frappe, filters, table):
            frappe.db.sql("""select name from `tabSalary Slip` ss
                             where docstatus = 1 {conditions} order by ss.name""".format(conditions=get(filters)))
            frappe.db.sql(f"select * from {table} t join `tabEmployee` e on e.name = t.employee where 1 = 1 {get(filters)}")
            frappe.db.sql(f"select * from `tabA` a, {table} b where x {get(filters)}")
            frappe.db.sql("select name from tabEmployee where status = 'Active' %s" % get(filters))
            frappe.db.sql(f'select * from "{table}" where x = 1 {get(filters)}')
    ''').lstrip("\n"), dialect="mysql")
    assert ff.diagnostics == []
    assert [(s.line, [(str(a.table), a.line) for a in s.accesses]) for s in ff.statements] == [
        (2, [("tabSalary Slip", 2)]), (4, [("__p0__", 4), ("tabEmployee", 4)]), (5, [("tabA", 5), ("__p0__", 5)]),
        (6, [("tabemployee", 6)]), (7, [("__p0__", 7)])]


def test_form_feed_in_source_does_not_shift_lines():
    # str.splitlines() splits on \f; Python's line numbers do not
    assert accesses_at('x = 1  # \f page break\ncur.execute("SELECT a "\n            "FROM t")\n') == [(2, [("t", 3)])]
