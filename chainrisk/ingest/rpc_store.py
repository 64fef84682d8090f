"""Node ingestion, the storing side: decoding fetched Transfer logs column-wise (Arrow compute and numpy) and
committing transfers, blacklist events, block hashes and completed ranges in one transaction; range
bookkeeping; reorg repair.

The fetching side and the public function are in :mod:`chainrisk.ingest.rpc`.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..chains import ChainSpec
from ..store import Store, Token
from .node import RpcClient

if TYPE_CHECKING:
    from .logs_fast import TransferColumns

log = logging.getLogger("chainrisk.ingest.rpc")

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
    """A fetched block range, decoded: its Transfer logs as typed Arrow columns (:func:`decode_transfers`), its
    other logs (blacklist events or skipped ones) as raw hex columns, block hashes/times, logs per contract."""

    contracts: tuple[str, ...]
    lo: int
    hi: int
    logs: int
    transfers: pa.Table
    others: pa.Table
    blocks: dict[int, tuple[str, int]]
    counts: Counter[str]


@dataclass
class CommitCounts:
    transfers_added: int
    blacklist_events_added: int
    blocks_added: int
    logs_skipped: int


# -- decoding -----------------------------------------------------------------------------------------------

_HEX = np.full(256, 255, np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i
_SHIFTS = np.arange(60, -4, -4, dtype=np.uint64)
_TRANSFER_SCHEMA = pa.schema([
    ("tx_hash", pa.string()), ("log_index", pa.int32()), ("block_number", pa.int64()),
    ("block_time", pa.timestamp("us")), ("token_id", pa.int32()), ("from_address", pa.string()),
    ("to_address", pa.string()), ("value_hi", pa.uint64()), ("value_lo", pa.uint64()), ("value_raw", pa.string()),
])


def _hex_column(arr: pa.ChunkedArray | pa.Array, typ: pa.DataType) -> pa.Array:
    """Hex quantities ("0x1a") as integers (null when malformed), via their distinct values: block numbers and
    log indexes repeat, so only a few hundred strings per range are parsed in Python."""
    enc = pc.dictionary_encode(arr)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.unify_dictionaries().combine_chunks() if enc.num_chunks != 1 else enc.chunk(0)
    out: list[int | None] = []
    limit = 2 ** (typ.bit_width - 1)
    for x in enc.dictionary.to_pylist():
        try:
            v = int(x, 16) if x.startswith(("0x", "0X")) else None
        except (ValueError, AttributeError):
            v = None
        out.append(v if v is not None and 0 <= v < limit else None)
    return pc.take(pa.array(out, typ), enc.indices)


def _address_of(topic: pa.Array) -> pa.Array:
    """"0x" + the low 20 bytes of a 32-byte topic, lower-case."""
    return pc.binary_join_element_wise("0x", pc.ascii_lower(pc.utf8_slice_codeunits(topic, 26)), "")


def _uint256(data: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode 66-character hex words ("0x" + 64 digits) column-wise: (valid, high 128 bits not all "0" digits,
    bits 64-127, bits 0-63). Words with ``top`` set are only checked by the caller (they are rare)."""
    n = len(data)
    if n == 0:
        z = np.zeros(0, np.uint64)
        return np.zeros(0, bool), np.zeros(0, bool), z, z
    fixed = data.cast(pa.binary(66))
    raw = np.frombuffer(fixed.buffers()[1], np.uint8)[fixed.offset * 66:(fixed.offset + n) * 66].reshape(n, 66)
    return _uint256_rows(raw)


def _uint256_rows(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_uint256` of an (n, 66) byte matrix of the words."""
    top = (raw[:, 2:34] != ord("0")).any(axis=1)
    digits = _HEX[raw[:, 34:]]
    ok = digits < 16
    valid = ok.all(axis=1) & (raw[:, 0] == ord("0")) & ((raw[:, 1] == ord("x")) | (raw[:, 1] == ord("X")))
    d = np.where(ok, digits, 0).astype(np.uint64)
    hi = (d[:, :16] << _SHIFTS).sum(axis=1, dtype=np.uint64)
    lo = (d[:, 16:] << _SHIFTS).sum(axis=1, dtype=np.uint64)
    return valid | top, top, hi, lo


def node_addresses(arr: pa.Array | pa.ChunkedArray, spec: ChainSpec | None) -> pa.Array | pa.ChunkedArray:
    """``0x`` + 40-hex addresses as the chain stores them: unchanged on EVM chains; TRON's base58check, computed
    once per distinct address of the range, column-wise (:mod:`chainrisk.ingest.tron_b58`)."""
    if spec is None or spec.address_form != "tron" or len(arr) == 0:
        return arr
    enc = pc.dictionary_encode(arr)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.unify_dictionaries().combine_chunks() if enc.num_chunks != 1 else enc.chunk(0)
    from .tron_b58 import hex_to_b58

    return pc.take(pa.array(hex_to_b58(enc.dictionary.to_pylist()), pa.string()), enc.indices)


def decode_transfers(raw: pa.Table, blocks: dict[int, tuple[str, int]], token_ids: dict[str, int],
                     spec: ChainSpec | None = None) -> tuple[pa.Table, pa.Table]:
    """Split an ``eth_getLogs`` table (hex string columns, :data:`chainrisk.ingest.node.LOG_FIELDS`) into decoded
    ``Transfer`` rows (tx hash, log index, block number and time, token id, from/to address, the value as two
    64-bit halves, or its exact text when it is 2^127 or more) and the other logs (raw hex: blacklist events and
    logs to skip), column-wise with Arrow and numpy: no Python object per log. Transfer-shaped logs with
    malformed fields are dropped (the caller counts them as skipped)."""
    if raw.num_rows == 0:
        return _TRANSFER_SCHEMA.empty_table(), raw
    topics = raw["topics"]
    nt = pc.list_value_length(topics)
    if pc.min(nt).as_py() or 0 > 0:
        t0 = pc.ascii_lower(pc.list_element(topics, 0))
    else:  # logs without topics (anonymous events): slower, and rare
        t0 = pc.ascii_lower(pc.list_element(pc.if_else(pc.greater(nt, 0), topics, pa.scalar([""], topics.type)), 0))
    is_transfer = pc.fill_null(pc.and_(pc.equal(t0, TRANSFER), pc.equal(nt, 3)), False)
    if pc.all(is_transfer).as_py():  # the usual case: filtering a whole table is the costliest step here
        t, others = raw, raw.slice(0, 0)
    else:
        t, others = raw.filter(is_transfer), raw.filter(pc.invert(is_transfer))
    t1 = pc.list_element(t["topics"], 1)
    t2 = pc.list_element(t["topics"], 2)
    token_id = pc.take(pa.array(list(token_ids.values()), pa.int32()),
                       pc.index_in(pc.ascii_lower(t["address"]), pa.array(list(token_ids), pa.string())))
    block_number = _hex_column(t["blockNumber"], pa.int64())
    log_index = _hex_column(t["logIndex"], pa.int32())
    tx_hash = pc.ascii_lower(t["transactionHash"])
    conds = [pc.equal(pc.utf8_length(t["data"]), 66), pc.equal(pc.utf8_length(tx_hash), 66),
             pc.equal(pc.utf8_length(t1), 66), pc.equal(pc.utf8_length(t2), 66),
             pc.starts_with(t1, "0x" + _Z24), pc.starts_with(t2, "0x" + _Z24),
             pc.is_valid(block_number), pc.is_valid(log_index), pc.is_valid(token_id)]
    keep = conds[0]
    for c in conds[1:]:
        keep = pc.and_(keep, c)
    sel = pa.table({"tx_hash": tx_hash, "log_index": log_index, "block_number": block_number,
                    "token_id": token_id, "t1": t1, "t2": t2, "data": t["data"]})
    keep = pc.fill_null(keep, False)
    if not pc.all(keep).as_py():
        sel = sel.filter(keep)
    sel = sel.combine_chunks()
    data = sel["data"].chunk(0) if sel["data"].num_chunks else pa.array([], pa.string())
    valid, top, hi, lo = _uint256(data)
    if not valid.all():
        mask = pa.array(valid)
        sel, data = sel.filter(mask), data.filter(mask)
        top, hi, lo = top[valid], hi[valid], lo[valid]
    wide = top | (hi >= np.uint64(2**63))
    value_raw: pa.Array = pa.nulls(len(wide), pa.string())
    if wide.any():
        idx = np.flatnonzero(wide)
        texts: list[str | None] = [None] * len(wide)
        bad = []
        for i, word in zip(idx.tolist(), data.take(pa.array(idx)).to_pylist(), strict=True):
            try:
                texts[i] = str(int(word, 16))
            except ValueError:
                bad.append(i)
        value_raw = pa.array(texts, pa.string())
        if bad:  # a malformed word among the wide ones: drop it (counted as skipped)
            mask = np.ones(len(wide), bool)
            mask[bad] = False
            sel, value_raw, hi, lo = sel.filter(pa.array(mask)), value_raw.filter(pa.array(mask)), hi[mask], lo[mask]
    nums = sorted(blocks)
    times = pa.array([blocks[n][1] * 1_000_000 for n in nums], pa.int64()).cast(pa.timestamp("us"))
    block_time = pc.take(times, pc.index_in(sel["block_number"], pa.array(nums, pa.int64())))
    out = pa.table([sel["tx_hash"], sel["log_index"], sel["block_number"], block_time, sel["token_id"],
                    node_addresses(_address_of(sel["t1"]), spec), node_addresses(_address_of(sel["t2"]), spec),
                    pa.array(hi), pa.array(lo), value_raw],
                   schema=_TRANSFER_SCHEMA)
    return out, others


def transfers_of_columns(cols: TransferColumns, blocks: dict[int, tuple[str, int]],
                         spec: ChainSpec | None = None) -> pa.Table | None:
    """The decoded-transfers table (:func:`decode_transfers`' schema) of an answer read by
    :func:`chainrisk.ingest.logs_fast.transfer_columns`; None when a value word is malformed (the caller then
    takes the general path, which drops such logs and counts them)."""
    valid, top, hi, lo = _uint256_rows(cols.data)
    if not valid.all():
        return None
    wide = top | (hi >= np.uint64(2**63))
    value_raw: pa.Array = pa.nulls(cols.n, pa.string())
    if wide.any():
        texts: list[str | None] = [None] * cols.n
        for i in np.flatnonzero(wide).tolist():
            try:
                texts[i] = str(int(cols.data[i].tobytes().decode("ascii"), 16))
            except ValueError:
                return None
        value_raw = pa.array(texts, pa.string())
    nums = np.fromiter(sorted(blocks), np.int64, len(blocks))
    times = np.array([blocks[int(x)][1] for x in nums], np.int64) * 1_000_000
    block_time = pa.array(times[np.searchsorted(nums, cols.block_number)]).cast(pa.timestamp("us"))
    return pa.table([cols.tx_hash, pa.array(cols.log_index.astype(np.int32)), pa.array(cols.block_number),
                     block_time, pa.array(cols.token_id), node_addresses(cols.from_address, spec),
                     node_addresses(cols.to_address, spec), pa.array(hi), pa.array(lo), value_raw],
                    schema=_TRANSFER_SCHEMA)


# -- storing ------------------------------------------------------------------------------------------------


def commit_chunks(store: Store, chain: str, chunks: list[Chunk], tokens: dict[str, Token],
                  spec: ChainSpec | None = None) -> CommitCounts:
    """Store decoded chunks and record their ranges, all in one transaction. ``tokens`` is keyed by the
    contracts as the node writes them (``0x`` hex; on TRON without the ``41``); ranges are recorded under the
    registry's contract (TRON: base58) and blacklisted addresses are stored in the chain's form."""
    tr = pa.concat_tables([c.transfers for c in chunks])
    tr = tr.append_column("chain", pa.repeat(chain, tr.num_rows)).append_column("source", pa.repeat("rpc", tr.num_rows))
    raw = pa.concat_tables([c.others for c in chunks])
    n_logs = sum(c.logs for c in chunks)
    blocks: dict[int, tuple[str, int]] = {}
    for c in chunks:
        blocks.update(c.blocks)
    nums = sorted(blocks)
    blk = pa.table({"number": pa.array(nums, pa.int64()), "hash": pa.array([blocks[n][0] for n in nums], pa.string()),
                    "ts": pa.array([blocks[n][1] * 1_000_000 for n in nums], pa.int64()).cast(pa.timestamp("us"))})
    toks = pa.table({"contract": list(tokens), "token_id": pa.array([t.id for t in tokens.values()], pa.int32())})
    rng_rows = [(chain, tokens[k].contract if k in tokens else k, STREAM, c.lo, c.hi, c.counts.get(k, 0))
                for c in chunks for k in c.contracts]
    ranges = pa.table({n: pa.array([r[i] for r in rng_rows]) for i, n in
                       enumerate(["chain", "contract", "stream", "from_block", "to_block", "logs"])})
    lo, hi = min(c.lo for c in chunks), max(c.hi for c in chunks)
    params = {"chain": chain}
    with (store.registered(_rpc_tr=tr, _rpc_raw=raw, _rpc_blocks=blk, _rpc_tokens=toks, _rpc_ranges=ranges),
          store.transaction()):
        (n_blocks,) = store.execute(
            "INSERT OR IGNORE INTO blocks SELECT $chain, number, hash, ts FROM _rpc_blocks", params
        ).fetchone() or (0,)
        added = _insert_transfers(store, chain, lo, hi) if tr.num_rows else 0
        n_bl_seen = n_bl = 0
        if raw.num_rows:
            store.execute(
                """
                CREATE OR REPLACE TEMP VIEW _rpc_logs AS
                SELECT lower(address) AS contract, len(topics) AS nt, lower(topics[1]) AS t0,
                       topics[2] AS t1, topics[3] AS t2, data,
                       TRY_CAST(blockNumber AS BIGINT) AS block_number, transactionHash AS tx_hash,
                       TRY_CAST(logIndex AS INTEGER) AS log_index
                FROM _rpc_raw
                """
            )
            store.execute("CREATE OR REPLACE TEMP TABLE _rpc_blacklist AS " + _BLACKLIST_SELECT, params)
            (n_bl_seen,) = store.execute("SELECT count(*) FROM _rpc_blacklist").fetchone() or (0,)
            if n_bl_seen and spec is not None and spec.address_form == "tron":
                hexes = [r[0] for r in store.execute("SELECT DISTINCT address FROM _rpc_blacklist").fetchall()]
                conv = pa.table({"h": hexes, "b": [spec.from_node(h) for h in hexes]})
                with store.registered(_rpc_b58=conv):
                    store.execute("UPDATE _rpc_blacklist SET address = c.b FROM _rpc_b58 c WHERE c.h = address")
            (n_bl,) = store.execute("INSERT OR IGNORE INTO blacklist_events SELECT * FROM _rpc_blacklist"
                                    ).fetchone() or (0,)
            store.execute("DROP VIEW _rpc_logs")
            store.execute("DROP TABLE _rpc_blacklist")
        store.execute("INSERT INTO ingest_ranges SELECT chain, contract, stream, from_block, to_block, logs,"
                      " now()::TIMESTAMP FROM _rpc_ranges")
    return CommitCounts(transfers_added=added, blacklist_events_added=int(n_bl), blocks_added=int(n_blocks),
                        logs_skipped=n_logs - tr.num_rows - int(n_bl_seen))


_STAGING = f"""
    SELECT chain, tx_hash, log_index, block_number, block_time, token_id, from_address, to_address,
           CASE WHEN value_raw IS NULL
                THEN CAST(value_hi AS HUGEINT) * CAST('{2**64}' AS HUGEINT) + CAST(value_lo AS HUGEINT) END AS value,
           value_raw, source
    FROM _rpc_tr
"""


def _insert_transfers(store: Store, chain: str, lo: int, hi: int) -> int:
    """Insert the registered decoded transfers (``_rpc_tr``) through the store's one transfers insert. Its NOT
    EXISTS guard against keys already stored is needed only when the store already holds transfers in these
    blocks (imported from files, or a range read twice), or when a key repeats inside the batch; planned ranges
    are otherwise new, so the common case inserts unguarded."""
    store.execute("CREATE OR REPLACE TEMP VIEW _rpc_transfers AS " + _STAGING)
    try:
        existing = store.execute("SELECT 1 FROM transfers WHERE chain = ? AND block_number BETWEEN ? AND ? LIMIT 1",
                                 [chain, lo, hi]).fetchone()
        (dups,) = store.execute(
            "SELECT count(*) - count(DISTINCT (tx_hash, log_index)) FROM _rpc_tr").fetchone() or (0,)
        return store.add_transfers("_rpc_transfers", guard=existing is not None or bool(dups))
    finally:
        store.execute("DROP VIEW _rpc_transfers")


_BLACKLIST_SELECT = f"""
    SELECT * FROM (
        SELECT $chain AS chain, k.token_id, lower(l.tx_hash) AS tx_hash, l.log_index, l.block_number,
               b.ts AS block_time,
               CASE WHEN l.t0 IN ('{ADDED_BLACK_LIST}', '{BLACKLISTED}') THEN 'added' ELSE 'removed' END AS action,
               CASE WHEN l.nt = 1 THEN '0x' || lower(substr(l.data, 27)) ELSE '0x' || lower(substr(l.t1, 27)) END
                   AS address,
               CASE l.t0 WHEN '{ADDED_BLACK_LIST}' THEN 'AddedBlackList' WHEN '{REMOVED_BLACK_LIST}' THEN 'RemovedBlackList'
                         WHEN '{BLACKLISTED}' THEN 'Blacklisted' ELSE 'UnBlacklisted' END AS event,
               'rpc' AS source
        FROM _rpc_logs l
        JOIN _rpc_tokens k ON k.contract = l.contract
        LEFT JOIN _rpc_blocks b ON b.number = l.block_number
        -- The address is in the data (Tether's AddedBlackList on Ethereum) or the one indexed topic (Circle's
        -- Blacklisted; Tether's TRC-20 contract as some TRON tools and forks declare it): both are accepted.
        WHERE l.block_number IS NOT NULL AND l.log_index IS NOT NULL
          AND l.t0 IN ('{ADDED_BLACK_LIST}', '{REMOVED_BLACK_LIST}', '{BLACKLISTED}', '{UN_BLACKLISTED}')
          AND ((l.nt = 1 AND length(l.data) = 66 AND substr(l.data, 3, 24) = '{_Z24}')
            OR (l.nt = 2 AND length(l.t1) = 66 AND substr(l.t1, 3, 24) = '{_Z24}'))
    )
"""


def compact_ranges(store: Store, chain: str) -> None:
    """Merge adjacent completed ranges of each (contract, stream) into one row."""
    with store.transaction() as tx:
        (before,) = tx.execute("SELECT count(*) FROM ingest_ranges WHERE chain = ?", [chain]).fetchone() or (0,)
        tx.execute(
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
        (after,) = tx.execute("SELECT count(*) FROM _rpc_merged").fetchone() or (0,)
        if after < before:
            tx.execute("DELETE FROM ingest_ranges WHERE chain = ?", [chain])
            tx.execute("INSERT INTO ingest_ranges SELECT * FROM _rpc_merged")
        tx.execute("DROP TABLE _rpc_merged")


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
    with store.transaction() as tx:
        (deleted,) = tx.execute(
            "DELETE FROM transfers WHERE chain = ? AND source = 'rpc' AND block_number > ?", [chain, fork]
        ).fetchone() or (0,)
        tx.execute("DELETE FROM blacklist_events WHERE chain = ? AND source = 'rpc' AND block_number > ?", [chain, fork])
        tx.execute("DELETE FROM blocks WHERE chain = ? AND number > ?", [chain, fork])
        tx.execute("DELETE FROM ingest_ranges WHERE chain = ? AND from_block > ?", [chain, fork])
        tx.execute("UPDATE ingest_ranges SET to_block = ? WHERE chain = ? AND to_block > ?", [fork, chain, fork])
    log.warning("reorg: the node's chain differs from the store above block %d; deleted %d transfers above it "
                "and will read those blocks again", fork, deleted)
    return fork, int(deleted)
