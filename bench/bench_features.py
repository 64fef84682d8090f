"""Benchmark of the behaviour feature pass (chainrisk/engine/features.py) and the behaviour model's evaluation,
against a named baseline in the same run: one ``inflow_order`` sort (the argsort of 10M (receiver, rank) keys that
every scoring run already makes).

    .venv/bin/python bench/bench_features.py                              # 10M transfers, 1M addresses
    .venv/bin/python bench/bench_features.py --transfers 1000000 --addresses 100000 --repeat 3

The graph is bench_score.py's generated power-law graph (same seed, services, deposit addresses, dust and
zero-value transfers; block time = 12 s per block). It is built once and cached as .npz (``--cache``, default the
system's temp folder); the passes run in this process, each ``--repeat`` times, and the medians are printed with
the machine's load (``os.getloadavg``) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_score import generate  # noqa: E402

from chainrisk.engine.behaviour import BehaviourModel, load_model  # noqa: E402
from chainrisk.engine.features import (  # noqa: E402
    NAMES,
    compute_features,
    service_masks,
)
from chainrisk.engine.propagate import inflow_order, rank_times  # noqa: E402
from chainrisk.errors import InputError  # noqa: E402


def graph(n_transfers: int, n_addresses: int, cache: Path) -> dict[str, np.ndarray]:
    path = cache / f"chainrisk_bench_features_{n_transfers}_{n_addresses}.npz"
    if path.exists():
        return dict(np.load(path, allow_pickle=False))
    g = generate(n_transfers, n_addresses)
    rank = rank_times(g["block"], g["log_index"])
    out = {"src": g["src"], "dst": g["dst"], "rank": rank, "usd": np.floor(g["usd"] * 1e6 + 0.5).astype(np.int64),
           "time": 1_704_067_200 + g["block"] * 12, "lab_addr": g["lab_addr"],
           "lab_cat": g["lab_cat"].astype("U32"), "n": np.array([n_addresses + 2])}
    np.savez(path, **out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--transfers", type=int, default=10_000_000)
    ap.add_argument("--addresses", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--cache", default=tempfile.gettempdir())
    a = ap.parse_args()
    t0 = time.perf_counter()
    g = graph(a.transfers, a.addresses, Path(a.cache))
    build_s = time.perf_counter() - t0
    n = int(g["n"][0])
    labels = list(zip(g["lab_addr"].tolist(), g["lab_cat"].tolist(), strict=True))
    exchange, service = service_masks(n, labels, np.empty(0, np.int64), np.zeros(n, bool))
    try:
        model = load_model()
    except InputError:   # no model file yet: time the evaluation with zero coefficients
        k = len(NAMES)
        model = BehaviourModel(NAMES, np.zeros(k), np.ones(k), np.zeros(k), 0.0)
    base, feat, ev = [], [], []
    for _ in range(a.repeat):
        t = time.perf_counter()
        inflow_order(g["dst"], g["rank"])
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        x = compute_features(g["src"], g["dst"], g["rank"], g["usd"], g["time"], n, exchange, service)
        feat.append(time.perf_counter() - t)
        t = time.perf_counter()
        model.evaluate(x)
        model.contributions(x)
        ev.append(time.perf_counter() - t)
        del x
    fb, ff, fe = statistics.median(base), statistics.median(feat), statistics.median(ev)
    print(json.dumps({
        "transfers": int(g["src"].size), "addresses": n, "repeat": a.repeat, "graph_load_or_build_s": round(build_s, 2),
        "baseline_inflow_order_sort_s": round(fb, 3), "feature_pass_s": round(ff, 3),
        "model_evaluate_and_top3_s": round(fe, 3), "ratio_feature_pass_to_baseline": round(ff / fb, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "loadavg": [round(x, 2) for x in os.getloadavg()]}, indent=1))


if __name__ == "__main__":
    main()
