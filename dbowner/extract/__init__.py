"""Extraction: one file -> FileFacts. Pure, per file, no rule logic, no manifest knowledge."""
from __future__ import annotations

from ..filekinds import config_kind
from ..model import Diagnostic, FileFacts
from .prefilter import may_have_facts
from .suppressions import scan_suppressions

BINARY_PROBE = 8192


def extract_file(path: str, data: bytes, *, dialect: str = "postgres", prefilter: bool = True) -> FileFacts:
    """Facts of one file from its bytes. Never raises: problems become diagnostics.

    With ``prefilter`` (the default) a Python file without any SQL call name (prefilter.py) skips
    the SQL walk, which would find nothing; its ORM use, structure (functions, calls, imports: what
    saga steps resolve against) and connection settings are still read."""
    if b"\0" in data[:BINARY_PROBE]:
        return _binary(path)
    text, decode_problem = _decode(path, data)
    try:
        if config_kind(path):
            from .config import extract_config_file
            facts = extract_config_file(path, text)
        elif path.endswith(".sql"):
            from .sql import extract_sql_file
            facts = extract_sql_file(path, text, dialect=dialect)
        else:
            from .python import extract_python_file
            from .settings import extract_python_connections
            database = not prefilter or may_have_facts(path, data)
            facts = extract_python_file(path, text, dialect=dialect, database=database)
            facts.connections.extend(extract_python_connections(path, text))
    except Exception as e:  # a bug of ours must not stop the run: report it on the file
        facts = FileFacts(path, diagnostics=[Diagnostic(path, 0, "internal-error",
                                                        f"dbowner failed on this file: {type(e).__name__}: {e}")])
    if decode_problem:
        facts.diagnostics.insert(0, decode_problem)
    facts.suppressions, problems = scan_suppressions(path, text)
    if problems:
        facts.diagnostics = sorted(facts.diagnostics + problems, key=lambda d: d.line)
    return facts


def facts_without_parsing(path: str, data: bytes) -> FileFacts | None:
    """The facts of a file that needs no parse (a binary file), or None when it must be parsed.
    Every Python file is parsed: any function may be a saga step that another file calls."""
    if b"\0" in data[:BINARY_PROBE]:
        return _binary(path)
    return None


def _binary(path: str) -> FileFacts:
    return FileFacts(path, diagnostics=[Diagnostic(path, 0, "skipped-binary", "binary file skipped")])


def _decode(path: str, data: bytes) -> tuple[str, Diagnostic | None]:
    try:
        text = data.decode("utf-8")
        problem = None
    except UnicodeDecodeError as e:
        text = data.decode("utf-8", errors="replace")
        line = data[: e.start].count(b"\n") + 1
        problem = Diagnostic(path, line, "decode", "not valid UTF-8; undecodable bytes replaced")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, problem
