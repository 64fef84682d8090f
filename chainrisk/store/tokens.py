"""The token registry: the bundled stablecoin and RWA contracts, and tokens first seen in imported data."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..data import TOKENS_CSV
from ..errors import InputError

if TYPE_CHECKING:
    from .core import Store


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    chain: str
    contract: str
    symbol: str
    name: str | None
    decimals: int
    kind: str
    usd_peg: float | None
    issuer: str | None


_COLUMNS = "SELECT id, chain, contract, symbol, name, decimals, kind, usd_peg, issuer FROM tokens"


def canonical_contract(chain: str, contract: str) -> str:
    """Lower-case hex for EVM contracts; TRON contracts keep their base58 form."""
    return contract.strip() if chain == "tron" else contract.strip().lower()


def seed(store: Store) -> None:
    """Register the bundled tokens in a store that has none yet."""
    # fetchall, not fetchone: DuckDB 2.0 keeps a half-read result open and then refuses Store.sql()
    (n,) = store.execute("SELECT count(*) FROM tokens").fetchall()[0]
    if n:
        return
    with TOKENS_CSV.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with store.transaction():
        for row in rows:
            _insert(
                store, row["chain"], canonical_contract(row["chain"], row["contract"]), row["symbol"],
                row["name"] or None, int(row["decimals"]), row["kind"],
                float(row["usd_peg"]) if row["usd_peg"] else None, row["issuer"] or None, row["source"] or None,
            )


def _insert(
    store: Store, chain: str, contract: str, symbol: str, name: str | None, decimals: int, kind: str,
    usd_peg: float | None, issuer: str | None, source: str | None,
) -> int:
    (next_id,) = store.execute("SELECT coalesce(max(id), 0) + 1 FROM tokens").fetchone() or (1,)
    store.execute(
        "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [next_id, chain, contract, symbol, name, decimals, kind, usd_peg, issuer, source],
    )
    return int(next_id)


def tokens(store: Store, chain: str | None = None) -> list[Token]:
    rows = (store.execute(_COLUMNS + " WHERE chain = ? ORDER BY id", [chain]) if chain else
            store.execute(_COLUMNS + " ORDER BY id")).fetchall()
    return [Token(*r) for r in rows]


def resolve_token(store: Store, ref: str, chain: str = "ethereum") -> Token:
    """A registered token by symbol (case-insensitive) or contract address."""
    ref_l = ref.strip().lower()
    registered = tokens(store, chain)
    for t in registered:
        if t.contract.lower() == ref_l or t.symbol.lower() == ref_l:
            return t
    known = ", ".join(t.symbol for t in registered)
    raise InputError(f"unknown token {ref!r} on {chain}; registered: {known}")


def ensure_token(
    store: Store, chain: str, contract: str, symbol: str | None = None, decimals: int | None = None,
    kind: str = "other", source: str = "seen in imported data",
) -> Token:
    """The registered token for ``contract``, registering it (kind ``other``) when first seen."""
    contract = canonical_contract(chain, contract)
    row = store.execute(_COLUMNS + " WHERE chain = ? AND contract = ?", [chain, contract]).fetchone()
    if row:
        return Token(*row)
    if decimals is None:
        raise InputError(
            f"token {contract} on {chain} is not registered and the input gives no decimals; "
            "add it to the token registry first"
        )
    tid = _insert(store, chain, contract, symbol or contract[:10], None, decimals, kind, None, None, source)
    return {t.id: t for t in tokens(store)}[tid]
