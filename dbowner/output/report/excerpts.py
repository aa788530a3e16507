"""Short code excerpts for findings: the source lines when the analysed tree is at hand, else the
statement excerpt dbowner recorded (all a facts file has)."""
from __future__ import annotations

import textwrap
from collections import defaultdict
from pathlib import Path

from ...graph import OwnershipGraph
from ...model import Finding, Statement

MAX_LINES = 4
MAX_CHARS = 160
MAX_FILE_BYTES = 2 * 1024 * 1024


class Excerpts:
    def __init__(self, og: OwnershipGraph, sources: Path | None) -> None:
        self.root = sources.resolve() if sources is not None else None
        self.statements: dict[str, list[Statement]] = defaultdict(list)
        for info in og.statements:
            self.statements[info.path].append(info.statement)
        self._files: dict[str, list[str] | None] = {}

    def of(self, f: Finding) -> list[tuple[int, str]]:
        lines = self._source(f.path)
        if lines is not None and 1 <= f.line <= len(lines):
            end = min(max(f.end_line, f.line), f.line + MAX_LINES - 1, len(lines))
            numbers = range(f.line, end + 1)
            # SQL inside a Python string sits deep in the code: drop the indentation the lines share
            text = textwrap.dedent("\n".join(lines[n - 1].expandtabs(4) for n in numbers)).split("\n")
            return [(n, _clip(t)) for n, t in zip(numbers, text)]
        stmt = next((s for s in self.statements.get(f.path, ()) if s.line <= f.line <= max(s.end_line, s.line)), None)
        return [(stmt.line, _clip(stmt.text))] if stmt is not None else []

    def _source(self, rel: str) -> list[str] | None:
        if self.root is None:
            return None
        if rel not in self._files:
            self._files[rel] = _read(self.root, rel)
        return self._files[rel]


def _read(root: Path, rel: str) -> list[str] | None:
    path = (root / rel).resolve()
    try:
        path.relative_to(root)          # never quote a file outside the analysed tree
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_bytes().decode("utf-8", errors="replace").splitlines()
    except (OSError, ValueError):
        return None


def _clip(line: str) -> str:
    line = line.rstrip().expandtabs(4)
    return line if len(line) <= MAX_CHARS else line[:MAX_CHARS - 1] + "…"
