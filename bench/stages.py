"""CPU time of each stage of one `dbowner check` in this process, to see what dominates a run.

    python bench/stages.py ROOT [--no-cache] [--repeat 3]

Run it twice on a generated tree (bench/gen_monorepo.py): the first run fills the cache, the
second shows the warm run. CPU time (time.process_time) is used because wall time on a shared
machine mostly measures the neighbours; extraction in worker processes is not counted here.
"""
from __future__ import annotations

import argparse
import gc
import io
import time

T0 = time.process_time()
from pathlib import Path  # noqa: E402

from rich.console import Console  # noqa: E402

from dbowner.analysis import Analysis, _ambiguities  # noqa: E402
from dbowner.checks import registered_rules, run_checks  # noqa: E402
from dbowner.cli import main  # noqa: E402,F401  (what the command imports)
from dbowner.discover import discover  # noqa: E402
from dbowner.graph import build_graph  # noqa: E402
from dbowner.manifest import find_manifest, load_manifest  # noqa: E402
from dbowner.output import render  # noqa: E402
from dbowner.runner import extract_all, tune_gc  # noqa: E402

IMPORTS = time.process_time() - T0


def one_run(root: Path, use_cache: bool) -> dict[str, float]:
    times: dict[str, float] = {}
    t = time.process_time()

    def lap(name: str) -> None:
        nonlocal t
        now = time.process_time()
        times[name] = now - t
        t = now

    manifest = load_manifest(find_manifest(root))
    lap("manifest")
    discovery = discover(manifest)
    lap("discover")
    facts = extract_all(manifest, discovery.files, use_cache=use_cache, progress=False)
    lap("extract (parent)")
    og = build_graph(manifest, discovery, facts)
    lap("graph")
    rules = registered_rules()
    findings = run_checks(og, rules)
    lap("checks")
    diagnostics = [d for ff in facts for d in ff.diagnostics] + _ambiguities(og)
    analysis = Analysis(manifest, discovery, og, findings, rules, diagnostics)
    for fmt in ("json", "text"):
        render(fmt, analysis, Console(file=io.StringIO(), width=200))
        lap(f"output {fmt}")
    return times


def main_() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    tune_gc()
    print(f"imports (first run only) {IMPORTS:.3f} s")
    for i in range(a.repeat):
        times = one_run(a.root, not a.no_cache)
        print(f"run {i + 1}: " + ", ".join(f"{k} {v:.3f}" for k, v in times.items())
              + f"; total {sum(times.values()):.3f} s CPU")
        gc.collect()


if __name__ == "__main__":
    main_()
