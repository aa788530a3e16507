"""Per-file facts cache in ``.dbowner_cache/`` beside the manifest.

JSON files (``facts-00.json`` ... ``facts-3f.json``, shards by path) map each analysed path to
``[content hash, options, FileFacts.to_dict() or null when there is no fact at all, stat]``.
An entry is used only when the file's bytes hash the same and the extraction options (the
manifest settings extraction depends on, e.g. the service's SQL dialect) are unchanged.
To avoid reading and hashing every file on a warm run, the entry also keeps the file's
``(size, mtime_ns, ctime_ns, inode)``, as git's index does: when the stat is unchanged, the
content is taken as unchanged. ctime cannot be set back by tools (``touch -r``, ``cp -p``), and
a file modified less than ``RACY_SECONDS`` before the run keeps no stat, so an edit within the
same timestamp tick is always re-hashed next time.
A shard is used only when its format number and the *extractor fingerprint* match: a hash of
dbowner's version, the Python minor version (``ast`` changes between them), the installed sqlglot
and the source of dbowner itself, so a new release, a local edit or a sqlglot upgrade all start
from an empty cache.

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
import zlib
from pathlib import Path
from typing import Any

from .. import __version__

CACHE_DIR = ".dbowner_cache"
FORMAT = 2
SHARDS = 64
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
    # All of dbowner's source, not just extract/: extraction code may live anywhere in the package.
    sources = sorted(_PACKAGE.rglob("*.py"))
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
    """Facts dicts by path, validated per entry by content hash and extraction options.

    Entries are spread over SHARDS files by a hash of the path, so a run that changed one file
    rewrites one small shard, not the whole cache. A corrupt shard costs only its own entries.
    """

    def __init__(self, root: Path, fingerprint: str | None = None) -> None:
        self.folder = root / CACHE_DIR
        self.fingerprint = fingerprint or extractor_fingerprint()
        self.entries: dict[str, Any] = {}
        self.used: set[str] = set()
        self.dirty: set[int] = set()      # shards to write

    def _usable(self) -> bool:
        # A symlinked cache folder could point anywhere: dbowner never writes outside the tree it
        # was given, so such a cache is neither read nor written.
        return not os.path.islink(self.folder)

    def load(self) -> None:
        """Read every shard; anything unexpected in a shard leaves its entries out (misses)."""
        if not self._usable():
            return
        for shard in range(SHARDS):
            try:
                with open(self.folder / shard_name(shard), "rb") as f:
                    doc = json.loads(f.read())
            except (OSError, ValueError, RecursionError):
                continue
            if (type(doc) is dict and doc.get("format") == FORMAT and doc.get("fingerprint") == self.fingerprint
                    and type(doc.get("entries")) is dict):
                self.entries.update(doc["entries"])

    def _entry(self, path: str, options: str) -> list | None:
        self.used.add(path)
        entry = self.entries.get(path)
        if (type(entry) is list and len(entry) == 4 and type(entry[0]) is str and entry[1] == options
                and (entry[2] is None or type(entry[2]) is dict)):
            return entry
        return None

    def get_by_stat(self, path: str, stat: list[int], options: str) -> list | None:
        """The entry of an unchanged file, judged by its stat alone (see the module docstring).
        Its facts are ``entry[2]``: a ``FileFacts.to_dict()``, or None for "no facts at all"."""
        entry = self._entry(path, options)
        if entry is not None and entry[3] == stat:
            return entry
        return None

    def get(self, path: str, digest: str, options: str, stat: list[int] | None = None) -> list | None:
        """The entry of a file whose content hashes to ``digest``; records its new stat on a hit."""
        entry = self._entry(path, options)
        if entry is None or entry[0] != digest:
            return None
        if entry[3] != stat:
            entry[3] = stat
            self.dirty.add(shard_of(path))
        return entry

    def put(self, path: str, digest: str, options: str, facts: dict[str, Any] | None,
            stat: list[int] | None = None) -> None:
        self.used.add(path)
        self.entries[path] = [digest, options, facts, stat]
        self.dirty.add(shard_of(path))

    def forget(self, path: str) -> None:
        """Drop an entry that turned out to be unusable."""
        if self.entries.pop(path, None) is not None:
            self.dirty.add(shard_of(path))

    def save(self) -> None:
        """Write the shards this run changed (stale paths are dropped), atomically; never raises."""
        for path in self.entries.keys() - self.used:
            del self.entries[path]
            self.dirty.add(shard_of(path))
        if not self.dirty or not self._usable():
            return
        shards: dict[int, dict[str, Any]] = {i: {} for i in self.dirty}
        for path, entry in self.entries.items():
            bucket = shards.get(shard_of(path))
            if bucket is not None:
                bucket[path] = entry
        try:
            self._prepare_folder()
            for shard, entries in sorted(shards.items()):
                doc = {"format": FORMAT, "fingerprint": self.fingerprint, "dbowner": __version__,
                       "entries": entries}
                _write_atomically(self.folder / shard_name(shard), doc)
        except (OSError, ValueError, TypeError):
            return   # unwritable folder, full disk, a fact that is not JSON: run without a cache
        self.dirty.clear()

    def _prepare_folder(self) -> None:
        self.folder.mkdir(exist_ok=True)
        for name, text in (("CACHEDIR.TAG", CACHEDIR_TAG), (".gitignore", GITIGNORE)):
            try:
                with open(self.folder / name, "x", encoding="utf-8") as f:   # never through a symlink
                    f.write(text)
            except FileExistsError:
                pass


def shard_name(shard: int) -> str:
    return f"facts-{shard:02x}.json"


def shard_of(path: str) -> int:
    return zlib.crc32(path.encode("utf-8")) % SHARDS


def _write_atomically(target: Path, doc: dict[str, Any]) -> None:
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        text = json.dumps(doc, separators=(",", ":"))   # dumps, not dump: dump never uses the C encoder
        with open(tmp, "x", encoding="utf-8") as f:     # "x": never follows a planted file
            f.write(text)
        os.replace(tmp, target)   # readers see the old shard or the new one, never half of one
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
