"""Replace a file's content all at once: a crash or a full disk never leaves half a file."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str, *, make_parents: bool = False) -> None:
    """Write text (UTF-8, newlines as given) to a temporary file beside `path`, then rename it over
    `path`. The file keeps its permissions; a new one gets the usual ones (0666 minus the umask).
    Used for every file a user asks for (reports, baseline, suppression comments); the facts
    cache has its own cheaper writer (runner/cache.py: disposable, no fsync)."""
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
