"""Suppression comments, read from one file's text: facts of the file, like its statements.

Python: ``# dbowner: ignore[rule, ...] reason`` in a comment (found with ``tokenize``; ``ast``
drops comments). It covers every line of the Python statement it is part of (for a ``with``/
``def``/``if`` only the header), so it can follow the closing bracket of a multi-line call.
SQL: ``-- dbowner: ignore[...] reason`` covers its own line. YAML (the manifest): ``# dbowner:
ignore[...]`` on a line covers that line. ``ignore-file[...]`` covers the whole file and must sit
in the file's header: before the first line of code (comments, blank lines and a module docstring
may come first). Rules are names or codes; whether they exist is decided later, not here.
"""
from __future__ import annotations

import io
import re
import tokenize

from ..model import Diagnostic, Suppression

_QUICK = re.compile(r"dbowner\s*:", re.I)
_PY_DIRECTIVE = re.compile(r"#\s*dbowner\s*:", re.I)
_SQL_DIRECTIVE = re.compile(r"--[ \t]*dbowner[ \t]*:", re.I)
_YAML_DIRECTIVE = re.compile(r"(?:^|(?<=[ \t]))#[ \t]*dbowner[ \t]*:", re.I | re.M)
_BODY = re.compile(r"\s*(ignore-file|ignore)\s*\[([^\]]*)\](.*)\Z", re.I | re.S)
_RULE_TOKEN = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
# Where a reason ends: another tool's pragma in the same comment (`# noqa`, `# type: ignore`).
_NEXT_PRAGMA = re.compile(r"\s#\s*(?:[A-Za-z][\w-]*\s*:|noqa\b)")
_REASON_LEAD = " \t:-\u2013\u2014"
_SQL_LEAD = re.compile(r"(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z))*", re.S)

SYNTAX = "`dbowner: ignore[rule, ...] reason` or `dbowner: ignore-file[rule, ...] reason`"


def scan_suppressions(path: str, text: str) -> tuple[list[Suppression], list[Diagnostic]]:
    """Suppression comments of one file (.py, .sql, or .yaml/.yml) and problems with them."""
    if not _QUICK.search(text):
        return [], []
    if path.endswith(".py"):
        found = _python(text)
    elif path.endswith(".sql"):
        found = _line_comments(text, _SQL_DIRECTIVE, _sql_header_end(text))
    else:
        found = _line_comments(text, _YAML_DIRECTIVE, _yaml_header_end(text))
    suppressions, diagnostics = [], []
    for line, start, end, body, in_header in found:
        parsed = _parse(body)
        if isinstance(parsed, str):
            diagnostics.append(Diagnostic(path, line, "bad-suppression", parsed))
            continue
        file_level, rules, reason = parsed
        if file_level and not in_header:
            diagnostics.append(Diagnostic(
                path, line, "bad-suppression",
                "`dbowner: ignore-file[...]` must be in the file's header, before the first line of code; "
                "it is ignored here"))
            continue
        suppressions.append(Suppression(line, rules, reason, file_level,
                                        0 if file_level else start, 0 if file_level else end))
    return suppressions, diagnostics


def _parse(body: str) -> tuple[bool, tuple[str, ...], str] | str:
    """(file_level, rules, reason), or a one-line problem description."""
    m = _BODY.match(body)
    if not m:
        return f"not a suppression: expected {SYNTAX}"
    tokens = [t.strip().lower() for t in m.group(2).split(",")]
    tokens = [t for t in tokens if t]
    if not tokens:
        return f"name at least one rule in the brackets: {SYNTAX}"
    bad = [t for t in tokens if not _RULE_TOKEN.match(t)]
    if bad:
        return f"{bad[0]!r} is not a rule name or code: {SYNTAX}"
    reason = m.group(3)
    cut = _NEXT_PRAGMA.search(reason)
    if cut:
        reason = reason[:cut.start()]
    return m.group(1).lower() == "ignore-file", tuple(dict.fromkeys(tokens)), reason.strip(_REASON_LEAD).strip()


# (line, covered start, covered end, text after "dbowner:", in the file's header)
_Found = tuple[int, int, int, str, bool]


def _python(text: str) -> list[_Found]:
    found: list[_Found] = []
    logical_start = 0           # first line of the statement being read; 0 between statements
    pending: list[tuple[int, str]] = []   # directives inside that statement: (line, body)
    header = True               # no code seen yet (a module docstring does not count)
    docstring_possible = True
    only_strings = True
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            kind = tok.type
            if kind == tokenize.COMMENT:
                for line, body in _py_directives(tok.string, tok.start[0]):
                    if logical_start:
                        pending.append((line, body))
                    else:     # a comment on a line of its own covers that line
                        found.append((line, line, line, body, header))
            elif kind == tokenize.NEWLINE:
                end = tok.start[0]
                found.extend((line, logical_start, end, body, False) for line, body in pending)
                if header and not (docstring_possible and only_strings):
                    header = False
                docstring_possible = False
                logical_start, pending, only_strings = 0, [], True
            elif kind in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
                          tokenize.ENDMARKER):
                continue
            else:
                if not logical_start:
                    logical_start = tok.start[0]
                if kind != tokenize.STRING:
                    only_strings = False
    except (tokenize.TokenError, SyntaxError):
        pass    # unparsable Python is reported by the extractor; keep what was read
    if logical_start:
        found.extend((line, logical_start, line, body, False) for line, body in pending)
    return found


def _py_directives(comment: str, line: int) -> list[tuple[int, str]]:
    """Every `# dbowner:` in one comment (it may follow `# noqa` or another directive)."""
    starts = [m for m in _PY_DIRECTIVE.finditer(comment)]
    out = []
    for i, m in enumerate(starts):
        stop = starts[i + 1].start() if i + 1 < len(starts) else len(comment)
        out.append((line, comment[m.end():stop]))
    return out


def _line_comments(text: str, directive: re.Pattern, header_end: int) -> list[_Found]:
    found = []
    matches = list(directive.finditer(text))
    for i, m in enumerate(matches):
        eol = text.find("\n", m.end())
        stop = len(text) if eol < 0 else eol
        if i + 1 < len(matches) and matches[i + 1].start() < stop:
            stop = matches[i + 1].start()      # a second directive on the same line
        line = text.count("\n", 0, m.start()) + 1
        found.append((line, line, line, text[m.end():stop], m.start() < header_end))
    return found


def _sql_header_end(text: str) -> int:
    m = _SQL_LEAD.match(text)
    return m.end() if m else 0


def _yaml_header_end(text: str) -> int:
    pos = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return pos
        pos += len(line)
    return pos
