"""SQL text -> statement facts (tables with read/write/ddl/reference roles, 2PC, transactions).

The text is tokenized once and split on semicolon tokens; each chunk is parsed on its own with
``ErrorLevel.RAISE`` so that one broken statement becomes one recorded error and the rest still
parse. Tables are found with a single ``find_all(exp.Table)`` pass and a check of each table's
parent node (``traverse_scope`` misses DML targets and DDL).
"""
from __future__ import annotations

import logging
import re
import threading
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from typing import Optional

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError
from sqlglot.tokens import Token, TokenType

from ..model import (
    DDL, READ, REFERENCE, WRITE, Diagnostic, FileFacts, Statement, TableAccess, TableName,
    Transaction, TwoPhaseUse,
)
from .sql_detail import statement_detail

__all__ = ["SqlFacts", "parse_sql", "extract_sql_file", "assign_transactions"]

_LOG = logging.getLogger("sqlglot")
_MAX_TEXT = 200
_PARSE_PREFIX = "cannot parse SQL statement: "

# ----------------------------------------------------------------------------- patterns
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TOKEN_REPR = re.compile(r"<Token token_type: [\w.]+, text: (.*?), line: \d+.*?>", re.S)
_CLASS_REPR = re.compile(r"<class '(?:[\w]+\.)*(\w+)'>")
_PLACEHOLDER_NAME = re.compile(r"__p\d+__")
_PY_PLACEHOLDER = re.compile(r"%s|%\(\w+\)s|\$\d")
_DRIVER_PLACEHOLDER = re.compile(r"(?<!%)(?:%s|%\(\w+\)s)")
# pg_dump data blocks: ``COPY t (..) FROM stdin;`` followed by raw rows up to a ``\.`` line.
_COPY_STDIN = re.compile(r"^[ \t]*COPY\b[^;]*?\bFROM\s+STDIN\b[^;]*;[^\n]*\n", re.I | re.M)
_STDIN = re.compile(r"stdin", re.I)
_COPY_END = re.compile(r"^\\\.[ \t]*\r?$", re.M)
_NOT_NEWLINE = re.compile(r"[^\n]")
_PSQL_META_ARGS = re.compile(r"^([ \t]*\\(?!copy\b)[A-Za-z!?]\w*)([^\n]*)", re.M | re.I)
_CONVERT_CALL = re.compile(r"(?<![\w.\"$])convert(?=\s*\()", re.I)
_PSQL_STRING_VAR = re.compile(r"(?<![:\w']):(?='\w+')")   # the colon of psql's :'name' interpolation
_NEWLINE = re.compile(r"\n")
_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_NAME = r'(?:"[^"]*"|[A-Za-z_][\w$]*)'
_PREPARE_AS = re.compile(rf"PREPARE\s+{_NAME}\s*(?:\([^)]*\)\s*)?AS\b", re.I)
_DECLARE_FOR = re.compile(
    rf"DECLARE\s+{_NAME}\s+(?:(?:BINARY|ASENSITIVE|INSENSITIVE|NO|SCROLL)\s+)*CURSOR\s+"
    r"(?:(?:WITH|WITHOUT)\s+HOLD\s+)?FOR\b", re.I)

# First words of utility statements: kind "other", never parsed, never an error.
_UTILITY = frozenset("""
    VACUUM ANALYZE ANALYSE SET RESET SHOW LISTEN UNLISTEN NOTIFY GRANT REVOKE COMMENT DO CHECKPOINT
    CLUSTER REINDEX DISCARD LOCK LOAD SAVEPOINT RELEASE EXECUTE EXEC DEALLOCATE FETCH MOVE CLOSE
    REFRESH SECURITY EXPLAIN CALL USE PRAGMA DESCRIBE DESC IMPORT REASSIGN ATTACH DETACH DELIMITER
    """.split())
_BEGIN_NEXT = frozenset({"WORK", "TRANSACTION", "TRAN", "ISOLATION", "READ", "DEFERRABLE", "NOT"})
_XA_VERBS = frozenset({"START", "BEGIN", "END", "PREPARE", "COMMIT", "ROLLBACK", "RECOVER"})
_DDL_WORDS = {"CREATE": "create", "ALTER": "alter", "DROP": "drop"}
_TABLE_SLOT_WORDS = frozenset({"FROM", "JOIN", "INTO", "UPDATE", "TABLE", "ON", "USING", "ONLY", "EXISTS",
                               "TRUNCATE", "COPY", "VIEW", "LATERAL"})
# CREATE/ALTER/DROP <kind> whose statement never names a table that dbowner attributes (function
# bodies are not analysed): when sqlglot cannot parse one, it is recorded without tables, not an error.
_NON_TABLE_OBJECTS = frozenset("""
    OPERATOR AGGREGATE FUNCTION PROCEDURE TYPE DOMAIN CAST COLLATION CONVERSION EXTENSION SCHEMA
    SEQUENCE ROLE USER GROUP LANGUAGE TABLESPACE DATABASE SERVER TEXT PUBLICATION SUBSCRIPTION
    ACCESS TRANSFORM
    """.split())

_DML_ACTION: dict[type, str] = {
    exp.Insert: "insert", exp.Update: "update", exp.Delete: "delete", exp.Merge: "merge",
}
_ROOT_KIND: dict[type, str] = {
    exp.Insert: "insert", exp.Update: "update", exp.Delete: "delete", exp.Merge: "merge",
    exp.Create: "create", exp.Alter: "alter", exp.Drop: "drop", exp.TruncateTable: "truncate",
    exp.Copy: "copy", exp.Transaction: "begin", exp.Commit: "commit", exp.Rollback: "rollback",
}
_TABLE_LIKE = frozenset({"TABLE", "VIEW"})          # kinds whose object is a table for ownership
_CREATE_WITH_TABLES = frozenset({"TABLE", "VIEW", "INDEX", "TRIGGER"})
_DROP_WITH_TABLES = frozenset({"TABLE", "VIEW", "TRIGGER"})
_SKIP_PARENTS = (exp.Lock, exp.Opclass)             # FOR UPDATE OF <alias>, index opclass names

_DIALECTS: dict[str, Dialect] = {}
_LOCAL = threading.local()    # per-thread reusable tokenizers and parsers, keyed by id(dialect)


@dataclass
class SqlFacts:
    """What one SQL text contains; lines are absolute (``line_offset`` already added)."""

    statements: list[Statement] = field(default_factory=list)
    two_phase: list[TwoPhaseUse] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)   # (line, one-line message)


# ----------------------------------------------------------------------------- public API
def parse_sql(sql: str, *, dialect: str = "postgres", line_offset: int = 0,
              origin: str = "sql", function: str = "") -> SqlFacts:
    """Split ``sql`` into statements and extract their table accesses; never raises on bad SQL.

    Raises ``ValueError`` only for an unknown dialect name.
    """
    d = _dialect(dialect)
    run = _Run(sql, d, line_offset, origin, function)
    was_disabled = _LOG.disabled
    _LOG.disabled = True   # sqlglot warns about unsupported syntax falling back to Command
    try:
        run.go()
    finally:
        _LOG.disabled = was_disabled
    return run.facts


def extract_sql_file(path: str, text: str, *, dialect: str = "postgres") -> FileFacts:
    """Facts of a ``.sql`` file: statements, BEGIN..COMMIT transactions, 2PC, parse errors."""
    facts = parse_sql(text, dialect=dialect, origin="sql")
    statements, transactions = assign_transactions(facts.statements, 1)
    diagnostics = [Diagnostic(path, line, "parse-error", msg) for line, msg in facts.errors]
    return FileFacts(path=path, statements=statements, transactions=transactions,
                     two_phase=list(facts.two_phase), diagnostics=diagnostics)


def assign_transactions(statements: list[Statement],
                        first_id: int) -> tuple[list[Statement], list[Transaction]]:
    """Give statements from BEGIN to COMMIT/END/ROLLBACK (inclusive) ``transaction=<id>``.

    Ids count up from ``first_id`` in order. A BEGIN inside an open block is ignored (PostgreSQL
    only warns), a COMMIT outside one is ignored, ``PREPARE TRANSACTION`` / ``XA END`` close the
    block, and a block still open at the end runs to the last statement. Statements that already
    have a transaction id keep it.
    """
    out: list[Statement] = []
    transactions: list[Transaction] = []
    next_id = first_id
    current = 0
    start_line = 0
    opener = ""
    last_end = 0
    for st in statements:
        closer = ""
        if st.kind == "begin" or (st.kind == "two_phase" and _is_xa(st.text, "START", "BEGIN")):
            if not current:
                current, next_id = next_id, next_id + 1
                start_line = st.line
                opener = "XA START" if st.kind == "two_phase" else "BEGIN"
        elif current and st.kind in ("commit", "rollback"):
            closer = st.kind.upper()
        elif current and st.kind == "two_phase":
            if st.text[:7].upper() == "PREPARE":
                closer = "PREPARE TRANSACTION"
            elif _is_xa(st.text, "END", "PREPARE", "COMMIT", "ROLLBACK"):
                closer = "XA " + st.text.split()[1].upper()
        if current:
            out.append(st if st.transaction else replace(st, transaction=current))
            last_end = max(last_end, st.end_line)
        else:
            out.append(st)
        if closer:
            transactions.append(Transaction(current, start_line, max(st.end_line, start_line),
                                            f"{opener} ... {closer}"))
            current = 0
    if current:
        transactions.append(Transaction(current, start_line, max(last_end, start_line),
                                        f"{opener} ... (no COMMIT)"))
    return out, transactions


# ----------------------------------------------------------------------------- internals
def _dialect(name: str) -> Dialect:
    d = _DIALECTS.get(name)
    if d is None:
        d = _DIALECTS[name] = Dialect.get_or_raise(name)   # ValueError for an unknown name
    return d


def _cache(kind: str) -> dict:
    cache = getattr(_LOCAL, kind, None)
    if cache is None:
        cache = {}
        setattr(_LOCAL, kind, cache)
    return cache


def _tokenizer(d: Dialect):
    """A reusable tokenizer for ``d`` (``tokenize`` resets it; building one costs ~5 µs)."""
    tokenizers = _cache("tokenizers")
    tok = tokenizers.get(id(d))
    if tok is None:
        tok = tokenizers[id(d)] = d.tokenizer_class(dialect=d)
    return tok


def _is_xa(text: str, *verbs: str) -> bool:
    words = text.split(None, 2)
    return len(words) >= 2 and words[0].upper() == "XA" and words[1].upper() in verbs


def _fold(text: str) -> str:
    text = " ".join(text[: _MAX_TEXT * 20].split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _clean_message(msg: str) -> str:
    msg = _ANSI.sub("", msg)
    msg = _TOKEN_REPR.sub(lambda m: m.group(1), msg)
    msg = _CLASS_REPR.sub(lambda m: m.group(1), msg)
    msg = " ".join(msg.split())
    return msg if len(msg) <= 300 else msg[:299] + "…"


def _ident(node: Optional[exp.Expression]) -> str:
    """Case-normalised identifier: unquoted -> lower, quoted and ``__pN__`` holes as written."""
    if node is None:
        return ""
    if isinstance(node, exp.Identifier):
        name = node.this
        if not isinstance(name, str):
            return ""
        if node.quoted or _PLACEHOLDER_NAME.search(name):
            return name
        return name.lower()
    return node.name.lower() if isinstance(node.name, str) else ""


def _blank_copy_data(sql: str) -> str:
    """Blank the raw rows after ``COPY ... FROM stdin;`` (up to ``\\.``), keeping line breaks."""
    if _STDIN.search(sql) is None:
        return sql
    parts: list[str] = []
    pos = 0
    for m in _COPY_STDIN.finditer(sql):
        if m.start() < pos:
            continue
        parts.append(sql[pos:m.end()])
        end = _COPY_END.search(sql, m.end())
        stop = end.end() if end else len(sql)
        parts.append(_NOT_NEWLINE.sub(" ", sql[m.end():stop]))
        pos = stop
    if not parts:
        return sql
    parts.append(sql[pos:])
    return "".join(parts)


def _words(tokens: list[Token], n: int) -> list[str]:
    return [t.text.upper() for t in tokens[:n]]


def _name_at(tokens: list[Token], i: int) -> tuple[Optional[TableName], Optional[Token], int]:
    """Read ``a``, ``a.b`` or ``a.b.c`` at ``tokens[i]``: (name, its first token, index after)."""
    parts: list[str] = []
    first: Optional[Token] = None
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        if tok.token_type == TokenType.IDENTIFIER:
            parts.append(tok.text)
        elif tok.token_type not in (TokenType.STRING, TokenType.NUMBER) and tok.text.isidentifier():
            parts.append(tok.text if _PLACEHOLDER_NAME.search(tok.text) else tok.text.lower())
        else:
            break
        first = first or tok
        i += 1
        if i < n and tokens[i].token_type == TokenType.DOT:
            i += 1
            continue
        break
    if not parts or len(parts) > 3:
        return None, None, i
    parts = [""] * (3 - len(parts)) + parts
    return TableName(parts[2], parts[1], parts[0]), first, i


class _Run:
    """State of one ``parse_sql`` call.

    Lines are computed from character offsets, never from ``Token.line``: sqlglot's tokenizer
    miscounts lines after a ``$`` that is not a dollar quote (``$1``), see ``_line``. Tokens of a
    re-tokenized fragment carry offsets relative to the fragment; ``base`` is where the fragment
    starts in ``self.text``.
    """

    def __init__(self, sql: str, d: Dialect, line_offset: int, origin: str, function: str):
        self.text = sql
        self.d = d
        self.line_offset = line_offset
        self.origin = origin
        self.function = function
        self.facts = SqlFacts()
        self._newlines: Optional[list[int]] = None
        self.raw_text = sql

    def _line(self, pos: int) -> int:
        """1-based line of character offset ``pos`` in ``self.text`` (without line_offset)."""
        if self._newlines is None:
            self._newlines = [m.start() for m in _NEWLINE.finditer(self.text)]
        return bisect_right(self._newlines, pos - 1) + 1

    # ------------------------------------------------------------------ driver
    def go(self) -> None:
        if not self.text or self.text.isspace():
            return
        self.text = _blank_copy_data(self.text)
        if "<<=" in self.text or ">>=" in self.text:   # inet containment operators sqlglot cannot read
            self.text = self.text.replace("<<=", "<< ").replace(">>=", ">> ")
        if self.origin == "sql" and "\\" in self.text:
            # psql meta-command arguments are not SQL: \echo Don't ... must not open a string
            self.text = _PSQL_META_ARGS.sub(lambda m: m.group(1) + _NOT_NEWLINE.sub(" ", m.group(2)), self.text)
        if self.origin == "sql" and ":'" in self.text:
            self.text = _PSQL_STRING_VAR.sub(" ", self.text)   # psql :'var' -> a string literal
        self.raw_text = self.text
        if self.origin == "python" and "%" in self.text and self.d is not _dialect("postgres"):
            # DB-API %s / %(name)s placeholders are the modulo operator to other dialects: make them
            # "?" (same length); the text with them is kept for the postgres retry below
            self.text = _DRIVER_PLACEHOLDER.sub(lambda m: "?" + " " * (len(m.group()) - 1), self.text)
        tokens, tok_error = self._tokenize(self.text)
        chunks = self._split(tokens, self.text)
        if tok_error is not None and chunks and chunks[-1][2]:
            chunks.pop()   # the statement cut by the bad token is part of "the rest of the text"
        for toks, is_meta, _ in chunks:
            try:
                self._chunk(toks, is_meta)
            except Exception as e:  # noqa: BLE001 - sqlglotc can raise anything on odd input
                self._error(self._line(toks[0].start), f"{_PARSE_PREFIX}internal error: "
                            f"{type(e).__name__}: {_clean_message(str(e))}")
        if tok_error is not None:
            self.facts.errors.append(tok_error)

    def _tokenize(self, text: str) -> tuple[list[Token], Optional[tuple[int, str]]]:
        tokenizer = _tokenizer(self.d)
        try:
            return tokenizer.tokenize(text), None
        except Exception:  # noqa: BLE001 - TokenError, or anything from the compiled tokenizer
            pass
        try:
            partial = list(tokenizer.tokens)
        except Exception:  # noqa: BLE001
            partial = []
        start: Optional[int] = None
        try:   # where the bad token starts; sqlglot keeps it in the tokenizer core (best effort)
            start = int(getattr(tokenizer, "_core", tokenizer)._start)
        except Exception:  # noqa: BLE001
            start = None
        if start is None or not 0 <= start < len(text):
            start = min(partial[-1].end + 1, len(text)) if partial else 0
        partial = [t for t in partial if t.end < start]
        message = _PARSE_PREFIX + _describe_unterminated(text, start)
        return partial, (self._line(start) + self.line_offset, message)

    @staticmethod
    def _split(tokens: list[Token], text: str) -> list[tuple[list[Token], bool, bool]]:
        """Chunks of (tokens, is_psql_meta_command, open = not terminated by ``;``)."""
        chunks: list[tuple[list[Token], bool, bool]] = []
        cur: list[Token] = []
        meta_end = -1          # >= 0 while inside a psql meta-command: offset of its newline
        semicolon, backslash = TokenType.SEMICOLON, TokenType.BACKSLASH
        for tok in tokens:
            if meta_end >= 0:
                if tok.end < meta_end:
                    cur.append(tok)
                    continue
                chunks.append((cur, True, False))
                cur, meta_end = [], -1
            tt = tok.token_type
            if tt == semicolon:
                if cur:
                    chunks.append((cur, False, False))
                    cur = []
            elif tt == backslash:   # psql meta-command (\connect, \copy ...): runs to end of line
                if cur:
                    chunks.append((cur, False, False))
                nl = text.find("\n", tok.end)
                cur, meta_end = [tok], (nl if nl >= 0 else len(text))
            else:
                cur.append(tok)
        if cur:
            chunks.append((cur, meta_end >= 0, meta_end < 0))
        return chunks

    # ------------------------------------------------------------------ one chunk
    def _chunk(self, toks: list[Token], is_meta: bool) -> None:
        first, last = toks[0], toks[-1]
        start, end = first.start, max(last.end, first.end)
        line = self._line(start)
        end_line = max(line, self._line(end))
        stmt_text = self.text[start:end + 1]
        # Head words from the text: sqlglot turns the rest of PREPARE, DECLARE, DO, SHOW ... into
        # one STRING token.
        w = [x.upper() for x in _WORD.findall(stmt_text, 0, 120)[:4]]
        w0 = w[0] if w else ""
        w1 = w[1] if len(w) > 1 else ""

        if is_meta:
            if w0 == "COPY" and len(toks) > 2:   # psql \copy: a client-side COPY
                self._parse(toks[1:], self.text, 0, line, end_line, stmt_text, quiet=True)
            else:
                self._add(line, end_line, "other", stmt_text)
            return

        # Two-phase commit (sqlglot cannot parse these).
        what = ""
        if w0 == "PREPARE" and w1 == "TRANSACTION":
            what = "PREPARE TRANSACTION"
        elif w0 in ("COMMIT", "ROLLBACK") and w1 == "PREPARED":
            what = f"{w0} PREPARED"
        elif w0 == "XA" and w1 in _XA_VERBS:
            what = f"XA {w1}"
        if what:
            self._add(line, end_line, "two_phase", stmt_text)
            self.facts.two_phase.append(
                TwoPhaseUse(line + self.line_offset, end_line + self.line_offset, what))
            return

        # Transaction control and utility statements.
        kind = ""
        if w0 == "BEGIN" and (len(toks) == 1 or w1 in _BEGIN_NEXT):
            kind = "begin"
        elif w0 == "START" and w1 == "TRANSACTION":
            kind = "begin"
        elif w0 == "COMMIT" or (w0 == "END" and (len(w) == 1 or w1 in ("WORK", "TRANSACTION"))):
            kind = "commit"
        elif w0 in ("ROLLBACK", "ABORT"):
            kind = "other" if "TO" in w[1:3] else "rollback"    # ROLLBACK [WORK] TO SAVEPOINT
        elif w0 == "END" or w0 == "XA" or w0 in _UTILITY:
            kind = "other"
        if kind:
            self._add(line, end_line, kind, stmt_text)
            return

        # Statements wrapping another: PREPARE p [(types)] AS <stmt>, DECLARE c CURSOR FOR <query>,
        # MySQL/SQLite REPLACE INTO (= INSERT; their tokenizers make REPLACE a raw command).
        if w0 in ("PREPARE", "DECLARE"):
            m = (_PREPARE_AS if w0 == "PREPARE" else _DECLARE_FOR).match(stmt_text)
            if m is None:
                self._add(line, end_line, "other", stmt_text)
            else:
                self._parse_fragment(stmt_text[m.end():], start + m.end(), line, end_line,
                                     stmt_text)
            return
        if w0 == "REPLACE" and w1 == "INTO" and stmt_text[:7].upper() == "REPLACE":
            before = len(self.facts.statements)
            self._parse_fragment("INSERT " + stmt_text[7:], start, line, end_line, stmt_text)
            if len(self.facts.statements) > before and self.facts.statements[-1].detail:
                last = self.facts.statements[-1]   # REPLACE INTO overwrites a conflicting row
                self.facts.statements[-1] = replace(last, detail=replace(last.detail, on_conflict="update"))
            return

        self._parse(toks, self.text, 0, line, end_line, stmt_text)

    def _parse_fragment(self, frag: str, base: int, line: int, end_line: int,
                        stmt_text: str) -> None:
        """Tokenize and parse a piece of a statement that starts at offset ``base``."""
        try:
            toks = _tokenizer(self.d).tokenize(frag)
        except Exception:  # noqa: BLE001
            toks = []
        if not toks:
            self._add(line, end_line, "other", stmt_text)
            return
        self._parse(toks, frag, base, line, end_line, stmt_text)

    def _parse(self, toks: list[Token], text: str, base: int, line: int, end_line: int,
               stmt_text: str, quiet: bool = False) -> None:
        """Parse ``toks`` (of ``text``); add the statement, or an error (or "other" if quiet)."""
        tree, err = self._parse_tokens(toks, text, self.d)
        if err is not None and self.d is not _dialect("postgres"):
            # psycopg-style placeholders only parse in postgres; retry that chunk with it.
            c_start = toks[0].start
            chunk_text = (self.raw_text if text is self.text else text)[c_start:toks[-1].end + 1]
            if _PY_PLACEHOLDER.search(chunk_text):
                pg = _dialect("postgres")
                try:
                    pg_toks = _tokenizer(pg).tokenize(chunk_text)
                except Exception:  # noqa: BLE001
                    pg_toks = []
                if pg_toks:
                    tree2, err2 = self._parse_tokens(pg_toks, chunk_text, pg)
                    if err2 is None:
                        tree, err = tree2, None
                        toks, text, base = pg_toks, chunk_text, base + c_start
        if err is not None and self.d is _dialect("postgres"):
            # PostgreSQL's convert(bytes, src, dest) (or a user function of that name) is not the
            # CONVERT cast sqlglot reads it as: rename the call, same length, and parse again
            c_start = toks[0].start
            chunk_text = text[c_start:toks[-1].end + 1]
            if _CONVERT_CALL.search(chunk_text):
                self._parse_fragment(_CONVERT_CALL.sub("_onvert", chunk_text), base + c_start, line,
                                     end_line, stmt_text)
                return
        if err is not None and not quiet:
            # `WHERE docstatus = 1 {conditions}`: a hole standing for a whole clause cannot parse as
            # a name; blank such holes (never one where a table name goes) and try once more
            c_start = toks[0].start
            chunk_text = text[c_start:toks[-1].end + 1]
            if "__p" in chunk_text:
                blanked = _blank_clause_holes(chunk_text)
                if blanked != chunk_text and self._parse_clean(blanked, base + c_start, line, end_line,
                                                               stmt_text):
                    return
        if err is not None:
            accesses = self._token_ddl(toks, base)
            if accesses is not None:   # DDL sqlglot cannot parse, e.g. CREATE INDEX .. ON ONLY t
                self._add(line, end_line, _DDL_WORDS[toks[0].text.upper()], stmt_text, accesses)
            elif _non_table_ddl(toks):   # e.g. CREATE OPERATOR = (... commutator = =): no table in it
                self._add(line, end_line, _DDL_WORDS[toks[0].text.upper()], stmt_text)
            elif quiet:
                self._add(line, end_line, "other", stmt_text)
            else:
                self._error(self._line(base + err[0]) if err[0] >= 0 else line, err[1])
            return
        if tree is None:
            return
        kind, accesses = self._analyse(tree, toks, text, base, line)
        self._add(line, end_line, kind, stmt_text, accesses, statement_detail(tree))

    def _parse_clean(self, frag: str, base: int, line: int, end_line: int, stmt_text: str) -> bool:
        """Add the statement ``frag`` (at offset ``base``) if it parses; never records an error."""
        try:
            toks = _tokenizer(self.d).tokenize(frag)
        except Exception:  # noqa: BLE001
            return False
        tree, err = self._parse_tokens(toks, frag, self.d) if toks else (None, None)
        if err is not None or tree is None:
            return False
        kind, accesses = self._analyse(tree, toks, frag, base, line)
        self._add(line, end_line, kind, stmt_text, accesses)
        return True

    def _parse_tokens(self, toks: list[Token], text: str,
                      d: Dialect) -> tuple[Optional[exp.Expression], Optional[tuple[int, str]]]:
        """(tree, None) or (None, (offset of the bad token in ``text`` or -1, message))."""
        parsers = _cache("parsers")
        parser = parsers.get(id(d))
        try:
            if parser is None:
                parser = parsers[id(d)] = d.parser(error_level=ErrorLevel.RAISE)
            trees = parser.parse(toks, text)
        except ParseError as e:
            if e.errors and all(_is_call_signature_error(x.get("description") or "") for x in e.errors):
                # Only a function call's signature is off (a user-defined overload such as
                # sum(amount, currency)): the statement's structure parsed, so take it leniently.
                lenient = _cache("lenient_parsers")
                if id(d) not in lenient:
                    lenient[id(d)] = d.parser(error_level=ErrorLevel.IGNORE)
                try:
                    trees = lenient[id(d)].parse(toks, text)
                except Exception:  # noqa: BLE001
                    lenient.pop(id(d), None)
                    trees = []
                tree = next((t for t in trees if t is not None), None)
                if tree is not None:
                    return tree, None
            info = e.errors[0] if e.errors else {}
            desc = info.get("description") or str(e).split("\n", 1)[0]
            # The error's line/col come from the (possibly miscounted) token: map back to offset.
            pos = -1
            e_line, e_col = info.get("line"), info.get("col")
            for t in toks:
                if t.line == e_line and t.col == e_col:
                    pos = t.end
                    break
            return None, (pos, _PARSE_PREFIX + _clean_message(str(desc)))
        except Exception as e:  # noqa: BLE001 - e.g. TypeError from sqlglotc on odd input
            parsers.pop(id(d), None)   # do not reuse a parser left in an unknown state
            return None, (-1, f"{_PARSE_PREFIX}{type(e).__name__}: {_clean_message(str(e))}")
        for tree in trees:
            if tree is not None:
                return tree, None
        return None, None

    def _token_ddl(self, toks: list[Token], base: int) -> Optional[list[TableAccess]]:
        """Token-level facts of ``ALTER TABLE|VIEW [IF EXISTS] [ONLY] t ...`` (+ REFERENCES x),
        ``CREATE [UNIQUE] INDEX ... ON [ONLY] t`` and ``CREATE [OR REPLACE] TRIGGER ... ON t``."""
        upper = [t.text.upper() for t in toks[:64]]
        n = len(upper)
        i = 1
        if upper[0] == "ALTER":
            if i < n and upper[i] in ("MATERIALIZED", "FOREIGN"):
                i += 1
            if not (i < n and upper[i] in _TABLE_LIKE):
                return None
            i += 1
            if upper[i:i + 2] == ["IF", "EXISTS"]:
                i += 2
            if i < n and upper[i] == "ONLY":
                i += 1
            if i < n and upper[i] == "ALL":
                return None
        elif upper[0] == "CREATE":
            while i < n and upper[i] in ("UNIQUE", "OR", "REPLACE", "CONSTRAINT"):
                i += 1
            if not (i < n and upper[i] in ("INDEX", "TRIGGER")) or "ON" not in upper:
                return None
            i = upper.index("ON") + 1
            if i < n and upper[i] == "ONLY":
                i += 1
        else:
            return None
        target, t_tok, _ = _name_at(toks, i)
        if target is None or t_tok is None:
            return None
        found = [(base + t_tok.start, TableAccess(target, DDL, "alter", 0))]
        for j, tok in enumerate(toks):
            if tok.token_type == TokenType.REFERENCES:
                ref, r_tok, _ = _name_at(toks, j + 1)
                if ref is not None and r_tok is not None:
                    found.append((base + r_tok.start, TableAccess(ref, REFERENCE, "references", 0)))
        return self._finish(found)

    # ------------------------------------------------------------------ tree -> accesses
    def _analyse(self, tree: exp.Expression, toks: list[Token], text: str, base: int,
                 line: int) -> tuple[str, list[TableAccess]]:
        if isinstance(tree, exp.Query):
            kind = "select"
        else:
            kind = _ROOT_KIND.get(type(tree), "")
        if not kind:
            if isinstance(tree, exp.Command):
                return self._command(toks, text, base, line)
            return "other", []     # SET, GRANT, COMMENT, garbage roots (LISTEN x -> Alias) ...
        if kind == "rollback" and tree.args.get("savepoint") is not None:
            return "other", []
        if kind in ("begin", "commit", "rollback"):
            return kind, []
        obj_kind = ""
        if kind in ("create", "alter", "drop"):
            obj_kind = str(tree.args.get("kind") or "").upper()
        if kind == "create" and obj_kind not in _CREATE_WITH_TABLES:
            return kind, []        # SEQUENCE, FUNCTION, TYPE, SCHEMA, EXTENSION ...
        if kind == "alter" and obj_kind not in _TABLE_LIKE:
            return kind, []
        if kind == "drop" and obj_kind not in _DROP_WITH_TABLES:
            return kind, []
        temp = False
        if kind == "create":
            props = tree.args.get("properties")
            temp = props is not None and any(
                isinstance(p, exp.TemporaryProperty) for p in props.expressions)
        found: list[tuple[int, TableAccess]] = []
        fallback_pos = toks[0].start + base
        for t in tree.find_all(exp.Table):
            ident = t.this
            if not isinstance(ident, exp.Identifier):
                continue   # table functions, ROWS FROM, placeholders (FROM %s), $1
            name = _ident(ident)
            if not name:
                continue
            role_action = _role(t, tree, kind, obj_kind, temp)
            if role_action is None:
                continue
            if role_action[1] == "rename" and not _renames_table(toks):
                continue   # ALTER TABLE t RENAME a TO b renames column a; sqlglot reads a table "a"
            schema = _ident(t.args.get("db"))
            catalog = _ident(t.args.get("catalog"))
            if not schema and not catalog and role_action[0] != REFERENCE and _is_cte_ref(t, name):
                continue
            if not schema and isinstance(t.parent, exp.AlterRename):
                this = tree.this   # ALTER TABLE s.a RENAME TO b: b stays in schema s
                if isinstance(this, exp.Table):
                    schema, catalog = _ident(this.args.get("db")), _ident(this.args.get("catalog"))
            pos = ident.meta.get("start")
            found.append((base + pos if isinstance(pos, int) else fallback_pos,
                          TableAccess(TableName(name, schema, catalog), role_action[0],
                                      role_action[1], 0)))
        return kind, self._finish(found)

    def _command(self, toks: list[Token], text: str, base: int,
                 line: int) -> tuple[str, list[TableAccess]]:
        """Statements sqlglot keeps as raw text: recover what matters for ownership."""
        w0 = toks[0].text.upper()
        kind = _DDL_WORDS.get(w0, "other")
        if w0 == "CREATE" and len(toks) > 3 and "MATERIALIZED" in _words(toks, 4):
            # CREATE MATERIALIZED VIEW v AS ... WITH [NO] DATA (pg_dump): drop the tail, reparse
            tail = _words(toks[-3:], 3)
            cut = 3 if tail == ["WITH", "NO", "DATA"] else 2 if tail[1:] == ["WITH", "DATA"] else 0
            if cut:
                tree, err = self._parse_tokens(toks[:-cut], text, self.d)
                if err is None and isinstance(tree, exp.Create):
                    return self._analyse(tree, toks[:-cut], text, base, line)
        if w0 == "CREATE":
            # CREATE TEMP TABLE t ON COMMIT DROP AS SELECT ..., ... WITHOUT OIDS: sqlglot cannot read
            # these clauses, and they say nothing about tables; drop them and reparse
            kept = _without_storage_clauses(toks)
            if len(kept) < len(toks):
                tree, err = self._parse_tokens(kept, text, self.d)
                if err is None and isinstance(tree, exp.Create):
                    return self._analyse(tree, kept, text, base, line)
        if kind in ("alter", "create"):
            accesses = self._token_ddl(toks, base)
            if accesses:
                return kind, accesses
        return kind, []

    # ------------------------------------------------------------------ output
    def _finish(self, found: list[tuple[int, TableAccess]]) -> list[TableAccess]:
        """One access per (table, role, action) at its first position, in text order."""
        found.sort(key=lambda f: f[0])
        seen: set[tuple[TableName, str, str]] = set()
        out: list[TableAccess] = []
        for pos, a in found:
            key = (a.table, a.role, a.action)
            if key not in seen:
                seen.add(key)
                line = self._line(pos) + self.line_offset
                out.append(TableAccess(a.table, a.role, a.action, line))
        return out

    def _add(self, line: int, end_line: int, kind: str, stmt_text: str,
             accesses: Optional[list[TableAccess]] = None, detail=None) -> None:
        self.facts.statements.append(Statement(
            line=line + self.line_offset, end_line=end_line + self.line_offset, kind=kind,
            text=_fold(stmt_text), accesses=tuple(accesses or ()), function=self.function,
            origin=self.origin, detail=detail))

    def _error(self, line: int, message: str) -> None:
        self.facts.errors.append((line + self.line_offset, message))


def _role(t: exp.Table, root: exp.Expression, kind: str, obj_kind: str,
          temp: bool) -> Optional[tuple[str, str]]:
    """(role, action) of table ``t`` from its parent node; None if it is not a table access."""
    node, parent = t, t.parent
    if isinstance(parent, exp.Schema) and t.arg_key == "this":
        node, parent = parent, parent.parent   # INSERT INTO t (cols) / CREATE TABLE t (...)
    key = node.arg_key
    ptype = type(parent)
    if ptype is exp.Reference:
        return REFERENCE, "references"
    if ptype in _DML_ACTION:
        if key == "this":
            return WRITE, _DML_ACTION[ptype]
        if key == "tables":
            return None   # MySQL DELETE a FROM ...: aliases / repeats of the FROM table
    if kind == "create" and obj_kind in ("INDEX", "TRIGGER"):
        # only the indexed / triggered table; opclasses and the like are not tables
        if (ptype is exp.Index or ptype is exp.TriggerProperties) and key == "table":
            return DDL, "alter"
        return None
    if ptype is exp.Create and key == "this":
        return DDL, "create_temp" if temp else "create"
    if ptype is exp.Drop:
        # the Drop's own kind: ALTER TABLE t DROP CONSTRAINT c nests a Drop whose "table" is c
        own_kind = str(parent.args.get("kind") or "").upper()
        return (DDL, "drop") if own_kind in _TABLE_LIKE else None
    if ptype is exp.OnProperty:
        return (DDL, "alter") if kind == "drop" else None   # DROP TRIGGER x ON t
    if ptype is exp.TruncateTable:
        return WRITE, "truncate"
    if ptype is exp.Alter and key == "this":
        return DDL, "alter"
    if ptype is exp.AlterRename:
        return DDL, "rename"   # the table's new name: the same table, not a second one
    if ptype is exp.Into:   # SELECT ... INTO TEMP t creates a temp table, like CREATE TEMP TABLE
        return (DDL, "create_temp") if parent.args.get("temporary") else (WRITE, "select_into")
    if ptype is exp.Copy and key == "this":
        return (WRITE, "copy") if parent.args.get("kind") else (READ, "copy")
    if ptype is exp.PartitionedOfProperty or ptype is exp.InheritsProperty:
        return DDL, "alter"   # CREATE TABLE c PARTITION OF p / INHERITS (p): changes p
    if isinstance(parent, _SKIP_PARENTS):
        return None
    if kind in ("drop", "alter") and parent is root:
        return None
    if kind == "alter" and t.find_ancestor(exp.Query) is None:
        return None   # ALTER TABLE t RENAME a TO b: sqlglot's stray "TO b" is no read of a table b
    return READ, "select"


def _renames_table(toks: list[Token]) -> bool:
    """True for ``ALTER TABLE t RENAME TO u`` (and ALTER VIEW ...), false for a column rename."""
    words = [t.text.upper() for t in toks]
    return any(w == "RENAME" and words[i + 1:i + 2] == ["TO"] for i, w in enumerate(words))


def _blank_clause_holes(text: str) -> str:
    """``text`` with spaces for each ``__pN__`` hole that cannot be a table name: not after FROM,
    JOIN, INTO, UPDATE, TABLE, ON, a comma or a dot, and not part of a longer name or quoted."""
    out = list(text)
    for m in _PLACEHOLDER_NAME.finditer(text):
        before, after = text[:m.start()].rstrip(), text[m.end():m.end() + 1]
        touching = (text[m.start() - 1] if m.start() else "") + after   # part of a longer or quoted name
        if not before or before[-1] in ",." or any(ch.isalnum() or ch in "_.\"'`[]$" for ch in touching):
            continue
        word = _WORD.findall(before[-12:])
        if word and word[-1].upper() in _TABLE_SLOT_WORDS:
            continue
        out[m.start():m.end()] = " " * (m.end() - m.start())
    return "".join(out)


def _without_storage_clauses(toks: list[Token]) -> list[Token]:
    """``toks`` less top-level ``ON COMMIT DROP|DELETE ROWS|PRESERVE ROWS`` and ``WITH[OUT] OIDS``."""
    kept: list[Token] = []
    depth, i, n = 0, 0, len(toks)
    while i < n:
        word = toks[i].text.upper()
        if word == "(":
            depth += 1
        elif word == ")":
            depth -= 1
        elif depth == 0:
            nxt = [t.text.upper() for t in toks[i + 1:i + 4]]
            if word == "ON" and nxt[:2] == ["COMMIT", "DROP"]:
                i += 3
                continue
            if word == "ON" and nxt in (["COMMIT", "DELETE", "ROWS"], ["COMMIT", "PRESERVE", "ROWS"]):
                i += 4
                continue
            if word in ("WITH", "WITHOUT") and nxt[:1] == ["OIDS"]:
                i += 2
                continue
        kept.append(toks[i])
        i += 1
    return kept


def _non_table_ddl(toks: list[Token]) -> bool:
    """CREATE/ALTER/DROP of an object that holds no table access dbowner reads (operator, type ...)."""
    words = [t.text.upper() for t in toks[:4]]
    if not words or words[0] not in _DDL_WORDS:
        return False
    i = 3 if words[1:3] == ["OR", "REPLACE"] else 1
    return i < len(words) and (words[i] in _NON_TABLE_OBJECTS or (words[i] == "INDEX" and words[0] != "CREATE"))


def _is_call_signature_error(description: str) -> bool:
    """Too many arguments for a function sqlglot knows: a user-defined overload, not bad syntax.
    (A *missing* argument is not one of these: ``x ?`` lacks an operand and reports that way.)"""
    return description.startswith("The number of provided arguments")


def _describe_unterminated(text: str, start: int) -> str:
    head = text[start:start + 2]
    if head.startswith("$"):
        what = "unterminated dollar-quoted string"
    elif head.startswith("/*"):
        what = "unterminated /* comment"
    elif head.startswith('"') or head.startswith("`") or head.startswith("["):
        what = "unterminated quoted identifier"
    elif "'" in head:
        what = "unterminated string literal"
    else:
        what = "cannot tokenize"
    return f"{what}; the rest of the text was not analysed"


def _is_cte_ref(t: exp.Table, name: str) -> bool:
    """True if unqualified ``name`` at ``t`` resolves to a CTE visible there (not a table).

    A CTE is visible in the main query of its WITH and in later CTEs of the same WITH (and in its
    own body when RECURSIVE); ``WITH orders AS (SELECT * FROM orders)`` reads the real table.
    """
    prev: exp.Expression = t
    node = t.parent
    while node is not None:
        if isinstance(node, exp.With):
            ctes = node.expressions
            idx = next((i for i, c in enumerate(ctes) if c is prev), len(ctes))
            limit = idx + 1 if node.args.get("recursive") else idx
            for cte in ctes[:limit]:
                if _cte_name(cte) == name:
                    return True
        else:
            w = node.args.get("with_")
            if w is not None and w is not prev:
                for cte in w.expressions:
                    if _cte_name(cte) == name:
                        return True
        prev, node = node, node.parent
    return False


def _cte_name(cte: exp.Expression) -> str:
    alias = cte.args.get("alias")
    if isinstance(alias, exp.TableAlias):
        return _ident(alias.this)
    return _ident(alias) if isinstance(alias, exp.Identifier) else ""
