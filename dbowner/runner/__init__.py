"""Run extraction over the discovered files: pre-filter, cache, process pool, progress bar.

For each file, in order of cost: a file whose stat, or else whose bytes, and extraction options
match the cache gets the cached facts; a Python file that fails the byte pre-filter gets its
(empty) facts at once; the rest (the misses) are extracted, in a process pool when there is enough
work to pay for it, serially otherwise. Results are placed by index, so the order and the facts
never depend on scheduling. Workers receive paths and return ``FileFacts.to_dict()``; serial runs make the same round trip,
so a cold, warm, serial or parallel run hands identical facts to the graph.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..discover import SourceFile
from ..extract import extract_file, facts_without_parsing
from ..manifest import Manifest
from ..model import Diagnostic, FileFacts
from .cache import FactsCache, content_hash, stat_key
from .progress import Progress

# Below this much estimated work, starting workers and shipping results costs more than it saves.
# bench/pool_threshold.py measured the break-even at ~0.05 s with fork on an idle machine and at
# ~0.1 s on a busy one (bench/README.md). Spawned workers (macOS, Windows) import dbowner and
# sqlglot again, ~0.3-0.5 s each, so they need much more work to pay off.
POOL_MIN_SECONDS = 0.1
POOL_MIN_SECONDS_SPAWN = 1.0
# Rough extraction speed per byte, only to estimate the work and to balance batches.
PY_BYTES_PER_SECOND = 3_000_000
SQL_BYTES_PER_SECOND = 600_000
BATCHES_PER_WORKER = 8
MAX_BATCH_FILES = 64

_clock_ns = time.time_ns   # the stat cache's notion of "now" (tests move it)

Job = tuple[int, str, str, int]          # index, path, extraction options (JSON), size in bytes
Result = tuple[int, str, "list[int] | None", dict[str, Any]]  # index, hash ("" if unreadable), stat, facts


def extract_all(manifest: Manifest, files: Sequence[SourceFile], *, use_cache: bool = True,
                progress: bool | None = None, workers: int | None = None) -> list[FileFacts]:
    """Facts of every file, in the order given. ``progress`` None: decide by the terminal."""
    bar = Progress(0, enabled=progress)   # its clock starts now: the bar shows in runs over a second
    root = manifest.root
    cache = FactsCache(root) if use_cache else None
    if cache is not None:
        cache.load()
    now_ns = _clock_ns()
    out: list[FileFacts | None] = [None] * len(files)
    todo: list[Job] = []
    options_of: dict[str, str] = {}
    for i, f in enumerate(files):
        options = options_of.get(f.service)
        if options is None:
            options = options_of[f.service] = json.dumps(extraction_options(manifest, f.service), sort_keys=True)
        full = os.path.join(root, f.path)
        try:
            stat = stat_key(os.stat(full), now_ns) if cache is not None else None
            if stat is not None:
                hit = _from_cache(cache, f.path, options, stat=stat)  # type: ignore[arg-type]
                if hit is not None:
                    out[i] = hit
                    continue
            with open(full, "rb") as fh:
                data = fh.read()
        except OSError as e:
            out[i] = _read_error(f.path, e)
            continue
        digest = content_hash(data) if cache is not None else ""
        if cache is not None:
            hit = _from_cache(cache, f.path, options, digest=digest, stat=stat)
            if hit is not None:
                out[i] = hit
                continue
        facts = facts_without_parsing(f.path, data)   # binary files end here, unparsed
        if facts is not None:
            out[i] = facts
            if cache is not None:
                cache.put(f.path, digest, options, _compact(f.path, facts.to_dict()), stat)
            continue
        todo.append((i, f.path, options, len(data)))

    by_index = {job[0]: job for job in todo}
    bar.total = len(todo)
    try:
        for index, digest, stat, facts in _run(str(root), todo, workers, bar, now_ns):
            out[index] = FileFacts.from_dict(facts)
            if cache is not None and digest:
                _, path, options, _ = by_index[index]
                cache.put(path, digest, options, _compact(path, facts), stat)
    finally:
        bar.close()
    if cache is not None:
        cache.save()
    return out  # type: ignore[return-value]  # every slot is filled above


def extraction_options(manifest: Manifest, service: str) -> dict[str, Any]:
    """Every argument extract_file gets besides the path and the bytes. Cache entries are keyed
    on all of them, so a manifest setting added here invalidates exactly the files it affects."""
    return {"dialect": manifest.dialect_of(service)}


def _from_cache(cache: FactsCache, path: str, options: str, *, digest: str | None = None,
                stat: list[int] | None = None) -> FileFacts | None:
    if digest is None:
        entry = cache.get_by_stat(path, stat, options)  # type: ignore[arg-type]
    else:
        entry = cache.get(path, digest, options, stat)
    if entry is None:
        return None
    try:
        facts = FileFacts(path) if entry[2] is None else FileFacts.from_dict(entry[2])
    except Exception:   # written by a dbowner whose facts had another shape, or tampered with
        facts = None
    if facts is None or facts.path != path:
        cache.forget(path)
        return None
    return facts


def _compact(path: str, facts: dict[str, Any]) -> dict[str, Any] | None:
    """None for a file without any fact (most files): keeps the cache small and quick to load."""
    return None if facts == FileFacts(path).to_dict() else facts


def _read_error(path: str, e: OSError) -> FileFacts:
    return FileFacts(path, diagnostics=[Diagnostic(path, 0, "read-error", f"cannot read: {e.strerror or e}")])


# --------------------------------------------------------------------------- extraction work
def extract_batch(root: str, jobs: Sequence[Job], now_ns: int) -> list[Result]:
    """Worker entry point (also used serially): read, hash and extract each file. The hash and
    stat are those of the bytes extracted here, so a file edited meanwhile is cached correctly."""
    results: list[Result] = []
    for index, path, options, _size in jobs:
        try:
            with open(os.path.join(root, path), "rb") as fh:
                stat = stat_key(os.fstat(fh.fileno()), now_ns)
                data = fh.read()
        except OSError as e:
            results.append((index, "", None, _read_error(path, e).to_dict()))
            continue
        facts = extract_file(path, data, **json.loads(options))
        results.append((index, content_hash(data), stat, facts.to_dict()))
    return results


def _cost(job: Job) -> float:
    return job[3] / (SQL_BYTES_PER_SECOND if job[1].endswith(".sql") else PY_BYTES_PER_SECOND)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))   # CPUs this process may use (containers, taskset)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _run(root: str, todo: list[Job], workers: int | None, bar: Progress, now_ns: int) -> Iterator[Result]:
    if not todo:
        return
    workers = cpu_count() if workers is None else workers
    work = sum(_cost(j) for j in todo)
    threshold = POOL_MIN_SECONDS if sys.platform.startswith("linux") else max(POOL_MIN_SECONDS, POOL_MIN_SECONDS_SPAWN)
    if workers < 2 or len(todo) < 2 or work < threshold:
        yield from _serial(root, todo, bar, now_ns)
        return
    yield from _parallel(root, todo, min(workers, len(todo)), work, bar, now_ns)


def _serial(root: str, jobs: Sequence[Job], bar: Progress, now_ns: int) -> Iterator[Result]:
    for job in jobs:
        result = extract_batch(root, [job], now_ns)
        bar.advance()
        yield from result


def _batches(todo: list[Job], workers: int, work: float) -> list[list[Job]]:
    """Consecutive runs of files of about equal estimated cost, biggest batches first."""
    target = work / (workers * BATCHES_PER_WORKER)
    batches: list[list[Job]] = []
    current: list[Job] = []
    acc = 0.0
    for job in todo:
        current.append(job)
        acc += _cost(job)
        if acc >= target or len(current) >= MAX_BATCH_FILES:
            batches.append(current)
            current, acc = [], 0.0
    if current:
        batches.append(current)
    batches.sort(key=lambda b: -sum(_cost(j) for j in b))
    return batches


def _parallel(root: str, todo: list[Job], workers: int, work: float, bar: Progress,
              now_ns: int) -> Iterator[Result]:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool
    from pickle import PicklingError

    # Imported before the fork, so each worker inherits sqlglot instead of importing it again.
    from ..extract import python, sql  # noqa: F401

    batches = _batches(todo, workers, work)
    pending = {i: b for i, b in enumerate(batches)}
    try:
        executor = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_worker_init)
    except (OSError, ImportError, NotImplementedError, ValueError):   # no semaphores, no fork...
        yield from _serial(root, todo, bar, now_ns)
        return
    try:
        futures = {executor.submit(extract_batch, root, b, now_ns): i for i, b in pending.items()}
        for fut in as_completed(futures):
            results = fut.result()
            del pending[futures[fut]]
            bar.advance(len(results))
            yield from results
    except (BrokenProcessPool, OSError, PicklingError):
        # A worker died (out of memory, killed): finish what is left here, in this process.
        for b in list(pending.values()):
            yield from _serial(root, b, bar, now_ns)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _context() -> Any:
    import multiprocessing

    # fork is cheap (workers inherit the imported extractors) and safe here: no thread is
    # running when the pool starts. Elsewhere (macOS, Windows) use the platform default.
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _worker_init() -> None:
    import gc
    import signal

    # Ctrl-C is the parent's to handle; workers stop when the pool shuts down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The inherited modules are long-lived: keep them out of the collector's way (notes 2.2).
    gc.freeze()


def tune_gc() -> None:
    """Garbage-collector settings for one short command-line run.

    Facts, graphs and parse trees are many small long-lived objects; with the default threshold
    (700 allocations) the collector rescans them over and over. Warm runs measured ~40% faster
    with the imported modules frozen and collections 100x rarer; memory stays bounded because
    parse trees are dropped file by file.
    """
    import gc

    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
