"""Benchmark `chainrisk ingest file`: BigQuery-schema Parquet and CSV into a fresh store.

    .venv/bin/python bench/bench_ingest_file.py                 # 1M and 10M transfers, 3 runs each
    .venv/bin/python bench/bench_ingest_file.py --rows 1000000 --repeats 5

Generates synthetic files in the public ``crypto_ethereum.token_transfers`` schema (USDT/USDC/DAI, 2 transfers per
transaction, N/10 distinct addresses, 1 in 100,000 values above 2^127) into ``bench/out/`` (gitignored; reused
when present), then imports each file into a fresh store in a child process, several times, and prints the median
transfers/s against the targets (Parquet >= 1,000,000/s, CSV >= 300,000/s) and the child's peak RSS.
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

OUT = Path(__file__).resolve().parent / "out"
TARGETS = {"parquet": 1_000_000, "csv": 300_000}

USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
DAI = "0x6b175474e89094c44da98b954eedeac495271d0f"


def generate(rows: int) -> dict[str, Path]:
    """bench/out/bq_<rows>.parquet and .csv (made once)."""
    import duckdb

    OUT.mkdir(parents=True, exist_ok=True)
    paths = {"parquet": OUT / f"bq_{rows}.parquet", "csv": OUT / f"bq_{rows}.csv"}
    if all(p.exists() for p in paths.values()):
        return paths
    n_addr = max(rows // 10, 1000)
    con = duckdb.connect()
    addr = "('0x' || md5(CAST({x} AS VARCHAR)) || left(md5(CAST({x} AS VARCHAR) || 'a'), 8))"
    con.execute(f"""
        CREATE TABLE t AS
        SELECT CASE WHEN i % 10 < 6 THEN '{USDT}' WHEN i % 10 < 9 THEN '{USDC}' ELSE '{DAI}' END AS token_address,
               {addr.format(x=f"hash(i) % {n_addr}")} AS from_address,
               {addr.format(x=f"hash(i + 1000000000000) % {n_addr}")} AS to_address,
               CASE WHEN i % 100000 = 7 THEN '3' || repeat('9', 39)
                    WHEN i % 10 = 9 THEN CAST(hash(i * 7) % 1000000000000 AS VARCHAR) || '000000000000'
                    ELSE CAST(hash(i * 7) % 1000000000000 AS VARCHAR) END AS value,
               '0x' || md5(CAST(i // 2 AS VARCHAR)) || md5(CAST(i // 2 AS VARCHAR) || 't') AS transaction_hash,
               CAST(i % 2 + (i // 2) % 7 AS BIGINT) AS log_index,
               TIMESTAMPTZ '2022-06-01 00:00:00+00' + to_seconds(CAST((i // 200) * 12 AS BIGINT)) AS block_timestamp,
               CAST(15000000 + i // 200 AS BIGINT) AS block_number,
               '0x' || md5(CAST(i // 200 AS VARCHAR)) || md5(CAST(i // 200 AS VARCHAR) || 'b') AS block_hash
        FROM range({rows}) r(i)
    """)
    con.execute(f"COPY t TO '{paths['parquet']}' (FORMAT parquet)")
    con.execute(f"""
        COPY (SELECT token_address, from_address, to_address, value, transaction_hash, log_index,
                     strftime(block_timestamp AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S') || ' UTC' AS block_timestamp,
                     block_number, block_hash FROM t)
        TO '{paths['csv']}' (HEADER, DELIMITER ',')
    """)
    con.close()
    return paths


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(mode: str, path: str, db: str) -> None:
    """Import one file into a fresh store (mode ``import``), or copy it into a plain DuckDB table with no
    checks (mode ``copy``, the baseline); print seconds, CPU seconds, rows and peak RSS as JSON."""
    if mode == "copy":
        import duckdb

        con = duckdb.connect(db)
        reader = "read_parquet(?)" if path.endswith(".parquet") else "read_csv(?, header = true)"
        t0, c0 = time.perf_counter(), _cpu()
        con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}", [path])
        (added,) = con.execute("SELECT count(*) FROM t").fetchone() or (0,)
        con.close()
    else:
        import chainrisk
        from chainrisk.ingest.file import ingest_file  # loaded before the clock, as the baseline loads duckdb

        st = chainrisk.open(db)
        t0, c0 = time.perf_counter(), _cpu()
        added = ingest_file(st, [path], "bigquery").rows_added
        st.close()
    elapsed, cpu = time.perf_counter() - t0, _cpu() - c0
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "cpu": cpu, "added": added, "rss_mib": rss_kib / 1024}))


def run_once(path: Path, mode: str = "import") -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=OUT) as d:
        db = os.path.join(d, "bench.duckdb")
        out = subprocess.run([sys.executable, __file__, "--child", mode, str(path), db], check=True,
                             capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, action="append", help="transfers per file (repeatable; default 1M and 10M)")
    ap.add_argument("--repeats", type=int, default=3, help="imports per file (median reported)")
    ap.add_argument("--formats", default="parquet,csv", help="comma-separated: parquet,csv")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    sizes = args.rows or [1_000_000, 10_000_000]
    fmts = [f for f in args.formats.split(",") if f]
    print(f"cpus={os.cpu_count()} load(1 min)={os.getloadavg()[0]:.2f}  (chainrisk ingest file --format bigquery)")
    print("baseline = DuckDB copying the same file into a plain table of a fresh DuckDB file, no checks")
    print(f"{'format':8} {'rows':>11} {'MiB':>5} {'median s':>9} {'transfers/s':>12} {'target':>10} {'ratio':>6} "
          f"{'per CPU-s':>10} {'baseline/s':>11} {'vs base':>7} {'peak RSS MiB':>13}")
    for rows in sizes:
        t0 = time.perf_counter()
        paths = generate(rows)
        gen = time.perf_counter() - t0
        if gen > 1:
            print(f"(generated {rows:,}-row files in {gen:.1f} s)", file=sys.stderr)
        for fmt in fmts:
            runs = [run_once(paths[fmt]) for _ in range(args.repeats)]
            assert all(r["added"] == rows for r in runs), runs
            base = [run_once(paths[fmt], "copy") for _ in range(args.repeats)]
            med = statistics.median(r["seconds"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            bmed = statistics.median(r["seconds"] for r in base)
            rate, brate = rows / med, rows / bmed
            rss = max(r["rss_mib"] for r in runs)
            mib = paths[fmt].stat().st_size / 2**20
            print(f"{fmt:8} {rows:>11,} {mib:>5,.0f} {med:>9.2f} {rate:>12,.0f} {TARGETS[fmt]:>10,} "
                  f"{rate / TARGETS[fmt]:>6.2f} {rows / cpu:>10,.0f} {brate:>11,.0f} {rate / brate:>7.2f} "
                  f"{rss:>13,.0f}", flush=True)
    print(f"load(1 min) at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
