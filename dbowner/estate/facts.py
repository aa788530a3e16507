"""The facts file: what one repository's analysis knows, as versioned JSON, without its source.

A facts document holds one or more repositories (``dbowner facts`` writes one, ``dbowner merge``
writes many). Each repository carries its manifest (services, owned tables, sagas, and the line of
every key so findings can point into it), the file-to-service map from discovery, and the facts
extracted from each file: statements with their line spans and a short excerpt (at most 200
characters), never the files themselves. Checks are not stored: they are re-run over the facts.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..analysis import Analysis
from ..discover import Discovery, SourceFile
from ..manifest import Manifest, SagaSpec, SagaStepRef, Service, TablePattern
from ..model import Diagnostic, FileFacts

FORMAT = "dbowner-facts"
VERSION = 1
REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class FactsError(ValueError):
    """A facts file that cannot be used; str() is one line naming the file."""


@dataclass
class RepoFacts:
    """One repository as its own run of dbowner saw it (paths relative to its manifest's folder)."""

    name: str
    manifest: Manifest
    discovery: Discovery
    files: list[FileFacts]
    sagas: list[dict[str, Any]] = field(default_factory=list)   # assembled sagas, when the run had any
    raw: dict[str, Any] | None = field(default=None, repr=False)  # as read: written back as is by merge


@dataclass
class FactsDocument:
    repositories: list[RepoFacts]
    org_manifest: dict[str, Any] | None = None     # set by `dbowner merge --manifest`
    merged: bool = False


# --- writing -------------------------------------------------------------------------------------

def repo_facts(analysis: Analysis, name: str) -> RepoFacts:
    found = getattr(analysis, "sagas", None) or []
    sagas = [s.to_dict() for s in found if hasattr(s, "to_dict")]
    return RepoFacts(name, analysis.manifest, analysis.discovery, analysis.facts or analysis.graph.facts, sagas)


def document_to_dict(doc: FactsDocument) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "generator": f"dbowner {__version__}",
        "merged": doc.merged,
        "org_manifest": doc.org_manifest,
        "repositories": [_repo_to_dict(r) for r in doc.repositories],
    }


def dump_document(doc: FactsDocument) -> str:
    return json.dumps(document_to_dict(doc), ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n"


def manifest_to_dict(m: Manifest) -> dict[str, Any]:
    services = {}
    for name, s in m.services.items():
        spec: dict[str, Any] = {"paths": list(s.paths)}
        for key in ("database", "dialect"):
            if getattr(s, key):
                spec[key] = getattr(s, key)
        if s.schemas:
            spec["schemas"] = list(s.schemas)
        for key in ("tables", "reads", "event_store"):
            if getattr(s, key):
                spec[key] = [p.text for p in getattr(s, key)]
        services[name] = spec
    sagas = {name: {"description": saga.description,
                    "steps": [{"action": st.action, "compensation": st.compensation, "pivot": st.pivot}
                              for st in saga.steps]}
             for name, saga in m.sagas.items()}
    lines = [[list(k), v] for k, v in sorted(m.lines.items(), key=lambda kv: (kv[1], repr(kv[0])))
             if k and k[0] in ("services", "sagas")]
    return {"path": m.display_path, "dialect": m.dialect, "exclude": list(m.exclude),
            "services": services, "sagas": sagas, "lines": lines}


def _repo_to_dict(r: RepoFacts) -> dict[str, Any]:
    if r.raw is not None:
        return r.raw
    d = r.discovery
    return {
        "name": r.name,
        "manifest": manifest_to_dict(r.manifest),
        "discovery": {
            "files": [[f.path, f.service] for f in d.files],
            "outside": list(d.outside),
            "excluded": d.excluded,
            "overlaps": [[a, b, p] for (a, b), p in sorted(d.overlaps.items())],
            "diagnostics": [x.to_dict() for x in d.diagnostics],
        },
        "files": [f.to_dict() for f in r.files],
        "sagas": r.sagas,
    }


# --- reading -------------------------------------------------------------------------------------

def is_facts_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".json"


def load_document(path: Path) -> FactsDocument:
    shown = str(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise FactsError(f"{shown}: cannot read facts: {e}") from None
    except json.JSONDecodeError as e:
        raise FactsError(f"{shown}:{e.lineno}: not valid JSON: {e.msg}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise FactsError(f"{shown}: not a dbowner facts file (expected \"format\": \"{FORMAT}\"; "
                         "write one with `dbowner facts`)")
    if data.get("version") != VERSION:
        raise FactsError(f"{shown}: facts format version {data.get('version')!r} is not supported "
                         f"(this dbowner reads version {VERSION}; re-run `dbowner facts` with the same dbowner)")
    repos = data.get("repositories")
    if not isinstance(repos, list) or not repos:
        raise FactsError(f"{shown}: 'repositories' must be a non-empty list")
    out = []
    for i, raw in enumerate(repos):
        try:
            out.append(_repo_from_dict(raw))
        except FactsError as e:
            raise FactsError(f"{shown}: repositories[{i}]: {e}") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            detail = f"missing key {e}" if isinstance(e, KeyError) else str(e)
            raise FactsError(f"{shown}: repositories[{i}]: malformed facts ({detail})") from None
    org = data.get("org_manifest")
    if org is not None and not isinstance(org, dict):
        raise FactsError(f"{shown}: 'org_manifest' must be an object or null")
    return FactsDocument(out, org, bool(data.get("merged")))


def manifest_from_dict(d: dict[str, Any], root: Path) -> Manifest:
    services = {}
    for name, spec in d["services"].items():
        services[name] = Service(
            name=name, paths=tuple(spec["paths"]), database=spec.get("database"), dialect=spec.get("dialect"),
            schemas=tuple(spec.get("schemas", ())),
            tables=tuple(TablePattern.parse(t) for t in spec.get("tables", ())),
            reads=tuple(TablePattern.parse(t) for t in spec.get("reads", ())),
            event_store=tuple(TablePattern.parse(t) for t in spec.get("event_store", ())),
        )
    sagas = {name: SagaSpec(name, tuple(SagaStepRef(s["action"], s.get("compensation"), bool(s.get("pivot")))
                                        for s in spec["steps"]), spec.get("description", ""))
             for name, spec in d.get("sagas", {}).items()}
    lines = {tuple(k): int(v) for k, v in d.get("lines", [])}
    return Manifest(path=root / d.get("path", "dbowner.yaml"), dialect=d.get("dialect", "postgres"),
                    exclude=tuple(d.get("exclude", ())), services=services, sagas=sagas, lines=lines)


def _repo_from_dict(d: dict[str, Any]) -> RepoFacts:
    name = d["name"]
    if not isinstance(name, str) or not REPO_NAME.match(name):
        raise FactsError(f"invalid repository name {name!r} (letters, digits, '_', '.', '-')")
    # The repository's own folder is unknown here; facts never refer to files outside it.
    manifest = manifest_from_dict(d["manifest"], Path(name))
    disc = d["discovery"]
    discovery = Discovery(
        files=[SourceFile(p, s) for p, s in disc["files"]],
        diagnostics=[Diagnostic(**x) for x in disc.get("diagnostics", ())],
        outside=list(disc.get("outside", ())),
        excluded=int(disc.get("excluded", 0)),
        overlaps={(a, b): p for a, b, p in disc.get("overlaps", ())},
    )
    files = [FileFacts.from_dict(f) for f in d["files"]]
    return RepoFacts(name, manifest, discovery, files, list(d.get("sagas", ())), raw=d)
