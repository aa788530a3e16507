"""A throwaway PostgreSQL server for the tests, or the one named by DBOWNER_TEST_DSN.

`start_cluster()` runs the installed server binaries (`initdb`, `pg_ctl`) on a temporary folder
and a free loopback port, with `pg_stat_statements` preloaded and password (scram) auth. initdb
refuses to run as root: as root the cluster is made and run as the `postgres` user that Debian's
`postgresql` package creates (via `runuser`), with its folder handed to that user. Every reason
the server cannot be had is returned as a sentence, and the tests skip with it.
"""
from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ADMIN = "dbowner_admin"


@dataclass
class Server:
    host: str
    port: int
    user: str
    password: str
    dbname: str = "postgres"
    stop: Optional[callable] = None
    preloaded_pg_stat_statements: bool = True

    def dsn(self, dbname: Optional[str] = None, user: Optional[str] = None, password: Optional[str] = None) -> str:
        from psycopg.conninfo import make_conninfo
        return make_conninfo(host=self.host, port=self.port, user=user or self.user,
                             password=password if password is not None else self.password,
                             dbname=dbname or self.dbname)

    def url(self, dbname: str, user: str, password: str) -> str:
        return f"postgresql://{user}:{password}@{self.host}:{self.port}/{dbname}"


def find_bindir() -> Optional[Path]:
    """Folder of initdb/pg_ctl: PATH first, then Debian's /usr/lib/postgresql/<version>/bin (newest)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster() -> Server | str:
    """A running throwaway server, or the reason there is none."""
    bindir = find_bindir()
    if bindir is None:
        return ("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql; "
                "install Debian's postgresql package (.ci/run does) or set DBOWNER_TEST_DSN")
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run initdb as (initdb refuses root)"
        runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin")
        if runuser is None:
            return "running as root and runuser is missing, so initdb cannot run as the postgres user"
        run_as = [runuser, "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="dbowner-pg-"))   # under /tmp, which the postgres user can traverse
    data = base / "data"
    pwfile = base / "pw"
    password = secrets.token_urlsafe(18)
    pwfile.write_text(password + "\n")
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    os.chmod(pwfile, 0o600)
    port = _free_port()

    def run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        return subprocess.run([*run_as, *args], capture_output=True, text=True, timeout=timeout,
                              cwd=str(base), env={**os.environ, "LC_ALL": "C", "LANG": "C"})

    proc = run(str(bindir / "initdb"), "-D", str(data), "-U", ADMIN, f"--pwfile={pwfile}", "--auth=scram-sha-256",
               "--encoding=UTF8", "--no-sync")
    if proc.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        return f"initdb failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"
    opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='{base}' "
            "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=30 "
            "-c shared_buffers=16MB")
    proc = run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-o", opts, "-w",
               "-t", "60", "start")
    if proc.returncode != 0:
        log = (base / "server.log").read_text(errors="replace") if (base / "server.log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        return f"pg_ctl start failed: {(proc.stderr or proc.stdout).strip()} {log[-400:]}"

    def stop() -> None:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(base, ignore_errors=True)

    return Server("127.0.0.1", port, ADMIN, password, stop=stop)


def external_server(dsn: str) -> Server | str:
    """The server DBOWNER_TEST_DSN names (its user must be able to create roles and databases)."""
    from psycopg.conninfo import conninfo_to_dict
    try:
        info = conninfo_to_dict(dsn)
    except Exception as e:   # noqa: BLE001 - the reason is shown as the skip message
        return f"DBOWNER_TEST_DSN is not a valid connection string: {type(e).__name__}"
    host = str(info.get("host") or "127.0.0.1")
    if host not in ("localhost", "127.0.0.1", "::1") and not host.startswith("127."):
        return f"DBOWNER_TEST_DSN must point at a loopback address, not {host}"
    return Server(host, int(info.get("port") or 5432), str(info.get("user") or ""),
                  str(info.get("password") or ""), str(info.get("dbname") or "postgres"))


def get_server() -> Server | str:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    dsn = os.environ.get("DBOWNER_TEST_DSN")
    return external_server(dsn) if dsn else start_cluster()
