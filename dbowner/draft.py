"""`dbowner init`'s logic: a draft dbowner.yaml from the repository itself.

Services come from the folder layout (folders under services/, apps/, src/..., or any folder with
a Dockerfile, pyproject.toml, requirements.txt, setup.py, manage.py or a Django apps.py); owned
tables from what each service's code creates (any ``ddl`` access with action ``create``: SQL
files, migrations, SQL strings, and ORM models once extraction reports them); the database from
the deployment config attributed to it. Nothing is written here: the caller writes the text.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .deployment import ServiceConnection, attribute_connections
from .discover import ALWAYS_SKIPPED_DIRS, Discovery, SourceFile, discover
from .manifest import Manifest, Service
from .manifest.ownership import DYNAMIC, SYSTEM_SCHEMAS
from .model import DDL, WRITE, FileFacts, TableName
from .runner import extract_all

MARKER_FILES = ("Dockerfile", "pyproject.toml", "requirements.txt", "setup.py", "setup.cfg", "manage.py",
                "Pipfile", "go.mod", "pom.xml", "build.gradle", "package.json", "apps.py")
CONTAINER_DIRS = {"services", "service", "apps", "src", "microservices", "svc", "components", "modules"}
NOT_SERVICES = {"tests", "test", "docs", "doc", "scripts", "tools", "examples", "example", "deploy",
                "deployment", "deployments", "k8s", "kubernetes", "helm", "charts", "infra", "terraform",
                "libs", "lib", "common", "shared", "vendor", "third_party", "migrations", "fixtures",
                "build", "dist", "site-packages", "static", "templates", "assets", "node_modules"}
# Base images of folders that build a database server or a piece of infrastructure, not a service.
DATABASE_IMAGES = {"postgres", "postgis", "mysql", "mariadb", "percona", "mongo", "mongodb", "redis", "cassandra",
                   "elasticsearch", "opensearch", "server", "mssql", "cockroach", "timescaledb", "couchdb",
                   "neo4j", "influxdb", "clickhouse-server", "memcached"}
INFRA_IMAGES = {"nginx", "envoy", "traefik", "haproxy", "fluentd", "fluent-bit", "prometheus", "grafana",
                "jaeger", "all-in-one", "zipkin", "rabbitmq", "kafka", "zookeeper", "logstash", "kibana",
                "vault", "consul", "localstack", "minio", "keycloak", "kong", "otel-collector",
                "opentelemetry-collector"}
DEFAULT_EXCLUDE = ("**/tests/**", "**/test/**")
MAX_DEPTH = 3
_DIALECTS = {"postgresql": "postgres", "cockroachdb": "postgres", "mysql": "mysql", "sqlite": "sqlite",
             "mssql": "tsql", "oracle": "oracle"}


class DraftError(Exception):
    pass


@dataclass
class ProposedService:
    name: str
    folder: str                          # posix, relative to the root
    evidence: list[str]                  # marker files found, or why it was guessed
    guessed: bool = False                # no marker file: only its place in the layout
    role: str = "service"                # service, database (a database server image), infrastructure
    tables: dict[str, list[str]] = field(default_factory=dict)   # table -> ["path:line", ...]
    used_tables: dict[str, list[str]] = field(default_factory=dict)   # owned by use alone (no CREATE found)
    connections: list[ServiceConnection] = field(default_factory=list)
    database: str = ""
    database_from: str = ""
    other_databases: list[str] = field(default_factory=list)
    dialect: str = ""


@dataclass
class Draft:
    text: str
    services: list[ProposedService]
    unassigned_tables: dict[str, list[str]]
    outside_folders: list[str]


def detect_services(root: Path) -> list[ProposedService]:
    """Service folders by layout, in path order. A folder that is a service is not searched further."""
    found: list[ProposedService] = []

    def walk(folder: Path, rel: str, depth: int) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
        except OSError:
            return
        in_container = folder.name.lower() in CONTAINER_DIRS and depth > 0
        for child in children:
            name = child.name
            if name.startswith(".") or name in ALWAYS_SKIPPED_DIRS or name.lower() in NOT_SERVICES:
                continue
            child_rel = f"{rel}/{name}" if rel else name
            markers = [m for m in MARKER_FILES if (child / m).is_file()]
            if markers:
                base = _base_image(child / "Dockerfile") if "Dockerfile" in markers else ""
                role = ("database" if base in DATABASE_IMAGES else
                        "infrastructure" if base in INFRA_IMAGES else "service")
                evidence = markers if role == "service" else [f"Dockerfile FROM {base}"]
                found.append(ProposedService(name, child_rel, evidence, role=role))
            elif in_container and _has_code(child):
                found.append(ProposedService(name, child_rel, [f"a folder under {rel}/"], guessed=True))
            elif depth < MAX_DEPTH:
                walk(child, child_rel, depth + 1)

    walk(root, "", 0)
    _unique_names(found)
    return found


def _base_image(dockerfile: Path) -> str:
    """The image a Dockerfile's last stage builds on, without registry and tag: mysql, nginx..."""
    try:
        text = dockerfile.read_text("utf-8", errors="replace")
    except OSError:
        return ""
    images = re.findall(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", text, re.I | re.M)
    if not images:
        return ""
    return images[-1].split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0].lower()


def _has_code(folder: Path) -> bool:
    for _dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in ALWAYS_SKIPPED_DIRS and not d.startswith(".")]
        if any(f.endswith((".py", ".sql")) for f in filenames):
            return True
    return False


def _unique_names(services: list[ProposedService]) -> None:
    """Names valid in the manifest and unique: two `api` folders become orders-api and users-api."""
    for s in services:
        s.name = _clean_name(s.name)
    counts = Counter(s.name for s in services)
    for s in services:
        if counts[s.name] > 1:
            parts = s.folder.split("/")
            s.name = _clean_name("-".join(parts[-2:]) if len(parts) > 1 else s.folder)
    seen: Counter[str] = Counter()
    for s in services:
        seen[s.name] += 1
        if seen[s.name] > 1:
            s.name = f"{s.name}-{seen[s.name]}"


def _clean_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-_.")
    return cleaned or "service"


def draft_manifest(root: Path) -> Draft:
    root = root.resolve()
    detected = detect_services(root)
    services = [s for s in detected if s.role == "service"]
    left_out = [s for s in detected if s.role != "service"]
    if not services:
        raise DraftError(f"{root}: no service folders found (looked for folders under services/, apps/, src/ and "
                         f"folders with a {', '.join(MARKER_FILES[:6])}); write dbowner.yaml by hand, see README")
    manifest = Manifest(
        path=root / "dbowner.yaml", exclude=DEFAULT_EXCLUDE,
        services={s.name: Service(s.name, paths=(f"{s.folder}/**",)) for s in services},
    )
    discovery = discover(manifest)
    facts = extract_all(manifest, discovery.files, use_cache=False)   # no manifest yet: no cache
    by_name = {s.name: s for s in services}
    service_of = {f.path: f.service for f in discovery.files}
    for ff in facts:
        owner = by_name.get(service_of.get(ff.path, ""))
        if owner:
            for table, where in created_tables(ff):
                owner.tables.setdefault(table, []).append(where)
    unassigned = _unassigned_tables(manifest, discovery)
    _owners_by_use(services, facts, service_of, unassigned)
    for sc in attribute_connections(manifest, discovery, facts):
        if sc.service in by_name:
            by_name[sc.service].connections.append(sc)
    _choose_databases(services)
    outside = sorted({p.rsplit("/", 1)[0] + "/" if "/" in p else p for p in discovery.outside})
    outside = [f for f in outside if not any(f == s.folder + "/" or f.startswith(s.folder + "/") for s in left_out)]
    return Draft(render(services, unassigned, outside, left_out), services, unassigned, outside)


def created_tables(ff: FileFacts) -> list[tuple[str, str]]:
    """(table, "path:line") for every table this file's code creates (temp tables excepted)."""
    out = []
    for stmt in ff.statements:
        for access in stmt.accesses:
            if access.role == DDL and access.action == "create":
                out.append((_table_text(access.table), f"{ff.path}:{access.line}"))
    return out


def _owners_by_use(services: list[ProposedService], facts: list[FileFacts], service_of: dict[str, str],
                   unassigned: dict[str, list[str]]) -> None:
    """Tables nobody creates (ORM-made, or created elsewhere): the only service that writes one
    owns it; failing writers, the only service that uses it. Anything else stays unassigned."""
    created = {t for s in services for t in s.tables} | set(unassigned)
    created |= {t.rsplit(".", 1)[-1] for t in created}     # `stock` in code may be inventory.stock
    writers: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    users: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for ff in facts:
        service = service_of.get(ff.path, "")
        if not service:
            continue
        temp = {a.table.name for st in ff.statements for a in st.accesses if a.action == "create_temp"}
        for st in ff.statements:
            for a in st.accesses:
                t = a.table
                if t.name in temp or DYNAMIC.search(str(t)) or t.schema in SYSTEM_SCHEMAS:
                    continue
                text = _table_text(t)
                if text in created:
                    continue
                users[text][service].append(f"{ff.path}:{a.line}")
                if a.role == WRITE:
                    writers[text][service].append(f"{ff.path}:{a.line}")
    by_name = {s.name: s for s in services}
    for table in sorted(users):
        who = writers[table] if writers.get(table) else users[table]
        verb = "writes" if writers.get(table) else "uses"
        if len(who) == 1:
            service, places = next(iter(who.items()))
            by_name[service].used_tables[table] = [f"guess: no CREATE TABLE found, only {service} {verb} it; "
                                                   f"{_where(places)}"]
        else:
            by_whom = "written" if verb == "writes" else "used"
            unassigned[table] = [f"no CREATE TABLE found; {by_whom} by {', '.join(sorted(who))}"]


def _table_text(t: TableName) -> str:
    return t.name if t.schema in ("", "public") else f"{t.schema}.{t.name}"


def _unassigned_tables(manifest: Manifest, discovery: Discovery) -> dict[str, list[str]]:
    """Tables created by .sql/.py files outside every proposed service (a shared migrations/ folder)."""
    outside = [SourceFile(p, "") for p in discovery.outside]
    out: dict[str, list[str]] = {}
    for ff in extract_all(manifest, outside, use_cache=False):
        for table, where in created_tables(ff):
            out.setdefault(table, []).append(where)
    return out


def _choose_databases(services: list[ProposedService]) -> None:
    """Each service's most used complete connection becomes its `database`. The logical name is the
    database's own name, or name@host when two servers hold databases of that name."""
    chosen: dict[str, tuple[tuple[str, str, str], ServiceConnection]] = {}
    for s in services:
        usable = [sc for sc in s.connections if sc.key() is not None]
        if not usable:
            continue
        # prefer config for every environment over one named for dev/prod
        best_label = min(usable, key=lambda sc: (sc.label != "", sc.label)).label
        usable = [sc for sc in usable if sc.label == best_label]
        counts = Counter(sc.key() for sc in usable)
        key = sorted(counts, key=lambda k: (-counts[k], k))[0]
        first = min((sc for sc in usable if sc.key() == key), key=lambda sc: (sc.path, sc.connection.line))
        chosen[s.name] = (key, first)
        s.other_databases = sorted({_describe_key(k) for k in counts if k != key})
        s.dialect = _DIALECTS.get(first.connection.driver, "")
    servers_of: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for key, _ in chosen.values():
        servers_of[key[2]].add((key[0], key[1]))
    for s in services:
        if s.name not in chosen:
            continue
        (host, port, database), sc = chosen[s.name]
        if port == "sqlite":
            s.database = Path(database).name
        else:
            s.database = database if len(servers_of[database]) == 1 else f"{database}@{host}"
        s.database_from = f"{sc.where()} ({sc.connection.key})"


def _describe_key(key: tuple[str, str, str]) -> str:
    host, port, database = key
    return database if port == "sqlite" else f"{database}@{host}:{port}"


# ---- rendering -----------------------------------------------------------------------------------

def render(services: list[ProposedService], unassigned: dict[str, list[str]], outside: list[str],
           left_out: list[ProposedService] = ()) -> str:
    dialects = Counter(s.dialect for s in services if s.dialect)
    top_dialect = sorted(dialects, key=lambda d: (-dialects[d], d != "postgres", d))[0] if dialects else "postgres"
    creators: dict[str, list[str]] = defaultdict(list)
    for s in services:
        for table in s.tables:
            creators[table].append(s.name)
    lines = [
        "# dbowner.yaml: a draft written by `dbowner init`. Review it before you rely on it.",
        "# Services come from the folder layout, owned tables from the CREATE TABLE statements in each",
        "# service's code, databases from its deployment config (compose, .env, settings, alembic.ini,",
        "# Kubernetes). Comments say where each guess comes from; lines marked 'guess:' need a look.",
        "# Every key is described in dbowner's README, section \"The manifest\".",
        "version: 1",
        f"dialect: {top_dialect}",
        f"exclude: {json.dumps(list(DEFAULT_EXCLUDE))}          # tests may touch every table",
        "",
        "services:",
    ]
    for s in services:
        block = [(f"  {s.name}:", "")]
        why = ("guess: " if s.guessed else "") + ", ".join(s.evidence)
        block.append((f"    paths: {json.dumps([s.folder + '/**'])}", why))
        if s.database:
            block.append((f"    database: {_scalar(s.database)}", f"from {s.database_from}"))
            if s.other_databases:
                block.append((f"    # guess: it also connects to {', '.join(s.other_databases)}; "
                              "one `database` is kept", ""))
        else:
            block.append(("    # database: not found in its deployment config "
                          "(compose, .env, settings, alembic.ini, k8s)", ""))
        if s.dialect and s.dialect != top_dialect:
            block.append((f"    dialect: {s.dialect}", ""))
        block.extend(_owned_lines(s, creators))
        lines.extend(_aligned(block))
        lines.append("")
    for role, what in (("database", "database servers"), ("infrastructure", "infrastructure")):
        folders = [f"{s.folder}/ ({s.evidence[0]})" for s in left_out if s.role == role]
        if folders:
            lines.append(f"# Left out as {what}, not services: {', '.join(folders)}. Add one if it owns data.")
            lines.append("")
    if outside:
        lines.append("# Code outside every service above is not analysed: "
                     f"{_short(', '.join(outside), 200)}. Add it to a service's paths if one owns it.")
        lines.append("")
    if unassigned:
        lines.append("# Tables no service above owns yet (assign each to its owner):")
        for table in sorted(unassigned):
            lines.append(f"#   {table}  ({_where(unassigned[table])})")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _aligned(block: list[tuple[str, str]]) -> list[str]:
    """Lines with their trailing comments lined up in one column."""
    width = min(max((len(text) for text, note in block if note), default=0), 48) + 2
    return [f"{text.ljust(width)}# {note}" if note else text for text, note in block]


def _owned_lines(s: ProposedService, creators: dict[str, list[str]]) -> list[tuple[str, str]]:
    if not s.tables and not s.used_tables:
        return [("    # tables: no CREATE TABLE or use of a table found in its .sql/.py files; list what it owns", "")]
    schemas = {t.split(".", 1)[0] for t in s.tables if "." in t}
    unqualified = [t for t in s.tables if "." not in t]
    sole_schema = len(schemas) == 1 and not unqualified and not s.used_tables
    if sole_schema:
        schema = next(iter(schemas))
        others = sorted({c for t, who in creators.items() if t.startswith(schema + ".") for c in who} - {s.name})
        if not others:
            names = ", ".join(sorted(t.split(".", 1)[1] for t in s.tables))
            return [(f"    schemas: [{_scalar(schema)}]", f"it creates every table there: {_short(names)}")]
    out = [("    tables:", "")]
    for table in sorted(set(s.tables) | set(s.used_tables)):
        if table in s.used_tables:
            note = s.used_tables[table][0]
        else:
            note = _where(s.tables[table])
            shared = [c for c in creators[table] if c != s.name]
            if shared:
                note = f"guess: {', '.join(shared)} creates it too, decide who owns it; {note}"
        out.append((f"      - {_scalar(table)}", note))
    return out


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.@-]*\Z")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def _scalar(text: str) -> str:
    """A YAML scalar: plain when that reads back as the same string, quoted otherwise."""
    return text if _PLAIN.match(text) and text.lower() not in _YAML_WORDS else json.dumps(text)


def _where(places: list[str]) -> str:
    places = sorted(set(places))
    return places[0] + (f" (+{len(places) - 1} more)" if len(places) > 1 else "")


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3].rsplit(",", 1)[0] + ", ..."
