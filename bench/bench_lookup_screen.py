"""Benchmark of lookup latency, batch screening and CLI start-up on a synthetic store of 1M scored addresses.

    .venv/bin/python bench/bench_lookup_screen.py                       # 1M addresses; screen 10K, 100K, 1M rows
    .venv/bin/python bench/bench_lookup_screen.py --addresses 100000 --sizes 10000,100000 --keep /tmp/b

The store is built by ``bench/synth_scored_store.py`` (rows inserted straight into the scoring contract tables;
2 transfers per address). Figures, each against a baseline measured in the same run:

* lookup in a warm process (one ``Store``, addresses drawn at random, 80% in the store): median and p99, with the
  ART indexes of :func:`chainrisk.lookup.ensure_indexes` against the same store without them; with ``--explain``
  when :mod:`chainrisk.engine.evidence` is installed (after building its helper tables, timed separately);
* ``chainrisk screen`` CSV in -> CSV out, in a fresh process each (wall time and peak RSS from ``wait4``), for
  10K, 100K and 1M declared addresses (1% malformed, 10% duplicates, 30% EIP-55 mixed case, 15% not in the
  store, three bank columns), against a naive per-row Python loop (``lookup`` per row) on 10K rows;
* start-up of ``chainrisk --help``, ``chainrisk lookup --help`` and a real one-address ``chainrisk lookup``
  (median of 5 fresh processes), and the heaviest imports of ``chainrisk --help`` from ``python -X importtime``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import synth_scored_store as synth  # noqa: E402

import chainrisk  # noqa: E402
from chainrisk.address import to_checksum  # noqa: E402
from chainrisk.answers.lookup import ensure_indexes, lookup  # noqa: E402

PY = sys.executable
CLI = [PY, "-c", "import sys; from chainrisk.cli import main; sys.exit(main())"]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def ms(xs: list[float]) -> dict[str, float]:
    return {"median_ms": round(1000 * statistics.median(xs), 3), "p99_ms": round(1000 * pct(xs, 0.99), 3),
            "n": len(xs)}


def sample_addresses(db: Path, n_store: int, k: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(k):
        i = rng.randint(1, n_store)
        out.append(synth.address_py(i if rng.random() < 0.8 else n_store + i))
    return out


def time_lookups(db: Path, addrs: list[str], explain: bool = False, read_only: bool = True,
                 run_id: str | None = None) -> dict[str, float]:
    with chainrisk.open(db, read_only=read_only) as st:
        lookup(st, addrs[:20], explain=explain, run_id=run_id)    # warm: first queries, imports
        ts = []
        for a in addrs:
            t = time.perf_counter()
            lookup(st, [a], explain=explain, run_id=run_id)
            ts.append(time.perf_counter() - t)
    return ms(ts)


def write_declared(path: Path, n: int, n_store: int, seed: int = 11) -> None:
    """n declared rows: 1% malformed, 10% duplicates of earlier rows, 30% EIP-55 mixed case, 15% not in store."""
    rng = random.Random(seed)
    n_unique = n - n // 10
    k_unknown = int(n_unique * 0.15)
    ids = rng.sample(range(1, n_store + 1), n_unique - k_unknown) + \
        rng.sample(range(n_store + 1, 2 * n_store + 1), k_unknown)
    rng.shuffle(ids)
    addrs = [synth.address_py(i) for i in ids]
    rows = []
    for a in addrs:
        r = rng.random()
        if r < 0.01:
            a = rng.choice([a[:-1], a[2:], "0x" + "g" * 40, "not an address", "", a + "0", "T" + a[3:36]])
        elif r < 0.31:
            a = to_checksum(a)
        rows.append(a)
    for _ in range(n - n_unique):                      # duplicates of earlier rows, anywhere in the file
        rows.insert(rng.randint(0, len(rows)), rows[rng.randint(0, n_unique - 1)])
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "customer_name", "declared_at", "address"])
        for j, a in enumerate(rows):
            w.writerow([f"C{j:08d}", f"客户 {j}", f"2025-{1 + j % 12:02d}-{1 + j % 28:02d}", a])


def run_measured(cmd: list[str]) -> tuple[float, int, int, str]:
    """(wall seconds, peak RSS in MiB, exit code, stderr) of a fresh process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read() if proc.stderr else ""
    return wall, usage.ru_maxrss // 1024, os.waitstatus_to_exitcode(status), err


def naive_screen(db: Path, src: Path, limit: int) -> float:
    """Baseline: read the CSV with the csv module and look up each row, one query per row (first ``limit`` rows);
    returns seconds per row."""
    t = time.perf_counter()
    n = 0
    with chainrisk.open(db, read_only=True) as st, src.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            lookup(st, [row["address"]])
            n += 1
            if n >= limit:
                break
    return (time.perf_counter() - t) / max(1, n)


def startup(db: Path, addr: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, args in (("chainrisk --help", ["--help"]), ("chainrisk lookup --help", ["lookup", "--help"]),
                       ("chainrisk lookup ADDRESS", ["--db", str(db), "lookup", addr])):
        ts, cpu = [], []
        for _ in range(5):
            t = time.perf_counter()
            proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, _, usage = os.wait4(proc.pid, 0)
            ts.append(time.perf_counter() - t)
            cpu.append(usage.ru_utime + usage.ru_stime)
        out[name] = {"wall_s": round(statistics.median(ts), 3), "cpu_s": round(statistics.median(cpu), 3)}
    return out


def importtime() -> list[tuple[str, int]]:
    """The top-level imports of ``chainrisk --help`` with the largest cumulative time (µs)."""
    p = subprocess.run([PY, "-X", "importtime", "-c", "import sys; from chainrisk.cli import main; "
                        "sys.argv=['chainrisk', '--help']; main()"], capture_output=True, text=True, check=False)
    rows = []
    for line in p.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            if not name.startswith("  "):     # one space after the bar: a top-level import
                rows.append((name.strip(), int(parts[1])))
    return sorted(rows, key=lambda r: -r[1])[:8]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addresses", type=int, default=1_000_000)
    ap.add_argument("--sizes", default="10000,100000,1000000", help="declared-address file sizes to screen")
    ap.add_argument("--lookups", type=int, default=2000)
    ap.add_argument("--explain-lookups", type=int, default=200)
    ap.add_argument("--keep", help="work folder to keep (default: a temp folder, removed)")
    a = ap.parse_args()
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bench-lookup-"))
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {"addresses": a.addresses, "cpus": os.cpu_count(),
                                 "loadavg_start": os.getloadavg()}
    try:
        db = work / "scored.duckdb"
        if db.exists():
            db.unlink()
        t = time.perf_counter()
        built = synth.build(db, a.addresses, index=False)
        report["store"] = built | {"total_s": round(time.perf_counter() - t, 2)}
        print(f"store: {json.dumps(report['store'])}", flush=True)

        addrs = sample_addresses(db, a.addresses, a.lookups)
        no_index = time_lookups(db, addrs)
        with chainrisk.open(db) as st:
            t = time.perf_counter()
            ensure_indexes(st)
            idx_s = time.perf_counter() - t
        with_index = time_lookups(db, addrs)
        named = time_lookups(db, addrs, run_id=synth.RUN_ID)   # a service passing the run id it serves
        report["lookup"] = {"no_index": no_index, "indexed": with_index, "indexed_named_run": named,
                            "index_build_s": round(idx_s, 2),
                            "median_ratio_no_index_vs_indexed": round(no_index["median_ms"] / with_index["median_ms"], 2)}
        print(f"lookup (warm, {a.lookups} addresses): without indexes {no_index}; with indexes {with_index} "
              f"(built in {idx_s:.2f} s); median speed-up {report['lookup']['median_ratio_no_index_vs_indexed']}x; "
              f"with indexes and a named run (service mode) {named}",
              flush=True)
        try:
            from chainrisk.engine.evidence import refresh_evidence_index
        except ModuleNotFoundError:
            print("lookup --explain: chainrisk.engine.evidence is not installed; skipped", flush=True)
        else:
            with chainrisk.open(db) as st:
                t = time.perf_counter()
                refresh_evidence_index(st, synth.RUN_ID)
                ev_s = time.perf_counter() - t
            scored = [x for x in addrs if x][: a.explain_lookups]
            explain = time_lookups(db, scored, explain=True, read_only=False)
            report["lookup"]["explain"] = explain | {"evidence_index_build_s": round(ev_s, 2)}  # type: ignore[index]
            print(f"lookup --explain (warm, {len(scored)} addresses): {explain} "
                  f"(evidence tables built once in {ev_s:.2f} s)", flush=True)

        sizes = [int(float(x)) for x in a.sizes.split(",") if x]
        screens = []
        for n in sizes:
            src = work / f"declared_{n}.csv"
            write_declared(src, n, a.addresses)
            out = work / f"screened_{n}.csv"
            wall, rss, code, err = run_measured([*CLI, "--db", str(db), "-q", "screen", str(src), "-o", str(out)])
            rep = json.loads((work / f"screened_{n}.report.json").read_text())
            with out.open(encoding="utf-8") as f:
                rows_out = sum(1 for _ in f) - 1
            assert code == 0 and rows_out == n, (code, rows_out, err[-500:])
            screens.append({"rows": n, "wall_s": round(wall, 2), "peak_rss_mib": rss, "rows_per_s": int(n / wall),
                            "timings": rep["timings"], "status": rep["counts"]["status"],
                            "duplicate_rows": rep["counts"]["duplicate_rows"],
                            "mb_in": round(src.stat().st_size / 1e6, 1)})
            print(f"screen {n:>9,} rows: {wall:6.2f} s wall, {rss:5d} MiB peak RSS, {int(n / wall):,} rows/s; "
                  f"stages {rep['timings']}; status {rep['counts']['status']}", flush=True)
        report["screen"] = screens
        if sizes:
            base_n = min(sizes)
            per_row = naive_screen(db, work / f"declared_{base_n}.csv", 2000)
            ours = next(s for s in screens if s["rows"] == base_n)
            ratio = per_row * base_n / float(ours["wall_s"])  # type: ignore[arg-type]
            report["screen_naive_baseline"] = {"rows_timed": 2000, "naive_ms_per_row": round(1000 * per_row, 2),
                                               "naive_s_extrapolated": round(per_row * base_n, 1),
                                               "rows": base_n, "ratio": round(ratio, 1)}
            print(f"baseline: naive per-row lookup loop {1000 * per_row:.2f} ms/row -> {per_row * base_n:.1f} s for "
                  f"{base_n:,} rows; screen is {ratio:.1f}x faster end to end (incl. process start)", flush=True)
            if len(screens) > 1:
                print("scaling: " + ", ".join(f"{s['rows']:,} rows {s['wall_s']} s" for s in screens), flush=True)

        report["startup_s"] = startup(db, addrs[0])
        print(f"start-up (median of 5 processes): {report['startup_s']}", flush=True)
        report["importtime_help_top_us"] = importtime()
        print(f"heaviest imports for 'chainrisk --help' (µs, cumulative): {report['importtime_help_top_us']}",
              flush=True)
        report["loadavg_end"] = os.getloadavg()
        (work / "bench_lookup_screen.json").write_text(json.dumps(report, indent=2, default=str))
        print(json.dumps(report, default=str))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
