"""Benchmark of the simulated-economy generator (the demo's data and a data source for other benchmarks).

    .venv/bin/python bench/bench_simulate.py                  # scales 1 and 10 (about 1M and 10M transfers)
    .venv/bin/python bench/bench_simulate.py --scales 0.1,1 --repeat 3

Per scale, in one process: ``generate_economy`` (the integer plan, labels, truth, declared sample) and
``Economy.write_transfers`` (streamed in 1M-row chunks to a BigQuery-shaped zstd Parquet file), median of
``--repeat``; transfers per second and the peak resident memory. Named baseline, same run: *per-row Python
strings*, i.e. building the same number of tx hashes and from/to addresses row by row with
``'0x' + os.urandom(n).hex()`` (what a straightforward generator spends before it writes anything).

Figures depend on the machine's load (2 shared cores); the ratios in the same run are the comparable part.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chainrisk.demo.economy import generate_economy  # noqa: E402


def _median(f, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _baseline(n: int) -> float:
    t0 = time.perf_counter()
    rows = [("0x" + os.urandom(32).hex(), "0x" + os.urandom(20).hex(), "0x" + os.urandom(20).hex())
            for _ in range(n)]
    assert len(rows) == n
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", default="1,10")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    print(f"{'scale':>6} {'transfers':>11} {'generate s':>11} {'write s':>8} {'total s':>8} "
          f"{'transfers/s':>12} {'baseline s':>11} {'ratio':>6} {'peak RSS MB':>12}")
    with tempfile.TemporaryDirectory() as d:
        for scale in (float(x) for x in args.scales.split(",")):
            gen_s, eco = _median(lambda s=scale: generate_economy(s, args.seed), args.repeat)
            path = Path(d) / f"eco-{scale:g}.parquet"
            write_s, _ = _median(lambda e=eco, p=path: e.write_transfers(p), args.repeat)  # type: ignore[attr-defined]
            n = eco.n_transfers  # type: ignore[attr-defined]
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # before the baseline's lists
            base = _baseline(n)
            total = gen_s + write_s
            print(f"{scale:>6g} {n:>11,} {gen_s:>11.2f} {write_s:>8.2f} {total:>8.2f} {n / total:>12,.0f} "
                  f"{base:>11.2f} {base / total:>5.1f}x {rss:>12,.0f}", flush=True)
            del eco


if __name__ == "__main__":
    main()
