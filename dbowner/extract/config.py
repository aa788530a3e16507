"""Deployment config -> the databases it connects services to.

docker-compose files (service ``environment``, ``env_file``, ``build``), ``.env`` files,
``alembic.ini`` and Kubernetes manifests (container ``env``/``envFrom``, ConfigMaps, Secrets).
Each file is read on its own: a compose service or k8s container becomes a DeployUnit that names
what it is built from and where its environment comes from; attributing units to manifest
services happens later (dbowner.deployment). Credentials never leave this module.
"""
from __future__ import annotations

import base64
import binascii
import posixpath
import re
from typing import Any, Callable, Optional

import yaml

from ..filekinds import config_kind, env_label
from ..model import Connection, DeployUnit, Diagnostic, FileFacts
from .dburl import UNRESOLVED, Target, interpolate, interpolate_k8s, parse_any, split_settings

_K8S_KIND = re.compile(r"^kind:\s*[\"']?(Deployment|StatefulSet|DaemonSet|ReplicaSet|Job|CronJob|Pod|"
                       r"ConfigMap|Secret|List|DeploymentConfig)\b", re.M)


def extract_config_file(path: str, text: str) -> FileFacts:
    kind = config_kind(path)
    facts = FileFacts(path)
    if kind == "dotenv":
        env = parse_dotenv(text)
        facts.connections.extend(env_connections(env, unit="", label=env_label(path)))
    elif kind == "alembic":
        facts.connections.extend(_alembic(text, env_label(path)))
    elif kind == "compose":
        _compose(path, text, facts)
    elif kind == "yaml" and _K8S_KIND.search(text) and "apiVersion" in text:
        _kubernetes(path, text, facts)
    facts.connections.sort(key=lambda c: (c.line, c.key, c.unit))
    return facts


# ---- env -> connections ------------------------------------------------------------------------

EnvValue = tuple[str, int]   # (value after interpolation, line)


def env_connections(env: dict[str, EnvValue], *, unit: str, label: str) -> list[Connection]:
    """Connections in one environment: URL/DSN values and host/port/name variable groups."""
    out = []
    for key, (value, line) in env.items():
        target = parse_any(value)
        if target is not None:
            out.append(_connection(line, key, target, unit, _key_label(key, label)))
    for prefix, host_key, target in split_settings({k: v for k, (v, _) in env.items()}):
        out.append(_connection(env[host_key][1], f"{prefix}_*", target, unit, _key_label(prefix, label)))
    return out


def _key_label(key: str, label: str) -> str:
    return "test" if re.match(r"TEST(_|\Z)", key, re.I) else label


def _connection(line: int, key: str, t: Target, unit: str, label: str) -> Connection:
    return Connection(line=line, key=key, driver=t.driver, host=t.host, port=t.port, database=t.database,
                      partial=t.partial, unit=unit, label=label)


# ---- .env ----------------------------------------------------------------------------------------

_DOTENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)\Z")


def parse_dotenv(text: str) -> dict[str, EnvValue]:
    """KEY=value lines (export, quotes, # comments, ${VAR} from earlier keys); multi-line values
    are not supported and are skipped."""
    env: dict[str, EnvValue] = {}
    lookup = _lookup_in(env)
    for no, raw in enumerate(text.splitlines(), 1):
        m = _DOTENV_LINE.match(raw)
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip()
        if value[:1] == "'":
            end = value.find("'", 1)
            if end < 0:
                continue
            env[key] = (value[1:end], no)
        elif value[:1] == '"':
            end = _closing_quote(value)
            if end < 0:
                continue
            body = value[1:end].replace('\\"', '"').replace("\\n", "\n")
            env[key] = (interpolate(body, lookup), no)
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
            env[key] = (interpolate(value, lookup), no)
    return env


def _closing_quote(value: str) -> int:
    i = 1
    while i < len(value):
        if value[i] == "\\":
            i += 2
            continue
        if value[i] == '"':
            return i
        i += 1
    return -1


def _lookup_in(env: dict[str, EnvValue]) -> Callable[[str], Optional[str]]:
    def lookup(name: str) -> Optional[str]:
        found = env.get(name)
        return None if found is None else found[0]
    return lookup


def _no_vars(name: str) -> Optional[str]:
    return None


# ---- alembic.ini ---------------------------------------------------------------------------------

_INI_SECTION = re.compile(r"\s*\[([^\]]+)\]")
_INI_URL = re.compile(r"\s*sqlalchemy\.url\s*[=:]\s*(.*)\Z")


def _alembic(text: str, label: str) -> list[Connection]:
    out = []
    section = ""
    for no, raw in enumerate(text.splitlines(), 1):
        if raw.lstrip().startswith(("#", ";")):
            continue
        m = _INI_SECTION.match(raw)
        if m:
            section = m.group(1).strip()
            continue
        m = _INI_URL.match(raw)
        if not m:
            continue
        # configparser interpolation %(name)s is filled in by env.py at run time: unknown here
        value = re.sub(r"%\([^)]*\)s", UNRESOLVED, m.group(1).strip()).replace("%%", "%")
        target = parse_any(value)
        if target is not None:
            key = "sqlalchemy.url" if section in ("", "alembic") else f"[{section}] sqlalchemy.url"
            out.append(_connection(no, key, target, "", label))
    return out


# ---- YAML with lines -----------------------------------------------------------------------------

class LineDict(dict):
    """A YAML mapping that remembers the line of each key."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[str, int] = {}


class LineList(list):
    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass


def _construct_map(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)          # YAML merge keys (<<: *defaults), common in compose files
    out = LineDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (dict, list)) or key is None:
            continue
        out[str(key)] = loader.construct_object(value_node, deep=True)
        out.lines[str(key)] = key_node.start_mark.line + 1
    return out


def _construct_seq(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LineList:
    out = LineList()
    out.line = node.start_mark.line + 1
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.lines.append(item.start_mark.line + 1)
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
for _tag in ("!reference", "!Ref", "!Sub", "!GetAtt"):   # tolerate foreign tags: keep their text
    _Loader.add_constructor(_tag, lambda loader, node: None)


def _yaml_documents(path: str, text: str, facts: FileFacts) -> list[Any]:
    try:
        return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        # e.problem only: str(e) quotes the offending line, which may hold a password
        facts.diagnostics.append(Diagnostic(path, mark.line + 1 if mark else 0, "parse-error",
                                            f"invalid YAML: {e.problem or e.context}"))
    except yaml.YAMLError as e:
        facts.diagnostics.append(Diagnostic(path, 0, "parse-error", f"invalid YAML: {type(e).__name__}"))
    return []


def _scalar_text(value: Any) -> Optional[str]:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---- docker compose ------------------------------------------------------------------------------

def _compose(path: str, text: str, facts: FileFacts) -> None:
    docs = _yaml_documents(path, text, facts)
    if not docs or not isinstance(docs[0], dict):
        return
    services = docs[0].get("services")
    if not isinstance(services, LineDict):
        return
    here = posixpath.dirname(path)
    label = env_label(path)
    for name, spec in services.items():
        if not isinstance(spec, LineDict):
            continue
        unit = DeployUnit(
            name=name, line=services.lines[name], kind="compose-service",
            names=tuple(dict.fromkeys(n for n in (name, _text(spec.get("container_name")),
                                                   _image_name(spec.get("image"))) if n)),
            build=_compose_build(here, spec.get("build")),
            sources=tuple(f"file:{p}" for p in _compose_env_files(here, spec.get("env_file"))),
        )
        facts.deploy_units.append(unit)
        env = _compose_environment(spec.get("environment"))
        facts.connections.extend(env_connections(env, unit=name, label=label))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _image_name(image: Any) -> str:
    """registry.example.com/shop/orders-service:1.2@sha256:... -> orders-service."""
    if not isinstance(image, str) or UNRESOLVED in image or "$" in image:
        return ""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def _rel(here: str, ref: str) -> Optional[str]:
    """A path in a config file, relative to that file's folder, as a repo-relative posix path."""
    if not ref or "://" in ref or ref.startswith(("/", "~", "git@")) or "$" in ref:
        return None
    joined = posixpath.normpath(posixpath.join(here, ref))
    if joined == "..":
        return None
    if joined.startswith("../"):
        return None                      # outside the analysed tree
    return "" if joined == "." else joined


def _compose_build(here: str, build: Any) -> tuple[str, ...]:
    if isinstance(build, str):
        ctx = _rel(here, build)
        return () if ctx is None else (ctx,)
    if not isinstance(build, dict):
        return ()
    ctx = _rel(here, _text(build.get("context")) or ".")
    if ctx is None:
        return ()
    out = [ctx]
    dockerfile = _text(build.get("dockerfile"))
    if dockerfile and "/" in dockerfile:
        folder = _rel(ctx, posixpath.dirname(dockerfile))
        if folder is not None and folder not in out:
            out.append(folder)
    return tuple(out)


def _compose_env_files(here: str, env_file: Any) -> list[str]:
    items = env_file if isinstance(env_file, list) else [env_file]
    out = []
    for item in items:
        ref = item.get("path") if isinstance(item, dict) else item
        if isinstance(ref, str):
            rel = _rel(here, ref)
            if rel:
                out.append(rel)
    return out


def _compose_environment(environment: Any) -> dict[str, EnvValue]:
    env: dict[str, EnvValue] = {}
    if isinstance(environment, LineDict):
        for key, value in environment.items():
            text = _scalar_text(value)
            # a bare key passes the shell's value through: unknown here
            env[key] = (UNRESOLVED if text is None else interpolate(text, _no_vars), environment.lines[key])
    elif isinstance(environment, LineList):
        for item, line in zip(environment, environment.lines):
            if not isinstance(item, str):
                continue
            key, eq, value = item.partition("=")
            env[key.strip()] = (interpolate(value, _no_vars) if eq else UNRESOLVED, line)
    return env


# ---- Kubernetes ----------------------------------------------------------------------------------

_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.S)


def _kubernetes(path: str, text: str, facts: FileFacts) -> None:
    label = env_label(path)
    if "{{" in text:
        # A Helm/Go template: as YAML it may not parse, and where it does, {{ .Values.x }} is unknown.
        probe = FileFacts(path)
        docs = _yaml_documents(path, _TEMPLATE.sub(UNRESOLVED, text), probe)
        if probe.diagnostics:
            facts.diagnostics.append(Diagnostic(path, 0, "skipped-template",
                                                "Helm/Go template: render it (helm template) to analyse its env"))
            return
    else:
        docs = _yaml_documents(path, text, facts)
    for doc in docs:
        is_list = isinstance(doc, dict) and doc.get("kind") == "List"
        for item in ((doc.get("items") or []) if is_list else [doc]):
            if isinstance(item, LineDict):
                _k8s_object(item, label, facts)


_POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def _k8s_object(obj: LineDict, label: str, facts: FileFacts) -> None:
    kind = _text(obj.get("kind"))
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = _text(meta.get("name"))
    if kind in ("ConfigMap", "Secret"):
        _k8s_env_object(obj, kind, name, label, facts)
        return
    spec: Any = obj
    for key in _POD_SPEC_PATHS.get(kind, ("spec", "template", "spec")):
        spec = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return
    labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
    app = _text(labels.get("app")) or _text(labels.get("app.kubernetes.io/name"))
    for group in ("initContainers", "containers"):
        containers = spec.get(group)
        if not isinstance(containers, LineList):
            continue
        for container, line in zip(containers, containers.lines):
            if isinstance(container, LineDict):
                _k8s_container(kind, name, app, container, line, label, facts)


def _k8s_container(kind: str, workload: str, app: str, c: LineDict, line: int, label: str,
                   facts: FileFacts) -> None:
    cname = _text(c.get("name"))
    unit = f"{kind}/{workload}/{cname}"
    sources = []
    env: dict[str, EnvValue] = {}
    lookup = _lookup_in(env)
    env_list = c.get("env")
    if isinstance(env_list, LineList):
        for item, item_line in zip(env_list, env_list.lines):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            value = _scalar_text(item.get("value"))
            ref = item.get("valueFrom") if isinstance(item.get("valueFrom"), dict) else {}
            for ref_kind, prefix in (("configMapKeyRef", "configmap"), ("secretKeyRef", "secret")):
                if isinstance(ref.get(ref_kind), dict) and _text(ref[ref_kind].get("name")):
                    sources.append(f"{prefix}:{ref[ref_kind]['name']}")
            env[item["name"]] = (UNRESOLVED if value is None else interpolate_k8s(value, lookup), item_line)
    env_from = c.get("envFrom")
    if isinstance(env_from, list):
        for item in env_from:
            if not isinstance(item, dict):
                continue
            for ref_kind, prefix in (("configMapRef", "configmap"), ("secretRef", "secret")):
                if isinstance(item.get(ref_kind), dict) and _text(item[ref_kind].get("name")):
                    sources.append(f"{prefix}:{item[ref_kind]['name']}")
    names = tuple(dict.fromkeys(n for n in (cname, workload, app, _image_name(c.get("image"))) if n))
    facts.deploy_units.append(DeployUnit(unit, line, "k8s-container", names=names,
                                         sources=tuple(dict.fromkeys(sources))))
    facts.connections.extend(env_connections(env, unit=unit, label=label))


def _k8s_env_object(obj: LineDict, kind: str, name: str, label: str, facts: FileFacts) -> None:
    unit = f"{kind.lower()}:{name}"
    env: dict[str, EnvValue] = {}
    for field, encoded in (("data", kind == "Secret"), ("stringData", False)):
        data = obj.get(field)
        if not isinstance(data, LineDict):
            continue
        for key, value in data.items():
            text = _scalar_text(value)
            if text is None:
                continue
            if encoded:
                try:
                    text = base64.b64decode(text, validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError, ValueError):
                    continue
            env[key] = (text, data.lines[key])
    facts.deploy_units.append(DeployUnit(unit, obj.line, f"k8s-{kind.lower()}"))
    facts.connections.extend(env_connections(env, unit=unit, label=label))
