"""Node ingestion, the storing side: decoding fetched logs column-wise in DuckDB SQL and committing transfers,
blacklist events, block hashes and completed ranges in one transaction; range bookkeeping; reorg repair.

The fetching side and the public function are in :mod:`chainrisk.ingest_rpc`.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import pyarrow as pa

from .rpc import RpcClient
from .store import Store, Token

log = logging.getLogger("chainrisk.ingest_rpc")

TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
ADDED_BLACK_LIST = "0x42e160154868087d6bfdc0ca23d96a1c1cfa32f1b72ba9ba27b69b98a0d819dc"  # USDT, address in data
REMOVED_BLACK_LIST = "0xd7e9ec6e6ecd65492dce6bf513cd6867560d49544421d0783ddf06e76c24470c"
BLACKLISTED = "0xffa4e6181777692565cf28528fc88fd1516ea86b56da075235fa575af6a4b855"  # USDC, address in topics[1]
UN_BLACKLISTED = "0x117e3210bb9aa7d9baff172026820255c6f6c30ba8999d1c2fd88e2848137c4e"
TOPICS = [[TRANSFER, ADDED_BLACK_LIST, REMOVED_BLACK_LIST, BLACKLISTED, UN_BLACKLISTED]]
STREAM = "transfer"  # ingest_ranges.stream: Transfer and blacklist events of a contract

_Z24 = "0" * 24
_Z32 = "0" * 32


@dataclass
class Chunk:
    """A fetched block range: its logs as Arrow columns of hex strings, block hashes/times, logs per contract."""

    contracts: tuple[str, ...]
    lo: int
    hi: int
    table: pa.Table
    blocks: dict[int, tuple[str, int]]
    counts: Counter[str]


@dataclass
class CommitCounts:
    transfers_added: int
    blacklist_events_added: int
    blocks_added: int
    logs_skipped: int


# -- storing ------------------------------------------------------------------------------------------------


def commit_chunks(store: Store, chain: str, chunks: list[Chunk], tokens: dict[str, Token]) -> CommitCounts:
    """Decode and store fetched chunks and record their ranges, all in one transaction."""
    raw = pa.concat_tables([c.table for c in chunks])
    blocks: dict[int, tuple[str, int]] = {}
    for c in chunks:
        blocks.update(c.blocks)
    nums = sorted(blocks)
    blk = pa.table({"number": pa.array(nums, pa.int64()), "hash": pa.array([blocks[n][0] for n in nums], pa.string()),
                    "ts": pa.array([blocks[n][1] for n in nums], pa.int64())})
    toks = pa.table({"contract": list(tokens), "token_id": pa.array([t.id for t in tokens.values()], pa.int32())})
    rng_rows = [(chain, k, STREAM, c.lo, c.hi, c.counts.get(k, 0)) for c in chunks for k in c.contracts]
    ranges = pa.table({n: pa.array([r[i] for r in rng_rows]) for i, n in
                       enumerate(["chain", "contract", "stream", "from_block", "to_block", "logs"])})
    params = {"chain": chain}
    con = store.con
    con.register("_rpc_raw", raw)
    con.register("_rpc_blocks", blk)
    con.register("_rpc_tokens", toks)
    con.register("_rpc_ranges", ranges)
    try:
        with store.transaction():
            con.execute(
                """
                CREATE OR REPLACE TEMP VIEW _rpc_logs AS
                SELECT lower(address) AS contract, len(topics) AS nt, lower(topics[1]) AS t0,
                       topics[2] AS t1, topics[3] AS t2, data,
                       TRY_CAST(blockNumber AS BIGINT) AS block_number, transactionHash AS tx_hash,
                       TRY_CAST(logIndex AS INTEGER) AS log_index
                FROM _rpc_raw
                """
            )
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE _rpc_transfers AS
                SELECT $chain AS chain, lower(l.tx_hash) AS tx_hash, l.log_index, l.block_number,
                       make_timestamp(b.ts * 1000000) AS block_time, k.token_id,
                       '0x' || lower(substr(l.t1, 27)) AS from_address, '0x' || lower(substr(l.t2, 27)) AS to_address,
                       CASE WHEN substr(l.data, 3, 32) = '{_Z32}' AND substr(l.data, 35, 1) < '8'
                            THEN TRY_CAST(TRY_CAST('0x' || substr(l.data, 35) AS UHUGEINT) AS HUGEINT) END AS value,
                       CASE WHEN substr(l.data, 3, 32) = '{_Z32}' AND substr(l.data, 35, 1) >= '8'
                            THEN CAST(TRY_CAST('0x' || substr(l.data, 35) AS UHUGEINT) AS VARCHAR) END AS value_raw,
                       l.data, 'rpc' AS source
                FROM _rpc_logs l
                JOIN _rpc_tokens k ON k.contract = l.contract
                LEFT JOIN _rpc_blocks b ON b.number = l.block_number
                WHERE l.t0 = '{TRANSFER}' AND l.nt = 3 AND length(l.data) = 66
                  AND substr(l.t1, 3, 24) = '{_Z24}' AND substr(l.t2, 3, 24) = '{_Z24}'
                  AND l.block_number IS NOT NULL AND l.log_index IS NOT NULL AND length(l.tx_hash) = 66
                """, params,
            )
            _fix_wide_values(store)
            (n_transfers,) = con.execute("SELECT count(*) FROM _rpc_transfers").fetchone() or (0,)
            (n_blocks,) = con.execute(
                "INSERT OR IGNORE INTO blocks SELECT $chain, number, hash, make_timestamp(ts * 1000000)"
                " FROM _rpc_blocks", params
            ).fetchone() or (0,)
            added = store.add_transfers("_rpc_transfers")
            con.execute("CREATE OR REPLACE TEMP TABLE _rpc_blacklist AS " + _BLACKLIST_SELECT, params)
            (n_bl_seen,) = con.execute("SELECT count(*) FROM _rpc_blacklist").fetchone() or (0,)
            (n_bl,) = con.execute("INSERT OR IGNORE INTO blacklist_events SELECT * FROM _rpc_blacklist").fetchone() \
                or (0,)
            con.execute("INSERT INTO ingest_ranges SELECT chain, contract, stream, from_block, to_block, logs,"
                        " now()::TIMESTAMP FROM _rpc_ranges")
            con.execute("DROP VIEW _rpc_logs")
            con.execute("DROP TABLE _rpc_transfers")
            con.execute("DROP TABLE _rpc_blacklist")
    finally:
        for name in ("_rpc_raw", "_rpc_blocks", "_rpc_tokens", "_rpc_ranges"):
            con.unregister(name)
    return CommitCounts(transfers_added=added, blacklist_events_added=int(n_bl), blocks_added=int(n_blocks),
                        logs_skipped=raw.num_rows - int(n_transfers) - int(n_bl_seen))


_BLACKLIST_SELECT = f"""
    SELECT * FROM (
        SELECT $chain AS chain, k.token_id, lower(l.tx_hash) AS tx_hash, l.log_index, l.block_number,
               make_timestamp(b.ts * 1000000) AS block_time,
               CASE WHEN l.t0 IN ('{ADDED_BLACK_LIST}', '{BLACKLISTED}') THEN 'added' ELSE 'removed' END AS action,
               CASE WHEN l.t0 IN ('{ADDED_BLACK_LIST}', '{REMOVED_BLACK_LIST}') THEN '0x' || lower(substr(l.data, 27))
                    ELSE '0x' || lower(substr(l.t1, 27)) END AS address,
               CASE l.t0 WHEN '{ADDED_BLACK_LIST}' THEN 'AddedBlackList' WHEN '{REMOVED_BLACK_LIST}' THEN 'RemovedBlackList'
                         WHEN '{BLACKLISTED}' THEN 'Blacklisted' ELSE 'UnBlacklisted' END AS event,
               'rpc' AS source
        FROM _rpc_logs l
        JOIN _rpc_tokens k ON k.contract = l.contract
        LEFT JOIN _rpc_blocks b ON b.number = l.block_number
        WHERE l.block_number IS NOT NULL AND l.log_index IS NOT NULL
          AND ((l.t0 IN ('{ADDED_BLACK_LIST}', '{REMOVED_BLACK_LIST}') AND l.nt = 1 AND length(l.data) = 66
                AND substr(l.data, 3, 24) = '{_Z24}')
            OR (l.t0 IN ('{BLACKLISTED}', '{UN_BLACKLISTED}') AND l.nt = 2 AND substr(l.t1, 3, 24) = '{_Z24}'))
    )
"""


def _fix_wide_values(store: Store) -> None:
    """Exact text for the rare values of 2^128 and above (DuckDB has no 256-bit integer), computed in Python;
    rows whose data is not hex are dropped (counted as skipped)."""
    rows = store.execute(
        "SELECT tx_hash, log_index, data FROM _rpc_transfers WHERE value IS NULL AND value_raw IS NULL"
    ).fetchall()
    if not rows:
        return
    fixed, bad = [], []
    for tx, li, data in rows:
        try:
            fixed.append((tx, li, str(int(data, 16))))
        except ValueError:
            bad.append((tx, li))
    if fixed:
        t = pa.table({"tx_hash": [r[0] for r in fixed], "log_index": pa.array([r[1] for r in fixed], pa.int32()),
                      "value_raw": [r[2] for r in fixed]})
        store.con.register("_rpc_wide", t)
        try:
            store.execute("UPDATE _rpc_transfers s SET value_raw = w.value_raw FROM _rpc_wide w"
                          " WHERE s.tx_hash = w.tx_hash AND s.log_index = w.log_index")
        finally:
            store.con.unregister("_rpc_wide")
    for tx, li in bad:
        store.execute("DELETE FROM _rpc_transfers WHERE tx_hash = ? AND log_index = ?", [tx, li])


def compact_ranges(store: Store, chain: str) -> None:
    """Merge adjacent completed ranges of each (contract, stream) into one row."""
    with store.transaction() as con:
        (before,) = con.execute("SELECT count(*) FROM ingest_ranges WHERE chain = ?", [chain]).fetchone() or (0,)
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _rpc_merged AS
            WITH r AS (
                SELECT *, max(to_block) OVER (PARTITION BY contract, stream ORDER BY from_block, to_block
                                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_max
                FROM ingest_ranges WHERE chain = ?),
            g AS (
                SELECT *, sum(CASE WHEN prev_max IS NULL OR from_block > prev_max + 1 THEN 1 ELSE 0 END)
                          OVER (PARTITION BY contract, stream ORDER BY from_block, to_block) AS grp
                FROM r)
            SELECT chain, contract, stream, min(from_block) AS from_block, max(to_block) AS to_block,
                   sum(logs)::BIGINT AS logs, max(done_at) AS done_at
            FROM g GROUP BY chain, contract, stream, grp
            """, [chain],
        )
        (after,) = con.execute("SELECT count(*) FROM _rpc_merged").fetchone() or (0,)
        if after < before:
            con.execute("DELETE FROM ingest_ranges WHERE chain = ?", [chain])
            con.execute("INSERT INTO ingest_ranges SELECT * FROM _rpc_merged")
        con.execute("DROP TABLE _rpc_merged")


# -- reorgs -------------------------------------------------------------------------------------------------


def check_reorg(store: Store, client: RpcClient, chain: str, latest: int) -> tuple[int | None, int]:
    """Verify the stored tip's block hash against the node. On a mismatch, find the fork point (the highest
    stored block the node still has) and delete node-ingested transfers, blacklist events, blocks and range
    records above it, atomically. Returns (fork block or None, transfers deleted)."""
    top = store.execute(
        "SELECT number, hash FROM blocks WHERE chain = ? AND hash IS NOT NULL ORDER BY number DESC LIMIT 1", [chain]
    ).fetchone()
    if top is None or (top[0] <= latest and client.block_headers([top[0]])[top[0]][0] == top[1]):
        return None, 0
    fork = -1
    offset = 0
    while True:
        page = store.execute(
            "SELECT number, hash FROM blocks WHERE chain = ? AND hash IS NOT NULL ORDER BY number DESC"
            " LIMIT 64 OFFSET ?", [chain, offset]
        ).fetchall()
        if not page:
            break
        offset += len(page)
        heads = client.block_headers([n for n, _ in page if n <= latest])
        match = next((n for n, h in page if n in heads and heads[n][0] == h), None)
        if match is not None:
            fork = match
            break
    with store.transaction() as con:
        (deleted,) = con.execute(
            "DELETE FROM transfers WHERE chain = ? AND source = 'rpc' AND block_number > ?", [chain, fork]
        ).fetchone() or (0,)
        con.execute("DELETE FROM blacklist_events WHERE chain = ? AND source = 'rpc' AND block_number > ?", [chain, fork])
        con.execute("DELETE FROM blocks WHERE chain = ? AND number > ?", [chain, fork])
        con.execute("DELETE FROM ingest_ranges WHERE chain = ? AND from_block > ?", [chain, fork])
        con.execute("UPDATE ingest_ranges SET to_block = ? WHERE chain = ? AND to_block > ?", [fork, chain, fork])
    log.warning("reorg: the node's chain differs from the store above block %d; deleted %d transfers above it "
                "and will read those blocks again", fork, deleted)
    return fork, int(deleted)
