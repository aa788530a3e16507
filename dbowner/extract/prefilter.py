"""Cheap byte test run before parsing a Python file: can it hold database access at all?

Most files of a service (handlers, schemas, utilities) never talk to a database. Skipping their
``ast.parse`` is the largest saving on a cold run: ``bytes in bytes`` scans at ~250 MB/s, the
parse and walk at ~3 MB/s.

The test must never drop a file that yields a fact. Every fact the Python extractor produces
starts from a call (``execute``, ``fetchrow``, ``text``, ``RunSQL``, ``tpc_prepare`` ...) or a
transaction block (``atomic``, ``begin``, ``transaction``), so the list below holds those names,
case-sensitively, as Python identifiers are. A name is listed once by its shortest part that
still covers every variant (``fetch`` covers ``fetchrow``, ``fetch_all`` ...).

Extending it (ORM models, sagas, suppressions...): add the bytes that every file carrying your
facts must contain to ``PYTHON_KEYWORDS``. tests/test_prefilter.py runs the extractor on every
fixture file, rule example and test snippet and fails if a file with any non-empty FileFacts
field would be skipped.
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
    # two-phase commit and transaction blocks
    b"tpc_",
    b"atomic",
    b"begin",          # begin, begin_nested
    b"transaction",
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
