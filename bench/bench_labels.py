"""Benchmark of label imports: parsing a generic label CSV, replacing a source (first load, identical re-import,
re-import with 10% of the labels changed), against the named baseline "row-by-row executemany INSERT" of the same
labels, in one run.

    .venv/bin/python bench/bench_labels.py                    # 50k labels, baseline on the same 50k
    .venv/bin/python bench/bench_labels.py --labels 1000000 --baseline 50000 --repeat 3

Synthetic data (fixed seed): random EVM addresses, categories drawn from the taxonomy, one source. Each step runs
on a fresh DuckDB file in a temp dir; medians over --repeat runs are printed with the ratio to the baseline
(per label, when the baseline ran on fewer labels).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import chainrisk  # noqa: E402
from chainrisk.labels.importers import Options  # noqa: E402
from chainrisk.labels.importers.generic import import_csv  # noqa: E402
from chainrisk.labels.store import replace_sources  # noqa: E402
from chainrisk.taxonomy import CATEGORIES  # noqa: E402


def write_csv(path: Path, n: int, seed: int, change: float = 0.0) -> None:
    rng = random.Random(seed)
    drop = random.Random(seed + 1)
    with path.open("w") as f:
        f.write("address,category,label,source,confidence\n")
        for i in range(n):
            addr = f"0x{rng.getrandbits(160):040x}"
            cat = CATEGORIES[rng.randrange(len(CATEGORIES))]
            if change and drop.random() < change:
                addr = f"0x{drop.getrandbits(160):040x}"  # this label is replaced by a new one
            f.write(f"{addr},{cat},entity {i % 997},bench,50\n")


def timed(fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def run(n: int, repeat: int, tmp: Path) -> dict[str, float]:
    base = tmp / f"v1-{n}.csv"
    changed = tmp / f"v2-{n}.csv"
    write_csv(base, n, 7)
    write_csv(changed, n, 7, change=0.10)
    res: dict[str, list[float]] = {"parse": [], "first": [], "same": [], "changed": []}
    for r in range(repeat):
        st = chainrisk.open(tmp / f"s-{n}-{r}.duckdb")
        dt, parsed = timed(lambda: import_csv([base], Options()))
        res["parse"].append(dt)
        res["first"].append(timed(lambda: replace_sources(st, parsed))[0])  # noqa: B023
        res["same"].append(timed(lambda: replace_sources(st, parsed))[0])  # noqa: B023
        parsed2 = import_csv([changed], Options())
        dt, out = timed(lambda: replace_sources(st, parsed2))  # noqa: B023
        res["changed"].append(dt)
        assert out[0].added == out[0].removed and 0.08 * n < out[0].added < 0.12 * n
        st.close()
    return {k: statistics.median(v) for k, v in res.items()}


def baseline(n: int, repeat: int, tmp: Path) -> float:
    path = tmp / f"b-{n}.csv"
    write_csv(path, n, 7)
    [ps] = import_csv([path], Options())
    times = []
    for r in range(repeat):
        st = chainrisk.open(tmp / f"b-{n}-{r}.duckdb")
        rows = [(x.chain, x.address, x.category, x.name, x.source, "v", x.confidence) for x in ps.records]
        t = time.perf_counter()
        with st.transaction() as con:
            con.executemany(
                "INSERT INTO labels (chain, address, category, name, source, source_version, confidence, imported_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)", rows)
        times.append(time.perf_counter() - t)
        st.close()
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", type=int, default=50_000)
    ap.add_argument("--baseline", type=int, default=None, help="labels for the baseline (default: --labels)")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    nb = a.baseline or a.labels
    with tempfile.TemporaryDirectory(prefix="chainrisk-bench-labels-") as d:
        tmp = Path(d)
        m = run(a.labels, a.repeat, tmp)
        b = baseline(nb, a.repeat, tmp)
    per = 1e6 / a.labels
    print(f"labels={a.labels:,} repeat={a.repeat} (medians)")
    for k, v in m.items():
        print(f"  {k:8} {v:8.3f} s   {v * per:8.2f} us/label")
    print(f"baseline: executemany INSERT of {nb:,} labels {b:8.3f} s   {b * 1e6 / nb:8.2f} us/label")
    print(f"ratio baseline/first-load per label: {(b / nb) / (m['first'] / a.labels):.1f}x")


if __name__ == "__main__":
    main()
