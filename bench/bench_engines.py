"""Benchmark of the propagation engines on one graph, built once: the array engine (numpy, the baseline), the SQL
engine (DuckDB, spilling) and optionally Spark in local mode, each a full scoring run in a fresh subprocess
(wall time and peak RSS its own), and whether their stored runs are identical.

    .venv/bin/python bench/bench_engines.py                                  # 10M transfers / 1M addresses
    .venv/bin/python bench/bench_engines.py --transfers 1e6 --addresses 1e5 --spark-cores 1,2
    .venv/bin/python bench/bench_engines.py --engines sql --transfers 3e7 --addresses 3e6 --memory-limit 8GB

The graph is bench/bench_score.py's (power law, services, illicit sources, deposit sweeps; fixed seed). Runs
use the cn profile's K and no behavioural indicators (they are the same code for every engine); the ratio is
each engine's median wall time over the array engine's in the same run. ``uptime`` is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import chainrisk  # noqa: E402

TABLES = {"scores": "address_id", "exposures": "address_id, category, direction, hop_class, inferred",
          "inferred_labels": "address_id, category, method"}


def child(path: str, engine: str, memory_limit: str | None, cores: int, conf: list[str]) -> None:
    """Subprocess: one scoring run; prints JSON with its wall time and peak RSS."""
    t0 = time.perf_counter()
    spark = None
    if engine == "spark":
        from chainrisk.engine.spark_engine import local_session, parse_conf

        spark = local_session(cores, conf=parse_conf(conf))
    t_session = time.perf_counter() - t0
    if engine == "spark-input":   # Spark from the export beside the store, then the results loaded as a run
        from chainrisk.engine.spark_engine import SparkResults, local_session, parse_conf, propagate_export

        spark = local_session(cores, conf=parse_conf(conf))
        t_session = time.perf_counter() - t0
        out = path + ".results"
        doc = propagate_export(spark, path + ".export", out, "cn", forwarding=False)
        spark.stop()
        spark = None
        t_spark = time.perf_counter() - t0
        with chainrisk.open(path) as st:
            s = chainrisk.score(st, "cn", indicators=False, engine="spark", spark=SparkResults(out),
                                prepare_reads=False)
        ru = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"wall_s": time.perf_counter() - t0, "session_s": t_session, "run_id": s.run_id,
                          "timings": s.timings_s | {"spark_total": round(t_spark - t_session, 3),
                                                    **{f"spark_{k}": v for k, v in doc["timings_s"].items()}},
                          "peak_rss": ru.ru_maxrss * 1024, "exposures": s.n_exposures, "bands": s.bands}))
        return
    with chainrisk.open(path) as st:
        s = chainrisk.score(st, "cn", indicators=False, engine=engine, memory_limit=memory_limit, spark=spark,
                            prepare_reads=False)
    if spark is not None:
        spark.stop()
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"wall_s": wall, "session_s": t_session, "run_id": s.run_id, "timings": s.timings_s,
                      "peak_rss": ru.ru_maxrss * 1024,
                      "exposures": s.n_exposures, "bands": s.bands}))


def run_child(path: str, engine: str, memory_limit: str | None, cores: int = 2, conf: list[str] = ()) -> dict:
    cmd = [sys.executable, __file__, "--_child", path, "--_engine", engine, "--_cores", str(cores)]
    cmd += [f"--spark-conf={c}" for c in conf]
    if memory_limit:
        cmd += ["--memory-limit", memory_limit]
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ | {"SPARK_LOCAL_IP": "127.0.0.1"})
    if out.returncode != 0:
        tail = [ln for ln in out.stderr.splitlines() if "Error" in ln or "Exception" in ln][-3:]
        why = " | ".join(tail) if tail else out.stderr[-500:]
        raise SystemExit(f"{engine} run failed (exit {out.returncode}): {why}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def identical(path: str, a: str, b: str) -> bool:
    with chainrisk.open(path, read_only=True) as st:
        for t, _ in TABLES.items():
            q = f"SELECT * EXCLUDE (run_id) FROM {t} WHERE run_id = ?"
            (n,) = st.execute(f"SELECT count(*) FROM (({q}) EXCEPT ALL ({q}))", [a, b]).fetchone()
            (m,) = st.execute(f"SELECT count(*) FROM (({q}) EXCEPT ALL ({q}))", [b, a]).fetchone()
            if n or m:
                return False
    return True


def shuffle_summary(path: str) -> dict[str, float]:
    """Totals of one Spark event log (``spark.eventLog.enabled``): jobs, tasks, shuffle bytes written and read,
    bytes spilled to disk, executor CPU seconds (the measured basis of the cluster estimate in docs/scale.md)."""
    tot = {"jobs": 0.0, "tasks": 0.0, "shuffle_write_bytes": 0.0, "shuffle_read_bytes": 0.0,
           "disk_spill_bytes": 0.0, "executor_cpu_s": 0.0, "executor_run_s": 0.0}
    import io

    import pyarrow as pa

    p = Path(path)
    files = sorted(p.glob("events_*")) if p.is_dir() else [p]   # Spark 4 logs a folder of (rolled) files
    lines: list[str] = []
    for fp in files:
        if fp.suffix == ".zstd":
            with pa.CompressedInputStream(pa.OSFile(str(fp)), "zstd") as z:
                lines += io.TextIOWrapper(io.BytesIO(z.read())).read().splitlines()
        else:
            lines += fp.read_text().splitlines()
    for line in lines:
        if line.strip():
            ev = json.loads(line)
            kind = ev.get("Event")
            if kind == "SparkListenerJobStart":
                tot["jobs"] += 1
            elif kind == "SparkListenerTaskEnd":
                m = ev.get("Task Metrics") or {}
                tot["tasks"] += 1
                tot["shuffle_write_bytes"] += m.get("Shuffle Write Metrics", {}).get("Shuffle Bytes Written", 0)
                r = m.get("Shuffle Read Metrics", {})
                tot["shuffle_read_bytes"] += r.get("Remote Bytes Read", 0) + r.get("Local Bytes Read", 0)
                tot["disk_spill_bytes"] += m.get("Disk Bytes Spilled", 0)
                tot["executor_cpu_s"] += m.get("Executor CPU Time", 0) / 1e9
                tot["executor_run_s"] += m.get("Executor Run Time", 0) / 1e3
    return tot


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transfers", type=float, default=1e7)
    ap.add_argument("--addresses", type=float, default=1e6)
    ap.add_argument("--engines", default="array,sql", help="comma-separated: array, sql (default %(default)s)")
    ap.add_argument("--spark-cores", default="", help="also Spark local mode with these cores, e.g. 1,2")
    ap.add_argument("--spark-input", default="", metavar="CORES",
                    help="also Spark local mode from an export (chainrisk export; roles and hops on Spark, results "
                         "loaded into the store) with these cores, e.g. 2")
    ap.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                    help="a Spark setting for the Spark runs (repeatable); default: local mode's defaults sized to "
                         "the machine (chainrisk.engine.spark_engine.local_defaults)")
    ap.add_argument("--eventlog", default=None, metavar="DIR",
                    help="Spark runs write their event log here; each Spark line then shows its shuffle bytes, "
                         "spill and executor CPU time")
    ap.add_argument("--repeat", type=int, default=1, help="runs per engine (median printed)")
    ap.add_argument("--memory-limit", default=None, help="the SQL engine's DuckDB memory limit, e.g. 8GB")
    ap.add_argument("--tmp", default=None, help="folder for the bench store (default: system temp)")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    ap.add_argument("--_engine", help=argparse.SUPPRESS)
    ap.add_argument("--_cores", type=int, default=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._child:
        child(a._child, a._engine, a.memory_limit, a._cores, a.spark_conf)
        return
    from bench_score import generate, load

    n, m = int(a.transfers), int(a.addresses)
    print(f"# bench_engines: {os.cpu_count()} cores; {n:,} transfers / {m:,} addresses; K of profile cn; "
          f"no indicators; medians of {a.repeat}", flush=True)
    if a.spark_cores:
        from chainrisk.engine.spark_engine import local_defaults

        print(f"# spark settings: {local_defaults(2) | dict(c.split('=', 1) for c in a.spark_conf)}", flush=True)
    print(f"# before: {uptime()}", flush=True)
    with tempfile.TemporaryDirectory(dir=a.tmp) as tmp:
        path = os.path.join(tmp, "bench.duckdb")
        t0 = time.perf_counter()
        g = generate(n, m)
        ld = load(path, g)
        print(f"# graph: {int(g['src'].size):,} transfers, built in {time.perf_counter() - t0:.1f} s "
              f"(load {ld:.1f} s)", flush=True)
        del g
        runs: list[tuple[str, dict]] = [(e, {}) for e in a.engines.split(",") if e]
        runs += [(f"spark[{c}]", {}) for c in a.spark_cores.split(",") if c]
        runs += [(f"spark-input[{c}]", {}) for c in a.spark_input.split(",") if c]
        if a.spark_input:
            from chainrisk.engine.spark_engine import export_store

            t1 = time.perf_counter()
            with chainrisk.open(path) as st:
                rep = export_store(st, path + ".export")
            dt = time.perf_counter() - t1
            print(f"# export: {rep.transfers:,} transfers in {dt:.1f} s ({rep.transfers / dt:,.0f}/s), "
                  f"{rep.bytes / 2**20:,.0f} MiB, {len(rep.partitions)} partitions; load average "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        base_wall = None
        base_run = None
        if a.eventlog:
            os.makedirs(a.eventlog, exist_ok=True)
            a.spark_conf += ["spark.eventLog.enabled=true", f"spark.eventLog.dir=file://{os.path.abspath(a.eventlog)}"]
        for name, _ in runs:
            engine, cores = ((name.split("[")[0], int(name.split("[")[1][:-1])) if name.startswith("spark")
                             else (name, 2))
            res = [run_child(path, engine, a.memory_limit, cores, a.spark_conf) for _ in range(a.repeat)]
            wall = statistics.median(r["wall_s"] for r in res)
            prop = statistics.median(r["timings"]["propagate_and_score"] for r in res)
            rss = max(r["peak_rss"] for r in res) / 2**30
            if base_wall is None:
                base_wall, base_run = wall, res[0]["run_id"]
                ratio, same = "baseline", ""
            else:
                ratio = f"{wall / base_wall:.2f}x the {runs[0][0]} engine"
                same = f"; identical to {runs[0][0]}: {identical(path, base_run, res[0]['run_id'])}"
            extra = f" (Python only, not Spark's JVM), session start {res[0]['session_s']:.1f} s" \
                if engine.startswith("spark") else ""
            print(f"{name:>9}: scoring run {wall:7.2f} s (propagate+score {prop:.2f} s; runs "
                  f"{[round(r['wall_s'], 2) for r in res]}), peak RSS {rss:.2f} GiB{extra}; {ratio}{same}",
                  flush=True)
            print(f"{'':>11}load average after it: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
            print(f"{'':>11}stages (s): {res[0]['timings']}; bands {res[0]['bands']}", flush=True)
            if a.eventlog and engine.startswith("spark"):
                logs = sorted(Path(a.eventlog).iterdir(), key=lambda p: p.stat().st_mtime)
                t = shuffle_summary(str(logs[-1]))
                print(f"{'':>11}spark (event log, last run): {int(t['jobs'])} jobs, {int(t['tasks'])} tasks, shuffle "
                      f"written {t['shuffle_write_bytes'] / 2**20:,.0f} MiB, read "
                      f"{t['shuffle_read_bytes'] / 2**20:,.0f} MiB, spilled {t['disk_spill_bytes'] / 2**20:,.0f} MiB,"
                      f" executor CPU {t['executor_cpu_s']:,.0f} s (run {t['executor_run_s']:,.0f} s)", flush=True)
    print(f"# after: {uptime()}", flush=True)


if __name__ == "__main__":
    main()
