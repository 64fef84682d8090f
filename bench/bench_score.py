"""Benchmark of a full scoring run (the profile's K: 6, and 4 for VC business and the destination of funds) on generated power-law graphs with services, and of the engine
against the straightforward networkx reference (the reference in tests/support/reference.py) on a smaller graph, in one run.

    .venv/bin/python bench/bench_score.py                          # 1M and 10M transfers, reference on 20k
    .venv/bin/python bench/bench_score.py --transfers 10000000 --addresses 1000000
    .venv/bin/python bench/bench_score.py --sizes 1e6:1e5,1e7:1e6,3e7:3e6 --ref-transfers 50000
    .venv/bin/python bench/bench_score.py --sizes 1e7:1e6 --repeat 3 --baseline main --keep-stores /var/tmp/crb

``--baseline REF`` also times the engine of a git revision (its tree exported, the same bench store, runs
alternated with the current code's), so a before/after comparison comes from one run at one machine load.
``--keep-stores DIR`` keeps the loaded bench stores in DIR and reuses them in later runs (the graph is fixed by
its flags); every scoring run works on a fresh copy of the loaded store, so no run reuses another's tables.

Each scoring run executes in a fresh subprocess so its wall time and peak RSS (ru_maxrss) are its own. The
graph: addresses with Pareto-like activity weights (senders and receivers drawn independently), the 40 most
active addresses labelled as services (exchanges, DEX pools, bridges, OTC desks: stop nodes), 0.2% of the
addresses labelled illicit (mixer, scam, phishing, hack, sanctions, blacklist), 1% exchange deposit addresses
that sweep every inflow to their exchange one block later, 0.5% mints from the null address, 2% dust and
0.5% zero-value transfers, ~150 transfers per block. Fixed seed: the same flags give the same graph.
The load into the store is direct (integer ids, strings formatted by DuckDB), not through the ingesters.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the shared test helpers (support.*)

import chainrisk  # noqa: E402
from chainrisk.taxonomy import NULL_ADDRESS  # noqa: E402

SERVICE_CATS = ["exchange"] * 16 + ["defi"] * 12 + ["bridge"] * 6 + ["p2p_otc"] * 6
ILLICIT_CATS = ["mixer", "scam", "phishing", "hack", "sanctions", "blacklist"]


def _roles(rng: np.random.Generator, perm: np.ndarray, m: int) -> tuple[np.ndarray, ...]:
    """The services (the most active addresses), illicit sources and exchange deposit addresses (each with its
    exchange) of a generated graph, and a flag per address id for the deposit addresses."""
    services = perm[: len(SERVICE_CATS)]
    rest = perm[len(SERVICE_CATS):]
    n_illicit = max(6, m // 500)
    n_dep = max(1, m // 100)
    pick = rng.choice(rest.size, n_illicit + n_dep, replace=False)
    illicit = rest[pick[:n_illicit]]
    deposits = rest[pick[n_illicit:]]
    exchanges = services[: SERVICE_CATS.count("exchange")]
    dep_ex = exchanges[rng.integers(0, exchanges.size, deposits.size)]
    is_dep = np.zeros(m + 2, bool)
    is_dep[deposits] = True
    return services, illicit, deposits, dep_ex, is_dep


def generate(n_transfers: int, n_addresses: int, seed: int = 42) -> dict[str, np.ndarray]:
    """Integer arrays of a power-law transfer graph with services; ids are 1..n_addresses, null = n+1."""
    rng = np.random.default_rng(seed)
    m, n = n_addresses, n_transfers
    perm = rng.permutation(m) + 1                       # perm[0] is the most active address
    w = np.arange(1, m + 1, dtype=np.float64) ** -0.9
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    src = perm[np.minimum(np.searchsorted(cdf, rng.random(n)), m - 1)]
    dst = perm[np.minimum(np.searchsorted(cdf, rng.random(n)), m - 1)]
    services, illicit, deposits, dep_ex, is_dep = _roles(rng, perm, m)
    # deposit addresses only receive (5% of transfers go to one) and sweep
    src = np.where(is_dep[src], perm[len(SERVICE_CATS) + rng.integers(0, m // 2, n)], src)
    src = np.where(is_dep[src], services[0], src)
    to_dep = rng.random(n) < 0.05
    dst = np.where(to_dep, deposits[rng.integers(0, deposits.size, n)], dst)
    mint = rng.random(n) < 0.005
    src = np.where(mint, m + 1, src)
    usd = np.round(rng.lognormal(np.log(200.0), 1.5, n), 2)
    r = rng.random(n)
    usd = np.where(r < 0.02, np.round(rng.uniform(0.01, 0.9, n), 2), usd)
    usd = np.where(r > 0.995, 0.0, usd)
    block = np.sort(rng.integers(0, max(1, n // 150), n))
    # sweeps: every transfer into a deposit address is forwarded one block later
    dep_pos = np.searchsorted(np.sort(deposits), dst[to_dep])
    ex_of = dep_ex[np.argsort(deposits)][dep_pos]
    src = np.concatenate([src, dst[to_dep]])
    dst = np.concatenate([dst, ex_of])
    usd = np.concatenate([usd, usd[to_dep]])
    block = np.concatenate([block, block[to_dep] + 1])
    o = np.argsort(block, kind="stable")
    src, dst, usd, block = src[o], dst[o], usd[o], block[o]
    first = np.r_[0, np.flatnonzero(block[1:] != block[:-1]) + 1]
    starts = np.repeat(first, np.diff(np.r_[first, block.size]))
    log_index = np.arange(block.size) - starts
    lab_addr = np.concatenate([services, illicit])
    lab_cat = np.array(SERVICE_CATS + [ILLICIT_CATS[i % len(ILLICIT_CATS)] for i in range(illicit.size)])
    return {"src": src.astype(np.int64), "dst": dst.astype(np.int64), "usd": usd, "block": block.astype(np.int64),
            "log_index": log_index.astype(np.int64), "lab_addr": lab_addr.astype(np.int64), "lab_cat": lab_cat,
            "n_addresses": np.array([m])}


def load(path: str, g: dict[str, np.ndarray]) -> float:
    import pyarrow as pa

    t0 = time.perf_counter()
    m = int(g["n_addresses"][0])
    with chainrisk.open(path) as st:
        usdt = st.resolve_token("USDT")
        con = st.con
        con.execute("INSERT INTO addresses SELECT i, 'ethereum', CASE WHEN i = ? THEN ? ELSE printf('0x%040x', i)"
                    " END FROM range(1, ? + 2) r(i)", [m + 1, NULL_ADDRESS, m])
        tbl = pa.table({"f": g["src"], "t": g["dst"], "b": g["block"], "li": g["log_index"],
                        "v": np.round(g["usd"] * 1e6).astype(np.int64)})
        con.register("_bench_t", tbl)
        con.execute(
            "INSERT INTO transfers SELECT 'ethereum', printf('0x%064x', row_number() OVER ()), li, b,"
            " TIMESTAMP '2024-01-01' + to_seconds(b * 12), ?, f, t, v::HUGEINT, NULL, v / 1e6, 'bench'"
            " FROM _bench_t", [usdt.id])
        con.unregister("_bench_t")
        labs = pa.table({"a": g["lab_addr"], "c": g["lab_cat"]})
        con.register("_bench_l", labs)
        con.execute(
            "INSERT INTO labels (chain, address, category, name, source, source_version, confidence, valid_from,"
            " valid_to, imported_at) SELECT 'ethereum', printf('0x%040x', a), c, c || '-' || a, 'bench', '1', 60,"
            " NULL, NULL, now()::TIMESTAMP FROM _bench_l")
        con.unregister("_bench_l")
        con.execute("CHECKPOINT")
    return time.perf_counter() - t0


def generate_stream(n_transfers: int, n_addresses: int, seed: int = 42,
                    chunk: int = 4_000_000) -> Iterator[dict[str, np.ndarray]]:
    """:func:`generate`'s graph made in chunks of about ``chunk`` transfers, so that any size fits in memory.

    The per-address parts (activity weights, services, illicit sources, deposit addresses and their exchange)
    are :func:`generate`'s; each chunk draws its transfers over its own range of blocks (~150 per block) with its
    own seed, and its sweeps land one block later with log indexes after every ordinary transfer of that block
    (1,000,000 + their order), so chunks never collide. Same flags, same graph (not the same as :func:`generate`'s,
    whose single random stream depends on the size). Each chunk: src, dst, usd, block, log_index, seq (a global
    transfer number, for the transaction hash); the first also carries lab_addr, lab_cat and n_addresses."""
    rng = np.random.default_rng(seed)
    m = n_addresses
    perm = rng.permutation(m) + 1
    w = np.arange(1, m + 1, dtype=np.float64) ** -0.9
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    del w
    services, illicit, deposits, dep_ex, is_dep = _roles(rng, perm, m)
    dep_sorted = np.sort(deposits)
    ex_by_sorted = dep_ex[np.argsort(deposits)]
    lab_addr = np.concatenate([services, illicit]).astype(np.int64)
    lab_cat = np.array(SERVICE_CATS + [ILLICIT_CATS[i % len(ILLICIT_CATS)] for i in range(illicit.size)])
    n_chunks = max(1, -(-n_transfers // chunk))
    per_block = 150
    seq = 0
    for c in range(n_chunks):
        k = n_transfers // n_chunks + (1 if c < n_transfers % n_chunks else 0)
        r_ = np.random.default_rng([seed, c + 1])
        src = perm[np.minimum(np.searchsorted(cdf, r_.random(k)), m - 1)]
        dst = perm[np.minimum(np.searchsorted(cdf, r_.random(k)), m - 1)]
        src = np.where(is_dep[src], perm[len(SERVICE_CATS) + r_.integers(0, m // 2, k)], src)
        src = np.where(is_dep[src], services[0], src)
        to_dep = r_.random(k) < 0.05
        dst = np.where(to_dep, deposits[r_.integers(0, deposits.size, k)], dst)
        src = np.where(r_.random(k) < 0.005, m + 1, src)
        usd = np.round(r_.lognormal(np.log(200.0), 1.5, k), 2)
        u = r_.random(k)
        usd = np.where(u < 0.02, np.round(r_.uniform(0.01, 0.9, k), 2), usd)
        usd = np.where(u > 0.995, 0.0, usd)
        b0 = (n_transfers // n_chunks) * c // per_block
        nb = max(1, k // per_block)
        block = np.sort(r_.integers(b0, b0 + nb, k))
        first = np.r_[0, np.flatnonzero(block[1:] != block[:-1]) + 1]
        log_index = np.arange(k) - np.repeat(first, np.diff(np.r_[first, k]))
        # sweeps: every transfer into a deposit address is forwarded one block later, after that block's others
        sb = block[to_dep] + 1
        sf = np.r_[0, np.flatnonzero(sb[1:] != sb[:-1]) + 1] if sb.size else np.empty(0, np.int64)
        sli = 1_000_000 + np.arange(sb.size) - np.repeat(sf, np.diff(np.r_[sf, sb.size]))
        out = {"src": np.concatenate([src, dst[to_dep]]).astype(np.int64),
               "dst": np.concatenate([dst, ex_by_sorted[np.searchsorted(dep_sorted, dst[to_dep])]]).astype(np.int64),
               "usd": np.concatenate([usd, usd[to_dep]]),
               "block": np.concatenate([block, sb]).astype(np.int64),
               "log_index": np.concatenate([log_index, sli]).astype(np.int64)}
        out["seq"] = np.arange(seq, seq + out["src"].size, dtype=np.int64)
        seq += out["src"].size
        if c == 0:
            out |= {"lab_addr": lab_addr, "lab_cat": lab_cat, "n_addresses": np.array([m])}
        yield out


def load_stream(path: str, chunks: Iterator[dict[str, np.ndarray]]) -> tuple[float, int]:
    """Load :func:`generate_stream`'s chunks into a new store at ``path``: (seconds, transfers)."""
    import pyarrow as pa

    t0 = time.perf_counter()
    total = 0
    with chainrisk.open(path) as st, st.memory_limit("1GB"):   # DuckDB's cache would otherwise grow with the file
        usdt = st.resolve_token("USDT")
        con = st.con
        for g in chunks:
            if "n_addresses" in g:
                m = int(g["n_addresses"][0])
                con.execute("INSERT INTO addresses SELECT i, 'ethereum', CASE WHEN i = ? THEN ? ELSE"
                            " printf('0x%040x', i) END FROM range(1, ? + 2) r(i)", [m + 1, NULL_ADDRESS, m])
                con.register("_bench_l", pa.table({"a": g["lab_addr"], "c": g["lab_cat"]}))
                con.execute(
                    "INSERT INTO labels (chain, address, category, name, source, source_version, confidence,"
                    " valid_from, valid_to, imported_at) SELECT 'ethereum', printf('0x%040x', a), c, c || '-' || a,"
                    " 'bench', '1', 60, NULL, NULL, now()::TIMESTAMP FROM _bench_l")
                con.unregister("_bench_l")
            con.register("_bench_t", pa.table({"q": g["seq"], "f": g["src"], "t": g["dst"], "b": g["block"],
                                               "li": g["log_index"], "v": np.round(g["usd"] * 1e6).astype(np.int64)}))
            con.execute(
                "INSERT INTO transfers SELECT 'ethereum', printf('0x%064x', q + 1), li, b,"
                " TIMESTAMP '2024-01-01' + to_seconds(b * 12), ?, f, t, v::HUGEINT, NULL, v / 1e6, 'bench'"
                " FROM _bench_t", [usdt.id])
            con.unregister("_bench_t")
            total += int(g["src"].size)
        con.execute("CHECKPOINT")
    return time.perf_counter() - t0, total


def child_score(path: str, indicators: bool) -> None:
    """Subprocess: one scoring run; prints JSON with its wall time and peak RSS."""
    t0 = time.perf_counter()
    with chainrisk.open(path) as st:
        s = chainrisk.score(st, "cn", indicators=indicators)   # the profile's K (6)
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    rss = ru.ru_maxrss * 1024
    print(json.dumps({"wall_s": wall, "peak_rss": rss, "cpu_s": ru.ru_utime + ru.ru_stime, "run_duration_s": s.duration_s, "addresses": s.n_addresses,
                      "exposures": s.n_exposures, "bands": s.bands, "inferred": s.n_inferred,
                      "timings": s.timings_s}))


def run_child(path: str, indicators: bool, root: Path = ROOT) -> dict[str, float]:
    """One scoring run in a fresh subprocess on a fresh copy of the loaded store ``path``, with the chainrisk of
    the source tree ``root`` (this checkout, or an exported baseline revision)."""
    work = f"{path}.run-{os.getpid()}.duckdb"
    shutil.copyfile(path, work)
    try:
        out = subprocess.run([sys.executable, str(root / "bench" / "bench_score.py"), "--_child", work]
                             + ([] if indicators else ["--no-indicators"]),
                             capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"the scoring run of {root} failed:\n{out.stderr[-3000:]}")
    finally:
        for f in (work, work + ".wal"):
            if os.path.exists(f):
                os.remove(f)
    return json.loads(out.stdout.strip().splitlines()[-1])


def export_revision(ref: str, into: str) -> Path:
    """The tree of git revision ``ref`` of this checkout, exported into a folder (for --baseline)."""
    dest = Path(into) / "baseline"
    dest.mkdir()
    arch = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=arch, check=True)
    return dest


def stats(runs: list[dict[str, float]]) -> dict[str, object]:
    return {"wall_s": statistics.median(r["wall_s"] for r in runs),
            "cpu_s": statistics.median(r["cpu_s"] for r in runs),
            "peak_rss_gib": max(r["peak_rss"] for r in runs) / 2**30,
            "runs": [round(r["wall_s"], 2) for r in runs],
            "stages": sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]["timings"]}


def bench_size(n: int, m: int, repeat: int, tmp: str, indicators: bool, keep: str | None = None,
               baseline: Path | None = None) -> dict[str, object]:
    folder = keep or tmp
    path = os.path.join(folder, f"bench_{n}_{m}.duckdb")
    done = path + ".loaded.json"
    if keep and os.path.exists(done):
        info = json.loads(Path(done).read_text())
        gen, ld, nt = info["generate_s"], info["load_s"], info["transfers"]
    else:
        for f in (path, path + ".wal", done):
            if os.path.exists(f):
                os.remove(f)
        t0 = time.perf_counter()
        g = generate(n, m)
        gen = round(time.perf_counter() - t0, 1)
        ld = round(load(path, g), 1)
        nt = int(g["src"].size)
        del g
        Path(done).write_text(json.dumps({"generate_s": gen, "load_s": ld, "transfers": nt}))
    engine: list[dict[str, float]] = []
    base: list[dict[str, float]] = []
    full: list[dict[str, float]] = []
    for _ in range(repeat):   # alternated, so that both codes meet the same machine load
        if baseline is not None:
            base.append(run_child(path, False, baseline))
        engine.append(run_child(path, False))
        if indicators:
            full.append(run_child(path, True))
    e = stats(engine)
    out: dict[str, object] = {
        "transfers": nt, "addresses": m, "generate_s": gen, "load_s": ld,
        "engine_wall_s": e["wall_s"], "engine_cpu_s": e["cpu_s"], "engine_peak_rss_gib": e["peak_rss_gib"],
        "engine_runs": e["runs"], "bands": engine[0]["bands"], "stages": e["stages"],
        "exposures": engine[0]["exposures"], "deposits_inferred": engine[0]["inferred"]}
    if base:
        out["baseline"] = stats(base) | {"bands": base[0]["bands"], "exposures": base[0]["exposures"]}
    if full:
        out["full_wall_s"] = statistics.median(r["wall_s"] for r in full)
        out["full_peak_rss_gib"] = max(r["peak_rss"] for r in full) / 2**30
    if not keep:
        os.remove(path)
    return out


def bench_reference(n: int, m: int, repeat: int) -> dict[str, float]:
    from support.reference import reference_compute

    from chainrisk.engine.score import Label, compute, inputs_from_rows
    from chainrisk.profiles import load_profile

    g = generate(n, m)
    null = m + 1
    rows = list(zip(g["src"].tolist(), g["dst"].tolist(), g["block"].tolist(), g["log_index"].tolist(),
                    (g["block"] * 12).tolist(), g["usd"].tolist(), strict=True))
    labels = [Label(int(a), str(c), None, 60, "bench") for a, c in zip(g["lab_addr"], g["lab_cat"], strict=True)]
    inp = inputs_from_rows(rows, labels, [null])
    prof = load_profile("cn")
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = compute(inp, prof, prof.propagation.max_hops)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    ref = reference_compute(inp, prof, prof.propagation.max_hops)
    tref = time.perf_counter() - t0
    same = (res.exposure_rows() == ref.exposure_rows() and res.score_rows() == ref.score_rows()
            and res.indicators == ref.indicators)
    eng = statistics.median(times)
    return {"transfers": len(rows), "addresses": m, "engine_compute_s": eng, "networkx_reference_s": tref,
            "speedup": tref / eng, "identical_results": same}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transfers", type=float, help="one size: transfers (with --addresses)")
    ap.add_argument("--addresses", type=float, help="one size: addresses")
    ap.add_argument("--sizes", default="1e6:1e5,1e7:1e6",
                    help="transfers:addresses,... (default %(default)s; '' for the reference comparison only)")
    ap.add_argument("--ref-transfers", type=float, default=20000, help="graph size for the networkx comparison")
    ap.add_argument("--ref-addresses", type=float, default=None, help="default: ref-transfers / 10")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size (median printed)")
    ap.add_argument("--indicators", action="store_true", help="also time full runs with behavioural indicators")
    ap.add_argument("--tmp", default=None, help="folder for the bench stores (default: system temp)")
    ap.add_argument("--keep-stores", default=None, metavar="DIR",
                    help="keep the loaded bench stores in DIR and reuse them (each run scores a fresh copy)")
    ap.add_argument("--baseline", default=None, metavar="REF",
                    help="also time the engine of this git revision (e.g. main) on the same stores, alternated")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    ap.add_argument("--no-indicators", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._child:
        child_score(a._child, not a.no_indicators)
        return
    sizes = [(int(a.transfers), int(a.addresses))] if a.transfers else [
        (int(float(x.split(":")[0])), int(float(x.split(":")[1]))) for x in a.sizes.split(",") if x]
    print(f"# bench_score: {os.cpu_count()} cores, K = 6 (VC and destination 4), profile cn, medians of {a.repeat};"
          f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start", flush=True)
    if a.keep_stores:
        os.makedirs(a.keep_stores, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=a.tmp) as tmp:
        base = export_revision(a.baseline, tmp) if a.baseline else None
        prev = None
        for n, m in sizes:
            r = bench_size(n, m, a.repeat, tmp, a.indicators, a.keep_stores, base)
            growth = f"  x{r['engine_wall_s'] / prev[1]:.2f} time for x{int(r['transfers']) / prev[0]:.1f} transfers" \
                if prev else ""
            print(f"{r['transfers']:>11,} transfers {m:>9,} addresses: scoring run {r['engine_wall_s']:7.2f} s "
                  f"(runs {r['engine_runs']}; CPU {r['engine_cpu_s']:.1f} s), peak RSS {r['engine_peak_rss_gib']:.2f} GiB"
              f"{growth}", flush=True)
            if "full_wall_s" in r:
                print(f"{'':>42} with indicators: {r['full_wall_s']:7.2f} s, peak RSS "
                      f"{r['full_peak_rss_gib']:.2f} GiB", flush=True)
            print(f"{'':>42} stages (s) of one run: {r['stages']}", flush=True)
            print(f"{'':>42} (generate {r['generate_s']} s, load {r['load_s']} s; bands {r['bands']}; "
                  f"{r['exposures']:,} exposure rows; {r['deposits_inferred']:,} deposit addresses inferred)",
                  flush=True)
            if "baseline" in r:
                b = r["baseline"]
                assert isinstance(b, dict)
                print(f"{'':>42} baseline {a.baseline}: {b['wall_s']:7.2f} s (runs {b['runs']}; CPU {b['cpu_s']:.1f} s),"
                      f" peak RSS {b['peak_rss_gib']:.2f} GiB; this code / baseline: "
                      f"{float(r['engine_wall_s']) / b['wall_s']:.2f}x time; same bands and exposure rows: "
                      f"{b['bands'] == r['bands'] and b['exposures'] == r['exposures']}", flush=True)
                print(f"{'':>42} baseline stages (s): {b['stages']}", flush=True)
            prev = (int(r["transfers"]), float(r["engine_wall_s"]))
    print(f"# load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end", flush=True)
    rn = int(a.ref_transfers)
    rm = int(a.ref_addresses or max(100, rn // 10))
    ref = bench_reference(rn, rm, a.repeat)
    print(f"reference on {ref['transfers']:,} transfers / {rm:,} addresses: networkx {ref['networkx_reference_s']:.2f}"
          f" s, engine (compute, median) {ref['engine_compute_s']:.3f} s: {ref['speedup']:.0f}x faster; "
          f"identical results: {ref['identical_results']}", flush=True)


if __name__ == "__main__":
    main()
