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
    decimals: int | None  # None: a token seen in a file that gave no decimals (its transfers are never priced)
    kind: str
    usd_peg: float | None
    issuer: str | None


_COLUMNS = "SELECT id, chain, contract, symbol, name, decimals, kind, usd_peg, issuer FROM tokens"


def canonical_contract(chain: str, contract: str) -> str:
    """Lower-case hex for EVM contracts; TRON contracts keep their base58 form."""
    return contract.strip() if chain == "tron" else contract.strip().lower()


def seed(store: Store) -> None:
    """Register the bundled tokens a store does not have yet (all of them in a new store; the ones a newer
    chainrisk added, in an older store). A token the store already knows keeps its row, except that one
    registered with unknown decimals (seen in a file that gave none) gets the bundled facts, and its
    transfers their amounts (:func:`fill_decimals`)."""
    with TOKENS_CSV.open(newline="", encoding="utf-8") as f:
        rows = [(i, r["chain"], canonical_contract(r["chain"], r["contract"]), r["symbol"], r["name"] or None,
                 int(r["decimals"]), r["kind"], float(r["usd_peg"]) if r["usd_peg"] else None, r["issuer"] or None,
                 r["source"] or None) for i, r in enumerate(csv.DictReader(f))]
    # fetchall, not fetchone: DuckDB 2.0 keeps a half-read result open and then refuses Store.sql()
    known = {(c, a): d for c, a, d in store.execute("SELECT chain, contract, decimals FROM tokens").fetchall()}
    missing = [r for r in rows if (r[1], r[2]) not in known]
    undecided = [r for r in rows if (r[1], r[2]) in known and known[(r[1], r[2])] is None]
    if not missing and not undecided:
        return
    with store.transaction():
        if missing:
            (next_id,) = store.execute("SELECT coalesce(max(id), 0) + 1 FROM tokens").fetchall()[0]
            # one statement (executemany runs one per row: ~0.15 s more per new store)
            values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(missing))
            store.execute(f"INSERT INTO tokens VALUES {values}",
                          [x for j, row in enumerate(missing) for x in (next_id + j, *row[1:])])
        for row in undecided:
            _update_unknown(store, *row[1:])


def _update_unknown(
    store: Store, chain: str, contract: str, symbol: str, name: str | None, decimals: int, kind: str,
    usd_peg: float | None, issuer: str | None, source: str | None,
) -> None:
    store.execute(
        "UPDATE tokens SET symbol = ?, name = ?, decimals = ?, kind = ?, usd_peg = ?, issuer = ?, source = ?"
        " WHERE chain = ? AND contract = ? AND decimals IS NULL",
        [symbol, name, decimals, kind, usd_peg, issuer, source, chain, contract])
    fill_decimals(store, chain, contract)


def fill_decimals(store: Store, chain: str, contract: str) -> None:
    """Give the stored transfers of a token whose decimals just became known their ``amount``."""
    store.execute(
        "UPDATE transfers SET amount = coalesce(CAST(transfers.value AS DOUBLE), CAST(transfers.value_raw AS DOUBLE))"
        " / pow(10, k.decimals) FROM tokens k"
        " WHERE k.id = transfers.token_id AND k.chain = ? AND k.contract = ? AND k.decimals IS NOT NULL",
        [chain, contract])


def _insert(
    store: Store, chain: str, contract: str, symbol: str, name: str | None, decimals: int | None, kind: str,
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
    """The registered token for ``contract``, registering it (kind ``other``) when first seen.

    A token registered earlier with unknown decimals gets ``decimals`` (and ``symbol``) when they are given now,
    and its stored transfers their amounts."""
    contract = canonical_contract(chain, contract)
    row = store.execute(_COLUMNS + " WHERE chain = ? AND contract = ?", [chain, contract]).fetchone()
    if row:
        tok = Token(*row)
        if tok.decimals is None and decimals is not None:
            store.execute("UPDATE tokens SET decimals = ?, symbol = coalesce(?, symbol), source = ?"
                          " WHERE id = ?", [decimals, symbol, source, tok.id])
            fill_decimals(store, chain, contract)
            return ensure_token(store, chain, contract)
        return tok
    if decimals is None:
        raise InputError(
            f"token {contract} on {chain} is not registered and the input gives no decimals; "
            "add it to the token registry first"
        )
    tid = _insert(store, chain, contract, symbol or contract[:10], None, decimals, kind, None, None, source)
    return {t.id: t for t in tokens(store)}[tid]


def register_unknown(store: Store, chain: str, table: str) -> list[str]:
    """Register every ``(contract, symbol)`` of ``table`` not in the registry as a token of unknown decimals
    (kind ``other``, no USD peg): its transfers are stored as activity, never priced. Returns the contracts."""
    new = [r[0] for r in store.execute(
        f"SELECT contract FROM {table} t WHERE NOT EXISTS"
        " (SELECT 1 FROM tokens k WHERE k.chain = ? AND k.contract = t.contract) ORDER BY contract", [chain]
    ).fetchall()]
    if new:
        store.execute(
            f"""INSERT INTO tokens
                SELECT (SELECT coalesce(max(id), 0) FROM tokens) + row_number() OVER (ORDER BY contract), ?,
                       contract, coalesce(symbol, left(contract, 10)), NULL, NULL, 'other', NULL, NULL,
                       'seen in imported data; the file gives no decimals'
                FROM {table} t
                WHERE NOT EXISTS (SELECT 1 FROM tokens k WHERE k.chain = ? AND k.contract = t.contract)""",
            [chain, chain])
    return new
