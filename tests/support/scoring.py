"""Helpers for the scoring tests: build small stores from readable transfer lists."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

T0 = datetime(2024, 1, 1)


def addr(name: str) -> str:
    """A readable, valid lower-case EVM address for a short name."""
    return "0x" + name.encode().hex().ljust(40, "e")[:40]


def add_transfers(store: Any, rows: list[tuple[str, str, float, int]], token: str = "USDT",
                  chain: str = "ethereum", raw: bool = False) -> None:
    """rows: (from, to, amount in tokens, block); log_index = position in the list. Names are passed through
    addr() unless ``raw``."""
    tok = store.resolve_token(token, chain=chain)
    store.execute("DROP TABLE IF EXISTS stage")
    store.execute(
        "CREATE TEMP TABLE stage (chain VARCHAR, tx_hash VARCHAR, log_index INTEGER, block_number BIGINT,"
        " block_time TIMESTAMP, token_id INTEGER, from_address VARCHAR, to_address VARCHAR, value HUGEINT,"
        " value_raw VARCHAR, source VARCHAR)")
    (base,) = store.execute("SELECT count(*) FROM transfers").fetchone()
    for i, (f, t, amount, block) in enumerate(rows):
        store.execute(
            "INSERT INTO stage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'test')",
            [chain, f"0x{base + i:064x}", base + i, block, T0 + timedelta(seconds=12 * block), tok.id,
             f if raw else addr(f), t if raw else addr(t), round(amount * 10**tok.decimals)])
    with store.transaction():
        store.add_transfers("stage")


def add_label(store: Any, who: str, category: str, confidence: int = 60, source: str = "test",
              raw: bool = False, chain: str = "ethereum", name: str | None = None) -> None:
    store.execute(
        "INSERT INTO labels (chain, address, category, name, source, source_version, confidence, valid_from,"
        " valid_to, imported_at) VALUES (?, ?, ?, ?, ?, 'v1', ?, NULL, NULL, now()::TIMESTAMP)",
        [chain, who if raw else addr(who), category, name or who, source, confidence])


def latest(store: Any) -> str:
    row = store.execute(
        "SELECT run_id FROM scoring_runs WHERE status = 'complete' ORDER BY created_at DESC, run_id DESC LIMIT 1"
    ).fetchone()
    assert row is not None
    return str(row[0])


def score_of(store: Any, name: str, raw: bool = False) -> dict[str, Any] | None:
    """The latest complete run's score row of an address (None when it has no row)."""
    cur = store.execute(
        "SELECT s.* FROM scores s JOIN addresses a ON a.id = s.address_id WHERE a.address = ? AND s.run_id = ?",
        [name if raw else addr(name), latest(store)])
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def exposures_of(store: Any, name: str) -> dict[tuple[str, str, str], tuple[float, float, int]]:
    """(category, direction, hop_class) -> (usd, share, min_hop) for an address in the latest run."""
    rows = store.execute(
        "SELECT e.category, e.direction, e.hop_class, e.usd, e.share, e.min_hop FROM exposures e"
        " JOIN addresses a ON a.id = e.address_id WHERE a.address = ? AND e.run_id = ?",
        [addr(name), latest(store)]).fetchall()
    return {(c, d, h): (u, s, m) for c, d, h, u, s, m in rows}
