"""Cheap byte test run before the SQL walk of a Python file: can it pass SQL to a database at all?

Every Python file is parsed (its functions may be saga steps other files call, and its ORM models
and connection settings are read), but most files never call a database: for them the SQL walk
(resolving strings, parsing SQL) is skipped. ``bytes in bytes`` scans at ~250 MB/s.

The test must never skip a file whose SQL walk yields a fact. Every such fact starts from a call (``execute``, ``fetchrow``, ``text``, ``RunSQL``, ``tpc_prepare`` ...) or a
transaction block (``atomic``, ``begin``, ``transaction``), so the list below holds those names,
case-sensitively, as Python identifiers are. A name is listed once by its shortest part that
still covers every variant (``fetch`` covers ``fetchrow``, ``fetch_all`` ...).

Extending the SQL walk: add the bytes that every file carrying its new facts must contain to
``PYTHON_KEYWORDS``. tests/test_prefilter.py runs the extractor with and without the walk on every
fixture file, rule example and test snippet and fails if a file the walk finds anything in would
be skipped.
"""
from __future__ import annotations

import re

# A file passes when it contains any of these byte strings. An entry ending in "(" is a call:
# the name followed by "(" with optional whitespace, comments or line continuations in between
# (``text (``); it is for names too common to test alone ("text" is in "context").
PYTHON_KEYWORDS: tuple[bytes, ...] = (
    # driver and ORM calls whose argument is SQL (extract/python.py: _FIRST_ARG_CALLS & co.)
    b"execute",        # execute, executemany, executescript, execute_sql, execute_values, execute_batch
    b"exec_driver_sql",
    b"fetch",          # fetch, fetchrow, fetchval, fetchone, fetchall, fetchmany, fetch_one/_all/_val
    b"query",          # query, read_sql_query
    b"raw",            # raw
    b"RawSQL",
    b"read_sql",
    b"copy_expert",
    b"mogrify",
    b"RunSQL",
    b"text(",          # SQLAlchemy text(...)
    b"sql",            # Frappe frappe.db.sql / sql_list (also RawSQL, read_sql, exec_driver_sql)
    b"one(",           # postgres.py db.one / db.all / db.run (the text must look like SQL)
    b"all(",
    b"run(",
    b"cursor",         # postgres.py `with db.get_cursor()` transaction blocks
    # two-phase commit and transaction blocks
    b"tpc_",
    b"atomic",
    b"begin",          # begin, begin_nested
    b"transaction",
    # suppression comments (extract/suppressions.py): an unused one must still be reported
    b"dbowner:",
)

_PLAIN = tuple(k for k in PYTHON_KEYWORDS if not k.endswith(b"("))
_CALLS = tuple((k[:-1], re.compile(re.escape(k[:-1]) + rb"(?:\s|\\|#[^\n]*)*\("))
               for k in PYTHON_KEYWORDS if k.endswith(b"("))


def may_have_facts(path: str, data: bytes) -> bool:
    """False only for a Python file that cannot yield any fact; every other file is True."""
    if not path.endswith(".py"):
        return True
    for k in _PLAIN:
        if k in data:
            return True
    for name, call in _CALLS:
        if name in data and call.search(data):
            return True
    return False
