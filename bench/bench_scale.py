"""Benchmark of a full scoring run out of core: the SQL engine (DuckDB, spilling) at growing sizes, with wall
time, peak RSS of the process tree and the size of the temporary spill files, and how each grows.

    .venv/bin/python bench/bench_scale.py                                     # 10M, 30M, 100M transfers
    .venv/bin/python bench/bench_scale.py --sizes 1e6:1e5,3e6:3e5 --memory-limit 1GB
    .venv/bin/python bench/bench_scale.py --sizes 1e8:1e7 --stores /var/tmp/crscale   # keep and reuse the store
    .venv/bin/python bench/bench_scale.py --sizes 1e7:1e6 --compare-array 1e7      # and the array engine's ratio
    .venv/bin/python bench/bench_scale.py --sizes 3e6:3e5 --memory-limit 1GB --trace   # + numpy peak per step

The graph is bench/bench_score.py's (power law, services, illicit sources, deposit sweeps), made in chunks
(``generate_stream``) so that generation and loading stay flat in memory at any size; ``--stores DIR`` keeps the
loaded stores and reuses them (a store is fixed by its flags; each run adds one scoring run to it). Each scoring
run executes in a fresh subprocess: ``chainrisk.score(engine="sql", memory_limit=...)`` with the cn profile's
K, graph and labels only (no behavioural indicators and no behaviour model, as in bench_engines.py: both read the
store per address and are the same code for every engine), ``prepare_reads`` as given. The parent samples the
child's resident memory (the whole process tree, every 0.5 s; the child's own ru_maxrss is printed too) and the
size of its temporary folders (the workspace's spill files and the store's ``.tmp``). ``uptime`` is printed
before and after every run: the machine is shared, so the load average belongs with each figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import chainrisk  # noqa: E402


def child(path: str, engine: str, memory_limit: str | None, prepare_reads: bool, trace: bool = False) -> None:
    """Subprocess: one scoring run; prints JSON with its wall time, stages, ru_maxrss and the peak RSS of each
    step (sampled every 0.1 s in this process, by the latest progress line: :func:`_step`); ``trace``: also the
    peak of each step's Python and numpy allocations (tracemalloc: not DuckDB's own memory)."""
    import tracemalloc

    if trace:
        tracemalloc.start()
    traced: dict[str, int] = {}
    t0 = time.perf_counter()
    now = {"step": "open"}
    steps: dict[str, int] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            name = now["step"]
            steps[name] = max(steps.get(name, 0), _rss(os.getpid()))
            done.wait(0.1)

    def progress(msg: str) -> None:
        print(f"# {msg}", file=sys.stderr, flush=True)
        if trace:
            traced[now["step"]] = max(traced.get(now["step"], 0), tracemalloc.get_traced_memory()[1])
            tracemalloc.reset_peak()
        now["step"] = _step(msg)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    with chainrisk.open(path) as st:
        s = chainrisk.score(st, "cn", indicators=False, behaviour=False, engine=engine, memory_limit=memory_limit,
                            prepare_reads=prepare_reads, on_progress=progress)
    done.set()
    th.join()
    if trace:
        traced[now["step"]] = max(traced.get(now["step"], 0), tracemalloc.get_traced_memory()[1])
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"wall_s": time.perf_counter() - t0, "run_id": s.run_id, "timings": s.timings_s,
                      "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss": ru.ru_maxrss * 1024, "addresses": s.n_addresses, "exposures": s.n_exposures,
                      "bands": s.bands, "step_rss": steps, "step_traced": traced}))


def _step(msg: str) -> str:
    """The step a progress line starts: its first three words (hop lines: 'hops'; counts left out)."""
    if " hop " in msg and msg.split()[0] in ("in", "out"):
        return "hops"
    words = [w for w in msg.replace(":", " ").split() if not w[0].isdigit()]
    return " ".join(words[:3])


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def _rss(pid: int) -> int:
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total


def _du(*folders: str) -> int:
    total = 0
    for folder in folders:
        for dirpath, _, files in os.walk(folder):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.path.getsize(os.path.join(dirpath, name))
    return total


def run_child(path: str, engine: str, memory_limit: str | None, prepare_reads: bool, tmp: str,
              trace: bool = False) -> dict:
    """One scoring run in a subprocess, sampled: wall, peak RSS of its process tree, peak spill size."""
    spill = tempfile.mkdtemp(prefix="spill-", dir=tmp)
    cmd = [sys.executable, __file__, "--_child", path, "--_engine", engine]
    cmd += ["--memory-limit", memory_limit] if memory_limit else []
    cmd += ["--prepare-reads"] if prepare_reads else []
    cmd += ["--trace"] if trace else []
    t0 = time.perf_counter()
    peak = {"rss": 0, "spill": 0}
    done = threading.Event()
    with open(os.path.join(tmp, "child.err"), "w") as log:   # the run's progress lines, for a look while it runs
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True,
                                env=os.environ | {"TMPDIR": spill})

        def sample() -> None:
            while not done.is_set():
                peak["rss"] = max(peak["rss"], _rss(proc.pid))
                peak["spill"] = max(peak["spill"], _du(spill, path + ".tmp"))
                done.wait(0.5)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        out, _ = proc.communicate()
        done.set()
        th.join()
    wall = time.perf_counter() - t0
    shutil.rmtree(spill, ignore_errors=True)
    if proc.returncode != 0:
        err = Path(tmp, "child.err").read_text()[-2000:]
        raise SystemExit(f"the {engine} run on {path} failed (exit {proc.returncode}):\n{err}")
    res = json.loads(out.strip().splitlines()[-1])
    return res | {"proc_wall_s": wall, "peak_rss": max(peak["rss"], res["maxrss"]), "peak_spill": peak["spill"]}


def ensure_store(folder: str, n: int, m: int) -> tuple[str, dict]:
    """The loaded store of size (n, m) in ``folder``: made with bench_score's streaming generator, or reused."""
    from bench_score import generate_stream, load_stream

    path = os.path.join(folder, f"scale_{n}_{m}.duckdb")
    done = path + ".loaded.json"
    if os.path.exists(done):
        return path, json.loads(Path(done).read_text()) | {"reused": True}
    for f in (path, path + ".wal"):
        if os.path.exists(f):
            os.remove(f)
    peak = {"rss": 0}
    stop = threading.Event()

    def sample() -> None:   # this process: generation and load are streaming, so this stays flat
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], _rss(os.getpid()))
            stop.wait(0.5)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    secs, total = load_stream(path, generate_stream(n, m))
    stop.set()
    th.join()
    info = {"transfers": total, "addresses": m, "load_s": round(secs, 1), "peak_rss": peak["rss"],
            "store_bytes": os.path.getsize(path)}
    Path(done).write_text(json.dumps(info))
    return path, info


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def gib(x: float) -> str:
    return f"{x / 2**30:.2f} GiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1e7:1e6,3e7:3e6,1e8:1e7", help="transfers:addresses,... (%(default)s)")
    ap.add_argument("--engine", default="sql", help="sql (default) or array (where it fits)")
    ap.add_argument("--memory-limit", default="3GB", help="the SQL engine's DuckDB memory limit (%(default)s)")
    ap.add_argument("--compare-array", type=float, default=0, metavar="N",
                    help="also run the array engine on sizes up to N transfers: time ratio and identical results")
    ap.add_argument("--prepare-reads", action="store_true", help="also build the lookup indexes and evidence tables")
    ap.add_argument("--stores", default=None, metavar="DIR", help="keep the loaded stores in DIR and reuse them")
    ap.add_argument("--tmp", default=None, help="folder for temporary stores and spill files (default: system temp)")
    ap.add_argument("--trace", action="store_true",
                    help="also the peak of each step's Python/numpy allocations (tracemalloc; slower)")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    ap.add_argument("--_engine", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._child:
        child(a._child, a._engine, a.memory_limit, a.prepare_reads, a.trace)
        return
    sizes = [(int(float(x.split(":")[0])), int(float(x.split(":")[1]))) for x in a.sizes.split(",") if x]
    print(f"# bench_scale: {os.cpu_count()} cores, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f}"
          f" GiB RAM; engine {a.engine}, memory limit {a.memory_limit}; profile cn (K 6), no indicators, no behaviour"
          f" model; prepare_reads {a.prepare_reads}", flush=True)
    if a.stores:
        os.makedirs(a.stores, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(dir=a.tmp, prefix="crscale-") as tmp:
        for n, m in sizes:
            print(f"# {n:,} transfers / {m:,} addresses; before: {uptime()}", flush=True)
            path, info = ensure_store(a.stores or tmp, n, m)
            how = "reused" if info.get("reused") else f"generated and loaded in {info['load_s']} s, peak RSS " \
                                                       f"{gib(info['peak_rss'])}"
            print(f"#   store: {info['transfers']:,} transfers, {gib(info['store_bytes'])} ({how})", flush=True)
            r = run_child(path, a.engine, a.memory_limit if a.engine == "sql" else None, a.prepare_reads, tmp,
                          a.trace)
            load_after = uptime()
            rows.append((info["transfers"], r))
            print(f"{info['transfers']:>12,} transfers {m:>11,} addresses: scoring run {r['wall_s']:8.1f} s (CPU "
                  f"{r['cpu_s']:.0f} s: the work, less sensitive to the machine's load than the wall time), peak RSS "
                  f"{gib(r['peak_rss'])} (process tree; ru_maxrss {gib(r['maxrss'])}), peak spill "
                  f"{gib(r['peak_spill'])}", flush=True)
            print(f"{'':>14}stages (s): {r['timings']}; {r['exposures']:,} exposure rows; bands {r['bands']}",
                  flush=True)
            print(f"{'':>14}peak RSS by step (GiB): " + ", ".join(f"{k} {v / 2**30:.2f}"
                                                                 for k, v in r["step_rss"].items()), flush=True)
            if a.trace:
                print(f"{'':>14}peak Python/numpy allocations by step (GiB, tracemalloc): " + ", ".join(
                    f"{k} {v / 2**30:.2f}" for k, v in r["step_traced"].items()), flush=True)
            print(f"#   after: {load_after}", flush=True)
            if a.engine == "sql" and n <= a.compare_array:
                from bench_engines import identical

                b = run_child(path, "array", None, a.prepare_reads, tmp)
                print(f"{'':>14}array engine on the same store: {b['wall_s']:8.1f} s, peak RSS {gib(b['peak_rss'])}; "
                      f"sql / array {r['wall_s'] / b['wall_s']:.2f}x (propagate+score "
                      f"{r['timings']['propagate_and_score'] / b['timings']['propagate_and_score']:.2f}x); identical "
                      f"runs: {identical(path, b['run_id'], r['run_id'])}", flush=True)
                print(f"{'':>14}array stages (s): {b['timings']}", flush=True)
                print(f"#   after: {uptime()}", flush=True)
            if not a.stores:
                for f in (path, path + ".wal", path + ".loaded.json"):
                    if os.path.exists(f):
                        os.remove(f)
    if len(rows) > 1:
        (n0, r0) = rows[0]
        print("# growth against the first size (time, peak RSS):", flush=True)
        for n, r in rows[1:]:
            print(f"{n:>12,} transfers: x{n / n0:.1f} transfers -> x{r['wall_s'] / r0['wall_s']:.2f} time, "
                  f"x{r['cpu_s'] / r0['cpu_s']:.2f} CPU, x{r['peak_rss'] / r0['peak_rss']:.2f} peak RSS", flush=True)


if __name__ == "__main__":
    main()
