"""Reading a bank's declared-address file into a DuckDB temp table, every column as text, in input order.

Formats: CSV/TSV (DuckDB's reader; the line-accounted reader of :mod:`.bank_text` for ragged rows, quoted new
lines, bad quotes and GB18030/UTF-16/mixed-encoding exports), XLSX (openpyxl), JSONL / JSON array, Parquet, or a
plain list (one address per line). In-memory inputs (a list of addresses, a list of dicts, a pandas DataFrame or a
pyarrow Table) are accepted too. A file that cannot be read at all raises one
:class:`~chainrisk.errors.InputError`; rows that are odd are kept, and a row that cannot be parsed is kept with its
reason in :data:`ERROR_TABLE` (screened ``invalid``). For text files, ``InputInfo.lines`` accounts for every
physical line; a count that does not add up fails the read instead of losing a row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..address import Address, try_parse
from ..errors import InputError, UsageError
from ..store import FileReadErrors, QueryError, Store, first_line
from . import bank_text

SOURCE_TABLE = "__chainrisk_screen_src"
ERROR_TABLE = "__chainrisk_screen_err"      # (row: 0-based rowid of SOURCE_TABLE, reason): rows that cannot be parsed
_LIST_SUFFIXES = {".txt", ".lst", ".list"}
_CSV_SUFFIXES = {".csv", ".tsv", ".tab"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson"}
_XLSX_SUFFIXES = {".xlsx", ".xlsm"}


@dataclass
class InputInfo:
    path: str | None
    format: str            # csv | list | xlsx | jsonl | json | parquet | memory
    sha256: str | None
    bytes: int | None
    columns: list[str]
    rows: int
    address_column: str
    reader: str             # duckdb | python | openpyxl | arrow
    lines: dict[str, int] | None = None          # text files: physical lines read, header, blank, continuation, rows
    decoding: dict[str, Any] | None = None       # rows decoded with the fallback encoding, when there are any
    unparseable: int = 0                         # rows in ERROR_TABLE
    notes: list[str] = field(default_factory=list)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _looks_like_address(text: str) -> bool:
    return isinstance(try_parse(text), Address)


def load(store: Store, source: Any, address_column: str) -> InputInfo:
    """Load ``source`` into :data:`SOURCE_TABLE` (all VARCHAR, insertion order = input order)."""
    store.execute(f"DROP TABLE IF EXISTS {SOURCE_TABLE}")
    store.execute(f"DROP TABLE IF EXISTS {ERROR_TABLE}")
    store.execute(f"CREATE TEMP TABLE {ERROR_TABLE} (row BIGINT, reason VARCHAR)")
    if isinstance(source, (str, os.PathLike)):
        info = _load_path(store, Path(source), address_column)
    else:
        info = _load_memory(store, source, address_column)
    info.unparseable = _scalar(store, f"SELECT count(*) FROM {ERROR_TABLE}")
    if info.lines is not None and info.lines["rows"] != info.rows:
        raise InputError(f"{info.path}: {info.lines['read']:,} lines gave {info.rows:,} rows but "
                         f"{info.lines['rows']:,} were counted; refusing a screening that would lose rows")
    if info.address_column not in info.columns:
        # 'Address', ' ADDRESS ': a unique match ignoring case and surrounding spaces is the column meant
        near = [c for c in info.columns if c.strip().lower() == address_column.strip().lower()]
        if len(near) == 1:
            info.address_column = near[0]
    if info.address_column not in info.columns:
        store.execute(f"DROP TABLE IF EXISTS {SOURCE_TABLE}")
        store.execute(f"DROP TABLE IF EXISTS {ERROR_TABLE}")
        where = info.path or "the input"
        raise UsageError(
            f"no column {address_column!r} in {where} (columns: {', '.join(info.columns) or 'none'}); "
            "name the address column with --address-column"
        )
    return info


def _from_arrow(store: Store, table: Any) -> list[str]:
    """Create SOURCE_TABLE from an Arrow table, casting every column to text."""
    with store.registered(__chainrisk_screen_arrow=table):
        store.execute(f"CREATE TEMP TABLE {SOURCE_TABLE} AS SELECT COLUMNS(*)::VARCHAR FROM __chainrisk_screen_arrow")
    return _columns(store)


def _columns(store: Store) -> list[str]:
    return [d[0] for d in store.execute(f"SELECT * FROM {SOURCE_TABLE} LIMIT 0").description]


def _count(store: Store) -> int:
    return _scalar(store, f"SELECT count(*) FROM {SOURCE_TABLE}")


def _scalar(store: Store, q: str) -> int:
    rows = store.execute(q).fetchall()
    return int(rows[0][0]) if rows else 0


def _load_memory(store: Store, source: Any, address_column: str) -> InputInfo:
    import pyarrow as pa

    if isinstance(source, pa.Table):
        table = source
    elif hasattr(source, "to_dict") and hasattr(source, "columns"):   # a pandas DataFrame
        table = pa.Table.from_pandas(source, preserve_index=False)
    elif isinstance(source, (list, tuple)):
        if all(isinstance(x, str) or x is None for x in source):
            table = pa.table({address_column: pa.array(list(source), pa.string())})
        elif all(isinstance(x, dict) for x in source):
            keys: dict[str, None] = {}
            for x in source:
                keys.update(dict.fromkeys(x))
            table = pa.table({k: pa.array([None if x.get(k) is None else str(x.get(k)) for x in source], pa.string())
                              for k in keys})
        else:
            raise UsageError("screen takes a file path, a list of addresses, a list of dicts, a DataFrame or an "
                             "Arrow table")
    else:
        raise UsageError(f"screen cannot read a {type(source).__name__}; give a file path, a list of addresses, "
                         "a DataFrame or an Arrow table")
    cols = _from_arrow(store, table)
    return InputInfo(None, "memory", None, None, cols, _count(store), address_column, "arrow")


def _sniff_kind(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix in _XLSX_SUFFIXES or head[:2] == b"PK":
        return "xlsx"
    if suffix == ".parquet" or head[:4] == b"PAR1":
        return "parquet"
    if suffix in _JSONL_SUFFIXES:
        return "jsonl"
    if suffix == ".json":
        return "json" if head.lstrip()[:1] == b"[" else "jsonl"
    if suffix in _LIST_SUFFIXES:
        return "list"
    if suffix in _CSV_SUFFIXES:
        return "csv"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] == b"{":
        return "jsonl"
    if stripped[:1] == b"[":
        return "json"
    return "csv"


def _load_path(store: Store, path: Path, address_column: str) -> InputInfo:
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(65536)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}; check the path and its permissions") from None
    if path.is_dir():
        raise InputError(f"{path} is a folder; give the file of addresses to screen")
    if size == 0:
        raise InputError(f"{path} is empty; give a file with an address column (CSV, XLSX, JSONL or one per line)")
    kind = _sniff_kind(path, head)
    if kind in ("csv", "list", "jsonl", "json") and b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path} is not a text file (it holds binary data); give a CSV, XLSX, JSONL or list file")
    digest = sha256_file(path)
    reader = "duckdb"
    text_info: dict[str, Any] = {}
    if kind == "xlsx":
        _read_xlsx(store, path)
        reader = "openpyxl"
    elif kind == "parquet":
        _try_duckdb(store, path, f"SELECT COLUMNS(*)::VARCHAR FROM read_parquet({_lit(path)})", "Parquet")
    elif kind in ("jsonl", "json"):
        _read_json(store, path, kind)
    elif kind == "list":
        text_info = _read_list(store, path, address_column)
        reader = "python"
    else:
        reader, text_info = _read_csv(store, path, head, address_column)
        if reader == "list":
            kind, reader = "list", "python"
    cols = _columns(store)
    return InputInfo(str(path), kind, digest, size, cols, _count(store), address_column, reader,
                     lines=text_info.get("lines"), decoding=text_info.get("decoding"))


def _lit(path: Path) -> str:
    """A path as an SQL string literal (DuckDB table functions take no parameters for file names here)."""
    return "'" + str(path).replace("'", "''") + "'"


def _try_duckdb(store: Store, path: Path, select: str, what: str) -> None:
    try:
        store.execute(f"CREATE TEMP TABLE {SOURCE_TABLE} AS {select}")
    except QueryError as e:
        raise InputError(f"cannot read {path} as {what}: {first_line(e)}") from None


def _read_csv(store: Store, path: Path, head: bytes, address_column: str) -> tuple[str, dict[str, Any]]:
    """CSV with a header through DuckDB; a one-column file without a header is a list. Returns the reader used and
    the line accounting. DuckDB's result is kept only when its rows and the header are every physical line of the
    file (it skips blank lines and joins quoted new lines); otherwise the line-accounted reader reads the file."""
    delim = ", delim = '\\t'" if path.suffix.lower() in (".tsv", ".tab") else ""
    plain_utf8 = not head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if plain_utf8:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as e:
            plain_utf8 = e.start > len(head) - 4   # only a multi-byte character cut at the sample's end
    reader = "duckdb"
    text_info: dict[str, Any] = {}
    if plain_utf8:
        try:
            store.execute(
                f"CREATE TEMP TABLE {SOURCE_TABLE} AS SELECT * FROM read_csv({_lit(path)}, all_varchar = true,"
                f" header = true, skip = 0{delim})"
            )
            # the sniffer can settle on another dialect for an irregular file: trust it only when it agrees with
            # the header line
            agrees = len(_columns(store)) == len(_header_fields(head, "\t" if delim else None))
        except FileReadErrors:
            agrees = False
        if agrees:
            # blank lines (DuckDB skips them) and quoted new lines: counted line by line by the tolerant reader
            lines, rows = _physical_lines(path), _count(store)
            agrees = lines == rows + 1
            text_info["lines"] = bank_text.LineCounts(read=lines, header=1, rows=rows).to_dict()
        if not agrees:
            store.execute(f"DROP TABLE IF EXISTS {SOURCE_TABLE}")
            plain_utf8 = False
    if not plain_utf8:
        text_info = _read_csv_python(store, path, delim != "", address_column)
        reader = "python"
    cols = _columns(store)
    if address_column not in cols and len(cols) == 1 and _looks_like_address(cols[0]):
        # one address per line, no header: the "header" was the first address
        store.execute(f"DROP TABLE IF EXISTS {SOURCE_TABLE}")
        store.execute(f"DELETE FROM {ERROR_TABLE}")
        return "list", _read_list(store, path, address_column)
    return reader, text_info


def _physical_lines(path: Path) -> int:
    """Physical lines of a file: its new-line bytes, plus a last line without one (read in 8 MiB chunks)."""
    n, last = 0, b""
    with path.open("rb") as f:
        while chunk := f.read(1 << 23):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (1 if last not in (b"", b"\n") else 0)


def _header_fields(head: bytes, delimiter: str | None) -> list[str]:
    """The fields of the first record of a CSV sample (delimiter sniffed among , ; tab | unless given)."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if delimiter is None:
        first = text.split("\n", 1)[0]
        counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        return row
    return []


def _unique(names: list[str]) -> list[str]:
    """Header names made unique the way DuckDB does it (``name``, ``name_1``, ...)."""
    seen: set[str] = set()
    out = []
    for n in names:
        m, k = n, 0
        while m in seen:
            k += 1
            m = f"{n}_{k}"
        seen.add(m)
        out.append(m)
    return out


def _decode(path: Path, head: bytes) -> tuple[str, str]:
    """(text, encoding) of a whole text file: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030."""
    data = path.read_bytes()
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise InputError(f"{path} is neither UTF-8, UTF-16 nor GB18030 text; save it as UTF-8 CSV") from None


def _decode_lines(path: Path) -> bank_text.Decoded:
    try:
        return bank_text.decode(path.read_bytes())
    except UnicodeDecodeError:
        raise InputError(f"{path} starts with a UTF-16 mark but is not UTF-16 text; save it as UTF-8 CSV") from None


def _decoding_info(decoded: bank_text.Decoded, fallback_rows: list[int]) -> dict[str, Any] | None:
    """The report's note on rows decoded with the fallback encoding (1-based input rows), or None."""
    if not fallback_rows:
        return None
    return {"encoding": decoded.encoding, "fallback": bank_text.FALLBACK, "fallback_rows": len(fallback_rows),
            "first_fallback_rows": [r + 1 for r in fallback_rows[:100]]}


def _read_csv_python(store: Store, path: Path, tab: bool, address_column: str) -> dict[str, Any]:
    """Line-accounted CSV reading (:mod:`.bank_text`): short rows padded, extra fields kept in ``extra_fields``,
    rows that cannot be parsed kept with their reason in ERROR_TABLE, any text encoding (per line if need be)."""
    import pyarrow as pa

    decoded = _decode_lines(path)
    sample = "\n".join(decoded.lines[:2000])[:65536]
    if tab:
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    rec = bank_text.parse_csv(decoded, delimiter, address_column)
    if not rec.header:
        raise InputError(f"{path} has no rows; give a file with an address column")
    if not rec.counts.accounted():   # pragma: no cover - parse_csv accounts by construction; never lose a row
        raise InputError(f"{path}: {rec.counts.read:,} lines could not all be accounted for "
                         f"({rec.counts.to_dict()}); refusing a screening that would lose rows")
    header = _unique([h.strip() or f"column{i}" for i, h in enumerate(rec.header)])
    width = len(header)
    body = rec.rows
    extra = any(len(r) > width for r in body)
    cols: dict[str, list[str | None]] = {h: [] for h in header}
    extras: list[str | None] = []
    for r in body:
        for i, h in enumerate(header):
            cols[h].append(r[i] if i < len(r) else None)
        if extra:
            extras.append(delimiter.join(r[width:]) if len(r) > width else None)
    if extra:
        cols["extra_fields"] = extras
    _from_arrow(store, pa.table({k: pa.array(v, pa.string()) for k, v in cols.items()}))
    _record_errors(store, rec.errors)
    return {"lines": rec.counts.to_dict(), "decoding": _decoding_info(decoded, rec.fallback_rows)}


def _record_errors(store: Store, errors: dict[int, str]) -> None:
    if not errors:
        return
    import pyarrow as pa

    tbl = pa.table({"row": pa.array(list(errors), pa.int64()), "reason": pa.array(list(errors.values()))})
    with store.registered(__chainrisk_screen_errs=tbl):
        store.execute(f"INSERT INTO {ERROR_TABLE} SELECT row, reason FROM __chainrisk_screen_errs")


def _read_list(store: Store, path: Path, address_column: str) -> dict[str, Any]:
    """One address per line; trailing blank lines are counted, blank lines between addresses are (empty) rows."""
    import pyarrow as pa

    decoded = _decode_lines(path)
    lines = decoded.lines
    n = len(lines)
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    _from_arrow(store, pa.table({address_column: pa.array(lines, pa.string())}))
    counts = bank_text.LineCounts(read=n, blank=n - len(lines), rows=len(lines))
    fallback = sorted(i for i in decoded.fallback_lines if i < len(lines))
    return {"lines": counts.to_dict(), "decoding": _decoding_info(decoded, fallback)}


def _read_json(store: Store, path: Path, kind: str) -> None:
    fmt = "array" if kind == "json" else "newline_delimited"
    try:
        desc = store.execute(f"DESCRIBE SELECT * FROM read_json({_lit(path)}, format = '{fmt}')").fetchall()
        cols = ", ".join(f"{_lit(Path(d[0]))}: 'VARCHAR'" for d in desc)
        store.execute(
            f"CREATE TEMP TABLE {SOURCE_TABLE} AS SELECT * FROM read_json({_lit(path)}, format = '{fmt}',"
            f" columns = {{{cols}}})"
        )
        return
    except QueryError:
        store.execute(f"DROP TABLE IF EXISTS {SOURCE_TABLE}")
    _read_json_python(store, path, kind)


def _read_json_python(store: Store, path: Path, kind: str) -> None:
    """Line by line: a line that is not a JSON object becomes a row with only ``_raw_line`` (screened invalid)."""
    import json

    import pyarrow as pa

    with path.open("rb") as f:
        head = f.read(4)
    text, _ = _decode(path, head)
    records: list[dict[str, Any]] = []
    if kind == "json":
        try:
            data = json.loads(text)
        except ValueError as e:
            raise InputError(f"cannot read {path} as a JSON array: {e}") from None
        if not isinstance(data, list):
            raise InputError(f"{path} is JSON but not an array of objects; give JSONL or an array")
        items: list[Any] = data
        for obj in items:
            records.append(obj if isinstance(obj, dict) else {"_raw_line": json.dumps(obj)})
    else:
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            records.append(obj if isinstance(obj, dict) else {"_raw_line": line})
    keys: dict[str, None] = {}
    for r in records:
        keys.update(dict.fromkeys(r))
    if not keys:
        raise InputError(f"{path} holds no JSON objects; give one object per line with an address field")

    def cell(v: Any) -> str | None:
        if v is None:
            return None
        return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)

    _from_arrow(store, pa.table({k: pa.array([cell(r.get(k)) for r in records], pa.string()) for k in keys}))


def _read_xlsx(store: Store, path: Path) -> None:
    """The first worksheet: first row is the header; cells as text (integers without '.0', dates ISO)."""
    import datetime as dt

    import pyarrow as pa

    try:
        import openpyxl
    except ModuleNotFoundError:  # pragma: no cover - openpyxl is a dependency
        raise InputError("reading XLSX needs openpyxl (pip install openpyxl), or save the sheet as CSV") from None
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds (zipfile.BadZipFile, KeyError, InvalidFileException)
        raise InputError(f"cannot read {path} as XLSX: {e}; save it again from Excel, or export CSV") from None
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        try:
            header_row = next(rows)
        except StopIteration:
            raise InputError(f"{path}: the first sheet is empty; put a header row with an address column") from None
        header = _unique([str(h).strip() if h is not None else f"column{i}" for i, h in enumerate(header_row)])
        width = len(header)

        def cell(v: Any) -> str | None:
            if v is None:
                return None
            if isinstance(v, float) and v.is_integer():
                return str(int(v))
            if isinstance(v, (dt.datetime, dt.date, dt.time)):
                return v.isoformat()
            return str(v)

        cols: list[list[str | None]] = [[] for _ in header]
        for r in rows:
            if r is None or all(v is None for v in r):
                continue
            for i in range(width):
                cols[i].append(cell(r[i]) if i < len(r) else None)
    finally:
        wb.close()
    _from_arrow(store, pa.table({h: pa.array(c, pa.string()) for h, c in zip(header, cols, strict=True)}))
