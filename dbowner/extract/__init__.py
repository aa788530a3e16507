"""Extraction: one file -> FileFacts. Pure, per file, no rule logic, no manifest knowledge."""
from __future__ import annotations

from ..model import Diagnostic, FileFacts
from .prefilter import may_have_facts

BINARY_PROBE = 8192


def extract_file(path: str, data: bytes, *, dialect: str = "postgres", prefilter: bool = True) -> FileFacts:
    """Facts of one file from its bytes. Never raises: problems become diagnostics.

    With ``prefilter`` (the default) a Python file without any database keyword is not parsed
    (see prefilter.py); its facts are empty, as parsing would have found."""
    if prefilter:
        quick = facts_without_parsing(path, data)
        if quick is not None:
            return quick
    if b"\0" in data[:BINARY_PROBE]:
        return _binary(path)
    text, decode_problem = _decode(path, data)
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


def facts_without_parsing(path: str, data: bytes) -> FileFacts | None:
    """The facts of a file that needs no parse (binary, or Python the pre-filter rules out), or
    None when the file must be parsed. Lets a caller skip the parse without a second filter pass."""
    if b"\0" in data[:BINARY_PROBE]:
        return _binary(path)
    if may_have_facts(path, data):
        return None
    _, decode_problem = _decode(path, data)
    return FileFacts(path, diagnostics=[decode_problem] if decode_problem else [])


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
