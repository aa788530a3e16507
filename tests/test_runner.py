"""The extraction runner: a process pool gives exactly the serial result; the progress bar only
shows on a terminal; the speed-ups in discovery and ownership give the same answers as before."""
from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from pathlib import Path

import pathspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dbowner.runner as runner
from dbowner.discover import _ServiceMatcher, discover
from dbowner.manifest import load_manifest
from dbowner.manifest.loader import KNOWN_DIALECTS
from dbowner.manifest.ownership import Ownership
from dbowner.model import TableName
from dbowner.runner.progress import Progress, progress_wanted

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "fixtures" / "shop"


def many_files(root: Path, n: int = 60) -> None:
    (root / "dbowner.yaml").write_text(
        "version: 1\nservices:\n"
        "  a:\n    paths: ['a/**']\n    tables: [orders]\n"
        "  b:\n    paths: ['b/**']\n    tables: [stock]\n    dialect: mysql\n", "utf-8")
    rng = random.Random(5)
    for i in range(n):
        svc = "ab"[i % 2]
        (root / svc).mkdir(exist_ok=True)
        if i % 3 == 0:
            body = f"CREATE TABLE t{i} (id INT REFERENCES stock(id));\nUPDATE orders SET x = {i};\nSELEC oops;\n"
            (root / svc / f"m{i:03d}.sql").write_text(body, "utf-8")
        else:
            table = rng.choice(["orders", "stock", f"t{i}"])
            body = (f"async def f{i}(conn):\n    async with conn.transaction():\n"
                    f"        await conn.execute('UPDATE {table} SET n = n + 1')\n"
                    f"        await conn.fetch('SELECT * FROM orders o JOIN stock s ON s.id = o.id')\n")
            if i % 7 == 0:
                body += "def broken(:\n"
            (root / svc / f"m{i:03d}.py").write_text(body, "utf-8")


def facts_of(root: Path, workers: int) -> list[dict]:
    manifest = load_manifest(root / "dbowner.yaml")
    files = discover(manifest).files
    return [f.to_dict() for f in runner.extract_all(manifest, files, use_cache=False, workers=workers)]


def test_pool_and_serial_give_identical_facts_in_file_order(tmp_path, monkeypatch):
    many_files(tmp_path)
    serial = facts_of(tmp_path, workers=1)
    used = []
    real = runner._parallel

    def spy(*args, **kw):
        used.append(True)
        yield from real(*args, **kw)

    monkeypatch.setattr(runner, "POOL_MIN_SECONDS", 0.0)   # force the pool on this small tree
    monkeypatch.setattr(runner, "POOL_MIN_SECONDS_SPAWN", 0.0)
    monkeypatch.setattr(runner, "MAX_BATCH_FILES", 3)      # many batches finishing out of order
    monkeypatch.setattr(runner, "_parallel", spy)
    pooled = facts_of(tmp_path, workers=2)
    assert used == [True]
    assert pooled == serial
    assert [f["path"] for f in pooled] == sorted(f["path"] for f in pooled)
    assert any(f["statements"] for f in pooled) and any(f["diagnostics"] for f in pooled)


def test_pool_that_cannot_start_falls_back_to_serial(tmp_path, monkeypatch):
    many_files(tmp_path, 12)
    serial = facts_of(tmp_path, workers=1)

    def no_pool(*a, **kw):
        raise OSError("no semaphores here")

    monkeypatch.setattr(runner, "POOL_MIN_SECONDS", 0.0)
    monkeypatch.setattr(runner, "POOL_MIN_SECONDS_SPAWN", 0.0)
    import concurrent.futures
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    assert facts_of(tmp_path, workers=2) == serial


PARENT = os.getpid()
REAL_EXTRACT_BATCH = runner.extract_batch


def dies_in_a_worker(root, jobs, now_ns):
    if os.getpid() != PARENT and any(j[1].endswith("m004.py") for j in jobs):
        os._exit(1)
    return REAL_EXTRACT_BATCH(root, jobs, now_ns)


dies_in_a_worker.__qualname__ = dies_in_a_worker.__name__ = "extract_batch"   # pickled by name


def test_a_worker_that_dies_does_not_lose_files(tmp_path, monkeypatch):
    """A worker killed mid-run (out of memory, a crash in a C extension): the rest is done here."""
    many_files(tmp_path, 30)
    serial = facts_of(tmp_path, workers=1)
    monkeypatch.setattr(runner, "POOL_MIN_SECONDS", 0.0)
    monkeypatch.setattr(runner, "POOL_MIN_SECONDS_SPAWN", 0.0)
    monkeypatch.setattr(runner, "MAX_BATCH_FILES", 4)
    monkeypatch.setattr(runner, "extract_batch", dies_in_a_worker)
    redone = []
    real_serial = runner._serial

    def serial_spy(root, jobs, bar, now_ns):
        redone.extend(j[1] for j in jobs)
        yield from real_serial(root, jobs, bar, now_ns)

    monkeypatch.setattr(runner, "_serial", serial_spy)
    assert facts_of(tmp_path, workers=2) == serial
    assert any(p.endswith("m004.py") for p in redone)     # the dead worker's batch was done here


def test_small_trees_stay_serial(tmp_path, monkeypatch):
    many_files(tmp_path, 12)
    monkeypatch.setattr(runner, "_parallel", lambda *a, **kw: pytest.fail("a tiny tree must not start a pool"))
    facts_of(tmp_path, workers=2)


def test_batches_cover_every_job_once():
    jobs = [(i, f"f{i}.py", "postgres", (i * 7919) % 50_000) for i in range(500)]
    work = sum(runner._cost(j) for j in jobs)
    batches = runner._batches(jobs, 2, work)
    assert sorted(j for b in batches for j in b) == jobs
    assert all(len(b) <= runner.MAX_BATCH_FILES for b in batches)


# ------------------------------------------------------------------------------ progress bar
class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_wanted_only_on_a_terminal_outside_ci():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert progress_wanted(Tty(), {}) is True
    assert progress_wanted(io.StringIO(), {}) is False          # piped or redirected
    assert progress_wanted(Tty(), {"CI": "true"}) is False
    assert progress_wanted(Tty(), {"CI": "1"}) is False
    assert progress_wanted(Tty(), {"CI": "false"}) is True


def test_progress_in_ci_prints_nothing_even_on_a_terminal(monkeypatch):
    monkeypatch.setenv("CI", "true")
    master, slave = os.openpty()
    stream, clock = os.fdopen(slave, "w"), FakeClock()
    bar = Progress(10, stream=stream, clock=clock)
    clock.now = 5.0
    bar.advance(10)
    bar.close()
    stream.flush()
    os.set_blocking(master, False)
    try:
        drawn = os.read(master, 65536)
    except BlockingIOError:
        drawn = b""
    stream.close()
    os.close(master)
    assert not bar.enabled and drawn == b""


def test_progress_on_a_pipe_prints_nothing_even_for_long_runs():
    stream, clock = io.StringIO(), FakeClock()
    bar = Progress(100, stream=stream, clock=clock)
    for _ in range(100):
        clock.now += 0.1
        bar.advance()
    bar.close()
    assert stream.getvalue() == ""


def test_progress_on_a_terminal_appears_after_a_second_and_is_erased(monkeypatch):
    monkeypatch.delenv("CI", raising=False)      # a person at a terminal, not a CI job
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w")
    clock = FakeClock()
    bar = Progress(50, stream=stream, clock=clock)
    assert bar.enabled
    clock.now = 0.5
    bar.advance(10)
    assert bar.bar is None                   # under a second: nothing drawn yet
    clock.now = 1.5
    bar.advance(10)
    bar.close()
    stream.flush()
    drawn = os.read(master, 65536).decode("utf-8", "replace")
    stream.close()
    os.close(master)
    assert "dbowner: analysing" in drawn and "20/50" in drawn


def test_check_with_stderr_piped_writes_nothing_there(tmp_path):
    many_files(tmp_path, 40)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    proc = subprocess.run([sys.executable, "-m", "dbowner", "check", "--no-cache", "--format", "json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1 and proc.stdout.startswith("{")
    assert proc.stderr == ""


# ------------------------------------------------------------------------------ discovery index
SEGMENTS = ["services", "orders", "users", "app", "migrations", "libs", "x.py", "a.sql", "ord"]
PATTERNS = ["services/orders/**", "services/users/**", "libs/*/app/**", "*.sql", "**/migrations/**",
            "/services/ord*/**", "services/orders", "!services/orders/app/**", "app/", "libs/x.py",
            "services/[ou]*/**", r"services/orders\ x/**", "#comment", ""]


PATHS = ["services/orders/app/x.py", "services/orders/migrations/a.sql", "services/users/x.py", "libs/x.py",
         "libs/users/app/x.py", "services/ord/x.py", "services/orders x/a.sql", "app/x.py", "x.py", "a.sql",
         "services/orders", "services/ordersx/app/x.py"]
path_strategy = st.sampled_from(PATHS) | st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=5).map("/".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3), min_size=1, max_size=5),
       st.lists(path_strategy, min_size=1, max_size=30))
def test_service_index_matches_trying_every_service(service_patterns, paths):
    specs = [(f"s{i}", pathspec.GitIgnoreSpec.from_lines(p)) for i, p in enumerate(service_patterns)]
    matcher = _ServiceMatcher(specs)
    for rel in paths:
        assert matcher.owners(rel) == [name for name, spec in specs if spec.match_file(rel)], rel


def test_service_index_on_a_typical_manifest():
    specs = [(name, pathspec.GitIgnoreSpec.from_lines(p)) for name, p in (
        ("orders", ["services/orders/**", "libs/events/**"]), ("users", ["services/users/**", "shared/users_*.py"]),
        ("sql", ["*.sql"]))]
    matcher = _ServiceMatcher(specs)
    assert matcher.owners("services/orders/app/x.py") == ["orders"]
    assert matcher.owners("services/orders/m/1.sql") == ["orders", "sql"]
    assert matcher.owners("libs/events/e.py") == ["orders"]
    assert matcher.owners("shared/users_repo.py") == ["users"]
    assert matcher.owners("shared/other.py") == []


# ------------------------------------------------------------------------------ ownership index
def brute_candidates(own: Ownership, table: TableName):
    scored = [(own._strength(s, table), s) for s in own.services.values()]
    top = max((score for score, _ in scored), default=0)
    if top == 0:
        return []
    found = [s for score, s in scored if score == top]
    if table.catalog:
        found = [s for s in found if s.database == table.catalog] or found
    return found


def test_indexed_owner_lookup_equals_scoring_every_service():
    own = Ownership(load_manifest(SHOP / "dbowner.yaml"))
    names = ["orders", "order_items", "saga_x", "customers", "stock", "nope", "processed_events",
             "order_events", "products", "accounts"]
    schemas = ["", "public", "inventory", "payments", "orders", "x"]
    for name in names:
        for schema in schemas:
            for catalog in ("", "shop_db", "orders_db"):
                t = TableName(name, schema, catalog)
                assert own.candidates(t) == brute_candidates(own, t), t


def test_known_dialects_are_sqlglot_dialects():
    from sqlglot.dialects.dialect import Dialect

    for name in KNOWN_DIALECTS:
        Dialect.get_or_raise(name)


def test_a_warm_check_does_not_import_the_parsers(tmp_path):
    """Startup time is most of a warm run: sqlglot is only imported when something is parsed."""
    many_files(tmp_path, 6)
    code = ("import sys\nfrom dbowner.cli import main\nsys.argv = ['dbowner', 'check', '.']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('sqlglot' in sys.modules, file=sys.stderr)")
    first = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    second = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert first.stderr.strip().endswith("True")          # cold: parsed
    assert second.stderr.strip().endswith("False"), second.stderr
    assert first.stdout == second.stdout
