"""Join facts of many repositories into one analysis and run every rule across them.

The merged estate is analysed as if each repository were checked out in a folder named after it:
every path gains the prefix ``<repository>/``. The services are the union of the repositories'
manifests; a service defined differently in two repositories is a ``manifest-conflict`` (the
union of its entries is used). An org manifest, when given, is the manifest of that merged tree:
only its services own tables, schemas and event stores, and its ``paths`` (such as
``payments-repo/**``) reassign files. A file they do not match keeps its repository's service,
which then keeps its paths, database and reads from its repository but owns nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pathspec

from ..analysis import Analysis, analyze_facts
from ..catalog import RuleInfo
from ..discover import Discovery, SourceFile
from ..manifest import Manifest, SagaSpec, SagaStepRef, Service
from ..model import Finding, FileFacts
from .facts import FactsDocument, FactsError, RepoFacts, manifest_from_dict, manifest_to_dict

OWNERSHIP_FIELDS = ("database", "schemas", "tables", "event_store")


@dataclass
class MergedManifest(Manifest):
    """The union of the repositories' manifests (or an org manifest over them)."""

    origins: dict[str, str] = field(default_factory=dict)   # service -> manifest file to cite
    repositories: list[str] = field(default_factory=list)
    shown: str = "(merged manifest)"

    @property
    def display_path(self) -> str:
        return self.shown


@dataclass
class Estate:
    """Facts ready to analyse: one repository as it is, or many merged."""

    manifest: Manifest
    discovery: Discovery
    files: list[FileFacts]
    conflicts: list[Finding] = field(default_factory=list)   # services defined differently by repositories


def combine(documents: list[tuple[str, FactsDocument]], org: Manifest | None = None) -> FactsDocument:
    """Many facts documents (by file name) -> one merged document; repository names must be unique."""
    seen: dict[str, str] = {}
    repos: list[RepoFacts] = []
    orgs = {}
    for shown, doc in documents:
        for r in doc.repositories:
            if r.name in seen:
                raise FactsError(f"{shown}: repository '{r.name}' is also in {seen[r.name]}; "
                                 "give each repository a unique name (`dbowner facts --repo NAME`)")
            seen[r.name] = shown
            repos.append(r)
        if doc.org_manifest is not None:
            orgs.setdefault(repr(sorted(doc.org_manifest.items())), (shown, doc.org_manifest))
    org_dict = manifest_to_dict(org) if org is not None else None
    if org_dict is None and len(orgs) > 1:
        names = ", ".join(shown for shown, _ in orgs.values())
        raise FactsError(f"facts files carry different org manifests ({names}); pass --manifest")
    if org_dict is None and orgs:
        org_dict = next(iter(orgs.values()))[1]
    return FactsDocument(sorted(repos, key=lambda r: r.name), org_dict, merged=True)


def estate_of(doc: FactsDocument, rules: list[RuleInfo], org: Manifest | None = None) -> Estate:
    """The analysable estate of a document: a single repository's facts as they are, else merged."""
    org_dict = manifest_to_dict(org) if org is not None else doc.org_manifest
    if not doc.merged and org_dict is None and len(doc.repositories) == 1:
        r = doc.repositories[0]
        return Estate(r.manifest, r.discovery, r.files)
    return _merge(doc.repositories, org, org_dict, rules)


def analyze_estate(estate: Estate, rules: list[RuleInfo]) -> Analysis:
    analysis = analyze_facts(estate.manifest, estate.discovery, estate.files, rules)
    if isinstance(estate.manifest, MergedManifest):
        m = estate.manifest
        relocated = [replace(f, path=m.origins[f.service]) if f.path == m.display_path and f.service in m.origins
                     else f for f in analysis.findings]
        analysis.findings = sorted(set(relocated) | set(estate.conflicts), key=Finding.sort_key)
    return analysis


# --- merging -------------------------------------------------------------------------------------

def _merge(repos: list[RepoFacts], org: Manifest | None, org_dict: dict[str, Any] | None,
           rules: list[RuleInfo]) -> Estate:
    if org is None and org_dict is not None:
        org = manifest_from_dict(org_dict, Path("."))
    repos = sorted(repos, key=lambda r: r.name)
    manifest = MergedManifest(path=Path("dbowner.yaml"), repositories=[r.name for r in repos])
    conflicts: list[tuple[str, RepoFacts, RepoFacts, list[str]]] = []
    if org is not None:
        manifest.shown = org.display_path
        manifest.dialect = org.dialect
        manifest.services = dict(org.services)
        manifest.sagas = dict(org.sagas)
        manifest.lines = {k: v for k, v in org.lines.items() if k and k[0] in ("services", "sagas")}
        manifest.origins = {name: org.display_path for name in org.services}
    from_org = set(manifest.services)
    first_repo: dict[str, RepoFacts] = {}
    for r in repos:
        where = f"{r.name}/{r.manifest.display_path}"
        for name, svc in r.manifest.services.items():
            if name in from_org:
                continue
            mine = replace(svc, paths=tuple(f"{r.name}/{p}" for p in svc.paths))
            if org is not None:     # the org manifest alone says who owns what
                mine = replace(mine, tables=(), schemas=(), event_store=())
            if name not in manifest.services:
                manifest.services[name] = mine
                manifest.origins[name] = where
                first_repo[name] = r
                _copy_lines(manifest, r.manifest, ("services", name))
                continue
            differ = [f for f in OWNERSHIP_FIELDS if _norm(getattr(manifest.services[name], f)) != _norm(getattr(mine, f))]
            if differ:
                conflicts.append((name, first_repo[name], r, differ))
            manifest.services[name] = _union(manifest.services[name], mine)
        for name, saga in r.manifest.sagas.items():
            merged_name = name if name not in manifest.sagas else f"{r.name}/{name}"
            manifest.sagas[merged_name] = _prefixed_saga(saga, r.name, merged_name)
            _copy_lines(manifest, r.manifest, ("sagas", name), ("sagas", merged_name))
    discovery, files = _merge_files(repos, org)
    if org is not None:     # repository services whose every file the org manifest took over
        coding = {f.service for f in discovery.files}
        for name in [n for n in manifest.services if n not in from_org and n not in coding]:
            del manifest.services[name]
    return Estate(manifest, discovery, files, _conflict_findings(conflicts, rules))


def _norm(value: Any) -> Any:
    if isinstance(value, tuple):
        return sorted(getattr(v, "text", v).lower() for v in value)
    return value


def _union(a: Service, b: Service) -> Service:
    def both(x: tuple, y: tuple) -> tuple:
        return x + tuple(v for v in y if v not in x)

    return replace(a, paths=both(a.paths, b.paths), database=a.database or b.database,
                   schemas=both(a.schemas, b.schemas), tables=both(a.tables, b.tables),
                   reads=both(a.reads, b.reads), event_store=both(a.event_store, b.event_store))


def _copy_lines(manifest: Manifest, source: Manifest, prefix: tuple, target: tuple | None = None) -> None:
    target = target or prefix
    for key, line in source.lines.items():
        if key[:len(prefix)] == prefix:
            manifest.lines.setdefault(target + key[len(prefix):], line)


def _prefixed_saga(saga: SagaSpec, repo: str, name: str) -> SagaSpec:
    def ref(r: str | None) -> str | None:
        return f"{repo}/{r}" if r else r

    return SagaSpec(name, tuple(SagaStepRef(ref(s.action), ref(s.compensation), s.pivot) for s in saga.steps),
                    saga.description)


def _merge_files(repos: list[RepoFacts], org: Manifest | None) -> tuple[Discovery, list[FileFacts]]:
    specs = [(name, pathspec.GitIgnoreSpec.from_lines(svc.paths)) for name, svc in org.services.items()] \
        if org is not None else []
    out = Discovery()
    files: list[FileFacts] = []
    for r in repos:
        def pre(path: str, repo: str = r.name) -> str:
            return f"{repo}/{path}"

        for f in r.discovery.files:
            path = pre(f.path)
            service = next((name for name, spec in specs if spec.match_file(path)), f.service)
            out.files.append(SourceFile(path, service))
        out.outside.extend(pre(p) for p in r.discovery.outside)
        out.excluded += r.discovery.excluded
        for (a, b), p in r.discovery.overlaps.items():
            out.overlaps.setdefault((a, b), pre(p))
        out.diagnostics.extend(replace(d, path=pre(d.path)) for d in r.discovery.diagnostics)
        for ff in r.files:
            files.append(FileFacts(pre(ff.path), ff.statements, ff.transactions, ff.two_phase,
                                   [replace(d, path=pre(d.path)) for d in ff.diagnostics]))
    out.files.sort(key=lambda f: f.path)
    out.outside.sort()
    files.sort(key=lambda f: f.path)
    return out, files


def _conflict_findings(conflicts: list[tuple[str, RepoFacts, RepoFacts, list[str]]],
                       rules: list[RuleInfo]) -> list[Finding]:
    rule = next((r for r in rules if r.name == "manifest-conflict"), None)
    if rule is None:
        return []
    out = []
    for name, first, other, differ in conflicts:
        out.append(Finding(
            code=rule.code, name=rule.name, severity=rule.severity,
            path=f"{other.name}/{other.manifest.display_path}", line=other.manifest.line_of("services", name),
            end_line=other.manifest.line_of("services", name), service=name, hint=rule.hint,
            message=f"service {name} is defined differently in repositories {first.name} and {other.name} "
                    f"({', '.join(differ)} differ); the org-wide check uses the union of both"))
    return out
