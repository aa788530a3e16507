"""Database URLs and DSNs -> (driver, host, port, database), with variable interpolation.

Credentials are parsed past and dropped here, so they never reach facts, caches or output.
A part that came from a variable nobody defines holds UNRESOLVED and makes the target partial.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import parse_qsl, unquote

UNRESOLVED = "\ue001"   # stands for the value of an undefined variable

# URL scheme (before any "+driver") -> normalised driver name. Anything else is not a database URL.
_SCHEMES = {
    "postgres": "postgresql", "postgresql": "postgresql", "pgsql": "postgresql", "psql": "postgresql",
    "postgis": "postgresql", "timescaledb": "postgresql", "redshift": "postgresql",
    "cockroachdb": "cockroachdb", "cockroach": "cockroachdb",
    "mysql": "mysql", "mariadb": "mysql", "mysqlx": "mysql",
    "mssql": "mssql", "sqlserver": "mssql",
    "oracle": "oracle",
    "mongodb": "mongodb", "mongodb+srv": "mongodb",
    "sqlite": "sqlite", "sqlite3": "sqlite",
}
DEFAULT_PORTS = {"postgresql": "5432", "cockroachdb": "26257", "mysql": "3306", "mssql": "1433",
                 "oracle": "1521", "mongodb": "27017"}
_URL = re.compile(r"(?:jdbc:)?([a-z][a-z0-9.+-]*)://(.*)\Z", re.I | re.S)


@dataclass(frozen=True)
class Target:
    driver: str
    host: str
    port: str
    database: str
    partial: bool


def _clean(part: str) -> tuple[str, bool]:
    """(value, unresolved?) of one URL part."""
    if UNRESOLVED in part:
        return "", True
    return part, False


def parse_url(text: str) -> Optional[Target]:
    """A database URL such as postgresql+asyncpg://user:pw@db:5432/orders, or None."""
    m = _URL.match(text.strip())
    if not m:
        return None
    scheme = m.group(1).lower()
    driver = _SCHEMES.get(scheme) or _SCHEMES.get(scheme.split("+", 1)[0])
    if driver is None:
        return None
    rest = m.group(2)
    # userinfo ends at the last "@" before the path (passwords may hold "/", "@" is escaped or last)
    slash = rest.find("/", rest.rfind("@") + 1)
    netloc, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash + 1:])
    hostport = netloc.rsplit("@", 1)[-1]
    path, _, query = path.partition("?")
    params = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
    if driver == "sqlite":
        if UNRESOLVED in path:
            return Target(driver, "", "", "", True)
        database = unquote(path) or ":memory:"
        return Target(driver, "", "", database, False)
    host, port = _split_hostport(hostport)
    host = params.get("host", host)
    port = params.get("port", port)
    database = unquote(path.strip("/")) or params.get("dbname", params.get("database", ""))
    host, bad_host = _clean(host)
    port, bad_port = _clean(port)
    database, bad_db = _clean(database)
    if port and not port.isdigit():
        port, bad_port = "", True          # never keep text that is not a port (it may be a secret)
    if not host and not bad_host and driver in ("postgresql", "mysql"):
        host = "localhost"    # no host: the local server (unix socket)
    partial = bad_host or bad_port or bad_db or not host or not database or (port != "" and not port.isdigit())
    return Target(driver, host.lower(), port, database, partial)


def _split_hostport(netloc: str) -> tuple[str, str]:
    if netloc.startswith("["):                       # [::1]:5432
        host, _, rest = netloc[1:].partition("]")
        return host, rest.lstrip(":")
    if "," in netloc:                                # several hosts (replica sets): keep them all
        hosts = sorted(h.strip() for h in netloc.split(",") if h.strip())
        return ",".join(hosts), ""
    host, _, port = netloc.partition(":")
    return host, port


_LIBPQ = re.compile(r"\s*(?:[a-z_]+\s*=\s*(?:'(?:[^'\\]|\\.)*'|[^\s']*)\s*)+\Z", re.I)
_LIBPQ_PAIR = re.compile(r"([a-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']*)", re.I)
_ADO_KEYS = {"host": "host", "server": "host", "data source": "host", "address": "host", "addr": "host",
             "port": "port", "database": "database", "initial catalog": "database", "dbname": "database"}


def parse_dsn(text: str) -> Optional[Target]:
    """A libpq key=value string (host=db dbname=orders) or an ADO.NET/ODBC one
    (Host=db;Database=orders;...), or None."""
    text = text.strip()
    if "=" not in text:
        return None
    if ";" in text:
        return _parse_ado(text)
    if not _LIBPQ.match(text):
        return None
    pairs = {k.lower(): v.strip("'") for k, v in _LIBPQ_PAIR.findall(text)}
    if "dbname" not in pairs or not ({"host", "hostaddr"} & set(pairs)):
        return None
    return _target("postgresql", pairs.get("host") or pairs.get("hostaddr", ""), pairs.get("port", ""),
                   pairs["dbname"])


def _parse_ado(text: str) -> Optional[Target]:
    fields: dict[str, str] = {}
    keys: set[str] = set()
    for item in text.split(";"):
        key, eq, value = item.partition("=")
        if not eq:
            if item.strip():
                return None
            continue
        key = " ".join(key.lower().split())
        keys.add(key)
        if key in _ADO_KEYS:
            fields.setdefault(_ADO_KEYS[key], value.strip())
    if "host" not in fields or "database" not in fields:
        return None
    host, port = fields["host"], fields.get("port", "")
    host = re.sub(r"^tcp:", "", host, flags=re.I)
    if "," in host and not port:                     # SQL Server: Server=tcp:host,1433
        host, port = host.split(",", 1)
    if "username" in keys or "host" in keys:          # Npgsql spells it Host=...;Username=...
        driver = "postgresql"
    elif "initial catalog" in keys or "data source" in keys:
        driver = "mssql"
    else:
        driver = ""
    return _target(driver, host, port, fields["database"])


def _target(driver: str, host: str, port: str, database: str) -> Target:
    host = host.strip()
    if not port and re.fullmatch(r"[^:,\[\]]+:\d+", host):     # MONGO_HOST=user-db:27017
        host, port = host.split(":")
    host, bad_host = _clean(host)
    port, bad_port = _clean(port.strip())
    database, bad_db = _clean(database.strip())
    if port and not port.isdigit():
        port, bad_port = "", True
    partial = bad_host or bad_port or bad_db or not host or not database or (port != "" and not port.isdigit())
    return Target(driver, host.lower(), port, database, partial)


def parse_any(text: str) -> Optional[Target]:
    """A URL or a DSN; None when the text is neither."""
    return parse_url(text) or parse_dsn(text)


# Split settings: DB_HOST + DB_NAME (+ DB_PORT), POSTGRES_HOST + POSTGRES_DB, PGHOST + PGDATABASE...
_SPLIT_PREFIX = re.compile(r"(?:^|_)(DB|DATABASE|POSTGRES|POSTGRESQL|PG|MYSQL|MARIADB|MONGO|MONGODB|SQL)_?\Z")
_HOST_SUFFIX = ("HOST", "HOSTNAME", "SERVER")
_NAME_SUFFIX = ("NAME", "DB", "DATABASE", "DBNAME")
_PREFIX_DRIVER = {"POSTGRES": "postgresql", "POSTGRESQL": "postgresql", "PG": "postgresql", "MYSQL": "mysql",
                  "MARIADB": "mysql", "MONGO": "mongodb", "MONGODB": "mongodb"}


def split_settings(env: dict[str, str]) -> list[tuple[str, str, Target]]:
    """(prefix, host key, target) for each group of host/port/name variables in one environment.
    A group needs a host variable: POSTGRES_DB alone configures a database server, not a client."""
    out = []
    upper = {k.upper(): k for k in env}
    for key_u, key in sorted(upper.items()):
        for suffix in _HOST_SUFFIX:
            if not key_u.endswith(suffix):
                continue
            prefix = key_u[: -len(suffix)]
            m = _SPLIT_PREFIX.search(prefix)
            if not m:
                continue
            name_key = next((upper[prefix + s] for s in _NAME_SUFFIX if prefix + s in upper), None)
            port_key = upper.get(prefix + "PORT")
            driver = _PREFIX_DRIVER.get(m.group(1), "")
            target = _target(driver, env[key], env[port_key] if port_key else "",
                             env[name_key] if name_key else "")
            out.append((prefix.rstrip("_"), key, target))
            break
    return out


# ---- variable interpolation -------------------------------------------------------------------

def interpolate(value: str, lookup: Callable[[str], Optional[str]]) -> str:
    """Compose / dotenv interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR:+alt}. Undefined variables without a default become UNRESOLVED."""
    out = []
    i = 0
    n = len(value)
    while i < n:
        ch = value[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = value[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = _closing_brace(value, i + 2)
            if end < 0:
                out.append(UNRESOLVED)
                break
            out.append(_expand_braced(value[i + 2:end], lookup))
            i = end + 1
        elif nxt.isalpha() or nxt == "_":
            m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", value[i + 1:])
            assert m
            found = lookup(m.group(0))
            out.append(UNRESOLVED if found is None else found)
            i += 1 + m.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _closing_brace(s: str, start: int) -> int:
    depth = 1
    i = start
    while i < len(s):
        if s.startswith("${", i):
            depth += 1
            i += 2
            continue
        if s[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _expand_braced(body: str, lookup: Callable[[str], Optional[str]]) -> str:
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?(.*)\Z", body, re.S)
    if not m:
        return UNRESOLVED
    name, op, arg = m.group(1), m.group(2) or "", m.group(3)
    found = lookup(name)
    if not op:
        return UNRESOLVED if found is None or arg else found
    if op in (":-", "-"):
        if found is not None and (found != "" or op == "-"):
            return found
        return interpolate(arg, lookup)
    if op in (":?", "?"):
        return UNRESOLVED if found is None or (op == ":?" and found == "") else found
    # :+ / + : the alternative when set; we cannot know about undefined variables
    return interpolate(arg, lookup) if found else UNRESOLVED


_K8S_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def interpolate_k8s(value: str, lookup: Callable[[str], Optional[str]]) -> str:
    """Kubernetes env $(VAR) references to earlier variables of the same container; $$ escapes."""
    def repl(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        found = lookup(m.group(1))
        return UNRESOLVED if found is None else found
    return _K8S_REF.sub(repl, value)
