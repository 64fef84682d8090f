"""Stablecoin issuer freezes as ``blacklist`` labels with ledger-immanent confidence (100).

``blacklist-events`` reads the ``blacklist_events`` the node ingestion stored (USDT AddedBlackList /
RemovedBlackList, USDC Blacklisted / UnBlacklisted) and turns each freeze period into one label: valid from the
addition's block time, valid to the removal's (history kept: an address frozen, released and frozen again has
two labels). ``tether-csv`` reads the Dune export of USDT ``AddedBlackList`` events (additions only).

The null address and token contracts appear in real freeze data; they are labelled as the chain says, and the
risk engine never spreads risk through them (see :mod:`chainrisk.taxonomy`).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ...address import tron_from_hex
from ...errors import InputError, UsageError
from ..model import ParsedSource, parse_time
from ..store import blacklist_events
from .common import Options, conf, finish, one_source

CONFIDENCE = 100


def import_events(paths: list[Path], opts: Options, store: Any) -> list[ParsedSource]:
    """Freeze periods from the store's ``blacklist_events`` (all chains and tokens: one source)."""
    if paths:
        raise InputError("--input-format blacklist-events reads the store's ingested events and takes no files")
    events = blacklist_events(store)
    if not events:
        raise InputError("the store has no issuer blacklist events; ingest them from a node first "
                         "('chainrisk ingest rpc ...'), then rerun; the store is unchanged")
    latest: dict[str, int] = {}
    for e in events:
        latest[e["chain"]] = max(latest.get(e["chain"], 0), int(e["block_number"]))
    version = ", ".join(f"{c}@{b}" for c, b in sorted(latest.items()))
    ps = ParsedSource(opts.source or "onchain-blacklist", "blacklist-events", opts.version or version,
                      "store: blacklist_events")
    confidence = conf(opts, CONFIDENCE)
    open_: dict[tuple[str, int, str], dict[str, Any]] = {}

    def emit(start: dict[str, Any] | None, end: dict[str, Any] | None) -> None:
        e = start or end
        assert e is not None
        details = {"token": e["symbol"], "contract": e["contract"]}
        if start:
            details.update(added_tx=start["tx_hash"], added_block=int(start["block_number"]))
        if end:
            details.update(removed_tx=end["tx_hash"], removed_block=int(end["block_number"]))
        name = f"{e['symbol']} frozen by {e['issuer'] or 'the issuer'}"
        ps.add(e["address"], "blacklist", name, confidence, chain=e["chain"], asset=e["symbol"],
               valid_from=start["block_time"] if start else None, valid_to=end["block_time"] if end else None,
               details=json.dumps(details, sort_keys=True))

    for e in events:  # ordered by chain, token, address, block, log index
        ps.rows_read += 1
        key = (e["chain"], int(e["token_id"]), e["address"])
        if e["action"] == "added":
            if key in open_:
                continue  # a repeated freeze while frozen changes nothing
            open_[key] = e
        else:
            start = open_.pop(key, None)
            emit(start, e)  # a release without a stored freeze: frozen before the ingested range, until now
    for start in open_.values():
        emit(start, None)
    return [finish(ps, "blacklist event")]


def open_freezes(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The freezes still in force after ``events`` (as :func:`~chainrisk.labels.store.blacklist_events` returns
    them): per (chain, token, address) the last event, when it is an addition. Each carries ``event``, which
    names the issuer's style (see :data:`chainrisk.ingest.node.FREEZE_FUNCTION`)."""
    last: dict[tuple[str, int, str], dict[str, Any]] = {}
    for e in events:
        last[(e["chain"], int(e["token_id"]), e["address"])] = e
    return [e for e in last.values() if e["action"] == "added"]


_TETHER_COLUMNS = ("chain", "address_hex", "address_tron_base58", "blacklisted_at_utc")
#: Tether's own USDT contracts: a freeze export names one of these chains (the issuer's contract on it)
_USDT_DEFAULT = {"ethereum": "0xdac17f958d2ee523a2206206994597c13d831ec7", "tron": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}


def usdt_contracts(store: Any) -> dict[str, str]:
    """chain -> USDT contract, for every chain where the store's token registry has a USDT issued by Tether
    (BSC's Binance-Peg USDT is not Tether's: Tether freezes nothing there). A freeze row of another chain is
    skipped with its reason."""
    out = dict(_USDT_DEFAULT)
    tokens = store.tokens() if store is not None and hasattr(store, "tokens") else []
    for t in tokens:
        if t.symbol.upper().startswith("USDT") and (t.issuer or "").lower().startswith("tether"):
            out.setdefault(t.chain, t.contract)
    return out


def import_tether_csv(paths: list[Path], opts: Options, store: Any = None) -> list[ParsedSource]:
    """USDT AddedBlackList events exported from Dune (``chain,address_hex,address_tron_base58,
    blacklisted_at_utc``). One label per (chain, address), valid from its latest freeze (an address frozen
    twice was released in between; the file has no releases, so older periods cannot be closed)."""
    from .generic import read_csv

    ps = one_source(paths, opts, "tether-csv", "tether-usdt-blacklist", None)
    confidence = conf(opts, CONFIDENCE)
    seen: dict[tuple[str, str], list[datetime]] = {}
    contract = usdt_contracts(store)
    for path in paths:
        header, rows = read_csv(path, "Tether blacklist")
        missing = [c for c in ("chain", "address_hex", "blacklisted_at_utc") if c not in header]
        if missing:
            raise InputError(f"{path.name} is not a Tether blacklist export: missing column(s) {', '.join(missing)}"
                             f" (expected {','.join(_TETHER_COLUMNS)}); check --input-format")
        for lineno, row in enumerate(rows, start=2):
            ps.rows_read += 1
            chain = (row.get("chain") or "").strip().lower()
            address = (row.get("address_tron_base58") or "").strip()
            try:
                when = parse_time(row.get("blacklisted_at_utc"))
                if chain == "tron" and not address:
                    address = tron_from_hex("41" + (row.get("address_hex") or "").strip().removeprefix("0x"))
                elif chain != "tron":
                    address = (row.get("address_hex") or "").strip()
            except (ValueError, InputError) as e:
                ps.skip(f"unreadable row ({e})", f"line {lineno}")
                continue
            from ..chains import canonical_chain
            from ..model import canonical

            try:
                chain = canonical_chain(chain)
            except UsageError:
                chain = chain or "(empty)"
            if chain not in contract:
                ps.skip("the token registry has no USDT on this chain", chain)
                continue

            try:
                key = canonical(address, chain)
            except InputError as e:
                ps.skip(f"invalid address ({e})", address)
                continue
            seen.setdefault(key, []).append(when or datetime.min)
    for (chain, address), times in seen.items():
        times.sort()
        details = {"token": "USDT", "contract": contract[chain], "freezes": len(times),
                   "first_frozen": times[0].isoformat(sep=" ") if times[0] != datetime.min else None}
        ps.add(address, "blacklist", "USDT frozen by Tether", confidence, chain=chain, asset="USDT",
               valid_from=times[-1] if times[-1] != datetime.min else None, details=json.dumps(details, sort_keys=True))
    if ps.version is None:
        all_times = [t for ts in seen.values() for t in ts if t != datetime.min]
        ps.version = max(all_times).date().isoformat() if all_times else None
    return [finish(ps, "Tether blacklist CSV")]
