"""When does the process pool pay for itself? Times serial vs pooled extraction of growing sets
of files (ones that pass the pre-filter, i.e. really get parsed), in one process, best of N.

    python bench/pool_threshold.py [--repeat 5]

Uses a small generated monorepo in a temporary folder. Prints, per set, the runner's own work
estimate (the number compared with dbowner.runner.POOL_MIN_SECONDS) and both timings.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_monorepo  # noqa: E402

import dbowner.runner as runner  # noqa: E402
from dbowner.discover import discover  # noqa: E402
from dbowner.extract.prefilter import may_have_facts  # noqa: E402
from dbowner.manifest import load_manifest  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        gen_monorepo.generate(root, services=10, py_files=1500, sql_files=200, seed=3)
        manifest = load_manifest(root / "dbowner.yaml")
        files = [f for f in discover(manifest).files
                 if may_have_facts(f.path, (root / f.path).read_bytes())]
        runner.POOL_MIN_SECONDS = 0.0
        from dbowner.extract import python, sql  # noqa: F401  (imported once, as in a real run)
        print(f"{'files':>6} {'est. work s':>11} {'serial s':>9} {'2 procs s':>9} {'speed-up':>8}")
        for n in (2, 4, 8, 16, 32, 64, 128, 256, 512):
            subset = files[:: max(1, len(files) // n)][:n]
            jobs = [(i, f.path, "postgres", (root / f.path).stat().st_size) for i, f in enumerate(subset)]
            est = sum(runner._cost(j) for j in jobs)
            serial, pooled = [], []
            for _ in range(a.repeat):
                for workers, out in ((1, serial), (2, pooled)):
                    t = time.perf_counter()
                    runner.extract_all(manifest, subset, use_cache=False, workers=workers, progress=False)
                    out.append(time.perf_counter() - t)
            s, p = statistics.median(serial), statistics.median(pooled)
            print(f"{n:>6} {est:>11.3f} {s:>9.3f} {p:>9.3f} {s / p:>8.2f}")


if __name__ == "__main__":
    main()
