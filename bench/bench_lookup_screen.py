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
  (median of 5 fresh processes), and the heaviest imports of ``chainrisk --help`` from ``python -X importtime``;
* one address, many chains (``--chains 5``, the default): a share (``--multi-share``, default half) of the
  addresses is copied onto bsc, polygon, arbitrum and optimism (addresses, scores, exposures; scores varied per
  chain), then a warm lookup of addresses on all five chains (combined answer) against a single-chain lookup in
  the same run and process (the same addresses with ``chain="ethereum"``, and addresses on one chain only), and
  ``chainrisk screen`` of the largest declared file again (every EVM address matched on every chain).
  ``--multichain-only`` skips the single-chain sections above (store, lookups and the multi-chain part only).
  The issue-15 figures in one line (``SUMMARY:``): the 5-chain lookup's p50 and p99, the single-chain lookup's p50
  in the same run, their ratio, the wall (and CPU) seconds of screening the largest file, and the load average:

    .venv/bin/python bench/bench_lookup_screen.py --multichain-only --sizes 1000000      # the figures of issue 15
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


OTHER_CHAINS = ("bsc", "polygon", "arbitrum", "optimism", "base")


def add_chains(db: Path, n_store: int, chains: int, share: float) -> dict[str, object]:
    """Copy ``share`` of the (ethereum) addresses onto ``chains - 1`` other EVM chains, with their scores (varied
    per chain) and exposures in the current run; returns what was added and how long it took."""
    others = OTHER_CHAINS[: max(0, chains - 1)]
    t = time.perf_counter()
    cut = int(share * 1000)
    with chainrisk.open(db) as st:
        con = st.con
        for k, chain in enumerate(others, start=1):
            (base,) = con.execute("SELECT max(id) FROM addresses").fetchone() or (0,)
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE idmap AS
                SELECT id AS old_id, {int(base)} + row_number() OVER (ORDER BY id) AS new_id, address
                FROM addresses WHERE chain = 'ethereum' AND id <= {n_store} AND hash(id) % 1000 < {cut}""")
            con.execute(f"INSERT INTO addresses SELECT new_id, '{chain}', address FROM idmap")
            con.execute(
                f"""
                INSERT INTO scores (run_id, address_id, score, band, top_category, categories, own_categories,
                                    min_hops, direct_usd, indirect_usd, volume_in_usd, volume_out_usd, reason)
                SELECT run_id, m.new_id, s2, CASE WHEN s2 >= 80 THEN 'severe' WHEN s2 >= 50 THEN 'high'
                       WHEN s2 >= 25 THEN 'medium' WHEN s2 >= 1 THEN 'low' ELSE 'none' END,
                       top_category, categories, own_categories, min_hops, direct_usd, indirect_usd, volume_in_usd,
                       volume_out_usd, reason
                FROM (SELECT s.*, CASE WHEN s.score > 0 THEN (s.score * 7 + {13 * k}) % 100 ELSE 0 END AS s2
                      FROM scores s WHERE s.run_id = ?) s JOIN idmap m ON m.old_id = s.address_id
                """, [synth.RUN_ID])
            con.execute(
                """
                INSERT INTO exposures (run_id, address_id, category, direction, hop_class, usd, share, min_hop)
                SELECT e.run_id, m.new_id, e.category, e.direction, e.hop_class, e.usd, e.share, e.min_hop
                FROM exposures e JOIN idmap m ON m.old_id = e.address_id WHERE e.run_id = ?
                """, [synth.RUN_ID])
        (n_rows,) = con.execute("SELECT count(*) FROM addresses").fetchone() or (0,)
        ensure_indexes(st)
    return {"chains": ["ethereum", *others], "share": share, "address_rows": int(n_rows),
            "build_s": round(time.perf_counter() - t, 2)}


def time_lookup_kinds(db: Path, addrs: list[str], kinds: dict[str, dict[str, object]]) -> dict[str, dict[str, float]]:
    """Warm lookups of ``addrs`` under each kind (keyword arguments of ``lookup``), interleaved in one process so
    that the load of the machine hits every kind alike."""
    ts: dict[str, list[float]] = {k: [] for k in kinds}
    with chainrisk.open(db, read_only=True) as st:
        for kw in kinds.values():
            lookup(st, addrs[:20], **kw)   # type: ignore[arg-type]
        for a in addrs:
            for k, kw in kinds.items():
                t = time.perf_counter()
                lookup(st, [a], **kw)   # type: ignore[arg-type]
                ts[k].append(time.perf_counter() - t)
    return {k: ms(v) for k, v in ts.items()}


def multichain_section(db: Path, work: Path, a: argparse.Namespace, report: dict[str, object]) -> None:
    extra = add_chains(db, a.addresses, a.chains, a.multi_share)
    print(f"multi-chain store: {json.dumps(extra)}", flush=True)
    with chainrisk.open(db, read_only=True) as st:
        everywhere = [r[0] for r in st.execute(
            "SELECT address FROM addresses WHERE chain <> 'ethereum' GROUP BY address"
            f" HAVING count(*) = {a.chains - 1} ORDER BY hash(address) LIMIT {a.lookups}").fetchall()]
        single = [r[0] for r in st.execute(
            "SELECT a.address FROM addresses a WHERE a.chain = 'ethereum' AND a.id <= ? AND NOT EXISTS ("
            " SELECT 1 FROM addresses b WHERE b.address = a.address AND b.chain <> 'ethereum')"
            f" ORDER BY hash(a.address) LIMIT {a.lookups}", [a.addresses]).fetchall()]
    got = time_lookup_kinds(db, everywhere, {"multi_chain": {}, "narrowed_to_ethereum": {"chain": "ethereum"}})
    got |= time_lookup_kinds(db, single, {"single_chain_address": {}})
    with chainrisk.open(db, read_only=True) as st:
        [sample] = lookup(st, everywhere[:1])
    ratio = got["multi_chain"]["median_ms"] / got["single_chain_address"]["median_ms"]
    report["multichain"] = extra | {"lookup": got, "median_ratio_multi_vs_single": round(ratio, 2),
                                    "sample_chains": sample.chains, "loadavg": os.getloadavg()}
    print(f"multi-chain lookup (warm, {len(everywhere)} addresses on {a.chains} chains): {got['multi_chain']}; "
          f"the same narrowed to ethereum {got['narrowed_to_ethereum']}; addresses on one chain "
          f"{got['single_chain_address']}; median ratio multi/single {ratio:.2f}x (load {os.getloadavg()})",
          flush=True)
    sizes = [int(float(x)) for x in a.sizes.split(",") if x]
    if sizes:
        n = max(sizes)
        src = work / f"declared_{n}.csv"
        if not src.exists():
            write_declared(src, n, a.addresses)
        out = work / f"screened_multi_{n}.csv"
        wall, rss, code, err, cpu = run_measured_cpu([*CLI, "--db", str(db), "-q", "screen", str(src), "-o",
                                                      str(out)])
        rep = json.loads((work / f"screened_multi_{n}.report.json").read_text())
        assert code == 0 and rep["output"]["rows"] == n, (code, err[-500:])
        with out.open(encoding="utf-8") as f:
            evm_rows = sum(1 for line in f if ",evm," in line)
        report["multichain"]["screen"] = {  # type: ignore[index]
            "rows": n, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_rss_mib": rss,
            "rows_per_s": int(n / wall),
            "timings": rep["timings"], "rows_combined_over_chains": evm_rows, "loadavg": os.getloadavg()}
        print(f"multi-chain screen {n:,} rows: {wall:.2f} s wall ({cpu:.2f} s CPU), {rss} MiB peak RSS; {evm_rows:,} rows combined "
              f"over several chains; stages {rep['timings']} (load {os.getloadavg()})", flush=True)
    # the figures in one line: 5-chain lookup p50 <= 5 ms warm, 1M-row screen <= 15 s
    m, one = got["multi_chain"], got["single_chain_address"]
    scr = report["multichain"].get("screen") if isinstance(report["multichain"], dict) else None
    screen_txt = (f"{scr['rows']:,}-row screen {scr['wall_s']} s wall ({scr['cpu_s']} s CPU)" if scr
                  else "no screen (--sizes empty)")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"SUMMARY: {a.chains}-chain lookup p50 {m['median_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms; single-chain "
          f"lookup p50 {one['median_ms']:.2f} ms (same run); ratio {ratio:.2f}x; {screen_txt}; "
          f"load average {load}", flush=True)


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
    wall, rss, code, err, _cpu = run_measured_cpu(cmd)
    return wall, rss, code, err


def run_measured_cpu(cmd: list[str]) -> tuple[float, int, int, str, float]:
    """:func:`run_measured` and the CPU seconds (user + system) of the process: less sensitive to the machine's
    load than the wall time."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read() if proc.stderr else ""
    return wall, usage.ru_maxrss // 1024, os.waitstatus_to_exitcode(status), err, usage.ru_utime + usage.ru_stime


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
    ap.add_argument("--chains", type=int, default=5, help="EVM chains of the multi-chain part (1: skip it)")
    ap.add_argument("--multi-share", type=float, default=0.5,
                    help="share of the addresses copied onto each other chain")
    ap.add_argument("--multichain-only", action="store_true",
                    help="only the store, the multi-chain lookups and the multi-chain screen")
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

        if a.multichain_only:
            multichain_section(db, work, a, report)
            report["loadavg_end"] = os.getloadavg()
            (work / "bench_lookup_screen.json").write_text(json.dumps(report, indent=2, default=str))
            print(json.dumps(report, default=str))
            return
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
        if a.chains > 1:
            multichain_section(db, work, a, report)
        report["loadavg_end"] = os.getloadavg()
        (work / "bench_lookup_screen.json").write_text(json.dumps(report, indent=2, default=str))
        print(json.dumps(report, default=str))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
