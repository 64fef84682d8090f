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
import sys
import time
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from . import ingest_file_sources as sources
from .errors import InputError, UsageError

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

FORMATS = sources.FORMATS
STAGE = "_cr_file_stage"
READY = "_cr_file_ready"
TOKENS = "_cr_file_tokens"
REJECTS = "_cr_file_rejects"
BLOCKS = "_cr_file_blocks"
MAX_UINT256 = str(2**256 - 1)
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
    rows_unregistered_token: int = 0  # good rows of tokens not in the registry and without decimals
    rows_without_time: int = 0  # stored rows that have no block time
    tokens_registered: list[str] = field(default_factory=list)  # contracts newly added to the registry
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportReport:
    """The result of :func:`ingest_file`: one :class:`FileReport` per input file, and totals."""

    files: list[FileReport] = field(default_factory=list)
    reject_path: str | None = None

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
) -> ImportReport:
    """Import token transfers from files into ``store``; returns an :class:`ImportReport`.

    ``format`` is one of ``bigquery``, ``ethereum-etl``, ``etherscan``, ``csv``. ``mapping`` (``csv`` only) maps
    canonical fields (``tx_hash``, ``log_index``, ``block_number``, ``block_time``, ``token_address``,
    ``from_address``, ``to_address``, ``value`` or ``amount``, ``token_symbol``, ``token_decimals``) to the file's
    column names; unmapped fields are looked up under their usual names. ``blocks_file`` (``ethereum-etl``) is a
    ``blocks.csv``/``.json`` with ``number`` and ``timestamp`` giving block times.

    Each file is imported in one transaction. A bad row raises :class:`InputError` naming the file and line and
    leaves the store as it was, unless ``skip_bad``: then good rows are kept and bad ones are written to
    ``reject_path`` (CSV). Files imported before (same SHA-256) are skipped unless ``force``. Tokens missing from
    the registry are registered (kind ``other``) when the file gives their decimals and ``register_tokens`` is
    true; otherwise their rows are counted in ``rows_unregistered_token`` and not stored.

    ``memory_limit`` caps DuckDB's memory during the import (e.g. ``"1GB"``; ``None`` keeps the store's
    setting): larger files then spill to DuckDB's temp directory, so peak memory stays flat as inputs grow.
    """
    if format not in FORMATS:
        raise UsageError(f"unknown file format {format!r}; use one of: {', '.join(FORMATS)}")
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", chain):
        raise UsageError(f"bad chain name {chain!r}; use a lower-case name such as ethereum")
    if chain == "tron":
        raise UsageError("file import supports EVM chains only (TRON addresses are base58); use --chain ethereum")
    if mapping and format != "csv":
        raise UsageError(f"a column mapping applies to --format csv only, not {format}")
    if blocks_file is not None and format != "ethereum-etl":
        raise UsageError(f"a blocks file applies to --format ethereum-etl only, not {format}")
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
    report = ImportReport(reject_path=str(reject_path) if reject_path is not None else None)
    con = store.con
    (previous_limit,) = con.execute("SELECT current_setting('memory_limit')").fetchone() or ("",)
    if memory_limit is not None:
        con.execute(f"SET memory_limit = '{memory_limit.strip()}'")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {REJECTS} (file VARCHAR, line BIGINT, reason VARCHAR, row_text VARCHAR)")
    try:
        if blocks_file is not None:
            _load_blocks(store, Path(blocks_file))
        for path in path_list:
            rep = _import_one(store, path, format, dict(mapping or {}), blocks_file is not None,
                              skip_bad, chain, force, register_tokens)
            report.files.append(rep)
            if progress is not None:
                progress(rep)
    finally:
        if reject_path is not None:
            _write_rejects(store, Path(reject_path))
        for t in (STAGE, TOKENS, REJECTS, BLOCKS):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        con.execute(f"DROP VIEW IF EXISTS {READY}")
        if memory_limit is not None:
            _restore_memory_limit(store, str(previous_limit))
    return report


# -- one file ------------------------------------------------------------------------------------------------


def _restore_memory_limit(store: Store, previous: str) -> None:
    # The setting reads back rounded ('18.8 GiB'); RESET when it was DuckDB's default so nothing drifts.
    with duckdb.connect() as fresh:
        (default,) = fresh.execute("SELECT current_setting('memory_limit')").fetchone() or ("",)
    if previous == default or not previous:
        store.con.execute("RESET memory_limit")
    else:
        store.con.execute(f"SET memory_limit = '{previous}'")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _import_one(
    store: Store, path: Path, fmt: str, mapping: dict[str, str], have_blocks: bool, skip_bad: bool,
    chain: str, force: bool, register_tokens: bool,
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

    src = sources.source_for(store, path, fmt, mapping, chain)
    con = store.con
    log.info("%s: reading as %s (%s)", path, fmt, src.kind)
    # The staging table is temporary and outside the store's transaction (its rowid is then the row's
    # position in the file); everything that changes the store happens in one transaction below.
    try:
        _stage(store, src)
    except duckdb.Error as e:
        raise InputError(
            f"cannot read {path} as {fmt}: {sources.first_line(e)}; check that it is a {fmt} export"
        ) from None
    if have_blocks:
        con.execute(
            f"UPDATE {STAGE} SET block_time = b.time FROM {BLOCKS} b"
            f" WHERE {STAGE}.block_time IS NULL AND b.number = {STAGE}.block_number"
        )
    with store.transaction():
        rep.tokens_registered = _resolve_tokens(store, chain, register_tokens)
        if "value" not in src.fields:
            _amount_to_value(store)
        if "log_index" not in src.fields:
            _content_keys(store)
        row = con.execute(f"SELECT count(*), count(reason) FROM {STAGE}").fetchone()
        assert row is not None
        n_struct = _structural_errors(store, src)
        rep.rows_read = int(row[0]) + n_struct
        n_bad = int(row[1]) + n_struct
        if n_bad:
            _collect_rejects(store, src)
            if not skip_bad:
                first = con.execute(
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
        _ready_view(store, chain, fmt)
        row = con.execute(
            f"SELECT count(*) FILTER (WHERE k.id IS NULL), count(k.id), count(k.id) FILTER (WHERE s.block_time IS NULL)"
            f" FROM {STAGE} s LEFT JOIN {TOKENS} k ON k.contract = s.token_address WHERE s.reason IS NULL"
        ).fetchone()
        assert row is not None
        rep.rows_unregistered_token, n_ready, no_time = int(row[0]), int(row[1]), int(row[2])
        rep.rows_added = store.add_transfers(READY) if n_ready else 0
        rep.rows_duplicate = n_ready - rep.rows_added
        rep.rows_without_time = no_time
        con.execute(
            "INSERT INTO file_imports VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
            [digest, fmt, str(path), rep.rows_read, rep.rows_added, rep.rows_rejected],
        )
    rep.seconds = time.perf_counter() - t0
    log.info("%s: %d rows read, %d added, %d duplicate, %d rejected, %d of unregistered tokens (%.2f s)",
             path, rep.rows_read, rep.rows_added, rep.rows_duplicate, rep.rows_rejected,
             rep.rows_unregistered_token, rep.seconds)
    return rep


# -- SQL building ---------------------------------------------------------------------------------------------

_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
              "UBIGINT", "UHUGEINT")
_HEX = {"tx_hash": 64, "token_address": 40, "from_address": 40, "to_address": 40}
_DESC = {
    "tx_hash": "is not 0x + 64 hex digits", "token_address": "is not an address (0x + 40 hex digits)",
    "from_address": "is not an address (0x + 40 hex digits)", "to_address": "is not an address (0x + 40 hex digits)",
    "log_index": "is not a non-negative integer", "block_number": "is not a non-negative integer",
    "value": "is not a non-negative integer", "amount": "is not a non-negative decimal number",
    "block_time": "is not a timestamp (ISO 8601, 'YYYY-MM-DD HH:MM:SS UTC' or unix seconds)",
    "token_decimals": "is not an integer from 0 to 255",
}
_REQUIRED = ("tx_hash", "log_index", "block_number", "token_address", "from_address", "to_address", "value",
             "amount")


def _is_text(typ: str) -> bool:
    return typ.upper() == "VARCHAR"


def _text(r: str, typ: str) -> str:
    return r if _is_text(typ) else f"CAST({r} AS VARCHAR)"


def _typed(name: str, r: str, typ: str) -> str:
    """SQL for the canonical typed value of field ``name`` from source expression ``r`` of DuckDB type ``typ``;
    NULL when the source value is not valid. Each has a cheap path for the common, already canonical text."""
    t = typ.upper()
    if name in ("token_address", "from_address", "to_address"):
        return _text(r, t)  # checked and lower-cased on the file's distinct addresses, see _check_addresses
    if name == "tx_hash":
        x = _text(r, t)
        return (f"CASE WHEN regexp_full_match({x}, '0x[0-9a-f]{{64}}') THEN {x}"
                f" WHEN regexp_full_match({x}, '0x[0-9a-fA-F]{{64}}') THEN lower({x}) END")
    if name in ("log_index", "block_number", "token_decimals"):
        sql_t, hi = {"log_index": ("INTEGER", None), "block_number": ("BIGINT", None),
                     "token_decimals": ("INTEGER", 255)}[name]
        if t in _INT_TYPES:
            cond = f"{r} >= 0" + (f" AND {r} <= {hi}" if hi is not None else "")
            return f"CASE WHEN {cond} THEN TRY_CAST({r} AS {sql_t}) END"
        x = _text(r, t)
        # TRY_CAST alone accepts ' 5', '+5', '5.7' (rounded), '1e3', '0x10': require the canonical digits.
        cond = f"CAST(TRY_CAST({x} AS {sql_t}) AS VARCHAR) = {x} AND NOT starts_with({x}, '-')"
        if hi is not None:
            cond += f" AND TRY_CAST({x} AS {sql_t}) <= {hi}"
        return f"CASE WHEN {cond} THEN TRY_CAST({x} AS {sql_t}) WHEN regexp_full_match({x}, '0+[0-9]*')" \
               f" THEN TRY_CAST({x} AS {sql_t}) END"
    if name == "value":
        x = _text(r, t)
        # Exact decimal text, no sign, no leading zeros; a quick regex for canonical text, the slow one else.
        return (f"CASE WHEN regexp_full_match({x}, '0|[1-9][0-9]*') THEN {x}"
                f" WHEN regexp_full_match({x}, '[0-9]+') THEN coalesce(nullif(ltrim({x}, '0'), ''), '0') END")
    if name == "amount":
        x = _text(r, t)
        return f"CASE WHEN regexp_full_match({x}, '[0-9]+(\\.[0-9]*)?|\\.[0-9]+') THEN {x} END"
    if name == "block_time":
        if t == "TIMESTAMP WITH TIME ZONE":
            return f"({r} AT TIME ZONE 'UTC')"
        if t.startswith("TIMESTAMP"):
            return f"CAST({r} AS TIMESTAMP)"
        if t in _INT_TYPES:
            return f"make_timestamp(CAST({r} AS BIGINT) * 1000000)"
        x = _text(r, t)
        # TRY_CAST(... AS TIMESTAMP) ignores any zone or offset, so it is only used on UTC ('Z', ' UTC',
        # '+00') or zone-less text; other offsets go through TIMESTAMPTZ.
        return (
            f"CASE WHEN (suffix({x}, ' UTC') OR suffix({x}, 'Z')) AND NOT contains({x}, '+')"
            f" AND length({x}) BETWEEN 11 AND 35 THEN TRY_CAST({x} AS TIMESTAMP)"
            f" WHEN regexp_full_match({x}, '[0-9]{{1,11}}') THEN make_timestamp(CAST({x} AS BIGINT) * 1000000)"
            f" WHEN regexp_full_match({x}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([ T][0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}}"
            f"(\\.[0-9]{{1,9}})?)?)?(( ?UTC)|Z|[+-]00(:?00)?)?') THEN TRY_CAST({x} AS TIMESTAMP)"
            f" WHEN regexp_full_match({x}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[ T][0-9:.]+ ?[+-][0-9]{{2}}(:?[0-9]{{2}})?')"
            f" THEN TRY_CAST({x} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' END"
        )
    if name == "token_symbol":
        return f"nullif(trim(CAST({r} AS VARCHAR)), '')"
    raise AssertionError(name)


_ADDRESSES = ("token_address", "from_address", "to_address")


def _stage(store: Store, src: sources.Source) -> None:
    """Materialise the canonical, typed rows of one file, each with the reason it is bad (or NULL), in one
    pass over the file. Rows keep the file's order, so ``rowid`` gives the line."""
    inner = []
    ok = []  # cheap test that a row is good; only rows failing it get the detailed checks
    checks = []
    for name in sources.CANONICAL:
        if name not in src.fields:
            continue
        expr, typ = src.fields[name]
        inner.append(f"{expr} AS \"r_{name}\"")
        inner.append(f"{_typed(name, expr, typ)} AS {name}")
        r = f'"r_{name}"'
        empty = f"{r} IS NULL" + (f" OR trim({r}) = ''" if _is_text(typ) else "")
        shown = f"left(CAST({r} AS VARCHAR), 80)"
        if name in _REQUIRED:
            ok.append(f"{name} IS NOT NULL")
            checks.append(f"WHEN {empty} THEN 'missing {name}'")
        elif name not in ("token_symbol",):
            ok.append(f"({name} IS NOT NULL OR {r} IS NULL)")
        if name in ("token_symbol", *_ADDRESSES):
            continue
        checks.append(f"WHEN NOT ({empty}) AND {name} IS NULL THEN {_sql_str(name + ' ' + _DESC[name] + ': ')}"
                      f" || {shown}")
        if name == "value":
            ok.append("length(value) < 78")
            checks.append(
                f"WHEN length(value) > 78 OR (length(value) = 78 AND value > '{MAX_UINT256}')"
                " THEN 'value exceeds 2^256 - 1: ' || left(value, 80)"
            )
    out = []
    for name in sources.CANONICAL:
        if name in src.fields:
            out.append(name)
        else:
            sql_t = {"log_index": "INTEGER", "block_number": "BIGINT", "block_time": "TIMESTAMP",
                     "token_decimals": "INTEGER"}.get(name, "VARCHAR")
            out.append(f"CAST(NULL AS {sql_t}) AS {name}")
    raw = ", ".join(f"'{n}', CAST(\"r_{n}\" AS VARCHAR)" for n in sources.CANONICAL if n in src.fields)
    store.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {STAGE} AS
        SELECT {', '.join(out)}, reason,
               CASE WHEN reason IS NOT NULL THEN CAST(json_object({raw}) AS VARCHAR) END AS row_text
        FROM (SELECT *, CASE WHEN {' AND '.join(ok)} THEN NULL ELSE CASE {' '.join(checks)} END END AS reason
              FROM (SELECT {', '.join(inner)} FROM {src.relation}) AS r) AS q
        """,
        src.params,
    )
    _check_addresses(store)


def _check_addresses(store: Store) -> None:
    """Validate and lower-case the addresses on the file's distinct values rather than on every row (a file
    of N transfers has far fewer distinct addresses than 3N); only rows with a non-canonical one are touched."""
    con = store.con
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _cr_file_addrs AS
        SELECT DISTINCT a FROM (SELECT token_address AS a FROM {STAGE} UNION ALL SELECT from_address FROM {STAGE}
                                UNION ALL SELECT to_address FROM {STAGE})
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _cr_file_badaddrs AS
        SELECT a, CASE WHEN regexp_full_match(a, '0x[0-9a-fA-F]{40}') THEN lower(a) END AS canonical
        FROM _cr_file_addrs WHERE a IS NULL OR NOT regexp_full_match(a, '0x[0-9a-f]{40}')
    """)
    (n,) = con.execute("SELECT count(*) FROM _cr_file_badaddrs").fetchone() or (0,)
    if n:
        fix = []
        why = []
        for col in _ADDRESSES:
            fix.append(f"{col} = coalesce((SELECT canonical FROM _cr_file_badaddrs b WHERE b.a = {STAGE}.{col}),"
                       f" {col})")
            why.append(
                f"WHEN {col} IS NULL OR trim({col}) = '' THEN 'missing {col}'"
                f" WHEN {col} IN (SELECT a FROM _cr_file_badaddrs WHERE canonical IS NULL)"
                f" THEN {_sql_str(col + ' ' + _DESC[col] + ': ')} || left({col}, 80)"
            )
        con.execute(f"""
            UPDATE {STAGE} SET reason = coalesce(reason, CASE {' '.join(why)} END), {', '.join(fix)}
            WHERE token_address IN (SELECT a FROM _cr_file_badaddrs) OR from_address IN (SELECT a FROM _cr_file_badaddrs)
               OR to_address IN (SELECT a FROM _cr_file_badaddrs) OR token_address IS NULL OR from_address IS NULL
               OR to_address IS NULL
        """)
        con.execute(f"""
            UPDATE {STAGE} SET row_text = json_object('tx_hash', tx_hash, 'from_address', from_address,
                'to_address', to_address, 'token_address', token_address, 'value', value)
            WHERE reason IS NOT NULL AND row_text IS NULL
        """)
    con.execute("DROP TABLE IF EXISTS _cr_file_addrs")
    con.execute("DROP TABLE IF EXISTS _cr_file_badaddrs")


def _amount_to_value(store: Store) -> None:
    """value = amount * 10^decimals, exactly, in text; decimals from the registry, else from the file."""
    store.con.execute(f"""
        UPDATE {STAGE} SET
            value = CASE WHEN length(rtrim(split_part(amount, '.', 2), '0')) <= k.decimals
                         THEN coalesce(nullif(ltrim(split_part(amount, '.', 1)
                              || rpad(rtrim(split_part(amount, '.', 2), '0'), k.decimals, '0'), '0'), ''), '0') END,
            reason = CASE
                WHEN {STAGE}.token_decimals IS NOT NULL AND {STAGE}.token_decimals <> k.decimals
                    THEN 'token_decimals ' || {STAGE}.token_decimals || ' disagree with the registry ('
                         || k.decimals || ' for ' || k.contract || ')'
                WHEN length(rtrim(split_part(amount, '.', 2), '0')) > k.decimals
                    THEN 'amount ' || amount || ' has more decimal places than the token''s ' || k.decimals END
        FROM {TOKENS} k
        WHERE k.contract = {STAGE}.token_address AND {STAGE}.reason IS NULL
    """)


def _content_keys(store: Store) -> None:
    """A log index for sources that have none: negative, from (token, from, to, value, occurrence in tx).

    Rows identical in (tx, token, from, to, value) are interchangeable, so numbering them in any order gives
    the same set of keys: re-importing, or importing an overlapping export, adds nothing twice."""
    store.con.execute(f"""
        UPDATE {STAGE} SET log_index = k.key
        FROM (SELECT rowid AS rid,
                     -1 - CAST(md5_number(concat_ws('|', token_address, from_address, to_address, value,
                          row_number() OVER (PARTITION BY tx_hash, token_address, from_address, to_address, value)))
                          % 2147483647 AS INTEGER) AS key
              FROM {STAGE} WHERE reason IS NULL) k
        WHERE {STAGE}.rowid = k.rid
    """)


def _structural_errors(store: Store, src: sources.Source) -> int:
    """Lines DuckDB's CSV reader could not split into the header's columns (kept aside in its rejects table)."""
    if not src.rejects:
        return 0
    row = store.con.execute(f"SELECT count(DISTINCT line) FROM {src.rejects}").fetchone()
    return int(row[0]) if row else 0


def _collect_rejects(store: Store, src: sources.Source) -> None:
    con = store.con
    if src.rejects:
        # rowid counts the rows DuckDB kept; rows it rejected are missing in between: shift lines past them.
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _cr_rej_lines AS
            SELECT line AS r, row_number() OVER (ORDER BY line) AS j FROM (SELECT DISTINCT line FROM {src.rejects})
        """)
        line = (f"s.rowid + {src.first_line} + (SELECT count(*) FROM _cr_rej_lines x"
                " WHERE x.r - 1 - x.j < s.rowid + 1)")
        con.execute(f"""
            INSERT INTO {REJECTS}
            SELECT ?, line, 'cannot split into the header''s columns: ' || any_value(error_message),
                   any_value(csv_line)
            FROM {src.rejects} GROUP BY line
        """, [src.display])
    else:
        line = f"s.rowid + {src.first_line}"
    con.execute(
        f"INSERT INTO {REJECTS} SELECT ?, {line}, s.reason, s.row_text FROM {STAGE} s WHERE s.reason IS NOT NULL",
        [src.display],
    )


def _resolve_tokens(store: Store, chain: str, register: bool) -> list[str]:
    """Fill the token lookup for the staged rows; register unknown tokens whose decimals the file gives."""
    con = store.con
    unknown = con.execute(
        f"""SELECT s.token_address, min(s.token_symbol), min(s.token_decimals)
            FROM {STAGE} s
            WHERE s.reason IS NULL AND s.token_decimals IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.chain = ? AND t.contract = s.token_address)
            GROUP BY 1 ORDER BY 1""",
        [chain],
    ).fetchall()
    added = []
    if register:
        for contract, symbol, decimals in unknown:
            store.ensure_token(chain, contract, symbol, int(decimals))
            added.append(contract)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {TOKENS} AS SELECT id, contract, decimals FROM tokens WHERE chain = ?",
        [chain],
    )
    return added


def _ready_view(store: Store, chain: str, fmt: str) -> None:
    store.con.execute(f"""
        CREATE OR REPLACE TEMP VIEW {READY} AS
        SELECT {_sql_str(chain)} AS chain, s.tx_hash, s.log_index, s.block_number, s.block_time,
               k.id AS token_id, s.from_address, s.to_address, TRY_CAST(s.value AS HUGEINT) AS value,
               s.value AS value_raw, {_sql_str('file:' + fmt)} AS source
        FROM {STAGE} s JOIN {TOKENS} k ON k.contract = s.token_address
        WHERE s.reason IS NULL
    """)


def _load_blocks(store: Store, path: Path) -> None:
    sources.load_blocks(store, path, BLOCKS)


def _write_rejects(store: Store, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    store.con.execute(
        f"COPY (SELECT file, line, reason, row_text FROM {REJECTS} ORDER BY file, line) TO '{_sql_path(path)}'"
        " (HEADER, DELIMITER ',')"
    )


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _sql_path(p: Path) -> str:
    return str(p).replace("'", "''")


class _CallableModule(types.ModuleType):
    """``chainrisk.ingest_file`` is both this module and the function: importing a submodule makes Python set
    the package attribute to the module, shadowing the lazily exported function, so the module calls it."""

    def __call__(self, *args: Any, **kwargs: Any) -> ImportReport:
        return ingest_file(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
