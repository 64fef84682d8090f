"""Label-store operations: replace a source's version atomically, and read labels back.

A label's identity within its source is (chain, address, category, name, asset, valid_from). Re-importing a
source compares the new version with the stored current one:

* labels in both are *unchanged* (or *updated* in place when their validity end, confidence or details moved,
  e.g. an issuer freeze that has since been lifted gets its ``valid_to``);
* labels only in the new version are *added*;
* labels only in the old version are *removed*: they are retired (``retired_at`` and ``valid_to`` set to the
  import time), never deleted, so the history stays answerable ("was this address sanctioned on 2024-05-01?").

All sources of one import commit in one transaction: a failure leaves every previous version intact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ..store import Store
from ..taxonomy import BURN_ADDRESSES, NULL_ADDRESS, PRECOMPILES
from .model import ParsedSource

_KEY = (
    "l.chain = s.chain AND l.address = s.address AND l.category = s.category"
    " AND l.name IS NOT DISTINCT FROM s.name AND l.asset IS NOT DISTINCT FROM s.asset"
    " AND l.valid_from IS NOT DISTINCT FROM s.valid_from"
)
_SAME = (
    "l.valid_to IS NOT DISTINCT FROM s.valid_to AND l.confidence = s.confidence"
    " AND l.details IS NOT DISTINCT FROM s.details"
)
_COLUMNS = ("chain", "address", "category", "name", "source", "confidence", "valid_from", "valid_to", "asset",
            "details")
_SCHEMA = pa.schema([
    ("chain", pa.string()), ("address", pa.string()), ("category", pa.string()), ("name", pa.string()),
    ("source", pa.string()), ("confidence", pa.int32()), ("valid_from", pa.timestamp("us")),
    ("valid_to", pa.timestamp("us")), ("asset", pa.string()), ("details", pa.string()), ("ord", pa.int64()),
])


@dataclass
class SourceResult:
    """What one import did to one source."""

    source: str
    format: str
    version: str | None
    origin: str
    rows_read: int
    labels: int
    added: int
    removed: int
    unchanged: int
    updated: int
    active: int
    skipped: int
    skip_reasons: dict[str, int] = field(default_factory=dict)
    skip_examples: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> datetime:
    # full precision: runs record their times in microseconds, and point-in-time runs and alert rules compare a
    # label's import and end with them (a label imported in the same second as a run must not look older than it)
    return datetime.now(UTC).replace(tzinfo=None)


MAX_REMOVAL_SHARE = 0.20


def replace_sources(store: Store, parsed: Sequence[ParsedSource], *, now: datetime | None = None,
                    allow_mass_removal: bool = False, max_removal_share: float = MAX_REMOVAL_SHARE,
                    ) -> list[SourceResult]:
    """Replace each parsed source's stored version, all in one transaction. Returns one result per source.

    A version that would end more than ``max_removal_share`` of a source's active labels (they are missing from
    it) is refused with :class:`~chainrisk.errors.InputError` and nothing changes, unless ``allow_mass_removal``:
    a truncated or partial download of an authoritative list reads as a valid, shorter list."""
    now = now or _now()
    limit = None if allow_mass_removal else max_removal_share
    results = []
    with store.transaction():
        for ps in parsed:
            results.append(_replace_one(store, ps, now, limit))
    return results


def _replace_one(store: Store, ps: ParsedSource, now: datetime, limit: float | None = None) -> SourceResult:
    recs = [r for r in ps.records if r.source == ps.source]
    cols: dict[str, list[Any]] = {c: [getattr(r, c) for r in recs] for c in _COLUMNS}
    cols["ord"] = list(range(len(recs)))
    table = pa.table(cols, schema=_SCHEMA)
    with store.registered(_label_arrow=table):
        store.execute("DROP TABLE IF EXISTS _ls")
        store.execute(
            "CREATE TEMP TABLE _ls AS SELECT * EXCLUDE (ord) FROM _label_arrow QUALIFY row_number() OVER ("
            " PARTITION BY chain, address, category, name, asset, valid_from ORDER BY ord) = 1"
        )
    cur = "FROM labels l WHERE l.source = ? AND l.retired_at IS NULL"
    (n_new,) = store.execute("SELECT count(*) FROM _ls").fetchall()[0]
    (unchanged,) = store.execute(
        f"SELECT count(*) {cur} AND EXISTS (SELECT 1 FROM _ls s WHERE {_KEY} AND {_SAME})", [ps.source]
    ).fetchall()[0]
    (updated,) = store.execute(
        f"SELECT count(*) {cur} AND EXISTS (SELECT 1 FROM _ls s WHERE {_KEY} AND NOT ({_SAME}))", [ps.source]
    ).fetchall()[0]
    (removed,) = store.execute(
        f"SELECT count(*) {cur} AND NOT EXISTS (SELECT 1 FROM _ls s WHERE {_KEY})", [ps.source]
    ).fetchall()[0]
    if limit is not None and removed:
        _check_removal_share(store, ps.source, limit)
    if updated:
        store.execute(
            f"""UPDATE labels AS l SET valid_to = s.valid_to, confidence = s.confidence, details = s.details
                FROM _ls s WHERE l.source = ? AND l.retired_at IS NULL AND {_KEY} AND NOT ({_SAME})""",
            [ps.source],
        )
    if removed:
        store.execute(
            f"""UPDATE labels AS l SET retired_at = ?, valid_to = coalesce(l.valid_to, ?)
                WHERE l.source = ? AND l.retired_at IS NULL
                  AND NOT EXISTS (SELECT 1 FROM _ls s WHERE {_KEY})""",
            [now, now, ps.source],
        )
    added = store.execute(
        f"""INSERT INTO labels (chain, address, category, name, source, source_version, confidence, valid_from,
                                valid_to, asset, details, imported_at, retired_at)
            SELECT s.chain, s.address, s.category, s.name, s.source, ?, s.confidence, s.valid_from, s.valid_to,
                   s.asset, s.details, ?, NULL
            FROM _ls s
            WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.source = ? AND l.retired_at IS NULL AND {_KEY})""",
        [ps.version, now, ps.source],
    ).fetchall()[0][0]
    store.execute("DROP TABLE _ls")
    (active,) = store.execute(
        "SELECT count(*) FROM labels WHERE source = ? AND retired_at IS NULL AND valid_to IS NULL", [ps.source]
    ).fetchall()[0]
    store.execute("DELETE FROM label_sources WHERE source = ?", [ps.source])
    store.execute(
        "INSERT INTO label_sources VALUES (?, ?, ?, ?, ?, ?, ?)",
        [ps.source, ps.format, ps.version, ps.origin, ps.sha256, n_new, now],
    )
    store.execute(
        "INSERT INTO label_imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [ps.source, ps.format, ps.version, ps.origin, ps.sha256, ps.rows_read, n_new, added, removed, unchanged,
         updated, ps.skipped_total, now],
    )
    return SourceResult(
        source=ps.source, format=ps.format, version=ps.version, origin=ps.origin, rows_read=ps.rows_read,
        labels=int(n_new), added=int(added), removed=int(removed), unchanged=int(unchanged), updated=int(updated),
        active=int(active), skipped=ps.skipped_total, skip_reasons=dict(ps.skipped),
        skip_examples=dict(ps.skipped_examples),
    )


# -- reading ---------------------------------------------------------------------------------------------------

LABEL_FIELDS = ("chain", "address", "category", "name", "source", "source_version", "confidence", "valid_from",
                "valid_to", "asset", "details", "imported_at", "retired_at")


def _check_removal_share(store: Store, source: str, limit: float) -> None:
    """Refuse a version that ends more than ``limit`` of the source's active labels (missing from it)."""
    from ..errors import InputError

    (before, ending) = store.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM _ls s WHERE {_KEY}))
            FROM labels l WHERE l.source = ? AND l.retired_at IS NULL AND l.valid_to IS NULL""", [source]
    ).fetchall()[0]
    if before and ending / before > limit:
        store.execute("DROP TABLE IF EXISTS _ls")
        raise InputError(
            f"importing {source} would end {ending:,} of its {before:,} active labels ({ending / before:.0%}, more "
            f"than the {limit:.0%} allowed): a truncated or partial list does this, so nothing was changed; check "
            "the file, or pass --allow-mass-removal (allow_mass_removal=True) if the list really shrank")


def _rows(store: Store, query: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = store.execute(query, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def labels_for(store: Store, address: str, *, include_history: bool = True) -> list[dict[str, Any]]:
    """Every label on ``address`` (any chain; conflicting labels all kept), strongest first.

    Each row has a ``status``: ``active``, ``ended`` (the source says the fact stopped, e.g. a lifted freeze) or
    ``retired`` (a later version of the source dropped it)."""
    from .model import canonical

    try:
        _, addr = canonical(address)
    except Exception:
        addr = address.strip()
    rows = _rows(
        store,
        f"""SELECT {', '.join(LABEL_FIELDS)} FROM labels WHERE address = ?
            {'' if include_history else 'AND valid_to IS NULL'}
            ORDER BY (valid_to IS NULL) DESC, confidence DESC, category, source, valid_from NULLS FIRST, name""",
        [addr],
    )
    for r in rows:
        r["status"] = "active" if r["valid_to"] is None else ("retired" if r["retired_at"] else "ended")
    return rows


def special_notes(store: Store, address: str) -> list[str]:
    """What the system knows about ``address`` by nature: null/burn address, precompile, token contract."""
    from .model import canonical

    try:
        chain, addr = canonical(address)
    except Exception:
        return []
    notes = []
    if addr == NULL_ADDRESS:
        notes.append("null address: mint/burn counterparty; never spreads risk (issuers also 'blacklist' it)")
    elif addr in BURN_ADDRESSES:
        notes.append("burn address: never spreads risk")
    if addr in PRECOMPILES:
        notes.append("precompiled contract: never spreads risk")
    for symbol, kind, issuer in store.execute(
        "SELECT symbol, kind, issuer FROM tokens WHERE chain = ? AND contract = ? ORDER BY id", [chain, addr]
    ).fetchall():
        notes.append(f"token contract {symbol} ({kind}{', issuer ' + issuer if issuer else ''})")
    return notes


def list_labels(
    store: Store, *, source: str | None = None, category: str | None = None, chain: str | None = None,
    include_history: bool = False, limit: int | None = None,
) -> list[dict[str, Any]]:
    """Labels filtered by source, category and chain; active only unless ``include_history``."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if source:
        where.append("source = ?")
        params.append(source)
    if category:
        where.append("category = ?")
        params.append(category)
    if chain:
        where.append("chain = ?")
        params.append(chain)
    if not include_history:
        where.append("valid_to IS NULL")
    q = (f"SELECT {', '.join(LABEL_FIELDS)} FROM labels WHERE {' AND '.join(where)}"
         " ORDER BY source, category, chain, address, valid_from NULLS FIRST, name")
    if limit is not None:
        q += " LIMIT ?"
        params.append(int(limit))
    return _rows(store, q, params)


def list_sources(store: Store) -> list[dict[str, Any]]:
    """Each source's current version with its label counts and the last import's figures."""
    return _rows(
        store,
        """
        SELECT s.source, s.format, s.version, s.origin, s.imported_at, s.rows AS labels,
               coalesce(a.active, 0) AS active, coalesce(a.ended, 0) AS ended, coalesce(a.retired, 0) AS retired,
               i.added, i.removed, i.unchanged, i.updated, i.skipped, s.sha256
        FROM label_sources s
        LEFT JOIN (SELECT source,
                          count(*) FILTER (WHERE retired_at IS NULL AND valid_to IS NULL) AS active,
                          count(*) FILTER (WHERE retired_at IS NULL AND valid_to IS NOT NULL) AS ended,
                          count(*) FILTER (WHERE retired_at IS NOT NULL) AS retired
                   FROM labels GROUP BY source) a ON a.source = s.source
        LEFT JOIN (SELECT * FROM label_imports
                   QUALIFY row_number() OVER (PARTITION BY source ORDER BY imported_at DESC, rowid DESC) = 1) i
               ON i.source = s.source
        ORDER BY s.source
        """,
        [],
    )


def source_names(store: Store) -> list[str]:
    return [r[0] for r in store.execute("SELECT source FROM label_sources ORDER BY source").fetchall()]


def blacklist_events(store: Store) -> list[dict[str, Any]]:
    """The ingested issuer freeze events with their token, in (chain, token, address, block, log) order."""
    return _rows(
        store,
        """SELECT e.chain, e.token_id, k.symbol, k.contract, k.issuer, e.address, e.action, e.block_number,
                  e.log_index, e.block_time, e.tx_hash, e.event
           FROM blacklist_events e JOIN tokens k ON k.id = e.token_id
           ORDER BY e.chain, e.token_id, e.address, e.block_number, e.log_index""",
        [],
    )


def retire_source(store: Store, source: str, *, now: datetime | None = None) -> SourceResult:
    """Stop using a source: every current label of it is ended (history kept) and it leaves ``label_sources``.
    The audit row in ``label_imports`` records the retirement (format ``retired``)."""
    from ..errors import InputError

    known = source_names(store)
    if source not in known:
        raise InputError(f"no label source {source!r} in the store; known: {', '.join(known) or '(none)'}")
    now = now or _now()
    (fmt,) = store.execute("SELECT format FROM label_sources WHERE source = ?", [source]).fetchone() or ("",)
    with store.transaction():
        res = _replace_one(store, ParsedSource(source, "retired", None, "retired by the user"), now)
        store.execute("DELETE FROM label_sources WHERE source = ?", [source])
    res.format = fmt
    return res
