"""Watchlists: addresses a bank keeps an eye on, each with the bank's own reference.

An entry is (watchlist, chain, address, reference). Adding an address already watched in that list with the same
reference changes nothing; with another reference, the old entry ends and a new one starts (history is kept:
removing sets ``removed_at``, nothing is deleted). Input: addresses given one by one (with a reference), or a file
the bank already has, such as a screening output (``chainrisk screen ... -o screened.csv``): its
``address_normalized`` column is used when present, so a screened file becomes a watchlist in one step.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..address import Address, try_parse
from ..answers.bank_file import ERROR_TABLE, SOURCE_TABLE, load, quote_ident
from ..errors import InputError
from ..store import Store
from ..taxonomy import BANDS

DEFAULT_LIST = "default"
MAX_REFERENCE = 256
COLUMNS = ("watch_id", "watchlist", "chain", "address", "reference", "added_at", "added_by", "removed_at",
           "removed_by")


@dataclass
class WatchReport:
    """What one add or remove did."""

    watchlist: str
    added: int = 0
    unchanged: int = 0
    replaced: int = 0     # watched already with another reference: that entry ended, a new one started
    removed: int = 0
    not_watched: int = 0
    invalid: int = 0
    skipped_by_band: int = 0
    invalid_examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _check_list(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise InputError("a watchlist name is 1..100 characters")
    return name


def add(store: Store, items: Iterable[tuple[str, str | None]], *, watchlist: str = DEFAULT_LIST,
        actor: str = "cli") -> WatchReport:
    """Watch each (address, reference) in ``watchlist``. Invalid addresses are counted, not raised."""
    wl = _check_list(watchlist)
    rep = WatchReport(wl)
    parsed: dict[tuple[str, str], str | None] = {}
    for value, ref in items:
        p = try_parse(value)
        if not isinstance(p, Address):
            rep.invalid += 1
            if len(rep.invalid_examples) < 5:
                rep.invalid_examples.append(f"{str(value)[:80]!r}: {p.reason}")
            continue
        ref = (str(ref).strip()[:MAX_REFERENCE] or None) if ref is not None else None
        parsed[(p.chain, p.address)] = ref
    if not parsed:
        return rep
    now = _now()
    with store.transaction():
        current = {(c, a): (w, r) for w, c, a, r in store.execute(
            "SELECT watch_id, chain, address, reference FROM watchlist WHERE watchlist = ? AND removed_at IS NULL",
            [wl]).fetchall()}
        new_rows = []
        ended = []
        for key, ref in parsed.items():
            old = current.get(key)
            if old is not None and old[1] == ref:
                rep.unchanged += 1
                continue
            if old is not None:
                ended.append(old[0])
                rep.replaced += 1
            else:
                rep.added += 1
            new_rows.append(["w" + secrets.token_hex(6), wl, key[0], key[1], ref, now, actor])
        if ended:
            store.executemany("UPDATE watchlist SET removed_at = ?, removed_by = ? WHERE watch_id = ?",
                              [[now, actor, w] for w in ended])
        if new_rows:
            store.executemany("INSERT INTO watchlist (watch_id, watchlist, chain, address, reference, added_at,"
                              " added_by) VALUES (?, ?, ?, ?, ?, ?, ?)", new_rows)
    return rep


def remove(store: Store, addresses: Iterable[str], *, watchlist: str = DEFAULT_LIST, actor: str = "cli") -> WatchReport:
    """Stop watching ``addresses`` in ``watchlist`` (the entries are kept, with ``removed_at``)."""
    wl = _check_list(watchlist)
    rep = WatchReport(wl)
    now = _now()
    with store.transaction():
        for value in addresses:
            p = try_parse(value)
            if not isinstance(p, Address):
                rep.invalid += 1
                if len(rep.invalid_examples) < 5:
                    rep.invalid_examples.append(f"{str(value)[:80]!r}: {p.reason}")
                continue
            rows = store.execute(
                "UPDATE watchlist SET removed_at = ?, removed_by = ? WHERE watchlist = ? AND chain = ?"
                " AND address = ? AND removed_at IS NULL RETURNING watch_id", [now, actor, wl, p.chain, p.address]
            ).fetchall()
            if rows:
                rep.removed += len(rows)
            else:
                rep.not_watched += 1
    return rep


def add_file(store: Store, path: str | Path, *, watchlist: str = DEFAULT_LIST, address_column: str | None = None,
             reference_column: str | None = None, min_band: str | None = None, actor: str | None = None,
             ) -> WatchReport:
    """Watch the addresses of a file (CSV, XLSX, JSONL, JSON, a list, or a screening output).

    ``address_column``: default ``address_normalized`` when the file has it (a screening output), else
    ``address``. ``reference_column``: default ``reference`` when present (else no reference). ``min_band``: of a
    screening output, only rows whose ``illicit_band`` or ``vc_business_band`` (or ``risk_band``) is at least
    that band."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"no file {p}")
    info = load(store, p, address_column or "address_normalized")
    try:
        cols = info.columns
        addr_col = address_column or ("address_normalized" if "address_normalized" in cols else "address")
        if addr_col not in cols:
            raise InputError(f"{p.name} has no column {addr_col!r}; columns: {', '.join(cols)}; give "
                             "--address-column")
        ref_col = reference_column or ("reference" if "reference" in cols else None)
        if ref_col is not None and ref_col not in cols:
            raise InputError(f"{p.name} has no column {ref_col!r}; columns: {', '.join(cols)}")
        ref_sel = quote_ident(ref_col) if ref_col else "NULL"
        where = f"rowid NOT IN (SELECT row FROM {ERROR_TABLE})"
        skipped = 0
        if min_band is not None:
            if min_band not in BANDS:
                raise InputError(f"unknown band {min_band!r}; bands: {', '.join(BANDS)}")
            band_cols = [c for c in ("illicit_band", "vc_business_band", "risk_band") if c in cols]
            if not band_cols:
                raise InputError(f"{p.name} has no band columns (is it a screening output?); drop --min-band")
            ranks = ", ".join(f"list_position({list(BANDS)!r}, {quote_ident(c)})" for c in band_cols)
            cond = f"greatest({ranks}) >= {BANDS.index(min_band) + 1}" if len(band_cols) > 1 else \
                f"{ranks} >= {BANDS.index(min_band) + 1}"
            (total,) = store.execute(f"SELECT count(*) FROM {SOURCE_TABLE} WHERE {where}").fetchone() or (0,)
            where += f" AND coalesce({cond}, false)"
            (kept,) = store.execute(f"SELECT count(*) FROM {SOURCE_TABLE} WHERE {where}").fetchone() or (0,)
            skipped = int(total) - int(kept)
        rows = store.execute(
            f"SELECT {quote_ident(addr_col)}, {ref_sel} FROM {SOURCE_TABLE} WHERE {where} ORDER BY rowid").fetchall()
    finally:
        for t in (SOURCE_TABLE, ERROR_TABLE):
            store.execute(f"DROP TABLE IF EXISTS {t}")
    rep = add(store, [(str(a or ""), r) for a, r in rows], watchlist=watchlist, actor=actor or f"file:{p.name}")
    rep.invalid += info.unparseable
    rep.skipped_by_band = skipped
    return rep


def entries(store: Store, *, watchlist: str | None = None, include_removed: bool = False,
            addresses: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Watchlist entries, oldest first."""
    where: list[str] = []
    params: list[Any] = []
    if watchlist is not None:
        where.append("watchlist = ?")
        params.append(watchlist)
    if not include_removed:
        where.append("removed_at IS NULL")
    if addresses:
        parsed = [try_parse(a) for a in addresses]
        keys = [f"{x.chain}:{x.address}" for x in parsed if isinstance(x, Address)]
        where.append("list_contains(?, chain || ':' || address)")
        params.append(keys)
    sql = f"SELECT {', '.join(COLUMNS)} FROM watchlist"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [dict(zip(COLUMNS, r, strict=True)) for r in store.execute(sql + " ORDER BY added_at, rowid",
                                                                      params).fetchall()]
