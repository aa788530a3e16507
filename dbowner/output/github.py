"""`--format github`: GitHub Actions workflow commands, shown as annotations on the pull request.

`::error file=F,line=L,endLine=E,title=T::MESSAGE`, one line per finding (warning -> `::warning`,
info -> `::notice`); files dbowner could not analyse become `::notice`. Escaping follows the
runner's rules (actions/toolkit command.ts): `%`, CR and LF everywhere, plus `:` and `,` in
properties. Paths are relative to the repository root, where GitHub looks for them.
"""
from __future__ import annotations

from ..analysis import Analysis
from ..model import Severity
from .common import repo_prefix

COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, message: str, **props: object) -> str:
    """`::command k=v,k=v::message` with both parts escaped; empty or zero properties are left out."""
    rendered = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items() if v not in ("", 0, None))
    return f"::{command} {rendered}::{escape_data(message)}" if rendered else f"::{command}::{escape_data(message)}"


def render_github(analysis: Analysis) -> str:
    prefix = repo_prefix(analysis.manifest.root)
    lines = []
    for f in analysis.findings:
        lines.append(workflow_command(
            COMMAND[f.severity], f"{f.message}\nFix: {f.hint}",
            file=prefix + f.path, line=f.line, endLine=f.end_line, title=f"{f.code} {f.name}"))
    for d in analysis.diagnostics:
        lines.append(workflow_command(
            "notice", d.message, file=prefix + d.path, line=d.line,
            title=f"dbowner could not analyse this ({d.kind})"))
    count = {sev: sum(1 for f in analysis.findings if f.severity is sev) for sev in Severity}
    summary = f"dbowner: {count[Severity.ERROR]} error(s), {count[Severity.WARNING]} warning(s)"
    if count[Severity.INFO]:
        summary += f", {count[Severity.INFO]} info"
    if analysis.diagnostics:
        summary += f"; {len(analysis.diagnostics)} file(s) or statement(s) not fully analysed"
    lines.append(summary)
    return "\n".join(lines) + "\n"
