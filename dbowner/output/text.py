"""Human output for a terminal: findings by service and file, then a summary."""
from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..analysis import Analysis
from ..model import Severity
from .summary import summary

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
MAX_DIAGNOSTICS_SHOWN = 20


def render_text(analysis: Analysis, console: Console) -> None:
    hinted: set[str] = set()   # each rule's fix hint is printed once, under its first finding
    by_service = sorted(analysis.findings, key=lambda f: (f.service or "~", f.path, f.line, f.code))
    for service, group in groupby(by_service, key=lambda f: f.service):
        console.print(Text(f"{service or '(manifest)'}", style="bold underline"))
        for path, in_file in groupby(group, key=lambda f: f.path):
            console.print(Text(f"  {path}", style="bold"))
            for f in in_file:
                line = Text("    ")
                line.append(f"{f.path}:{f.line}", style="dim")
                line.append("  ")
                line.append(f"{f.code} {f.name}", style=SEVERITY_STYLE[f.severity])
                line.append(f" [{f.severity.value}]  ", style="dim")
                line.append(f.message)
                console.print(line)
                if f.name not in hinted:
                    hinted.add(f.name)
                    console.print(Text(f"      hint: {f.hint}", style="dim italic"))
        console.print()
    _print_summary(analysis, console)


def _print_summary(analysis: Analysis, console: Console) -> None:
    s = summary(analysis)
    if s["by_rule"]:
        codes = {r.name: r.code for r in analysis.rules}
        t = Table(title="Findings by rule", title_justify="left", show_edge=False, pad_edge=False)
        t.add_column("code")
        t.add_column("rule")
        t.add_column("count", justify="right")
        for name, count in s["by_rule"].items():
            t.add_row(codes.get(name, ""), name, str(count))
        console.print(t)
        console.print()
    if s["shared_tables"]:
        t = Table(title="Tables touched by more than one service", title_justify="left", show_edge=False,
                  pad_edge=False)
        t.add_column("table")
        t.add_column("owner")
        t.add_column("services (modes)")
        for row in s["shared_tables"]:
            name = row["table"] + (f" ({row['database']})" if row["database"] else "")
            who = ", ".join(f"{svc} ({'/'.join(m)})" for svc, m in row["services"].items())
            t.add_row(Text(name), Text(row["owner"] or "-"), Text(who))
        console.print(t)
        console.print()
    if analysis.diagnostics:
        console.print(Text(f"Diagnostics ({len(analysis.diagnostics)}): files or statements dbowner could not "
                           "fully analyse", style="bold"))
        for d in analysis.diagnostics[:MAX_DIAGNOSTICS_SHOWN]:
            loc = f"{d.path}:{d.line}" if d.line else d.path
            console.print(Text(f"  {loc}  {d.kind}: {d.message}"))
        if len(analysis.diagnostics) > MAX_DIAGNOSTICS_SHOWN:
            console.print(Text(f"  ... and {len(analysis.diagnostics) - MAX_DIAGNOSTICS_SHOWN} more "
                               "(all of them with --format json)", style="dim"))
        console.print()
    _print_stale_baseline(analysis, console)
    files = s["files"]
    others = _not_reported(s)
    if s["findings"]:
        verdict = Text(f"{s['errors']} error(s), {s['warnings']} warning(s)",
                       style="bold red" if s["errors"] else ("yellow" if s["warnings"] else "bold green"))
        verdict.append(f"; {others}" if others else "", style="dim")
    else:
        verdict = Text(f"No new ownership violations; {others}." if others else "No ownership violations found.",
                       style="bold red" if s["stale_baseline"] else "bold green")
    console.print(verdict)
    live = getattr(analysis, "live", None)
    if live:
        console.print(Text(live_line(live), style="dim"))
        return
    console.print(Text(
        f"{files['analysed']} file(s) analysed in {len(analysis.manifest.services)} service(s); "
        f"{files['skipped']} skipped; {files['outside_services']} outside every service (not analysed); "
        f"{files['excluded']} path(s) excluded by the manifest", style="dim"))


def live_line(live: dict) -> str:
    """`dbowner verify`'s closing line: what was read from the database and what could not be."""
    n = len(live["facts"]["relations"])
    rt = live["runtime"]
    unread = [src["name"] for src in live["sources"] if not src["read"]]
    text = (f"database {live['database']} (PostgreSQL {live['server_version']}, as {live['connected_as']}): "
            f"{n} relation(s); {rt['statements']} statement(s) from pg_stat_statements run by service roles "
            f"({rt['calls']} call(s))")
    others = sum(r["statements"] for r in rt["unattributed_roles"])
    if others:
        text += f", {others} by roles of no service (not judged)"
    if unread:
        text += f"; not read: {', '.join(unread)} (see the check-skipped diagnostics)"
    return text


def _not_reported(s: dict) -> str:
    """'3 suppressed (1 without a reason), 5 baselined' for findings not listed above."""
    parts = []
    if s["suppressed"]:
        parts.append(f"{s['suppressed']} suppressed" + (f" ({s['suppressed_without_reason']} without a reason)"
                                                         if s["suppressed_without_reason"] else ""))
    if s["baselined"]:
        parts.append(f"{s['baselined']} baselined")
    if s["stale_baseline"]:
        parts.append(f"{s['stale_baseline']} stale baseline entr{'y' if s['stale_baseline'] == 1 else 'ies'}")
    return ", ".join(parts)


def _print_stale_baseline(analysis: Analysis, console: Console) -> None:
    if not analysis.stale_baseline:
        return
    console.print(Text(f"Stale baseline entries ({len(analysis.stale_baseline)}): these findings were fixed. "
                       "Run `dbowner check --update-baseline` so the baseline shrinks.", style="bold red"))
    for e in analysis.stale_baseline:
        loc = f"{e.file}:{e.line}" if e.line else e.file
        console.print(Text(f"  {loc}  {e.message}"))
    console.print()
