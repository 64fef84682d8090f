"""Bulk import of token transfers from files: BigQuery, ethereum-etl, Etherscan ``tokentx`` and mapped CSV.

    >>> report = chainrisk.ingest_file(store, ["token_transfers.parquet"], format="bigquery")

Every file goes through DuckDB's own readers (``read_csv``/``read_parquet``/``read_json``) with all text read as
text, then one SQL pass turns the source columns into the canonical ones and gives every row a ``reason`` when it
is bad (no Python loop over rows). The import of one file is one store transaction: all of it or nothing, unless
``skip_bad`` keeps the good rows and writes the bad ones (file, line, reason, the offending text) to a reject file.
Files are remembered by their SHA-256, so importing the same file again adds nothing, and transfers are keyed by
(chain, tx_hash, log_index) in :meth:`Store.add_transfers`, so overlapping files add nothing twice either.

Sources without a log index (Etherscan ``tokentx``, most hand-made CSVs) get a *content key*: a negative
``log_index`` derived from (token, from, to, value, occurrence within the transaction). It is the same for the
same transfer in any export (e.g. the sender's and the receiver's), so overlapping exports stay deduplicated. The
same transfer ingested from a node has its real (non-negative) log index and so a different key.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, OutOfMemory, UsageError
from ..store import MemoryErrors, QueryError, first_line
from . import formats as sources
from . import staging as staging
from . import tron_files
from .staging import BLOCKS, LOST, PARTIES, READY, REJECTS, SKIPPED, STAGE, TOKENS

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger(__name__)

FORMATS = sources.FORMATS
# DuckDB's memory during an import: bounded, so a 10M-row file spills instead of growing the process.
DEFAULT_MEMORY_LIMIT = "1GB"


@dataclass
class FileReport:
    """What happened to one input file."""

    path: str
    format: str
    sha256: str
    status: str = "imported"  # 'imported' or 'already imported'
    rows_read: int = 0  # data rows in the file (incl. bad ones)
    rows_added: int = 0  # new transfers stored
    rows_duplicate: int = 0  # good rows whose transfer was already stored (or repeated in the file)
    rows_rejected: int = 0  # bad rows (only non-zero with skip_bad: otherwise the file fails)
    rows_unregistered_token: int = 0  # good rows left out because their token is not in the registry
    #                                   (only with registered_only; by token in ``unregistered_by_token``)
    rows_unknown_decimals: int = 0  # stored rows of tokens whose decimals are unknown: activity, never priced
    rows_without_time: int = 0  # stored rows that have no block time
    rows_other_events: int = 0  # rows of a logs/API export that are not token transfers (never stored)
    tokens_registered: list[str] = field(default_factory=list)  # contracts newly added to the registry
    #                                                                 with the decimals the file gives
    tokens_unknown_decimals: list[str] = field(default_factory=list)  # contracts newly added with unknown
    #                                                                       decimals (the file gives none)
    unregistered_by_token: dict[str, int] = field(default_factory=dict)  # registered_only: rows left out
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportReport:
    """The result of :func:`ingest_file`: one :class:`FileReport` per input file, and totals."""

    files: list[FileReport] = field(default_factory=list)
    reject_path: str | None = None
    #: what happened to tokens outside the registry: ``register`` (the default: registered with the file's
    #: decimals, or with unknown decimals when it gives none) or ``registered-only`` (their rows left out)
    token_policy: str = "register"

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_added(self) -> int:
        return sum(f.rows_added for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def rows_duplicate(self) -> int:
        return sum(f.rows_duplicate for f in self.files)

    @property
    def rows_unregistered_token(self) -> int:
        return sum(f.rows_unregistered_token for f in self.files)

    @property
    def rows_unknown_decimals(self) -> int:
        return sum(f.rows_unknown_decimals for f in self.files)

    @property
    def unregistered_by_token(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for k, n in f.unregistered_by_token.items():
                out[k] = out.get(k, 0) + n
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def rows_without_time(self) -> int:
        return sum(f.rows_without_time for f in self.files)

    @property
    def seconds(self) -> float:
        return sum(f.seconds for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [f.to_dict() for f in self.files],
            "rows_read": self.rows_read, "rows_added": self.rows_added, "rows_duplicate": self.rows_duplicate,
            "rows_rejected": self.rows_rejected, "rows_unregistered_token": self.rows_unregistered_token,
            "rows_unknown_decimals": self.rows_unknown_decimals, "token_policy": self.token_policy,
            "tokens_unknown_decimals": sorted({c for f in self.files for c in f.tokens_unknown_decimals}),
            "unregistered_by_token": self.unregistered_by_token,
            "rows_without_time": self.rows_without_time,
            "reject_path": self.reject_path, "seconds": round(self.seconds, 3),
        }


def ingest_file(
    store: Store,
    paths: str | Path | Iterable[str | Path],
    format: str,
    *,
    mapping: Mapping[str, str] | None = None,
    blocks_file: str | Path | None = None,
    skip_bad: bool = False,
    reject_path: str | Path | None = None,
    chain: str = "ethereum",
    force: bool = False,
    register_tokens: bool = True,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    progress: Callable[[FileReport], None] | None = None,
    registered_only: bool = False,
) -> ImportReport:
    """Import token transfers from files into ``store``; returns an :class:`ImportReport`.

    ``format`` is one of ``bigquery``, ``ethereum-etl``, ``etherscan``, ``csv``. ``mapping`` (``csv`` only) maps
    canonical fields (``tx_hash``, ``log_index``, ``block_number``, ``block_time``, ``token_address``,
    ``from_address``, ``to_address``, ``value`` or ``amount``, ``token_symbol``, ``token_decimals``) to the file's
    column names; unmapped fields are looked up under their usual names. ``blocks_file`` (``ethereum-etl``) is a
    ``blocks.csv``/``.json`` with ``number`` and ``timestamp`` giving block times.

    Each file is imported in one transaction. A bad row raises :class:`InputError` naming the file and line and
    leaves the store as it was, unless ``skip_bad``: then good rows are kept and bad ones are written to
    ``reject_path`` (CSV). Files imported before (same SHA-256) are skipped unless ``force``.

    Tokens missing from the registry are registered (kind ``other``) with the decimals the file gives, or, when
    it gives none (BigQuery, ethereum-etl), with unknown decimals and no USD peg: their transfers are stored
    (``rows_unknown_decimals``; activity for the graph, ``amount`` NULL, never priced) instead of dropped. With
    ``registered_only`` (or ``register_tokens=False``) only tokens already in the registry are kept; the rows
    left out are counted in ``rows_unregistered_token`` and by token in ``unregistered_by_token``.

    ``memory_limit`` caps DuckDB's memory during the import (e.g. ``"1GB"``; ``None`` keeps the store's
    setting): larger files then spill to DuckDB's temp directory, so peak memory stays flat as inputs grow.
    """
    if format not in FORMATS:
        raise UsageError(f"unknown file format {format!r}; use one of: {', '.join(FORMATS)}")
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", chain):
        raise UsageError(f"bad chain name {chain!r}; use a lower-case name such as ethereum")
    if (chain == "tron") != (format in sources.TRON_FORMATS) and not (chain == "tron" and format == "csv"):
        if chain == "tron":
            raise UsageError(f"--input-format {format} is an EVM export; TRON files are read with "
                             f"--input-format {', '.join(sources.TRON_FORMATS)} or csv")
        raise UsageError(f"--input-format {format} is a TRON export; pass --chain tron")
    if mapping and format != "csv":
        raise UsageError(f"a column mapping applies to --input-format csv only, not {format}")
    if blocks_file is not None and format not in ("ethereum-etl", "tronetl"):
        raise UsageError(f"a blocks file applies to --input-format ethereum-etl and tronetl only, not {format}")
    if reject_path is not None and not skip_bad:
        raise UsageError("a reject file needs skip_bad (--skip-bad): without it a bad row fails the import")
    path_list = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    if not path_list:
        raise UsageError("no input files given")
    if mapping:
        unknown = sorted(set(mapping) - set(sources.CANONICAL))
        if unknown:
            raise UsageError(
                f"unknown canonical field(s) in the mapping: {', '.join(unknown)}; "
                f"map any of: {', '.join(sources.CANONICAL)}"
            )
    if memory_limit is not None and not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", memory_limit.strip()):
        raise UsageError(f"bad memory limit {memory_limit!r}; give a size such as 1GB or 512MiB")
    register = register_tokens and not registered_only
    report = ImportReport(reject_path=str(reject_path) if reject_path is not None else None,
                          token_policy="register" if register else "registered-only")
    with store.memory_limit(memory_limit):
        store.execute(f"CREATE OR REPLACE TEMP TABLE {REJECTS} (file VARCHAR, line BIGINT, reason VARCHAR,"
                      " row_text VARCHAR)")
        try:
            if blocks_file is not None:
                _load_blocks(store, Path(blocks_file))
            for path in path_list:
                try:
                    rep = _import_one(store, path, format, dict(mapping or {}), blocks_file is not None,
                                      skip_bad, chain, force, register)
                except MemoryErrors as e:
                    raise out_of_memory(path, memory_limit or str(store.setting("memory_limit")), e) from None
                report.files.append(rep)
                if progress is not None:
                    progress(rep)
        finally:
            if reject_path is not None:
                _write_rejects(store, Path(reject_path))
            for t in (STAGE, TOKENS, REJECTS, BLOCKS, LOST, SKIPPED, PARTIES, "_cr_rej_lines"):
                store.execute(f"DROP TABLE IF EXISTS {t}")
            store.execute(f"DROP VIEW IF EXISTS {READY}")
    return report


# -- one file ------------------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _import_one(
    store: Store, path: Path, fmt: str, mapping: dict[str, str], have_blocks: bool, skip_bad: bool,
    chain: str, force: bool, register: bool,
) -> FileReport:
    t0 = time.perf_counter()
    if not path.is_file():
        raise InputError(f"cannot read {path}: no such file; check the path")
    digest = file_sha256(path)
    rep = FileReport(path=str(path), format=fmt, sha256=digest)
    seen = store.execute("SELECT count(*) FROM file_imports WHERE sha256 = ?", [digest]).fetchone()
    if seen and seen[0] and not force:
        rep.status = "already imported"
        rep.seconds = time.perf_counter() - t0
        log.info("%s: already imported (sha256 %s), skipped", path, digest[:12])
        return rep

    if fmt in sources.TRON_FORMATS:
        try:
            src = tron_files.source_for(store, path, fmt)
        except QueryError as e:
            raise InputError(f"cannot read {path} as {fmt}: {first_line(e)}; check that it is a {fmt} export") from None
    else:
        src = sources.source_for(store, path, fmt, mapping, chain)
    log.info("%s: reading as %s (%s)", path, fmt, src.kind)
    # The staging table is temporary and outside the store's transaction (its rowid is then the row's
    # position in the file); everything that changes the store happens in one transaction below.
    try:
        staging.stage(store, src, chain)
    except QueryError as e:
        if isinstance(e, MemoryErrors):
            raise
        raise InputError(
            f"cannot read {path} as {fmt}: {first_line(e)}; check that it is a {fmt} export"
        ) from None
    staging.account_lines(store, src)  # every data line read or rejected, or the file fails
    if have_blocks:
        store.execute(
            f"UPDATE {STAGE} SET block_time = b.time FROM {BLOCKS} b"
            f" WHERE {STAGE}.block_time IS NULL AND b.number = {STAGE}.block_number"
        )
    with store.transaction():
        rep.tokens_registered, rep.tokens_unknown_decimals = staging.resolve_tokens(store, chain, register)
        if "value" not in src.fields:
            staging.amount_to_value(store)
        if "log_index" not in src.fields:
            staging.content_keys(store)
        row = store.execute(f"SELECT count(*), count(reason) FROM {STAGE}").fetchone()
        assert row is not None
        n_struct = staging.structural_errors(store, src)
        rep.rows_other_events = int(src.extra.get("other_events", 0))
        rep.rows_read = int(row[0]) + n_struct + rep.rows_other_events
        n_bad = int(row[1]) + n_struct
        log.info("%s: %d rows checked (%.1f s), %d bad", path, rep.rows_read, time.perf_counter() - t0, n_bad)
        if n_bad:
            staging.collect_rejects(store, src)
            if not skip_bad:
                first = store.execute(
                    f"SELECT line, reason FROM {REJECTS} WHERE file = ? ORDER BY line LIMIT 1", [src.display]
                ).fetchone()
                assert first is not None
                more = n_bad - 1
                raise InputError(
                    f"{path}, {src.unit} {first[0]}: {first[1]}"
                    + (f" (and {more} more bad row{'s' if more > 1 else ''})" if more else "")
                    + "; nothing from this file was imported: fix the file, or rerun with --skip-bad "
                    "to import the good rows and write the bad ones to --reject-file"
                )
            rep.rows_rejected = n_bad
        staging.ready_view(store, chain, fmt)
        row = store.execute(
            f"SELECT count(*) FILTER (WHERE k.id IS NULL), count(k.id), count(k.id) FILTER (WHERE s.block_time IS NULL),"
            f" count(k.id) FILTER (WHERE k.decimals IS NULL)"
            f" FROM {STAGE} s LEFT JOIN {TOKENS} k ON k.contract = s.token_address WHERE s.reason IS NULL"
        ).fetchone()
        assert row is not None
        rep.rows_unregistered_token, n_ready, no_time = int(row[0]), int(row[1]), int(row[2])
        if rep.rows_unregistered_token:
            rep.unregistered_by_token = staging.left_out_by_token(store)
        before = _count_unknown_decimals(store) if row[3] else 0
        # every staged row good, canonical and of a registered token: the batch's addresses are the ones
        # check_addresses found (PARTIES)
        every = not n_bad and not rep.rows_unregistered_token and store.has_temp_table(PARTIES)
        rep.rows_added = store.add_transfers(READY, addresses=PARTIES if every else None) if n_ready else 0
        rep.rows_duplicate = n_ready - rep.rows_added
        rep.rows_without_time = no_time
        # of the rows added, those of tokens with unknown decimals (stored as activity, never priced)
        rep.rows_unknown_decimals = _count_unknown_decimals(store) - before if row[3] else 0
        store.execute(
            "INSERT INTO file_imports VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
            [digest, fmt, str(path), rep.rows_read, rep.rows_added, rep.rows_rejected],
        )
    rep.seconds = time.perf_counter() - t0
    log.info("%s: %d rows read, %d added, %d duplicate, %d rejected, %d of unregistered tokens (%.2f s)",
             path, rep.rows_read, rep.rows_added, rep.rows_duplicate, rep.rows_rejected,
             rep.rows_unregistered_token, rep.seconds)
    return rep


def _count_unknown_decimals(store: Store) -> int:
    """Stored transfers of the tokens with unknown decimals that this file has rows of."""
    (n,) = store.execute(
        f"SELECT count(*) FROM transfers WHERE token_id IN"
        f" (SELECT k.id FROM {TOKENS} k WHERE k.decimals IS NULL"
        f"  AND k.contract IN (SELECT DISTINCT token_address FROM {STAGE} WHERE reason IS NULL))").fetchall()[0]
    return int(n)


def out_of_memory(path: Path, limit: str, e: BaseException) -> OutOfMemory:
    """The error for DuckDB running out of its memory limit while importing ``path``: the input is not at fault
    (nothing of the file was stored); the limit can be raised."""
    return OutOfMemory(
        f"DuckDB ran out of memory importing {path} under its memory limit of {limit} ({first_line(e)}); "
        "nothing from this file was imported and the file is not at fault: rerun with a higher --memory-limit "
        "(e.g. --memory-limit 4GB; Python: ingest_file(..., memory_limit='4GB')), or free memory on the machine")


def _load_blocks(store: Store, path: Path) -> None:
    sources.load_blocks(store, path, BLOCKS)


def _write_rejects(store: Store, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    store.execute(
        f"COPY (SELECT file, line, reason, row_text FROM {REJECTS} ORDER BY file, line) TO '{_sql_path(path)}'"
        " (HEADER, DELIMITER ',')"
    )


def _sql_path(p: Path) -> str:
    return str(p).replace("'", "''")


