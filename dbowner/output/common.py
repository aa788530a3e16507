"""What the CI formats share: repository-relative paths, and the rules a report lists.

GitHub annotations, code scanning (SARIF) and GitLab resolve a relative path against the root of the
checkout. dbowner's findings are relative to the folder of dbowner.yaml, which may sit deeper
(a monorepo with `platform/dbowner.yaml`), so those formats prefix the manifest folder's path:
relative to the nearest folder above it that holds `.git` (a folder, or a file in worktrees and
submodules); without one, relative to the working directory if the manifest is below it; otherwise
no prefix. git itself is never run.
"""
from __future__ import annotations

from pathlib import Path

from ..analysis import Analysis
from ..catalog import RuleInfo, load_catalog


def find_repo_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` that contains `.git`."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def repo_prefix(manifest_root: Path, cwd: Path | None = None) -> str:
    """'' or 'a/b/': what to put before a manifest-relative path to make it repository-relative."""
    root = manifest_root.resolve()
    base = find_repo_root(root) or (cwd or Path.cwd()).resolve()
    try:
        rel = root.relative_to(base)
    except ValueError:
        return ""
    return "" if rel == Path(".") else rel.as_posix() + "/"


def reported_rules(analysis: Analysis) -> list[RuleInfo]:
    """The rules that ran, in code order, plus any rule a finding names that is not among them."""
    rules = list(analysis.rules)
    known = {r.code for r in rules}
    by_code = {r.code: r for r in load_catalog().values()}
    for f in analysis.findings:
        if f.code not in known:
            rules.append(by_code[f.code])
            known.add(f.code)
    return rules
