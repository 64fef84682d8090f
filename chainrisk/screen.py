"""Batch screening of declared addresses: one output row per input row, in input order, with an audit report.

    >>> import chainrisk
    >>> st = chainrisk.open("case.duckdb", read_only=True)
    >>> res = chainrisk.screen(st, "declared.csv", output="screened.csv")
    >>> res.report["counts"]["band"], res.hits("high")
    >>> df = chainrisk.screen(st, ["0x...", "T..."]).df()

The bank's columns pass through unchanged (a bank column that has the name of a result column is renamed
``input_<name>``); the result columns are :data:`RESULT_COLUMNS`. Duplicates are screened once and reported on every
row. Malformed addresses are rows with status ``invalid`` and a reason; only a file that cannot be read at all
raises (:class:`~chainrisk.errors.InputError`). The heavy work runs in DuckDB: addresses are normalised in SQL
(lower-case hex), and only the distinct mixed-case values (EIP-55), TRON and malformed values go through Python.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .address import try_parse
from .errors import UsageError
from .lookup import BANDS, Provenance, resolve_run
from .screen_input import SOURCE_TABLE, InputInfo, load, quote_ident
from .store import Store

log = logging.getLogger(__name__)

RESULT_COLUMNS = (
    "input_row", "status", "address_normalized", "chain", "risk_score", "risk_band", "top_category", "categories",
    "min_hops", "direct_usd", "indirect_usd", "reason", "run_id", "duplicate_of_row",
)
SINCE_COLUMNS = ("previous_risk_band", "previous_risk_score", "previous_run_id")
FORMATS = ("csv", "jsonl", "json", "parquet")

_NORM = "__chainrisk_screen_norm"
_FIX = "__chainrisk_screen_fix"
_OUT = "__chainrisk_screen_out"


def band_rank(band: str) -> int:
    try:
        return BANDS.index(band)
    except ValueError:
        raise UsageError(f"unknown band {band!r}; bands: {', '.join(BANDS)}") from None


@dataclass
class ScreenResult:
    """What a screening produced: the audit ``report`` (also written beside the output), and the rows."""

    report: dict[str, Any]
    output: Path | None = None
    format: str | None = None
    _table: Any = field(default=None, repr=False)

    def arrow(self) -> Any:
        """The output rows as a pyarrow Table (read back from the output file when one was written)."""
        if self._table is None and self.output is not None:
            import duckdb

            con = duckdb.connect()
            try:
                p = "'" + str(self.output).replace("'", "''") + "'"
                reader = {"parquet": f"read_parquet({p})", "csv": f"read_csv({p}, all_varchar = true)",
                          "jsonl": f"read_json({p}, format = 'newline_delimited')",
                          "json": f"read_json({p}, format = 'array')"}[self.format or "csv"]
                self._table = con.sql(f"SELECT * FROM {reader}").to_arrow_table()
            finally:
                con.close()
        return self._table

    def df(self) -> Any:
        """The output rows as a pandas DataFrame."""
        return self.arrow().to_pandas()

    def hits(self, band: str) -> int:
        """Rows (with status ok) at or above ``band``."""
        by_band = self.report["counts"]["band"]
        return int(sum(n for b, n in by_band.items() if band_rank(b) >= band_rank(band)))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chainrisk")
    except PackageNotFoundError:
        return "0.0.0+local"


def _normalise(store: Store, address_column: str) -> dict[str, int]:
    """Distinct input values -> (chain, address, reason) in table _NORM; Python only for what SQL cannot check."""
    import pyarrow as pa

    col = quote_ident(address_column)
    store.execute(f"DROP TABLE IF EXISTS {_NORM}")
    # raw_key: the join key of a raw cell (NULL -> a sentinel so that empty cells join too)
    store.execute(
        f"""
        CREATE TEMP TABLE {_NORM} AS
        SELECT raw_key,
               CASE WHEN lower_ok THEN 'ethereum' END AS chain,
               CASE WHEN lower_ok THEN lower(t) END AS address,
               CASE WHEN t IS NULL OR t = '' THEN 'empty address' END AS reason,
               NOT lower_ok AND NOT (t IS NULL OR t = '') AS needs_python
        FROM (
            SELECT raw_key, t,
                   coalesce(regexp_full_match(t, '0[xX][0-9a-f]{{40}}') OR regexp_full_match(t, '0[xX][0-9A-F]{{40}}'),
                            false) AS lower_ok
            FROM (SELECT DISTINCT coalesce({col}, chr(0)) AS raw_key, trim(replace({col}, chr(0), '')) AS t
                  FROM {SOURCE_TABLE}))
        """
    )
    raws = store.sql(f"SELECT raw_key FROM {_NORM} WHERE needs_python").to_arrow_table()
    values: list[str] = raws.column(0).to_pylist() if raws.num_rows else []
    mixed = [v for v in values if _is_hex40(v.strip())]
    ok_mixed = _eip55_valid(mixed)
    chains: list[str | None] = []
    addrs: list[str | None] = []
    reasons: list[str | None] = []
    for v in values:
        t = v.strip()
        if t in ok_mixed:
            chains.append("ethereum")
            addrs.append("0x" + t[2:].lower())
            reasons.append(None)
            continue
        p = try_parse(v)
        if isinstance(p, Exception):
            chains.append(None)
            addrs.append(None)
            reasons.append(p.reason)
        else:
            chains.append(p.chain)
            addrs.append(p.address)
            reasons.append(None)
    if values:
        fix = pa.table({"raw_key": pa.array(values, pa.string()), "chain": pa.array(chains, pa.string()),
                        "address": pa.array(addrs, pa.string()), "reason": pa.array(reasons, pa.string())})
        store.con.register(_FIX, fix)
        try:
            store.execute(
                f"UPDATE {_NORM} SET chain = f.chain, address = f.address, reason = f.reason"
                f" FROM {_FIX} f WHERE {_NORM}.raw_key = f.raw_key"
            )
        finally:
            store.con.unregister(_FIX)
    return {"distinct_values": _scalar(store, f"SELECT count(*) FROM {_NORM}"), "checked_in_python": len(values),
            "eip55_checked": len(mixed)}


def _is_hex40(t: str) -> bool:
    if len(t) != 42 or t[:2] not in ("0x", "0X"):
        return False
    try:
        int(t[2:], 16)
    except ValueError:
        return False
    return True


def _eip55_valid(values: list[str]) -> set[str]:
    """The (stripped) mixed-case hex addresses whose EIP-55 checksum holds, checked in bulk with numpy."""
    if not values:
        return set()
    import numpy as np
    from eth_hash.auto import keccak

    stripped = [v.strip() for v in values]
    bodies = np.frombuffer("".join(s[2:] for s in stripped).encode("ascii"), dtype=np.uint8).reshape(-1, 40)
    digests = np.frombuffer(b"".join(keccak(s[2:].lower().encode("ascii"))[:20] for s in stripped),
                            dtype=np.uint8).reshape(-1, 20)
    # nibble i of the hash is >= 8 <=> letter i must be upper case
    high = np.empty((len(stripped), 40), dtype=bool)
    high[:, 0::2] = (digests & 0x80) != 0
    high[:, 1::2] = (digests & 0x08) != 0
    letter = bodies > 0x39
    upper = (bodies & 0x20) == 0
    ok = ~np.any(letter & (upper != high), axis=1)
    return {s for s, good in zip(stripped, ok.tolist(), strict=True) if good}


def _scalar(store: Store, q: str, params: list[Any] | None = None) -> int:
    rows = store.execute(q, params or []).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _build_output(store: Store, info: InputInfo, run: Provenance, since: Provenance | None) -> list[str]:
    """The result table _OUT: ``__row``, bank columns, result columns (and ``__changed`` with ``since``).

    Returns the output column names (bank columns first, renamed ``input_<name>`` when they clash)."""
    col = quote_ident(info.address_column)
    result_cols = list(RESULT_COLUMNS) + (list(SINCE_COLUMNS) if since else [])
    taken = set(result_cols) | {"__row", "__changed"}
    pairs = []
    for c in info.columns:
        name = c
        while name in taken:
            name = "input_" + name
        taken.add(name)
        pairs.append((c, name))
    bank_sel = "".join(f"src.{quote_ident(c)} AS {quote_ident(n)}, " for c, n in pairs)
    params: dict[str, Any] = {"run": run.run_id}
    since_join = since_sel = ""
    if since:
        params["since"] = since.run_id
        since_join = "LEFT JOIN scores p ON p.address_id = res.address_id AND p.run_id = $since"
        since_sel = (", p.band AS previous_risk_band, round(p.score, 2) AS previous_risk_score,"
                     " CAST($since AS VARCHAR) AS previous_run_id,"
                     " res.address IS NOT NULL AND res.band IS DISTINCT FROM p.band AS __changed")
    store.execute(f"DROP TABLE IF EXISTS {_OUT}")
    store.execute(
        f"""
        CREATE TEMP TABLE {_OUT} AS
        WITH res AS (
            SELECT n.raw_key, n.chain, n.address, n.reason AS invalid_reason, a.id AS address_id,
                   s.score, s.band, s.top_category, s.categories, s.min_hops, s.direct_usd, s.indirect_usd,
                   s.reason AS score_reason
            FROM {_NORM} n
            LEFT JOIN addresses a ON a.chain = n.chain AND a.address = n.address
            LEFT JOIN scores s ON s.address_id = a.id AND s.run_id = $run
        )
        SELECT src.rowid AS __row, {bank_sel}
               src.rowid + 1 AS input_row,
               CASE WHEN res.address IS NULL THEN 'invalid' WHEN res.score IS NULL THEN 'unknown' ELSE 'ok' END
                   AS status,
               res.address AS address_normalized, res.chain,
               round(res.score, 2) AS risk_score, res.band AS risk_band, res.top_category, res.categories,
               res.min_hops, round(res.direct_usd, 2) AS direct_usd, round(res.indirect_usd, 2) AS indirect_usd,
               CASE WHEN res.address IS NULL THEN res.invalid_reason
                    WHEN res.address_id IS NULL THEN 'no activity of this address is in the store'
                    WHEN res.score IS NULL THEN 'not in this scoring run (its data arrived later)'
                    ELSE res.score_reason END AS reason,
               CAST($run AS VARCHAR) AS run_id,
               CASE WHEN min(src.rowid) OVER w <> src.rowid THEN min(src.rowid) OVER w + 1 END AS duplicate_of_row
               {since_sel}
        FROM {SOURCE_TABLE} src
        JOIN res ON res.raw_key = coalesce(src.{col}, chr(0))
        {since_join}
        WINDOW w AS (PARTITION BY coalesce(res.chain || ':' || res.address, res.raw_key))
        ORDER BY src.rowid
        """,
        params,
    )
    return [n for _, n in pairs] + result_cols


def _write(store: Store, output: Path, fmt: str, columns: list[str], changed_only: bool) -> None:
    """COPY the result (input order) to ``output`` atomically (a temp file renamed into place)."""
    opts = {"csv": "FORMAT csv, HEADER true", "parquet": "FORMAT parquet, COMPRESSION zstd",
            "jsonl": "FORMAT json", "json": "FORMAT json, ARRAY true"}[fmt]
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    cols = ", ".join(quote_ident(c) for c in columns)
    lit = "'" + str(tmp).replace("'", "''") + "'"
    try:
        where = "WHERE __changed" if changed_only else ""
        store.execute(f"COPY (SELECT {cols} FROM {_OUT} {where} ORDER BY __row) TO {lit} ({opts})")
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()


def default_report_path(output: Path) -> Path:
    """``screened.csv`` -> ``screened.report.json`` (beside the output)."""
    return output.with_name(output.stem + ".report.json")


def screen(
    store: Store, input: Any, *, address_column: str = "address", run_id: str | None = None,
    output: str | os.PathLike[str] | None = None, format: str | None = None, since: str | None = None,
    fail_on: str | None = None, report_path: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ScreenResult:
    """Screen ``input`` (a CSV/XLSX/JSONL/list file path, or addresses / dicts / DataFrame / Arrow table in memory)
    against ``run_id`` (default: the latest complete run).

    With ``output``, writes the rows there (``format`` from the suffix unless given: csv, jsonl, json, parquet) and
    the audit report beside it (``report_path``, default ``<output stem>.report.json``). Without ``output``, the
    rows are kept in memory (:meth:`ScreenResult.arrow` / :meth:`ScreenResult.df`). ``since`` keeps only rows whose
    band changed since that earlier run. ``fail_on`` is recorded in the report with the number of hits.
    """
    t0 = time.perf_counter()
    started = datetime.now(UTC)
    say = progress or (lambda _msg: None)
    if fail_on is not None:
        band_rank(fail_on)
    out_path = Path(output) if output is not None else None
    fmt = format or (_format_from_suffix(out_path) if out_path else "csv")
    if fmt not in FORMATS:
        raise UsageError(f"unknown output format {fmt!r}; formats: {', '.join(FORMATS)}")
    run = resolve_run(store, run_id)
    since_run = resolve_run(store, since) if since else None
    timings: dict[str, float] = {}
    t = time.perf_counter()
    say("reading input")
    info = load(store, input, address_column)
    timings["read_s"] = time.perf_counter() - t
    try:
        t = time.perf_counter()
        say(f"normalising {info.rows:,} addresses")
        norm = _normalise(store, info.address_column)
        timings["normalise_s"] = time.perf_counter() - t
        t = time.perf_counter()
        say("joining with the scoring run")
        columns = _build_output(store, info, run, since_run)
        timings["score_s"] = time.perf_counter() - t
        counts = _counts(store, info, since_run is not None)
        t = time.perf_counter()
        table = None
        if out_path is not None:
            say(f"writing {out_path}")
            _write(store, out_path, fmt, columns, since_run is not None)
        else:
            cols = ", ".join(quote_ident(c) for c in columns)
            where = "WHERE __changed" if since_run is not None else ""
            table = store.sql(f"SELECT {cols} FROM {_OUT} {where} ORDER BY __row").to_arrow_table()
        timings["write_s"] = time.perf_counter() - t
    finally:
        for tbl in (_OUT, _NORM, SOURCE_TABLE):
            store.execute(f"DROP TABLE IF EXISTS {tbl}")
    timings["total_s"] = time.perf_counter() - t0
    report: dict[str, Any] = {
        "chainrisk_version": _version(),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "input": {"path": info.path, "format": info.format, "reader": info.reader, "sha256": info.sha256,
                  "bytes": info.bytes, "rows": info.rows, "columns": info.columns,
                  "address_column": info.address_column},
        "output": None,
        "run": run.to_dict(),
        "since": None,
        "counts": counts | {"normalisation": norm},
        "fail_on": fail_on,
        "hits": None,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    if since_run is not None:
        report["since"] = {"run_id": since_run.run_id, "profile": since_run.profile,
                           "changed_rows": counts["output_rows"]}
    res = ScreenResult(report=report, output=out_path, format=fmt, _table=table)
    if fail_on is not None:
        report["hits"] = res.hits(fail_on)
    if out_path is not None:
        report["output"] = {"path": str(out_path), "format": fmt, "rows": counts["output_rows"],
                            "sha256": _sha256(out_path)}
        rp = Path(report_path) if report_path is not None else default_report_path(out_path)
        tmp = rp.with_name(f".{rp.name}.tmp")
        tmp.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, rp)
        report["report_path"] = str(rp)
    elif report_path is not None:
        Path(report_path).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        report["report_path"] = str(report_path)
    return res


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _format_from_suffix(path: Path) -> str:
    s = path.suffix.lower().lstrip(".")
    return {"ndjson": "jsonl", "pq": "parquet"}.get(s, s if s in FORMATS else "csv")


def _counts(store: Store, info: InputInfo, since: bool) -> dict[str, Any]:
    """Counts for the report over all input rows: by status and by band (before any --since filtering)."""
    status = {s: 0 for s in ("ok", "unknown", "invalid")}
    band = {b: 0 for b in BANDS}
    for s, b, n in store.execute(f"SELECT status, risk_band, count(*) FROM {_OUT} GROUP BY ALL").fetchall():
        status[s] += int(n)
        if b is not None:
            band[b] = band.get(b, 0) + int(n)
    out_rows = _scalar(store, f"SELECT count(*) FROM {_OUT} WHERE __changed") if since else info.rows
    distinct = _scalar(store, f"SELECT count(DISTINCT chain || ':' || address) FROM {_NORM} WHERE address IS NOT NULL")
    dup_rows = _scalar(store, f"SELECT count(*) FROM {_OUT} WHERE duplicate_of_row IS NOT NULL")
    return {"input_rows": info.rows, "output_rows": out_rows, "distinct_addresses": distinct,
            "duplicate_rows": dup_rows, "status": status, "band": band}


class _CallableModule(types.ModuleType):
    """``chainrisk.screen`` is both this module and the function: importing the submodule makes Python set the
    package attribute to the module, shadowing the lazily exported function, so the module calls it."""

    def __call__(self, *args: Any, **kwargs: Any) -> ScreenResult:
        return screen(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
