"""Benchmark: screening a bank file that mixes Ethereum and TRON addresses, against an Ethereum-only file.

    .venv/bin/python bench/bench_screen_mixed.py                 # 1M scored addresses, 1M declared rows

The store is ``bench/synth_scored_store.py``'s (1M scored addresses); half of them (by id) are then moved to TRON:
the same 20 bytes as a base58 ``T...`` address on chain ``tron``. Two declared files of ``--rows`` rows with the
same shape as ``bench_lookup_screen.py``'s (1% malformed, 10% duplicates, 15% not in the store, three bank
columns): the baseline has every address in Ethereum form (30% EIP-55 mixed case); the mixed one has the TRON
half in base58 (and ``41`` + hex for 5% of them). Each is screened by ``chainrisk screen`` CSV -> CSV in a fresh
process. Target: the mixed 1M-row file in <= 15 s. Prints both times, their ratio and the machine load.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pyarrow as pa  # noqa: E402
import synth_scored_store as synth  # noqa: E402
from bench_lookup_screen import run_measured  # noqa: E402

import chainrisk  # noqa: E402
from chainrisk.address import to_checksum  # noqa: E402
from chainrisk.ingest.tron_b58 import hex_to_b58  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def is_tron(i: int) -> bool:
    return i % 2 == 0


def tronify(db: Path, n: int) -> None:
    """Move the even ids to TRON: chain 'tron', address base58 of 0x41 + the same 20 bytes."""
    ids = list(range(2, n + 1, 2))
    b58 = hex_to_b58([synth.address_py(i) for i in ids])
    with chainrisk.open(db) as st, st.registered(_tron_ids=pa.table({"id": pa.array(ids, pa.int64()), "b": b58})):
        st.execute("UPDATE addresses SET chain = 'tron', address = t.b FROM _tron_ids t WHERE t.id = addresses.id")


def write_declared(path: Path, n: int, n_store: int, mixed: bool, seed: int = 11) -> None:
    rng = random.Random(seed)
    n_unique = n - n // 10
    k_unknown = int(n_unique * 0.15)
    ids = rng.sample(range(1, n_store + 1), n_unique - k_unknown) + \
        rng.sample(range(n_store + 1, 2 * n_store + 1), k_unknown)
    rng.shuffle(ids)
    hexes = [synth.address_py(i) for i in ids]
    tron_pos = [j for j, i in enumerate(ids) if mixed and is_tron(i)]
    b58 = hex_to_b58([hexes[j] for j in tron_pos])
    addrs = list(hexes)
    for j, b in zip(tron_pos, b58, strict=True):
        addrs[j] = b if rng.random() > 0.05 else "41" + hexes[j][2:]
    tron_set = set(tron_pos)
    rows = []
    for j, a in enumerate(addrs):
        r = rng.random()
        if r < 0.01:
            a = rng.choice([a[:-1], a[2:], "0x" + "g" * 40, "not an address", "", a + "0", "T" + a[3:36]])
        elif r < 0.31 and j not in tron_set:
            a = to_checksum(a)
        rows.append(a)
    for _ in range(n - n_unique):
        rows.insert(rng.randint(0, len(rows)), rows[rng.randint(0, n_unique - 1)])
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "customer_name", "declared_at", "address"])
        for j, a in enumerate(rows):
            w.writerow([f"C{j:08d}", f"客户 {j}", f"2025-{1 + j % 12:02d}-{1 + j % 28:02d}", a])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--addresses", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    a = ap.parse_args()
    log(f"load before: {os.getloadavg()}")
    work = Path(tempfile.mkdtemp(prefix="bench-screen-mixed-"))
    db = work / "store.duckdb"
    t = time.perf_counter()
    synth.build(db, a.addresses)
    tronify(db, a.addresses)
    log(f"store: {time.perf_counter() - t:.1f} s")
    cli = [sys.executable, "-c", "from chainrisk.cli import main; main()", "--db", str(db), "-q", "screen"]
    out: dict[str, float] = {}
    for name, mixed in (("ethereum-only", False), ("mixed", True)):
        src = work / f"{name}.csv"
        write_declared(src, a.rows, a.addresses, mixed)
        wall, rss, code, err = run_measured([*cli, str(src), "-o", str(work / f"{name}-out.csv")])
        if code not in (0, 1, 3):
            raise SystemExit(f"screen failed ({code}): {err[-500:]}")
        with (work / f"{name}-out.csv").open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        chains = {c: sum(1 for r in rows if r["chain"] == c) for c in ("ethereum", "tron")}
        log(f"  {name}: {wall:.2f} s, peak RSS {rss} MiB, {len(rows):,} rows out, {chains}")
        out[name] = wall
    print(f"screen {a.rows:,} declared rows against {a.addresses:,} scored addresses: ethereum-only "
          f"{out['ethereum-only']:.2f} s, mixed ethereum+tron {out['mixed']:.2f} s (target <= 15 s); "
          f"ratio {out['mixed'] / out['ethereum-only']:.3f}")
    log(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
