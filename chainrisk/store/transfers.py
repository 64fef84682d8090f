"""Addresses and transfers: THE one insert of transfers, shared by file ingestion and node ingestion.

Both stage their rows in a temp table or view with the columns chain, tx_hash, log_index, block_number, block_time,
token_id, from_address, to_address, value (HUGEINT, NULL when too large), value_raw (exact text or NULL), source;
:func:`add_transfers` gives the addresses their ids, computes the token amount and inserts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Store


def encode_addresses(store: Store, table: str, columns: Sequence[str], chain_column: str = "chain") -> int:
    """Give every (chain, address) in ``table``'s ``columns`` an id in ``addresses``. Returns how many are new.

    ``table`` is a table or view name in this connection (usually a temp staging table). New ids are dense,
    assigned in (chain, address) order, so the same inputs give the same ids.
    """
    union = " UNION ".join(f"SELECT {chain_column} AS chain, {c} AS address FROM {table}" for c in columns)
    n = store.execute(
        f"""
        INSERT INTO addresses
        SELECT (SELECT coalesce(max(id), 0) FROM addresses) + row_number() OVER (ORDER BY chain, address),
               chain, address
        FROM ({union}) AS s
        WHERE address IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM addresses a WHERE a.chain = s.chain AND a.address = s.address)
        """
    ).fetchone()
    return int(n[0]) if n else 0


def add_transfers(store: Store, staging: str, *, guard: bool = True, addresses: str | None = None) -> int:
    """Insert transfers from a staging table/view (columns in the module docstring). Returns rows added.

    With ``guard`` (the default) keys repeated inside the batch are inserted once and keys already stored are
    skipped. ``guard=False`` is the caller's promise that neither can happen (node ingestion checks that the
    store holds no transfer in the blocks it read and that the batch has no repeated key); the insert then skips
    the NOT EXISTS check, which costs about as much as the insert. Call inside :meth:`Store.transaction` to make
    it atomic with your bookkeeping.

    ``addresses`` names a table whose ``address`` column holds exactly the distinct from/to addresses of
    ``staging`` (the caller's promise, e.g. file ingestion found them while checking them): they are then not
    found a second time.
    """
    chains = [r[0] for r in store.execute(f"SELECT DISTINCT chain FROM {staging}").fetchall()]
    if len(chains) == 1:
        # One chain (every ingestion path): the batch's addresses and their ids in a small temp table, so the
        # two id lookups are hash joins against the batch's distinct addresses, not the whole dictionary.
        _batch_ids(store, staging, chains[0], addresses)
        ids = ("JOIN _cr_batch_ids fa ON fa.address = s.from_address"
               " JOIN _cr_batch_ids ta ON ta.address = s.to_address")
        resolved = "(SELECT s.*, fa.id AS _from_id, ta.id AS _to_id FROM {source} s " + ids + ")"
    else:
        encode_addresses(store, staging, ["from_address", "to_address"])
        # Resolve the two ids one join at a time: left to the optimizer, DuckDB 2.0 can join addresses to
        # addresses on chain first (|addresses|^2 rows: 50 s and 10 GB for 10k rows).
        resolved = """(
            WITH f AS MATERIALIZED (
                SELECT s.*, fa.id AS _from_id FROM {source} s
                JOIN addresses fa ON fa.chain = s.chain AND fa.address = s.from_address)
            SELECT f.*, ta.id AS _to_id FROM f
            JOIN addresses ta ON ta.chain = f.chain AND ta.address = f.to_address)"""
    source, where = staging, ""
    if guard:
        # Keys repeated inside the batch are rare; deduplicating costs ~10x a distinct count, so only then. The
        # count of distinct key hashes is a cheap first test (equal hashes of different keys only make it look).
        (dups,) = store.execute(
            f"SELECT count(*) - count(DISTINCT hash(chain, tx_hash, log_index)) FROM {staging}"
        ).fetchone() or (0,)
        if dups:
            (dups,) = store.execute(
                f"SELECT count(*) - count(DISTINCT (chain, tx_hash, log_index)) FROM {staging}"
            ).fetchone() or (0,)
        if dups:
            source = (f"(SELECT * FROM {staging}"
                      " QUALIFY row_number() OVER (PARTITION BY chain, tx_hash, log_index ORDER BY block_number) = 1)")
        where = f"""
            WHERE NOT EXISTS (
                SELECT 1 FROM transfers t
                WHERE t.chain = s.chain AND t.tx_hash = s.tx_hash AND t.log_index = s.log_index
                  AND t.block_number BETWEEN (SELECT min(block_number) FROM {staging})
                                         AND (SELECT max(block_number) FROM {staging}))"""
    row = store.execute(
        f"""
        INSERT INTO transfers
        SELECT s.chain, s.tx_hash, s.log_index, s.block_number, s.block_time, s.token_id,
               s._from_id, s._to_id, s.value, CASE WHEN s.value IS NULL THEN s.value_raw END,
               coalesce(CAST(s.value AS DOUBLE), CAST(s.value_raw AS DOUBLE)) / pow(10, k.decimals),
               s.source
        FROM {resolved.format(source=source)} s
        JOIN tokens k ON k.id = s.token_id
        {where}
        """
    ).fetchone()
    store.execute("DROP TABLE IF EXISTS _cr_batch_ids")
    return int(row[0]) if row else 0


def _batch_ids(store: Store, staging: str, chain: str, addresses: str | None = None) -> int:
    """``_cr_batch_ids(address, id)``: every address of the batch with its id, registering new ones in
    ``addresses`` exactly as :func:`encode_addresses` does (dense ids after the largest, in address order).
    ``addresses``: a table of the batch's distinct addresses, when the caller has it. Returns how many are new."""
    distinct = (f"SELECT address FROM {addresses}" if addresses is not None else
                f"SELECT DISTINCT address FROM (SELECT from_address AS address FROM {staging}"
                f" UNION ALL SELECT to_address FROM {staging})")
    store.execute(f"""
        CREATE OR REPLACE TEMP TABLE _cr_batch_ids AS
        WITH b AS (SELECT address FROM ({distinct}) WHERE address IS NOT NULL),
             k AS (SELECT b.address, a.id FROM b LEFT JOIN (SELECT id, address FROM addresses WHERE chain = ?) a
                   ON a.address = b.address)
        SELECT address, coalesce(id, (SELECT coalesce(max(id), 0) FROM addresses)
                                     + row_number() OVER (PARTITION BY id IS NULL ORDER BY address)) AS id,
               id IS NULL AS new
        FROM k
    """, [chain])
    n = store.execute(
        "INSERT INTO addresses SELECT id, ?, address FROM _cr_batch_ids WHERE new ORDER BY id", [chain]
    ).fetchone()
    return int(n[0]) if n else 0


def stats(store: Store) -> dict[str, Any]:
    """Counts for a status line: transfers, addresses, tokens with data, block range."""
    row = store.execute(
        "SELECT count(*), min(block_number), max(block_number), min(block_time), max(block_time)"
        " FROM transfers"
    ).fetchone()
    assert row is not None
    (addresses,) = store.execute("SELECT count(*) FROM addresses").fetchone() or (0,)
    return {
        "transfers": row[0], "addresses": addresses, "first_block": row[1], "last_block": row[2],
        "first_time": row[3], "last_time": row[4], "schema": store.schema_versions(),
    }
