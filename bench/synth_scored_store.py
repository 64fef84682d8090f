"""A synthetic *scored* store for the lookup/screen/report benchmarks: rows inserted straight into the scoring
contract tables (``addresses``, ``transfers``, ``labels``, ``scoring_runs``, ``scores``, ``exposures``,
``indicators``) with DuckDB, so a store of 1M scored addresses builds in seconds without running the engine.

    python bench/synth_scored_store.py OUT.duckdb --addresses 1000000

Deterministic: the same arguments give the same store. Addresses are ``0x`` + 40 hex digits derived from md5 of
their id; the address dictionary is written in ten ingest batches (each sorted, as the store's encoder writes
them), so it is not globally sorted (a realistic worst case for zone maps).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import chainrisk

RUN_ID = "r20260101-000000-bench"
PREV_RUN_ID = "r20251201-000000-bench"
CATS = ["sanctions", "mixer", "scam", "phishing", "exchange", "p2p_otc", "gambling", "hack", "blacklist", "defi"]


def address_sql(expr: str) -> str:
    """SQL for the synthetic address of integer ``expr`` (deterministic, 40 hex digits)."""
    return f"'0x' || md5(CAST({expr} AS VARCHAR)) || substr(md5(CAST({expr} AS VARCHAR) || 'x'), 1, 8)"


def address_py(i: int) -> str:
    """The synthetic address of ``i`` computed in Python (equal to :func:`address_sql`)."""
    return "0x" + hashlib.md5(str(i).encode()).hexdigest() + hashlib.md5(f"{i}x".encode()).hexdigest()[:8]


def build(path: str | Path, n: int = 1_000_000, transfers_per_address: float = 2.0, *, index: bool = True) -> dict:
    """Create the store at ``path`` with ``n`` scored addresses; returns timings."""
    t0 = time.perf_counter()
    st = chainrisk.open(path)
    con = st.con
    batches = 10
    per = (n + batches - 1) // batches
    for b in range(batches):
        lo, hi = b * per + 1, min(n, (b + 1) * per)
        con.execute(
            f"INSERT INTO addresses SELECT {lo} - 1 + row_number() OVER (ORDER BY a), 'ethereum', a FROM ("
            f" SELECT {address_sql('i')} AS a FROM range({lo}, {hi} + 1) t(i))"
        )
    # transfers: a random graph (seeded), one token, amounts 1..100k USD
    m = int(n * transfers_per_address)
    con.execute("SELECT setseed(0.42)")
    con.execute(
        f"""
        INSERT INTO transfers (chain, tx_hash, log_index, block_number, block_time, token_id, from_id, to_id, value,
                               value_raw, amount, source)
        SELECT 'ethereum', '0x' || md5('tx' || i) || md5('tx2' || i), 0, 18000000 + i // 10,
               TIMESTAMP '2024-01-01' + to_seconds(i * 3), 1, f, CASE WHEN t = f THEN (t % {n}) + 1 ELSE t END,
               CAST(amt * 1000000 AS HUGEINT), NULL, amt, 'file:bench'
        FROM (SELECT i, 1 + (hash(i) % {n}) AS f, 1 + (hash(i * 7 + 1) % {n}) AS t,
                     round(1 + (hash(i * 13) % 100000), 2) AS amt
              FROM range(0, {m}) r(i))
        """
    )
    # labels: 1% of addresses, spread over categories
    con.execute(
        f"""
        INSERT INTO labels (chain, address, category, name, source, source_version, confidence, valid_from,
                            valid_to, asset, details, imported_at)
        SELECT 'ethereum', {address_sql('i')}, list_extract(?, 1 + i % {len(CATS)}), 'Entity ' || i,
               'bench-source', 'v1', 60, TIMESTAMP '2023-01-01', NULL, NULL, NULL, TIMESTAMP '2025-12-01'
        FROM range(1, {n} + 1, 100) t(i)
        """, [CATS],
    )
    con.execute(
        "INSERT INTO label_sources (source, format, version, origin, sha256, rows, imported_at) VALUES ('bench-source', 'synthetic', 'v1', 'bench', NULL, ?, now()::TIMESTAMP)",
        [n // 100],
    )
    sources = json.dumps([{"source": "bench-source", "version": "v1", "rows": n // 100}])
    for rid, created in ((PREV_RUN_ID, "2025-12-01 00:00:00"), (RUN_ID, "2026-01-01 00:00:00")):
        con.execute(
            "INSERT INTO scoring_runs (run_id, created_at, finished_at, status, profile, profile_json, params_json,"
            " as_of_block, as_of_time, label_sources_json, n_addresses, duration_s) VALUES (?, ?, ?, 'complete', 'cn', '{}', '{\"max_hops\": 4}', ?, ?, ?, ?, 1.0)",
            [rid, created, created, 18000000 + m // 10, "2024-03-01 00:00:00", sources, n],
        )
    # scores: ~80% none, then low/medium/high/severe; the previous run differs for ~2% of addresses
    for rid, salt in ((RUN_ID, 0), (PREV_RUN_ID, 1)):
        con.execute(
            f"""
            INSERT INTO scores (run_id, address_id, score, band, top_category, categories, own_categories, min_hops,
                                direct_usd, indirect_usd, volume_in_usd, volume_out_usd, reason)
            SELECT ?, i, s, CASE WHEN s >= 80 THEN 'severe' WHEN s >= 50 THEN 'high' WHEN s >= 25 THEN 'medium'
                                 WHEN s >= 1 THEN 'low' ELSE 'none' END,
                   CASE WHEN s > 0 THEN c END, CASE WHEN s > 0 THEN c || ';exchange' END,
                   CASE WHEN i % 100 = 1 THEN c END,
                   CASE WHEN i % 100 = 1 THEN 0 WHEN s > 0 THEN 1 + (i % 3) END,
                   CASE WHEN s > 0 THEN 100.0 * (i % 50) ELSE 0 END, CASE WHEN s > 0 THEN 10.0 * (i % 70) ELSE 0 END,
                   1000.0 + i % 999, 900.0 + i % 777,
                   CASE WHEN s > 0 THEN 'exposed to ' || c ELSE 'no exposure to risky categories' END
            FROM (SELECT i, list_extract(?, 1 + i % {len(CATS)}) AS c,
                         CASE WHEN (hash(i + {salt} * (i % 50 = 0)::INT) % 100) < 80 THEN 0.0
                              ELSE CAST(hash(i * 3 + {salt} * (i % 50 = 0)::INT) % 100 AS DOUBLE) END AS s
                  FROM range(1, {n} + 1) t(i))
            """, [rid, CATS],
        )
    con.execute(
        """
        INSERT INTO exposures (run_id, address_id, category, direction, hop_class, usd, share, min_hop)
        SELECT ?, address_id, top_category, d, CASE WHEN min_hops <= 1 THEN 'direct' ELSE 'indirect' END,
               direct_usd + indirect_usd, 0.1, greatest(min_hops, 1)
        FROM scores, (VALUES ('in'), ('out')) v(d) WHERE run_id = ? AND score > 0
        """, [RUN_ID, RUN_ID],
    )
    con.execute(
        """
        INSERT INTO indicators (run_id, address_id, indicator, severity, evidence)
        SELECT ?, address_id, 'pass_through', 40, '{"in_usd": 1000, "out_usd": 990, "hours": 2}'
        FROM scores WHERE run_id = ? AND address_id % 97 = 0
        """, [RUN_ID, RUN_ID],
    )
    t_build = time.perf_counter() - t0
    t1 = time.perf_counter()
    if index:
        from chainrisk.answers.lookup import ensure_indexes

        ensure_indexes(st)
    t_index = time.perf_counter() - t1
    st.close()
    return {"build_s": round(t_build, 2), "index_s": round(t_index, 2), "addresses": n, "transfers": m}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--addresses", type=int, default=1_000_000)
    ap.add_argument("--no-index", action="store_true")
    a = ap.parse_args()
    print(json.dumps(build(a.out, a.addresses, index=not a.no_index)))


if __name__ == "__main__":
    main()
