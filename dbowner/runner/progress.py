"""A progress bar on stderr for long runs, and only where a person is watching.

Shown when stderr is a terminal, the ``CI`` environment variable is unset (or "0"/"false"), and
the run has already lasted a second: short runs and pipes, log files and CI stay silent. The bar
is transient (erased when done), so it never mixes with the report on stdout.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import IO, Any, Callable

SHOW_AFTER_SECONDS = 1.0
REFRESH_SECONDS = 0.1


def progress_wanted(stream: IO[str] | None = None, env: Mapping[str, str] | None = None) -> bool:
    stream = sys.stderr if stream is None else stream
    env = os.environ if env is None else env
    if env.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):   # closed or replaced stream
        return False


class Progress:
    """Counts finished files; draws a rich bar once SHOW_AFTER_SECONDS have passed."""

    def __init__(self, total: int, *, enabled: bool | None = None, stream: IO[str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.done = 0
        self.stream = sys.stderr if stream is None else stream
        self.enabled = progress_wanted(self.stream) if enabled is None else enabled
        self.clock = clock
        self.start = clock()
        self.last_draw = 0.0
        self.bar: Any = None
        self.task: Any = None

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = self.clock()
        if self.bar is None:
            if now - self.start < SHOW_AFTER_SECONDS:
                return
            self._open()
        if now - self.last_draw >= REFRESH_SECONDS or self.done >= self.total:
            self.bar.update(self.task, completed=self.done)
            self.bar.refresh()
            self.last_draw = now

    def _open(self) -> None:
        # Imported here: a run that never shows the bar does not pay for rich.progress.
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        # No auto-refresh: no background thread, so worker processes can be forked safely.
        self.bar = RichProgress(TextColumn("dbowner: analysing"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), console=Console(file=self.stream),
                                transient=True, auto_refresh=False)
        self.bar.start()
        self.task = self.bar.add_task("files", total=self.total, completed=self.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
