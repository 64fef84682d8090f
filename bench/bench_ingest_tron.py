"""Benchmark: TRON ingestion against Ethereum's, on the same logs.

    .venv/bin/python bench/bench_ingest_tron.py             # node: 200,000 logs, 3 runs each; files: 1M rows

- **node** (``ingest rpc``): the chain of ``bench_ingest_rpc.py`` (200,000 Transfer logs of the two test tokens,
  generated once and cached under bench/out/) is loaded into two anvil nodes, one with the default chain id and
  one with TRON's (728126428). ``ingest_rpc(chain="ethereum")`` and ``ingest_rpc(chain="tron")`` (contracts
  registered as base58, addresses converted to ``T...`` at the edge, block ranges capped at 5,000, TRON's
  finality default replaced by ``confirmations=0`` as in the Ethereum run) alternate, ``--runs`` times each.
  Target: TRON within 10% of Ethereum (the ratio of medians).
- **file** (``ingest file``): a tronetl ``token_transfers.csv`` of ``--rows`` transfers (``T...`` addresses, bare
  tx ids, 200,000 distinct addresses) and its ``blocks.csv``; the same transfers as an ethereum-etl CSV are the
  baseline. Target: >= 300,000 transfers/s from tronetl CSV.

Prints medians, the ratios, and the machine load (``uptime``) before and after.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_ingest_rpc import chain_state  # noqa: E402
from support.anvil import Anvil  # noqa: E402

import chainrisk  # noqa: E402
from chainrisk.address import tron_from_hex  # noqa: E402
from chainrisk.ingest.file import ingest_file  # noqa: E402
from chainrisk.ingest.rpc import ingest_rpc  # noqa: E402

TRON_ID = 728126428


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load() -> str:
    return os.getloadavg().__repr__()


def node_run(url: str, meta: dict[str, object], chain: str, workdir: Path) -> float:
    db = workdir / f"{chain}.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    usdt, usdc = str(meta["usdt"]), str(meta["usdc"])
    if chain == "tron":
        usdt, usdc = tron_from_hex("41" + usdt[2:]), tron_from_hex("41" + usdc[2:])
    with chainrisk.open(db) as st:
        st.ensure_token(chain, usdt, "USDT-T", 6, "stablecoin", source="bench")
        st.ensure_token(chain, usdc, "USDC-T", 6, "stablecoin", source="bench")
        t0 = time.perf_counter()
        rep = ingest_rpc(st, url, tokens=["USDT-T", "USDC-T"], confirmations=0, to_block=int(str(meta["tip"])),
                         chain=chain)
        dt = time.perf_counter() - t0
        (n, nt) = st.execute("SELECT count(*), count(block_time) FROM transfers").fetchone() or (0, 0)
    if n != meta["transfers"] or nt != n:
        raise SystemExit(f"{chain}: stored {n} transfers ({nt} with times), expected {meta['transfers']}")
    log(f"  {chain}: {dt:.2f} s ({n / dt:,.0f} logs/s), {rep.requests} requests, {rep.splits} splits")
    return dt


def write_files(workdir: Path, rows: int) -> tuple[Path, Path, Path]:
    rng = random.Random(14)
    pool_hex = [f"{rng.getrandbits(160):040x}" for _ in range(200_000)]
    pool_t = [tron_from_hex("41" + h) for h in pool_hex]
    usdt_t, usdt_e = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "0xdac17f958d2ee523a2206206994597c13d831ec7"
    tron, eth, blocks = workdir / "token_transfers.csv", workdir / "eth_token_transfers.csv", workdir / "blocks.csv"
    with tron.open("w", newline="") as ft, eth.open("w", newline="") as fe:
        wt, we = csv.writer(ft), csv.writer(fe)
        head = ["token_address", "from_address", "to_address", "value", "transaction_hash", "log_index",
                "block_number"]
        wt.writerow(head)
        we.writerow(head)
        for i in range(rows):
            a, b = rng.randrange(200_000), rng.randrange(200_000)
            tx = f"{rng.getrandbits(256):064x}"
            v = rng.randrange(1, 10**11)
            blk = 70_000_000 + i // 100
            wt.writerow([usdt_t, pool_t[a], pool_t[b], v, tx, i % 100, blk])
            we.writerow([usdt_e, "0x" + pool_hex[a], "0x" + pool_hex[b], v, "0x" + tx, i % 100, blk])
    with blocks.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["number", "timestamp"])
        for b in range(70_000_000, 70_000_000 + rows // 100 + 1):
            w.writerow([b, 1_700_000_000 + 3 * (b - 70_000_000)])
    return tron, eth, blocks


def file_run(path: Path, blocks: Path, fmt: str, chain: str, workdir: Path) -> float:
    db = workdir / f"file-{chain}.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    with chainrisk.open(db) as st:
        t0 = time.perf_counter()
        rep = ingest_file(st, path, fmt, chain=chain, blocks_file=blocks)
        dt = time.perf_counter() - t0
    f = rep.files[0]
    log(f"  {fmt}: {dt:.2f} s, {f.rows_added:,} added ({f.rows_added / dt:,.0f} transfers/s)")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transfers", type=int, default=200_000)
    ap.add_argument("--per-block", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--skip", action="append", default=[], choices=["node", "file"])
    args = ap.parse_args()
    log(f"load before: {load()}")
    workdir = Path(tempfile.mkdtemp(prefix="chainrisk-bench-tron-"))
    if "node" not in args.skip:
        state, meta = chain_state(args.transfers, args.per_block)
        eth = Anvil.start("--gas-limit", "300000000", "--load-state", str(state))
        tron = Anvil.start("--gas-limit", "300000000", "--load-state", str(state), "--chain-id", str(TRON_ID))
        res: dict[str, list[float]] = {"ethereum": [], "tron": []}
        try:
            for i in range(args.runs):
                log(f"node run {i + 1}/{args.runs}")
                res["ethereum"].append(node_run(eth.url, meta, "ethereum", workdir))
                res["tron"].append(node_run(tron.url, meta, "tron", workdir))
        finally:
            eth.stop()
            tron.stop()
        n = int(str(meta["transfers"]))
        me, mt = statistics.median(res["ethereum"]), statistics.median(res["tron"])
        print(f"node, {n:,} logs, medians of {args.runs}: ethereum {me:.2f} s ({n / me:,.0f} logs/s), "
              f"tron {mt:.2f} s ({n / mt:,.0f} logs/s); tron/ethereum time {mt / me:.3f} (target <= 1.10)")
    if "file" not in args.skip:
        log(f"writing {args.rows:,} rows")
        tron_csv, eth_csv, blocks = write_files(workdir, args.rows)
        te = file_run(eth_csv, blocks, "ethereum-etl", "ethereum", workdir)
        tt = file_run(tron_csv, blocks, "tronetl", "tron", workdir)
        print(f"file, {args.rows:,} rows, one run each: ethereum-etl {args.rows / te:,.0f} transfers/s, tronetl "
              f"{args.rows / tt:,.0f} transfers/s (target >= 300,000); tron/ethereum time {tt / te:.3f}")
    log(f"load after: {load()}")


if __name__ == "__main__":
    main()
