"""Attribute the connections found in deployment config to manifest services.

Extraction reads each config file alone; here the pieces meet. A connection belongs to:
1. the service its compose service / k8s container is for: by build context (or Dockerfile folder),
   else by the env_file it loads, else by the path of the config file, else by name;
2. for a ConfigMap/Secret: every service whose containers load it;
3. for a file-level connection (.env, settings, alembic.ini): the service owning the file by path,
   plus every service whose compose service loads the file as env_file.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pathspec

from .discover import Discovery
from .extract.dburl import DEFAULT_PORTS
from .filekinds import is_test_label
from .manifest import Manifest
from .model import Connection, DeployUnit, FileFacts

LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "localhost.localdomain"}
_CONTAINER_KINDS = {"compose-service", "k8s-container"}


@dataclass(frozen=True)
class ServiceConnection:
    service: str            # "" when no manifest service could be found for it
    path: str               # the config file
    connection: Connection
    via: str                # how it was attributed, for people: "build context services/orders", "path"...
    in_container: bool      # made from inside a container: there "localhost" is the container itself

    @property
    def label(self) -> str:
        return self.connection.label

    def key(self) -> tuple[str, str, str] | None:
        """(host, port, database) to compare, or None when it cannot be confirmed: partial, a test
        config, an SQLite file that is not an absolute path, or localhost inside a container."""
        c = self.connection
        if c.partial or is_test_label(c.label):
            return None
        if c.driver == "sqlite":
            return ("", "sqlite", c.database) if c.database.startswith("/") else None
        host = c.host
        if host in LOOPBACK:
            if self.in_container:
                return None
            host = "localhost"
        return (host, c.port or DEFAULT_PORTS.get(c.driver, ""), c.database)

    def where(self) -> str:
        return f"{self.path}:{self.connection.line}"


def display_target(key: tuple[str, str, str]) -> str:
    host, port, database = key
    if port == "sqlite":
        return f"sqlite file {database}"
    server = host if ("," in host or not port) else f"{host}:{port}"
    return f"'{database}' on {server}"


def labels_compatible(a: str, b: str) -> bool:
    return a == b or not a or not b


def attribute_connections(manifest: Manifest, discovery: Discovery,
                          facts: Iterable[FileFacts]) -> list[ServiceConnection]:
    facts = [ff for ff in facts if ff.connections or ff.deploy_units]
    resolver = _Resolver(manifest, discovery)
    units: dict[str, list[tuple[str, DeployUnit]]] = defaultdict(list)   # unit name -> (path, unit)
    unit_service: dict[tuple[str, str], tuple[str, str]] = {}            # (path, unit) -> (service, via)
    for ff in facts:
        for unit in ff.deploy_units:
            units[unit.name].append((ff.path, unit))
            if unit.kind in _CONTAINER_KINDS:
                unit_service[(ff.path, unit.name)] = resolver.unit_owner(ff.path, unit)
    # who loads what: env files and ConfigMaps/Secrets -> [(service, via)]
    loaders: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (path, name), (service, _) in sorted(unit_service.items()):
        if not service:
            continue
        unit = next(u for p, u in units[name] if p == path)
        for source in unit.sources:
            loaders[source].append((service, f"{source.split(':', 1)[0]} loaded by {unit.name} ({path})"))

    out = []
    for ff in facts:
        owner = resolver.file_owner(ff.path)
        for c in ff.connections:
            if c.unit:
                found = [u for p, u in units.get(c.unit, []) if p == ff.path]
                unit = found[0] if found else None
                if unit is not None and unit.kind in _CONTAINER_KINDS:
                    service, via = unit_service[(ff.path, unit.name)]
                    out.append(ServiceConnection(service, ff.path, c, via, True))
                    continue
                holders = loaders.get(c.unit, [])          # ConfigMap/Secret: its loaders
                if holders:
                    out.extend(ServiceConnection(s, ff.path, c, via, True) for s, via in _unique(holders))
                else:
                    out.append(ServiceConnection(owner, ff.path, c, "path" if owner else "", True))
                continue
            holders = loaders.get(f"file:{ff.path}", [])
            if owner:
                out.append(ServiceConnection(owner, ff.path, c, "path", False))
            out.extend(ServiceConnection(s, ff.path, c, via, True) for s, via in _unique(holders) if s != owner)
            if not owner and not holders:
                out.append(ServiceConnection("", ff.path, c, "", False))
    return sorted(out, key=lambda sc: (sc.service, sc.path, sc.connection.line, sc.connection.key))


def _unique(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for service, via in pairs:
        seen.setdefault(service, via)
    return sorted(seen.items())


def normalise_name(name: str) -> str:
    """orders_service, Orders-API, orders-svc -> orders."""
    n = re.sub(r"[_.\s]+", "-", name.lower()).strip("-")
    return re.sub(r"-(service|svc|api|app|server|srv|ms)\Z", "", n) or n


class _Resolver:
    def __init__(self, manifest: Manifest, discovery: Discovery) -> None:
        self.manifest = manifest
        self.owner = {f.path: f.service for f in discovery.files}
        self.specs = {name: pathspec.GitIgnoreSpec.from_lines(svc.paths) for name, svc in manifest.services.items()}
        self.by_name: dict[str, list[str]] = defaultdict(list)
        for name in manifest.services:
            self.by_name[normalise_name(name)].append(name)

    def file_owner(self, path: str) -> str:
        return self.owner.get(path, "")

    def dir_owner(self, folder: str) -> str:
        """The one service whose files are in `folder` (a build context), or ""."""
        prefix = folder + "/" if folder else ""
        owners = {svc for path, svc in self.owner.items() if svc and path.startswith(prefix)}
        if len(owners) == 1:
            return owners.pop()
        if owners or not folder:
            return ""
        probe = [name for name, spec in self.specs.items() if spec.match_file(prefix + "Dockerfile")]
        return probe[0] if len(probe) == 1 else ""

    def unit_owner(self, path: str, unit: DeployUnit) -> tuple[str, str]:
        for folder in unit.build:
            service = self.dir_owner(folder)
            if service:
                return service, f"build context {folder or '.'} of {unit.name}"
        for source in unit.sources:
            if source.startswith("file:") and self.file_owner(source[5:]):
                return self.file_owner(source[5:]), f"env_file {source[5:]} of {unit.name}"
        if self.file_owner(path):
            return self.file_owner(path), "path"
        for name in unit.names:
            matches = self.by_name.get(normalise_name(name), [])
            if len(matches) == 1:
                return matches[0], f"name of {unit.name}"
        return "", ""
