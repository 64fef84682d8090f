"""Benchmark of the behavioural indicators and of evidence-path lookups on generated power-law graphs.

    .venv/bin/python bench/bench_evidence.py                         # 1M transfers / 100k addresses
    .venv/bin/python bench/bench_evidence.py --sizes 1e6:1e5,1e7:1e6 --sample 200

Per size, in one process: the graph of ``bench_score.generate`` (services, illicit labels, deposit addresses,
mints, dust) loaded straight into a store; a scoring run (``chainrisk.engine.score``, indicators off) so exposures exist;
then

* ``compute_indicators`` over all transfers (median of ``--repeat``), against the named baseline *one grouped scan*
  (per-address inflow/outflow sums over the same transfers, the least any bulk indicator must do);
* ``refresh_evidence_index`` (the helper tables built after a run);
* ``evidence_paths(address, top=3)`` for ``--sample`` addresses drawn (seeded) from those with an exposure, all
  their categories and both directions: median, p90 and max latency, against the named baseline *one index-free
  level*: a single DuckDB scan of ``transfers`` for the address's incoming transfers (what each BFS level would
  cost without the helper tables).

Figures depend on the machine's load (2 shared cores); the ratios in the same run are the comparable part.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_score import generate, load  # noqa: E402

import chainrisk  # noqa: E402
from chainrisk.engine.evidence import evidence_paths, refresh_evidence_index  # noqa: E402
from chainrisk.engine.indicators import compute_indicators  # noqa: E402
from chainrisk.profiles import load_profile  # noqa: E402


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def bench_size(n: int, m: int, repeat: int, sample: int, tmp: str) -> None:
    g = generate(n, m)
    nt = int(g["src"].size)
    path = os.path.join(tmp, f"bench_evidence_{n}_{m}.duckdb")
    if os.path.exists(path):
        os.remove(path)
    t_load = load(path, g)
    del g
    prof = load_profile("fatf")
    with chainrisk.open(path) as st:
        t0 = time.perf_counter()
        run = chainrisk.score(st, prof, indicators=False)
        t_score = time.perf_counter() - t0
        base, ind, rows = [], [], 0
        for i in range(repeat):
            t0 = time.perf_counter()
            st.execute(
                "CREATE OR REPLACE TEMP TABLE _b AS SELECT a, sum(i) AS i, sum(o) AS o FROM ("
                " SELECT to_id AS a, amount AS i, 0 AS o FROM transfers UNION ALL"
                " SELECT from_id, 0, amount FROM transfers) GROUP BY a")
            base.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            rows = compute_indicators(st, f"bench{i}", prof)
            ind.append(time.perf_counter() - t0)
        by_kind = dict(st.execute(
            "SELECT indicator, count(*) FROM indicators WHERE run_id = 'bench0' GROUP BY 1 ORDER BY 1").fetchall())
        t0 = time.perf_counter()
        refresh_evidence_index(st, run.run_id, force=True)
        t_refresh = time.perf_counter() - t0
        cands = [int(r[0]) for r in st.execute(
            "SELECT DISTINCT address_id FROM exposures WHERE run_id = ? ORDER BY 1", [run.run_id]).fetchall()]
        rnd = random.Random(7)
        picks = rnd.sample(cands, min(sample, len(cands)))
        evidence_paths(st, picks[0])  # warm-up: first-query caches
        lat, scan, npaths, hops = [], [], 0, []
        for a in picks:
            t0 = time.perf_counter()
            ps = evidence_paths(st, a, top=3)
            lat.append(time.perf_counter() - t0)
            npaths += len(ps)
            hops += [p.n_hops for p in ps]
        top1 = {int(a): (c, d) for a, c, d in st.execute(
            "SELECT address_id, arg_max(category, usd), arg_max(direction, usd) FROM exposures WHERE run_id = ?"
            " GROUP BY 1", [run.run_id]).fetchall()}
        one = []
        for a in picks:
            c, d = top1[a]
            t0 = time.perf_counter()
            evidence_paths(st, a, category=c, direction=d, top=3)
            one.append(time.perf_counter() - t0)
        for a in picks[: min(20, len(picks))]:
            t0 = time.perf_counter()
            st.execute("SELECT from_id, block_number, log_index, amount FROM transfers WHERE to_id = ?",
                       [a]).fetchall()
            scan.append(time.perf_counter() - t0)
    size = os.path.getsize(path) / 2**20
    os.remove(path)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    ind_med, base_med = statistics.median(ind), statistics.median(base)
    lat_ms = [x * 1000 for x in lat]
    scan_med = statistics.median(scan) * 1000
    print(f"\n== {nt:,} transfers, {m:,} addresses (load {t_load:.1f} s, scoring run {t_score:.1f} s,"
          f" store {size:.0f} MiB, peak RSS so far {rss:.2f} GiB)")
    print(f"indicators: median {ind_med:.2f} s over {repeat} run(s) -> {rows:,} rows {by_kind};"
          f" baseline one grouped scan {base_med:.2f} s; ratio {ind_med / base_med:.1f}x")
    print(f"evidence index refresh: {t_refresh:.2f} s")
    print(f"evidence_paths(top=3, all exposures, both directions) on {len(picks)} addresses with exposure:"
          f" median {statistics.median(lat_ms):.1f} ms, p90 {_pct(lat_ms, 0.9):.1f} ms, max {max(lat_ms):.1f} ms;"
          f" {npaths} paths, hops {dict(sorted((h, hops.count(h)) for h in set(hops)))}")
    one_ms = [x * 1000 for x in one]
    print(f"evidence_paths(top=3) for the address's largest exposure only (one category, one direction):"
          f" median {statistics.median(one_ms):.1f} ms, p90 {_pct(one_ms, 0.9):.1f} ms, max {max(one_ms):.1f} ms")
    print(f"baseline one index-free level (scan of transfers for one address's inflows): median {scan_med:.1f} ms;"
          f" ratio evidence/one-level {statistics.median(lat_ms) / scan_med:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1e6:1e5", help="transfers:addresses,... (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="indicator runs per size (median printed)")
    ap.add_argument("--sample", type=int, default=200, help="addresses looked up per size")
    ap.add_argument("--tmp", default=None, help="folder for the bench stores (default: system temp)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        for spec in args.sizes.split(","):
            n, m = (int(float(x)) for x in spec.split(":"))
            bench_size(n, m, args.repeat, args.sample, tmp)


if __name__ == "__main__":
    main()
