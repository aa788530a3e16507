"""The facts cache: warm runs reuse facts, and nothing stale, corrupt or foreign is ever used."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dbowner.runner as runner
from dbowner.analysis import analyze
from dbowner.discover import discover
from dbowner.manifest import load_manifest
from dbowner.runner import cache as cache_mod

MANIFEST = """
version: 1
services:
  orders:
    paths: ["orders/**"]
    tables: [orders]
  stock:
    paths: ["stock/**"]
    tables: [stock]
"""
FILES = {
    "dbowner.yaml": MANIFEST,
    "orders/app.py": """
        async def take(conn, pid):
            await conn.execute("UPDATE stock SET qty = qty - 1 WHERE id = $1", pid)
    """,
    "orders/plain.py": "def add(a, b):\n    return a + b\n",
    "orders/schema.sql": "CREATE TABLE orders (id INT PRIMARY KEY);\n",
    "stock/app.py": """
        def reserve(cur, pid):
            cur.execute("UPDATE stock SET qty = qty - 1 WHERE id = %s", (pid,))
    """,
}


@pytest.fixture
def repo(make_repo):
    root = make_repo(FILES)
    old = time.time() - 3600        # older than the racy window, so stats are trusted
    for p in root.rglob("*"):
        if p.is_file():
            os.utime(p, (old, old))
    return root


@pytest.fixture
def later(monkeypatch):
    """Runs happen an hour from now: files written by the test are past the racy window."""
    monkeypatch.setattr(runner, "_clock_ns", lambda: time.time_ns() + 3600 * 10**9)


@pytest.fixture
def extracted(monkeypatch):
    """Paths the runner really extracted (cache misses) in the runs of one test, serially."""
    seen: list[str] = []
    real = runner.extract_batch

    def spy(root, jobs, now_ns):
        seen.extend(j[1] for j in jobs)
        return real(root, jobs, now_ns)

    monkeypatch.setattr(runner, "extract_batch", spy)
    return seen


def run(root: Path, **kw):
    manifest = load_manifest(root / "dbowner.yaml")
    return [f.to_dict() for f in runner.extract_all(manifest, discover(manifest).files, workers=1, **kw)]


def findings(root: Path, use_cache: bool = True):
    a = analyze(load_manifest(root / "dbowner.yaml"), use_cache=use_cache)
    return [(f.name, f.path, f.line, f.table) for f in a.findings]


def shard_files(root: Path) -> list[Path]:
    return sorted((root / ".dbowner_cache").glob("facts-*.json"))


def cache_entries(root: Path) -> dict:
    entries: dict = {}
    for shard in shard_files(root):
        doc = json.loads(shard.read_text())
        assert doc["format"] == cache_mod.FORMAT
        entries.update(doc["entries"])
    return entries


def shard_with(root: Path, path: str) -> Path:
    return root / ".dbowner_cache" / cache_mod.shard_name(cache_mod.shard_of(path))


def test_second_run_extracts_nothing_and_gives_the_same_facts(repo, extracted):
    cold = run(repo)
    # every Python file is parsed (its functions may be saga steps); the pre-filter only skips its SQL walk
    assert sorted(extracted) == ["orders/app.py", "orders/plain.py", "orders/schema.sql", "stock/app.py"]
    extracted.clear()
    warm = run(repo)
    assert extracted == []
    assert warm == cold == run(repo, use_cache=False)
    assert findings(repo) == findings(repo, use_cache=False) == [
        ("cross-service-write", "orders/app.py", 2, "stock")]


def test_an_edited_file_is_extracted_again_and_only_that_one(repo, extracted):
    run(repo)
    extracted.clear()
    (repo / "orders/app.py").write_text(
        'async def take(conn, pid):\n    await conn.execute("UPDATE orders SET qty = 0 WHERE id = $1", pid)\n')
    facts = run(repo)
    assert extracted == ["orders/app.py"]
    assert findings(repo) == []     # the edit removed the violation: no stale finding survives


def test_unchanged_stat_is_a_hit_without_reading_the_file(repo, extracted, later, monkeypatch):
    cold = run(repo)
    extracted.clear()
    monkeypatch.setattr(runner, "content_hash", lambda data: pytest.fail("a trusted stat must skip hashing"))
    assert run(repo) == cold and extracted == []


def test_same_size_edit_with_restored_mtime_is_still_seen(repo, extracted, later):
    """`cp -p`/`touch -r` keep size and mtime; the inode change time still moves."""
    run(repo)
    assert all(e[3] for e in cache_entries(repo).values())
    extracted.clear()
    target = repo / "orders/app.py"
    before = target.stat()
    target.write_text(target.read_text().replace("stock", "STOCK"))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_size == before.st_size and target.stat().st_mtime_ns == before.st_mtime_ns
    run(repo)
    assert extracted == ["orders/app.py"]


def test_freshly_written_files_are_not_trusted_by_stat(repo, extracted):
    """A file changed within RACY_SECONDS of a run could change again within the same timestamp
    tick: it keeps no stat, so the next run hashes its content."""
    run(repo)
    entries = cache_entries(repo)
    assert entries["orders/app.py"][3] is None       # written by the test a moment ago (ctime is now)
    st = os.stat(repo / "orders/app.py")
    assert cache_mod.stat_key(st, time.time_ns()) is None
    assert cache_mod.stat_key(st, time.time_ns() + 3 * 10**9) == [st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                                                  st.st_ino]


def test_dialect_change_for_one_service_invalidates_only_its_files(repo, extracted):
    run(repo)
    extracted.clear()
    text = (repo / "dbowner.yaml").read_text().replace("tables: [stock]", "tables: [stock]\n    dialect: mysql")
    (repo / "dbowner.yaml").write_text(text)
    run(repo)
    assert extracted == ["stock/app.py"]


@pytest.mark.parametrize("damage", [
    b"",                                            # empty file
    b"{not json",                                   # truncated write of another tool
    b"\x00\xff" * 10,                               # binary garbage
    b"[1, 2, 3]",                                   # JSON of the wrong shape
    b'{"format": 1, "fingerprint": "x", "entries": {}}',
    b'"' + b"[" * 100_000 + b'"',                   # deeply nested
])
def test_corrupt_cache_is_ignored_and_rebuilt(repo, extracted, damage):
    cold = run(repo)
    for shard in shard_files(repo):
        shard.write_bytes(damage)
    extracted.clear()
    assert run(repo) == cold
    assert sorted(extracted) == ["orders/app.py", "orders/plain.py", "orders/schema.sql", "stock/app.py"]
    assert sorted(cache_entries(repo)) == ["orders/app.py", "orders/plain.py", "orders/schema.sql",
                                           "stock/app.py"]   # rebuilt


def test_one_corrupt_shard_costs_only_its_own_entries(repo, extracted):
    run(repo)
    shard_with(repo, "stock/app.py").write_bytes(b"{garbage")
    extracted.clear()
    assert len({cache_mod.shard_of(p) for p in ("stock/app.py", "orders/app.py", "orders/schema.sql")}) == 3
    run(repo)
    assert extracted == ["stock/app.py"]


def test_entries_that_do_not_fit_the_facts_model_are_misses(repo, extracted):
    cold = run(repo)
    for shard in shard_files(repo):
        doc = json.loads(shard.read_text())
        entries = doc["entries"]
        if "orders/app.py" in entries:
            entries["orders/app.py"][2] = {"path": "orders/app.py", "statements": [{"bogus": 1}]}
        if "stock/app.py" in entries:
            entries["stock/app.py"][2]["path"] = "orders/app.py"       # facts of another file
        if "orders/schema.sql" in entries:
            entries["orders/schema.sql"] = "not a list"
        shard.write_text(json.dumps(doc))
    extracted.clear()
    assert run(repo) == cold
    assert sorted(extracted) == ["orders/app.py", "orders/schema.sql", "stock/app.py"]   # plain.py: still cached


def test_cache_from_another_dbowner_or_extractor_is_not_used(repo, extracted, monkeypatch):
    run(repo)
    monkeypatch.setattr(cache_mod, "extractor_fingerprint", lambda: "another-version")
    extracted.clear()
    run(repo)
    assert sorted(extracted) == ["orders/app.py", "orders/plain.py", "orders/schema.sql", "stock/app.py"]
    assert {json.loads(p.read_text())["fingerprint"] for p in shard_files(repo)} == {"another-version"}


def test_fingerprint_follows_the_extractor_source(tmp_path, monkeypatch):
    pkg = tmp_path / "dbowner"
    (pkg / "extract").mkdir(parents=True)
    (pkg / "model.py").write_text("# model\n")
    (pkg / "extract" / "python.py").write_text("# extractor\n")
    monkeypatch.setattr(cache_mod, "_PACKAGE", pkg)
    first = cache_mod.extractor_fingerprint()
    assert cache_mod.extractor_fingerprint() == first
    (pkg / "extract" / "python.py").write_text("# extractor, fixed\n")
    assert cache_mod.extractor_fingerprint() != first
    assert b"30." in cache_mod._sqlglot_identity()     # the installed sqlglot's version is part of it


def test_cache_folder_is_tagged_and_ignored_and_left_clean(repo):
    run(repo)
    folder = repo / ".dbowner_cache"
    names = sorted(p.name for p in folder.iterdir())
    assert names[:2] == [".gitignore", "CACHEDIR.TAG"]
    assert names[2:] == sorted({cache_mod.shard_name(cache_mod.shard_of(p)) for p in cache_entries(repo)})
    assert cache_entries(repo)["orders/plain.py"][2]["statements"] == []   # no SQL: only its structure
    assert (folder / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"


def test_deleted_files_leave_the_cache(repo):
    run(repo)
    (repo / "stock/app.py").unlink()
    run(repo)
    assert "stock/app.py" not in cache_entries(repo)


def test_unwritable_cache_location_does_not_fail_the_run(repo):
    (repo / ".dbowner_cache").write_text("a file where the folder should be")
    assert findings(repo) == [("cross-service-write", "orders/app.py", 2, "stock")]


def test_no_cache_option_neither_reads_nor_writes(repo):
    def check(*args):
        return subprocess.run([sys.executable, "-m", "dbowner", "check", "--format", "json", *args], cwd=repo,
                              capture_output=True, text=True, timeout=120)

    clean = check("--no-cache")
    assert clean.returncode == 1 and not (repo / ".dbowner_cache").exists()
    assert check().stdout == clean.stdout and shard_files(repo)
    # Plant a cache entry that claims orders/app.py is clean: --no-cache must not read it.
    shard = shard_with(repo, "orders/app.py")
    doc = json.loads(shard.read_text())
    doc["entries"]["orders/app.py"][2]["statements"] = []
    shard.write_text(json.dumps(doc))
    assert check("--no-cache").stdout == clean.stdout
    assert check().stdout != clean.stdout      # the planted entry is what a cached run would use
    tables = subprocess.run([sys.executable, "-m", "dbowner", "tables", "--no-cache", "--format", "json"],
                            cwd=repo, capture_output=True, text=True, timeout=120)
    assert tables.returncode == 0 and '"stock"' in tables.stdout


def test_a_symlinked_cache_folder_is_neither_read_nor_written(repo, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (repo / ".dbowner_cache").symlink_to(elsewhere, target_is_directory=True)
    assert findings(repo) == [("cross-service-write", "orders/app.py", 2, "stock")]
    assert list(elsewhere.iterdir()) == []


def test_marker_files_are_never_written_through_a_planted_symlink(repo, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "victim"
    (repo / ".dbowner_cache").mkdir()
    (repo / ".dbowner_cache" / ".gitignore").symlink_to(outside)   # dangling: points at a new file
    run(repo)
    assert not outside.exists()
    assert shard_files(repo)
