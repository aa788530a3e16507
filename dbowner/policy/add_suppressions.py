"""`dbowner check --add-suppressions`: write a suppression comment for every current finding.

Python files are edited with libcst, which keeps every byte of formatting it does not touch: the
comment goes at the end of the statement holding the finding (after the closing bracket of a
multi-line call, after the colon of a `with`/`def` header), where it covers every line of that
statement. SQL files and the manifest get the comment appended to the finding's line. Files are
replaced atomically. Each comment reads `dbowner: ignore[rule, ...] TODO: reason`, so a
reviewer sees which exceptions still need a justification.
"""
from __future__ import annotations

import io
import re
import tokenize
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from ..model import Finding
from ..atomic import write_atomic
from .suppressions import ABOUT_COMMENTS

PLACEHOLDER_REASON = "TODO: reason"


@dataclass
class AddReport:
    comments: int = 0                                      # comments written
    files: list[str] = field(default_factory=list)         # files changed
    skipped: list[tuple[str, int, str]] = field(default_factory=list)   # (path, line, why)


def directive(rules: Iterable[str]) -> str:
    return f"dbowner: ignore[{', '.join(sorted(set(rules)))}] {PLACEHOLDER_REASON}"


def add_suppressions(root: Path, findings: Iterable[Finding]) -> AddReport:
    """Add comments for `findings` (paths relative to `root`). Findings of the suppression rules
    themselves are skipped, as are lines no comment can be put on (the report says why)."""
    report = AddReport()
    by_path: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for f in findings:
        if f.name in ABOUT_COMMENTS:
            continue
        by_path[f.path][f.line].add(f.name)
    for path in sorted(by_path):
        lines = by_path[path]
        target = root / path
        try:
            text = target.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            report.skipped.extend((path, line, f"cannot read the file: {e}") for line in sorted(lines))
            continue
        if path.endswith(".py"):
            new_text, added, skipped = _python(text, lines)
        elif path.endswith(".sql"):
            new_text, added, skipped = _append_to_lines(text, lines, "--", _sql_lines_in_code(text))
        elif path.endswith((".yaml", ".yml")):
            new_text, added, skipped = _append_to_lines(text, lines, "#", None)
        else:
            new_text, added, skipped = text, 0, [(line, "not a Python, SQL or YAML file") for line in lines]
        report.skipped.extend((path, line, why) for line, why in skipped)
        if added:
            write_atomic(target, new_text)
            report.comments += added
            report.files.append(path)
    report.skipped.sort()
    return report


# --------------------------------------------------------------------------- Python
def _python(text: str, wanted: dict[int, set[str]]) -> tuple[str, int, list[tuple[int, str]]]:
    ends = _logical_line_ends(text)
    targets: dict[int, set[str]] = defaultdict(set)
    skipped = []
    for line, rules in sorted(wanted.items()):
        if line in ends:
            targets[ends[line]].update(rules)
        else:
            skipped.append((line, "no Python statement on this line"))
    if not targets:
        return text, 0, skipped
    try:
        wrapper = MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)
    except (cst.ParserSyntaxError, SyntaxError) as e:
        return text, 0, skipped + [(line, f"libcst cannot parse the file: {e}") for line in sorted(wanted)]
    writer = _CommentWriter(wrapper.resolve(PositionProvider), targets)
    module = wrapper.module.visit(writer)
    skipped += [(line, "no end of statement found on this line") for line in sorted(set(targets) - writer.done)]
    return module.code, len(writer.done), skipped


def _logical_line_ends(text: str) -> dict[int, int]:
    """physical line -> last line of the Python statement (logical line) it belongs to."""
    ends: dict[int, int] = {}
    start = 0
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NEWLINE:
            if start:
                ends.update((row, tok.start[0]) for row in range(start, tok.start[0] + 1))
            start = 0
        elif tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT,
                              tokenize.ENCODING, tokenize.ENDMARKER) and not start:
            start = tok.start[0]
    return ends


class _CommentWriter(cst.CSTTransformer):
    """Adds the directive to the trailing whitespace (comment slot) that ends a statement on a
    target line, keeping any comment already there."""

    def __init__(self, positions, targets: dict[int, set[str]]) -> None:
        super().__init__()
        self.positions = positions
        self.targets = targets
        self.done: set[int] = set()
        self._owners: set[int] = set()    # ids of TrailingWhitespace nodes that end a statement

    def _mark(self, ws: cst.TrailingWhitespace) -> None:
        self._owners.add(id(ws))

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._mark(node.trailing_whitespace)

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._mark(node.trailing_whitespace)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._mark(node.header)

    def visit_Decorator(self, node: cst.Decorator) -> None:
        self._mark(node.trailing_whitespace)

    def leave_TrailingWhitespace(self, original: cst.TrailingWhitespace,
                                 updated: cst.TrailingWhitespace) -> cst.TrailingWhitespace:
        if id(original) not in self._owners:
            return updated
        line = self.positions[original].start.line
        rules = self.targets.get(line)
        if not rules or line in self.done:
            return updated
        self.done.add(line)
        if updated.comment is not None:
            return updated.with_changes(comment=cst.Comment(f"{updated.comment.value}  # {directive(rules)}"))
        return updated.with_changes(whitespace=cst.SimpleWhitespace("  "),
                                    comment=cst.Comment(f"# {directive(rules)}"))


# --------------------------------------------------------------------------- SQL and YAML
def _append_to_lines(text: str, wanted: dict[int, set[str]], marker: str,
                     safe: set[int] | None) -> tuple[str, int, list[tuple[int, str]]]:
    lines = text.splitlines(keepends=True)
    added, skipped = 0, []
    for line, rules in sorted(wanted.items()):
        if not 1 <= line <= len(lines):
            skipped.append((line, "the file has no such line"))
            continue
        if safe is not None and line not in safe:
            skipped.append((line, "the line ends inside a string or block comment"))
            continue
        raw = lines[line - 1]
        body = raw.rstrip("\r\n")
        gap = "  " if marker == "#" else " "
        lines[line - 1] = f"{body.rstrip()}{gap}{marker} {directive(rules)}{raw[len(body):]}"
        added += 1
    return "".join(lines), added, skipped


_SQL_TOKEN = re.compile(r"""--[^\n]*|/\*.*?(?:\*/|\Z)|'(?:[^']|'')*(?:'|\Z)|"(?:[^"]|"")*(?:"|\Z)"""
                        r"""|(\$[A-Za-z_0-9]*\$).*?(?:\1|\Z)|[^-/'"$]+|.""", re.S)


def _sql_lines_in_code(text: str) -> set[int]:
    """Lines whose end is not inside a string, quoted name, $$ body or /* */ comment, so that a
    `-- ...` comment can be appended to them."""
    inside: set[int] = set()
    for m in _SQL_TOKEN.finditer(text):
        tok = m.group(0)
        if tok.startswith(("--",)) or "\n" not in tok or not tok.startswith(("/*", "'", '"', "$")):
            continue
        first = text.count("\n", 0, m.start()) + 1
        inside.update(range(first, first + tok.count("\n")))
    total = text.count("\n") + 1
    return set(range(1, total + 1)) - inside
