"""Hand-built transfer graphs for tests: readable names -> addresses, hours -> times, USDT amounts."""

from __future__ import annotations

from datetime import datetime, timedelta

T0 = datetime(2024, 3, 1, 12, 0, 0)
BURN = "0x0000000000000000000000000000000000000000"


def addr(name: str) -> str:
    """A stable fake 0x address for a short name (the null address for 'NULL')."""
    return BURN if name == "NULL" else "0x" + name.encode().hex().rjust(40, "0")[:40]


def add(store, rows, token: str = "USDT") -> list[str]:
    """rows: (hours after T0, from name, to name, amount). One transfer per row; blocks follow time (one block a
    minute), log indexes follow row order.
    Returns the tx hashes. Goes through the staging table and ``store.add_transfers`` like real imports."""
    tok = store.resolve_token(token)
    (start,) = store.execute("SELECT count(*) FROM transfers").fetchone()
    vals = [
        ("ethereum", f"0x{start + i:064x}", start + i, 1000 + round(h * 60), T0 + timedelta(hours=h), tok.id,
         addr(f), addr(t), round(a * 10**tok.decimals), None, "test")
        for i, (h, f, t, a) in enumerate(rows)
    ]
    store.execute(
        "CREATE OR REPLACE TEMP TABLE stage (chain VARCHAR, tx_hash VARCHAR, log_index INTEGER, block_number BIGINT,"
        " block_time TIMESTAMP, token_id INTEGER, from_address VARCHAR, to_address VARCHAR, value HUGEINT,"
        " value_raw VARCHAR, source VARCHAR)"
    )
    store.con.executemany("INSERT INTO stage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", vals)
    with store.transaction():
        store.add_transfers("stage")
    return [v[1] for v in vals]


def label(store, name: str, category: str, label_name: str | None = None) -> None:
    store.execute(
        "INSERT INTO labels (chain, address, category, name, source, source_version, confidence, imported_at)"
        " VALUES ('ethereum', ?, ?, ?, 'test', '1', 50, now()::TIMESTAMP)",
        [addr(name), category, label_name if label_name is not None else name],
    )

