"""Discovery: walk the tree under the manifest's folder and map each source file to its service."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from .filekinds import SOURCE_SUFFIXES, config_kind
from .manifest import Manifest
from .manifest.loader import MANIFEST_NAMES
from .model import Diagnostic

ALWAYS_SKIPPED_DIRS = {".git", ".hg", ".svn", "__pycache__", ".dbowner_cache", ".venv", "venv",
                       "node_modules", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class SourceFile:
    path: str          # posix, relative to the manifest folder
    service: str       # "" only for deployment config outside every service


@dataclass
class Discovery:
    files: list[SourceFile] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)       # source files that belong to no service
    excluded: int = 0      # files and folders pruned by `exclude` (folders are not walked, so not counted inside)
    overlaps: dict[tuple[str, str], str] = field(default_factory=dict)  # (svc a, svc b) -> first shared file


class _Ignores:
    """Nested .gitignore files, each applying below its own folder."""

    def __init__(self) -> None:
        self.specs: list[tuple[str, pathspec.PathSpec]] = []

    def add(self, base: str, file: Path) -> None:
        try:
            lines = file.read_text("utf-8", errors="replace").splitlines()
        except OSError:
            return
        self.specs.append((base, pathspec.GitIgnoreSpec.from_lines(lines)))

    def ignored(self, rel: str, is_dir: bool) -> bool:
        probe = rel + "/" if is_dir else rel
        for base, spec in self.specs:
            if base and not probe.startswith(base + "/"):
                continue
            if spec.match_file(probe[len(base) + 1:] if base else probe):
                return True
        return False


def discover(manifest: Manifest) -> Discovery:
    root = manifest.root.resolve()
    out = Discovery()
    exclude = pathspec.GitIgnoreSpec.from_lines(manifest.exclude)
    services = _ServiceMatcher([(name, pathspec.GitIgnoreSpec.from_lines(svc.paths))
                                for name, svc in manifest.services.items()])
    ignores = _Ignores()
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        if ".gitignore" in filenames:
            ignores.add(rel_dir, Path(dirpath) / ".gitignore")
        keep = []
        for d in sorted(dirnames):
            rel = f"{rel_dir}/{d}" if rel_dir else d
            full = Path(dirpath) / d
            if d in ALWAYS_SKIPPED_DIRS or ignores.ignored(rel, True):
                continue
            if exclude.match_file(rel + "/"):
                out.excluded += 1
                continue
            if full.is_symlink():
                if not _inside(full, root):
                    out.diagnostics.append(Diagnostic(rel, 0, "skipped-symlink",
                                                      "symlink leaves the analysed tree; not followed"))
                continue   # in-tree symlinked folders are walked at their real place
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            kind = config_kind(name) if name not in MANIFEST_NAMES else None
            is_config = kind is not None
            if not name.endswith(SOURCE_SUFFIXES) and not is_config:
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if kind == "yaml" and any(part.startswith(".") for part in rel.split("/")[:-1]):
                continue   # .github/workflows/*.yml and the like are never Kubernetes manifests
            if ignores.ignored(rel, False):
                continue
            if exclude.match_file(rel):
                out.excluded += 1
                continue
            owners = services.owners(rel)
            if not owners and not is_config:
                out.outside.append(rel)
                continue
            for other in owners[1:]:
                out.overlaps.setdefault((owners[0], other), rel)
            problem = _unreadable(os.path.join(dirpath, name), root)
            if problem:
                out.diagnostics.append(Diagnostic(rel, 0, problem[0], problem[1]))
                continue
            # Config outside every service (a root docker-compose.yml, k8s/) is still read: it names
            # services by build context, env_file or name, and gets attributed after extraction.
            out.files.append(SourceFile(rel, owners[0] if owners else ""))
    out.files.sort(key=lambda f: f.path)
    out.outside.sort()
    out.diagnostics.sort(key=lambda d: (d.path, d.line, d.kind))
    return out


class _ServiceMatcher:
    """Which services' `paths` match a file, without trying every service on every file.

    A pattern such as `services/orders/**` can only match paths that start with its literal
    prefix `services/orders/`. Services are indexed by those prefixes; a service with a pattern
    that has none (`*.sql`, `**/migrations/`) is tried on every file. The index only narrows the
    candidates: the service's own GitIgnoreSpec still decides, so the result is the same as
    trying them all, in manifest order (200 services x 12,000 files took seconds).
    """

    def __init__(self, services: list[tuple[str, pathspec.PathSpec]]) -> None:
        self.specs = services
        self.always: list[int] = []
        self.by_dir: dict[str, list[tuple[str, int]]] = {}
        for i, (_name, spec) in enumerate(services):
            prefixes = _literal_prefixes(spec)
            if prefixes is None:
                self.always.append(i)
                continue
            for p in prefixes:
                self.by_dir.setdefault(p[:p.rfind("/") + 1], []).append((p, i))

    def owners(self, rel: str) -> list[str]:
        found = set(self.always)
        bucket = self.by_dir.get("")
        if bucket:
            found.update(i for p, i in bucket if rel.startswith(p))
        cut = rel.find("/")
        while cut != -1:
            bucket = self.by_dir.get(rel[:cut + 1])
            if bucket:
                found.update(i for p, i in bucket if rel.startswith(p))
            cut = rel.find("/", cut + 1)
        specs = self.specs
        return [specs[i][0] for i in sorted(found) if specs[i][1].match_file(rel)]


_REGEX_SPECIAL = set(".^$*+?{}[]|()\\")


def _literal_prefixes(spec: pathspec.PathSpec) -> list[str] | None:
    """Literal text every match of an including pattern starts with; None if some pattern has none."""
    out = []
    try:
        for pat in spec.patterns:
            if not pat.include:        # comments, blank lines and `!negations` add no match
                continue
            regex = pat.regex.pattern
            if not regex.startswith("^") or _top_level_alternation(regex):
                return None
            prefix, i = [], 1
            while i < len(regex):
                ch = regex[i]
                if ch == "\\" and i + 1 < len(regex) and not regex[i + 1].isalnum():
                    prefix.append(regex[i + 1])     # an escaped literal such as \. or \-
                    i += 2
                    continue
                if ch in _REGEX_SPECIAL:
                    break
                prefix.append(ch)
                i += 1
            if i < len(regex) and regex[i] in "*?{" and prefix:
                prefix.pop()                        # `ab*`: the b is optional
            if not prefix:
                return None
            out.append("".join(prefix))
    except AttributeError:                          # a pattern type without a regex
        return None
    return out


def _top_level_alternation(regex: str) -> bool:
    depth, i, in_class = 0, 0, False
    while i < len(regex):
        ch = regex[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
        i += 1
    return False


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except (ValueError, OSError):
        return False


def _unreadable(full: str, root: Path) -> tuple[str, str] | None:
    # One lstat per regular file (this runs for every source file of the tree).
    try:
        st = os.lstat(full)
        if stat.S_ISLNK(st.st_mode):
            if not _inside(Path(full), root):
                return ("skipped-symlink", "symlink leaves the analysed tree; not followed")
            st = os.stat(full)
    except OSError as e:
        return ("read-error", f"cannot read: {e.strerror or e}")
    size = st.st_size
    if size > MAX_FILE_BYTES:
        return ("skipped-large", f"file is {size // 1024} KiB, over the {MAX_FILE_BYTES // 1024 // 1024} MiB limit")
    return None
