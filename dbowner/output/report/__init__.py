"""`dbowner report`: the architecture-review document, as self-contained HTML or as Markdown.

``content`` computes what the report says, ``diagram`` lays out the SVG, ``mermaid`` writes the
Markdown diagram; the Jinja templates in ``templates/`` only lay things out. Both environments
escape every value by default (HTML autoescape; Markdown through ``finalize``), so a name taken
from the analysed code can never become markup.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from ...analysis import Analysis
from .content import Report, build_report
from .diagram import layout
from .markdown import Raw, code_block, md_escape
from .mermaid import mermaid

__all__ = ["REPORT_FORMATS", "Report", "build_report", "render_report", "report_format"]

REPORT_FORMATS = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md"}


def report_format(path: Path) -> str | None:
    return REPORT_FORMATS.get(path.suffix.lower())


@lru_cache(maxsize=2)
def _env(fmt: str) -> jinja2.Environment:
    loader = jinja2.PackageLoader("dbowner.output.report", "templates")
    if fmt == "html":
        env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                                 keep_trailing_newline=True)
        env.filters["ticks"] = _code_spans
        return env
    env = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             finalize=lambda v: v if isinstance(v, Raw) else md_escape(v))
    env.filters["code"] = code_block
    env.filters["raw"] = Raw
    return env


def _code_spans(text: str) -> Markup:
    """Catalog prose (our own rules/*.yaml) with `code` spans shown as code; escaped first."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


def render_report(analysis: Analysis, fmt: str, sources: Path | None = None, title: str = "") -> str:
    """The report as text. `sources`: folder to quote code from (None: statement excerpts only)."""
    report = build_report(analysis, sources, title)
    if fmt == "html":
        return _env("html").get_template("report.html.j2").render(r=report, d=layout(report))
    return _env("md").get_template("report.md.j2").render(r=report, mermaid=Raw(mermaid(report)))
