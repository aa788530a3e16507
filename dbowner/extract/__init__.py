"""Extraction: one file -> FileFacts. Pure, per file, no rule logic, no manifest knowledge."""
from __future__ import annotations

from ..model import Diagnostic, FileFacts
from .prefilter import may_have_facts

BINARY_PROBE = 8192


def extract_file(path: str, data: bytes, *, dialect: str = "postgres", prefilter: bool = True) -> FileFacts:
    """Facts of one file from its bytes. Never raises: problems become diagnostics.

    With ``prefilter`` (the default) a Python file without any database keyword is not parsed
    (see prefilter.py); its facts are empty, as parsing would have found."""
    if b"\0" in data[:BINARY_PROBE]:
        return FileFacts(path, diagnostics=[Diagnostic(path, 0, "skipped-binary", "binary file skipped")])
    try:
        text = data.decode("utf-8")
        decode_problem = None
    except UnicodeDecodeError as e:
        text = data.decode("utf-8", errors="replace")
        line = data[: e.start].count(b"\n") + 1
        decode_problem = Diagnostic(path, line, "decode", "not valid UTF-8; undecodable bytes replaced")
    if text.startswith("\ufeff"):
        text = text[1:]
    if prefilter and not may_have_facts(path, data):
        return FileFacts(path, diagnostics=[decode_problem] if decode_problem else [])
    try:
        if path.endswith(".sql"):
            from .sql import extract_sql_file
            facts = extract_sql_file(path, text, dialect=dialect)
        else:
            from .python import extract_python_file
            facts = extract_python_file(path, text, dialect=dialect)
    except Exception as e:  # a bug of ours must not stop the run: report it on the file
        facts = FileFacts(path, diagnostics=[Diagnostic(path, 0, "internal-error",
                                                        f"dbowner failed on this file: {type(e).__name__}: {e}")])
    if decode_problem:
        facts.diagnostics.insert(0, decode_problem)
    return facts
