"""Per-file facts cache in ``.dbowner_cache/`` beside the manifest.

One JSON file maps each analysed path to ``[content hash, dialect, FileFacts.to_dict(), stat]``.
An entry is used only when the file's bytes hash the same and the service's dialect is unchanged.
To avoid reading and hashing every file on a warm run, the entry also keeps the file's
``(size, mtime_ns, ctime_ns, inode)``, as git's index does: when the stat is unchanged, the
content is taken as unchanged. ctime cannot be set back by tools (``touch -r``, ``cp -p``), and
a file modified less than ``RACY_SECONDS`` before the run keeps no stat, so an edit within the
same timestamp tick is always re-hashed next time.
The whole file is used only when its format number and the *extractor fingerprint* match: a hash
of dbowner's version, the Python minor version (``ast`` changes between them), the installed
sqlglot and the source of the extraction code itself, so a new release, a local edit of an
extractor or a sqlglot upgrade all start from an empty cache.

Nothing in the file is trusted: a file that does not parse as JSON, has the wrong shape, comes
from another version, or an entry that ``FileFacts.from_dict`` rejects, is a miss and gets
rebuilt. Writes go to a temporary file renamed over the old one, so a reader never sees half a
cache and two concurrent runs cannot corrupt it (the last one wins). A cache that cannot be
written (read-only checkout) is skipped silently: the run's result never depends on it.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from .. import __version__

CACHE_DIR = ".dbowner_cache"
CACHE_FILE = "facts.json"
FORMAT = 1
RACY_SECONDS = 2     # covers filesystems with coarse timestamps (FAT: 2 s, HFS+: 1 s)
CACHEDIR_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by dbowner.\n"
                "# For information about cache directory tags see https://bford.info/cachedir/\n")
GITIGNORE = "# Created by dbowner: its per-file facts cache, safe to delete.\n*\n"

_PACKAGE = Path(__file__).resolve().parent.parent


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stat_key(st: os.stat_result, now_ns: int) -> list[int] | None:
    """The stat that stands for the content, or None while the file is too fresh to trust it."""
    racy = now_ns - RACY_SECONDS * 1_000_000_000
    if st.st_mtime_ns >= racy or st.st_ctime_ns >= racy:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def extractor_fingerprint() -> str:
    """Changes whenever extraction could give other facts for the same bytes."""
    h = hashlib.sha256()
    h.update(f"format={FORMAT} dbowner={__version__} python={sys.version_info[:2]}\n".encode())
    sources = [_PACKAGE / "model.py", *sorted((_PACKAGE / "extract").rglob("*.py"))]
    for src in sources:
        h.update(src.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        try:
            h.update(src.read_bytes())
        except OSError:
            h.update(b"?")
    h.update(_sqlglot_identity())
    return h.hexdigest()


def _sqlglot_identity() -> bytes:
    # Read the version file instead of importing sqlglot (~50 ms a warm run does not need) or
    # asking importlib.metadata (~30 ms). The compiled build (sqlglotc) ships .so files in the
    # same folder; it parses the same SQL, but may word odd errors differently.
    try:
        spec = importlib.util.find_spec("sqlglot")
        folder = Path(spec.origin).parent  # type: ignore[union-attr,arg-type]
        compiled = any(n.endswith((".so", ".pyd")) for n in os.listdir(folder))
        return (folder / "_version.py").read_bytes() + (b" compiled" if compiled else b" pure")
    except Exception:
        return b"sqlglot unknown"


class FactsCache:
    """Facts dicts by path, validated per entry by content hash and dialect."""

    def __init__(self, root: Path, fingerprint: str | None = None) -> None:
        self.folder = root / CACHE_DIR
        self.fingerprint = fingerprint or extractor_fingerprint()
        self.entries: dict[str, Any] = {}
        self.used: set[str] = set()
        self.dirty = False

    def load(self) -> None:
        """Read the cache file; anything unexpected leaves the cache empty (all misses)."""
        try:
            with open(self.folder / CACHE_FILE, "rb") as f:
                doc = json.loads(f.read())
        except (OSError, ValueError, RecursionError):
            return
        if (type(doc) is dict and doc.get("format") == FORMAT and doc.get("fingerprint") == self.fingerprint
                and type(doc.get("entries")) is dict):
            self.entries = doc["entries"]

    def _entry(self, path: str, dialect: str) -> list | None:
        self.used.add(path)
        entry = self.entries.get(path)
        if (type(entry) is list and len(entry) == 4 and type(entry[0]) is str and entry[1] == dialect
                and type(entry[2]) is dict):
            return entry
        return None

    def get_by_stat(self, path: str, stat: list[int], dialect: str) -> dict[str, Any] | None:
        """Facts of an unchanged file, judged by its stat alone (see the module docstring)."""
        entry = self._entry(path, dialect)
        if entry is not None and entry[3] == stat:
            return entry[2]
        return None

    def get(self, path: str, digest: str, dialect: str, stat: list[int] | None = None) -> dict[str, Any] | None:
        """Facts of a file whose content hashes to ``digest``; records its new stat on a hit."""
        entry = self._entry(path, dialect)
        if entry is None or entry[0] != digest:
            return None
        if entry[3] != stat:
            entry[3] = stat
            self.dirty = True
        return entry[2]

    def put(self, path: str, digest: str, dialect: str, facts: dict[str, Any],
            stat: list[int] | None = None) -> None:
        self.used.add(path)
        self.entries[path] = [digest, dialect, facts, stat]
        self.dirty = True

    def forget(self, path: str) -> None:
        """Drop an entry that turned out to be unusable."""
        if self.entries.pop(path, None) is not None:
            self.dirty = True

    def save(self) -> None:
        """Write the entries of this run (stale paths are dropped), atomically; never raises."""
        stale = self.entries.keys() - self.used
        if not self.dirty and not stale:
            return
        for path in stale:
            del self.entries[path]
        doc = {"format": FORMAT, "fingerprint": self.fingerprint, "dbowner": __version__,
               "entries": self.entries}
        try:
            self._prepare_folder()
            tmp = self.folder / f"{CACHE_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
            try:
                with open(tmp, "x", encoding="utf-8") as f:   # "x": never follows a planted file
                    json.dump(doc, f, separators=(",", ":"))
                os.replace(tmp, self.folder / CACHE_FILE)
            except BaseException:
                _unlink(tmp)
                raise
        except (OSError, ValueError, TypeError):
            return   # unwritable folder, full disk, a fact that is not JSON: run without a cache
        self.dirty = False

    def _prepare_folder(self) -> None:
        self.folder.mkdir(exist_ok=True)
        for name, text in (("CACHEDIR.TAG", CACHEDIR_TAG), (".gitignore", GITIGNORE)):
            target = self.folder / name
            if not target.exists():
                target.write_text(text, "utf-8")


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
