"""Output stage: render an Analysis for people and machines. One module per format, listed here."""
from __future__ import annotations

from typing import Callable

from rich.console import Console

from ..analysis import Analysis
from .github import render_github
from .gitlab import render_gitlab
from .json_format import render_json
from .junit import render_junit
from .sarif import render_sarif
from .text import render_text


def _to_stdout(fn: Callable[[Analysis], str]) -> Callable[[Analysis, Console], None]:
    def write(analysis: Analysis, console: Console) -> None:
        console.file.write(fn(analysis))

    return write


# name -> writer(analysis, console). Text formats print through rich; machine formats write raw text.
FORMATS: dict[str, Callable[[Analysis, Console], None]] = {
    "text": render_text,
    "json": _to_stdout(render_json),
    "sarif": _to_stdout(render_sarif),
    "github": _to_stdout(render_github),
    "junit": _to_stdout(render_junit),
    "gitlab": _to_stdout(render_gitlab),
}


def render(fmt: str, analysis: Analysis, console: Console) -> None:
    FORMATS[fmt](analysis, console)
