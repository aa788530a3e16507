"""dbowner speed benchmark: whole-process times against the floor F, in one run.

    python bench/run.py [--repeat 5] [--workdir DIR] [--sqlfluff-files 100] [--keep]

1. Generates the synthetic monorepo (bench/gen_monorepo.py: 200 services, 10,000 Python files,
   2,000 SQL files) in a temporary folder, never inside the repository.
2. Times, each --repeat times, as separate processes:
   - F, the floor: bench/floor.py, one process running ast.parse on every Python file;
   - `dbowner check` cold (no .dbowner_cache), warm (cache filled, nothing changed) and after
     touching one file (a line appended to a repository module with SQL);
   - the SQL path alone: `dbowner check --no-cache` on a tree of the first --sqlfluff-files SQL
     files, and `sqlfluff parse` (dialect postgres) on the same files, if sqlfluff is installed
     (`pip install -e ".[bench]"`).
3. Prints medians, min-max spread and peak memory (sum of the RSS of the process and its
   workers, sampled every 10 ms), and writes the raw numbers to WORKDIR/results.json.

Medians are reported because this machine is shared and noisy: user+sys CPU time is printed too,
as it depends less on other load than wall time does.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_monorepo  # noqa: E402

TARGETS = {"cold": 1.0, "warm": 0.05, "touched": 0.1}
PEAK_TARGET_MB = 1024


def tree_rss_kb(pid: int) -> int:
    """RSS of a process and all its descendants, from /proc (Linux)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


def measure(cmd: list[str], cwd: Path, stdout=subprocess.DEVNULL, ok=(0, 1)) -> dict:
    """Wall time, user+sys CPU of the process tree, and peak summed RSS of one command."""
    peak = [0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_kb(proc.pid))
            done.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if ok is not None and proc.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed ({proc.returncode}):\n{err[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": peak[0] / 1024,
            "maxrss_mb": usage.ru_maxrss / 1024, "exit": proc.returncode}


def summarize(runs: list[dict]) -> dict:
    walls = [r["wall"] for r in runs]
    return {"median": statistics.median(walls), "min": min(walls), "max": max(walls),
            "cpu": statistics.median(r["cpu"] for r in runs), "peak_mb": max(r["peak_mb"] for r in runs),
            "runs": runs}


def dbowner_cmd() -> list[str]:
    return [sys.executable, "-m", "dbowner"]


def main() -> None:
    ap = argparse.ArgumentParser(description="dbowner speed benchmark")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workdir", type=Path, default=None, help="default: a new temporary folder")
    ap.add_argument("--sqlfluff-files", type=int, default=1000, help="0 skips the sqlfluff comparison")
    ap.add_argument("--sqlfluff-bin", action="append", default=[],
                    help="sqlfluff executables to compare with (repeatable), e.g. one from a venv with "
                         "sqlfluff[rs]; default: the one installed beside this Python")
    ap.add_argument("--sql-only", action="store_true", help="only the SQL-path comparison")
    ap.add_argument("--keep", action="store_true", help="keep the generated tree")
    a = ap.parse_args()
    work = a.workdir or Path(tempfile.mkdtemp(prefix="dbowner-bench-"))
    repo = work / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    counts = gen_monorepo.generate(repo, 200, 10_000, 2_000, seed=1)
    time.sleep(2.5)   # past dbowner's racy-timestamp window, as a real checkout would be
    results: dict = {"machine": machine(), "tree": counts, "repeat": a.repeat}
    try:
        import sqlglot.tokens
        results["sqlglotc"] = bool(sqlglot.tokens.SQLGLOTC_INSTALLED)
    except Exception:
        results["sqlglotc"] = False
    check = [*dbowner_cmd(), "check", ".", "--format", "json"]
    cache = repo / ".dbowner_cache"

    print(f"tree: {counts}; sqlglotc: {results['sqlglotc']}; repeat {a.repeat}", flush=True)

    def save(step: str) -> None:
        (work / "results.json").write_text(json.dumps(results, indent=2))
        print(f"  {step} done", flush=True)

    if a.sql_only:
        results["sql_path"] = sql_path(work, repo, a.sqlfluff_files, a.repeat, a.sqlfluff_bin)
        save("sql path")
        report_sql(results["sql_path"])
        return

    results["floor"] = summarize([measure([sys.executable, str(HERE / "floor.py"), "."], repo)
                                  for _ in range(a.repeat)])
    save("floor")
    cold = []
    for _ in range(a.repeat):
        shutil.rmtree(cache, ignore_errors=True)
        cold.append(measure(check, repo))
    results["cold"] = summarize(cold)
    save("cold")
    results["warm"] = summarize([measure(check, repo) for _ in range(a.repeat)])
    save("warm")
    touched_file = next(iter(sorted((repo / "services").glob("*/app/repo_*.py"))))
    touched = []
    for i in range(a.repeat):
        with open(touched_file, "a", encoding="utf-8") as f:
            f.write(f"# touched {i}\n")
        touched.append(measure(check, repo))
    results["touched"] = summarize(touched)
    save("touched")
    if a.sqlfluff_files:
        results["sql_path"] = sql_path(work, repo, a.sqlfluff_files, a.repeat, a.sqlfluff_bin)
    (work / "results.json").write_text(json.dumps(results, indent=2))
    report(results)
    print(f"\nraw numbers: {work / 'results.json'}")
    if not a.keep and a.workdir is None:
        shutil.rmtree(repo, ignore_errors=True)


def sql_path(work: Path, repo: Path, n: int, repeat: int, fluff_bins: list[str]) -> dict:
    """dbowner vs sqlfluff on the same SQL files, whole process each."""
    sql_repo = work / "sql-only"
    shutil.rmtree(sql_repo, ignore_errors=True)
    files = sorted(repo.rglob("*.sql"))[:n]
    for f in files:
        dest = sql_repo / f.relative_to(repo)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest)
    shutil.copy2(repo / "dbowner.yaml", sql_repo / "dbowner.yaml")
    statements = sum(f.read_text().count(";") for f in files)
    out: dict = {"files": len(files), "statements": statements, "bytes": sum(f.stat().st_size for f in files)}
    out["dbowner"] = summarize([measure([*dbowner_cmd(), "check", ".", "--no-cache", "--format", "json"], sql_repo)
                                for _ in range(repeat)])
    default = shutil.which("sqlfluff", path=str(Path(sys.executable).parent)) or shutil.which("sqlfluff")
    out["sqlfluff"] = []
    for exe in fluff_bins or ([default] if default else []):
        python = Path(exe).parent / "python"
        rust = subprocess.run([str(python), "-c", "import sqlfluffrs"], capture_output=True).returncode == 0
        # `sqlfluff parse` takes one path: the folder holding exactly these files.
        cmd = [exe, "parse", "--dialect", "postgres", "--templater", "raw", "--format", "none", "."]
        runs = [measure(cmd, sql_repo, ok=None) for _ in range(max(1, min(repeat, 2)))]  # tens of s each
        out["sqlfluff"].append({"exe": exe, "rust": rust, **summarize(runs),
                                "version": subprocess.run([exe, "--version"], capture_output=True,
                                                          text=True).stdout.strip()})
    return out


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_before": os.getloadavg()}


def report(r: dict) -> None:
    f = r["floor"]["median"]
    print(f"\nmachine: {r['machine']['cpu']}, {r['machine']['cores']} cores, Python {r['machine']['python']}, "
          f"load average before {r['machine']['load_before'][0]:.2f}")
    print("\n| run | median wall s | min-max s | CPU s (user+sys) | x F | target | peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for key in ("floor", "cold", "warm", "touched"):
        s = r[key]
        ratio = s["median"] / f
        target = TARGETS.get(key)
        verdict = "" if target is None else f"<= {target} F: {'met' if ratio <= target else 'NOT met'}"
        print(f"| {key} | {s['median']:.2f} | {s['min']:.2f}-{s['max']:.2f} | {s['cpu']:.2f} | {ratio:.3f} | "
              f"{verdict} | {s['peak_mb']:.0f} |")
    peak = max(r[k]["peak_mb"] for k in ("cold", "warm", "touched"))
    print(f"\npeak memory of dbowner (all processes): {peak:.0f} MB "
          f"(target <= {PEAK_TARGET_MB} MB: {'met' if peak <= PEAK_TARGET_MB else 'NOT met'})")
    if r.get("sql_path"):
        report_sql(r["sql_path"])


def report_sql(sp: dict) -> None:
    print(f"\nSQL path: {sp['files']} files, {sp['statements']} statements, {sp['bytes']} bytes")
    d = sp["dbowner"]["median"]
    print(f"  dbowner check --no-cache: {d:.2f} s ({sp['statements'] / d:.0f} stmt/s)")
    for fl in sp["sqlfluff"]:
        s = fl["median"]
        print(f"  {fl['version']} parse (rust parser installed: {fl['rust']}): {s:.2f} s "
              f"({sp['statements'] / s:.0f} stmt/s); dbowner is {s / d:.1f}x faster "
              f"(target >= 25x: {'met' if s / d >= 25 else 'NOT met'})")


if __name__ == "__main__":
    main()
