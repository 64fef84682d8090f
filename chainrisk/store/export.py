"""``chainrisk export``: the store's transfers and everything a scoring run reads besides them, as a Parquet
dataset another engine (Apache Spark on a cluster, a lakehouse) can read without the store.

Layout of an export folder (hive-partitioned, zstd Parquet; every table has a documented column list,
:data:`COLUMNS`)::

    PATH/
      _chainrisk_export.json       manifest: format, store, snapshot, settings, row counts (written last)
      transfers/chain=<chain>/month=<YYYY-MM | unknown>/data_<n>.parquet
      addresses/data_0.parquet     id, chain, address
      labels/data_0.parquet        the active labels with their address ids
      inert/data_0.parquet         ids of null/burn addresses, precompiles and token contracts
      tokens/data_0.parquet        id, chain, symbol, contract, decimals, usd_peg

All tables are read in one transaction (one snapshot of the store). The export is written into a sibling folder
``PATH.partial-<pid>`` and renamed to ``PATH`` only when every table is written and its rows counted back from
the files: a killed export leaves no dataset under ``PATH``, and the next export removes the partial folder and
starts over (an export is a snapshot: it is restarted, not resumed). The manifest accounts for every transfer of
the store: the rows written per partition, and how many of them carry no USD value (a token without a USD peg, or
no amount) -- those are exported too (``usd_micro`` NULL) and left out of scoring, as the scoring run does.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, StoreError
from ..taxonomy import inert_keys
from .runs import process_alive

if TYPE_CHECKING:
    from .core import Store

FORMAT = "chainrisk-export/1"
MANIFEST = "_chainrisk_export.json"

#: the columns of each table (what a lakehouse table must provide to be scored like an export)
COLUMNS: dict[str, dict[str, str]] = {
    "transfers": {
        "chain": "VARCHAR (partition)", "month": "VARCHAR YYYY-MM of block_time, or 'unknown' (partition)",
        "tx_hash": "VARCHAR", "log_index": "INTEGER", "block_number": "BIGINT", "block_time": "TIMESTAMP (UTC)",
        "time_s": "BIGINT epoch seconds of block_time, -1 unknown", "token_id": "INTEGER", "token": "VARCHAR",
        "from_id": "BIGINT address id", "to_id": "BIGINT address id", "from_address": "VARCHAR",
        "to_address": "VARCHAR", "amount": "DOUBLE token units",
        "usd_micro": "BIGINT floor(min(amount * usd_peg, usd_cap) * 1e6 + 0.5); NULL without a USD value"},
    "addresses": {"id": "BIGINT", "chain": "VARCHAR", "address": "VARCHAR"},
    "labels": {"address_id": "BIGINT", "chain": "VARCHAR", "address": "VARCHAR", "category": "VARCHAR",
               "name": "VARCHAR", "confidence": "INTEGER", "source": "VARCHAR"},
    "inert": {"address_id": "BIGINT"},
    "tokens": {"id": "INTEGER", "chain": "VARCHAR", "symbol": "VARCHAR", "contract": "VARCHAR",
               "decimals": "INTEGER", "usd_peg": "DOUBLE"},
}


@dataclass
class ExportReport:
    """What an export wrote: its folder, the snapshot's row counts, and the transfers per partition."""

    path: str
    created_at: str
    transfers: int
    transfers_with_usd: int
    transfers_without_usd: int
    self_transfers: int
    addresses: int
    labels: int
    inert: int
    tokens: int
    partitions: list[dict[str, Any]] = field(default_factory=list)
    bytes: int = 0
    duration_s: float = 0.0
    removed_partial: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _lit(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _clear_partials(target: Path) -> list[str]:
    """Remove partial exports of ``target`` left by processes that are gone; refuse while one is running."""
    removed = []
    for p in sorted(target.parent.glob(target.name + ".partial-*")):
        pid = p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and process_alive(int(pid)):
            raise StoreError(f"another export into {target} is running (process {pid}, folder {p}); wait for it "
                             "to finish")
        shutil.rmtree(p, ignore_errors=True)
        removed.append(str(p))
    return removed


def export(store: Store, path: str | os.PathLike[str], *, replace: bool = False, usd_cap: float = 1e11,
           derived_labels: Sequence[tuple[int, str, str | None, int, str]] = (),
           row_group_size: int = 1_000_000) -> ExportReport:
    """Write the store's transfers, addresses, active labels, inert addresses and tokens to ``path`` (a folder;
    layout and columns in the module docstring), atomically. ``replace`` swaps an existing export for the new one
    (kept until the new one is complete); without it an existing ``path`` is an :class:`InputError`.
    ``usd_cap``: a transfer's USD value is clamped here (the scoring engine's ``MAX_TRANSFER_USD``);
    ``derived_labels``: (address_id, category, name, confidence, source) labels a scoring run adds to the store's
    (those the engine derives from the RWA ledger), exported with the active labels."""
    import time

    import pyarrow as pa

    t0 = time.perf_counter()
    target = Path(path).absolute()
    if target.exists() and not replace:
        raise InputError(f"{target} exists; give another path, or --replace to swap it for a new export")
    if target.exists() and not (target / MANIFEST).is_file():
        raise InputError(f"{target} exists and is not a chainrisk export; refusing to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    removed = _clear_partials(target)
    tmp = target.parent / f"{target.name}.partial-{os.getpid()}"
    tmp.mkdir()
    created = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    opts = f"FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {int(row_group_size)}"
    derived = pa.table({
        "address_id": pa.array([int(r[0]) for r in derived_labels], pa.int64()),
        "category": pa.array([r[1] for r in derived_labels], pa.string()),
        "name": pa.array([r[2] for r in derived_labels], pa.string()),
        "confidence": pa.array([int(r[3]) for r in derived_labels], pa.int32()),
        "source": pa.array([r[4] for r in derived_labels], pa.string())})
    try:
        with store.registered(_cr_derived=derived), store.transaction():
            store.execute(f"""
                COPY (
                  SELECT t.chain, coalesce(strftime(t.block_time, '%Y-%m'), 'unknown') AS month, t.tx_hash,
                         t.log_index, t.block_number, t.block_time,
                         coalesce(CAST(epoch(t.block_time) AS BIGINT), -1) AS time_s, t.token_id,
                         k.symbol AS token, t.from_id, t.to_id, fa.address AS from_address,
                         ta.address AS to_address, t.amount,
                         CASE WHEN k.usd_peg IS NULL OR t.amount IS NULL THEN NULL
                              ELSE CAST(floor(least(t.amount * k.usd_peg, ?) * 1000000 + 0.5) AS BIGINT)
                         END AS usd_micro
                  FROM transfers t JOIN tokens k ON k.id = t.token_id
                  JOIN addresses fa ON fa.id = t.from_id JOIN addresses ta ON ta.id = t.to_id
                ) TO {_lit(tmp / 'transfers')} ({opts}, PARTITION_BY (chain, month))""", [float(usd_cap)])
            for name, query in (
                    ("addresses", "SELECT id, chain, address FROM addresses"),
                    ("labels", "SELECT a.id AS address_id, l.chain, l.address, l.category, l.name, l.confidence,"
                               " l.source FROM active_labels l"
                               " JOIN addresses a ON a.chain = l.chain AND a.address = l.address"
                               " UNION ALL SELECT x.address_id, a.chain, a.address, x.category, x.name,"
                               " x.confidence, x.source FROM _cr_derived x JOIN addresses a ON a.id = x.address_id"),
                    ("tokens", "SELECT id, chain, symbol, contract, decimals, usd_peg FROM tokens"),
            ):
                (tmp / name).mkdir()
                store.execute(f"COPY ({query}) TO {_lit(tmp / name / 'data_0.parquet')} ({opts})")
            (tmp / "inert").mkdir()
            store.execute(f"""
                COPY (SELECT a.id AS address_id FROM addresses a
                      WHERE list_contains(?, a.chain || ':' || a.address)
                         OR EXISTS (SELECT 1 FROM tokens k WHERE k.chain = a.chain AND k.contract = a.address)
                         OR EXISTS (SELECT 1 FROM active_labels l WHERE l.chain = a.chain
                                    AND l.address = a.address AND l.category = 'token_contract')
                      ORDER BY a.id) TO {_lit(tmp / 'inert' / 'data_0.parquet')} ({opts})""", [inert_keys()])
            (n_store, n_usd, n_self) = store.execute(
                "SELECT count(*), count(*) FILTER (WHERE k.usd_peg IS NOT NULL AND t.amount IS NOT NULL),"
                " count(*) FILTER (WHERE t.from_id = t.to_id)"
                " FROM transfers t JOIN tokens k ON k.id = t.token_id").fetchone() or (0, 0, 0)
            (n_all,) = store.execute("SELECT count(*) FROM transfers").fetchone() or (0,)
            snapshot = store.execute(
                "SELECT chain, count(*), max(block_number), max(block_time) FROM transfers GROUP BY chain"
                " ORDER BY chain").fetchall()
        if n_all != n_store:
            raise StoreError(f"{n_all - n_store} transfers name a token the store does not know; the store is "
                             "inconsistent, nothing was exported")
        # count back what the files hold: every transfer accounted for, per partition
        parts = store.execute(
            f"SELECT chain, month, count(*), count(usd_micro) FROM read_parquet("
            f"{_lit(tmp / 'transfers' / '**' / '*.parquet')}, hive_partitioning = true)"
            " GROUP BY chain, month ORDER BY chain, month").fetchall() if n_all else []
        written = sum(int(p[2]) for p in parts)
        with_usd = sum(int(p[3]) for p in parts)
        if written != n_all or with_usd != n_usd:
            raise StoreError(f"the export's files hold {written} transfers ({with_usd} with a USD value), the "
                             f"store {n_all} ({n_usd}); nothing was exported")
        counts = {}
        for name in ("addresses", "labels", "inert", "tokens"):
            (counts[name],) = store.execute(
                f"SELECT count(*) FROM read_parquet({_lit(tmp / name / 'data_0.parquet')})").fetchone() or (0,)
        report = ExportReport(
            str(target), created, int(n_all), int(n_usd), int(n_all - n_usd), int(n_self), int(counts["addresses"]),
            int(counts["labels"]), int(counts["inert"]), int(counts["tokens"]),
            [{"chain": c, "month": m, "transfers": int(n), "with_usd": int(u)} for c, m, n, u in parts],
            sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()), 0.0, removed)
        manifest = {"format": FORMAT, "store": str(store.path), "created_at": created, "usd_cap": float(usd_cap),
                    "snapshot": [{"chain": c, "transfers": int(n), "max_block": int(b),
                                  "max_time": t.isoformat() if t else None} for c, n, b, t in snapshot],
                    "columns": COLUMNS, "counts": report.to_dict() | {"path": None}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str))
        old = None
        if target.exists():
            old = target.parent / f"{target.name}.old-{os.getpid()}"
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report.duration_s = round(time.perf_counter() - t0, 3)
    return report


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of the export at ``path``; :class:`InputError` when ``path`` is not a complete export."""
    p = Path(path)
    f = p / MANIFEST
    if not f.is_file():
        partial = "" if not list(p.parent.glob(p.name + ".partial-*")) else \
            " (a partial export is beside it: that export did not finish; run chainrisk export again)"
        raise InputError(f"{p} is not a chainrisk export: no {MANIFEST}{partial}")
    doc: dict[str, Any] = json.loads(f.read_text())
    if doc.get("format") != FORMAT:
        raise InputError(f"{p} is an export of format {doc.get('format')!r}; this chainrisk reads {FORMAT!r}")
    return doc
