"""Reading a bank's declared-address file into a DuckDB temp table, every column as text, in input order.

Formats: CSV/TSV (DuckDB's reader; a Python fallback for ragged rows, quoted new lines and GB18030/UTF-16
exports), XLSX (openpyxl), JSONL / JSON array, Parquet, or a plain list (one address per line). In-memory inputs
(a list of addresses, a list of dicts, a pandas DataFrame or a pyarrow Table) are accepted too. A file that
cannot be read at all raises one :class:`~chainrisk.errors.InputError`; rows that are odd are kept.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..address import Address, try_parse
from ..errors import InputError, UsageError
from ..store import FileReadErrors, QueryError, Store, first_line

SOURCE_TABLE = "__chainrisk_screen_src"
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
    if isinstance(source, (str, os.PathLike)):
        info = _load_path(store, Path(source), address_column)
    else:
        info = _load_memory(store, source, address_column)
    if info.address_column not in info.columns:
        # 'Address', ' ADDRESS ': a unique match ignoring case and surrounding spaces is the column meant
        near = [c for c in info.columns if c.strip().lower() == address_column.strip().lower()]
        if len(near) == 1:
            info.address_column = near[0]
    if info.address_column not in info.columns:
        store.execute(f"DROP TABLE IF EXISTS {SOURCE_TABLE}")
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
    rows = store.execute(f"SELECT count(*) FROM {SOURCE_TABLE}").fetchall()
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
    if kind == "xlsx":
        _read_xlsx(store, path)
        reader = "openpyxl"
    elif kind == "parquet":
        _try_duckdb(store, path, f"SELECT COLUMNS(*)::VARCHAR FROM read_parquet({_lit(path)})", "Parquet")
    elif kind in ("jsonl", "json"):
        _read_json(store, path, kind)
    elif kind == "list":
        _read_list(store, path, address_column)
        reader = "python"
    else:
        reader = _read_csv(store, path, head, address_column)
        if reader == "list":
            kind, reader = "list", "duckdb"
    cols = _columns(store)
    return InputInfo(str(path), kind, digest, size, cols, _count(store), address_column, reader)


def _lit(path: Path) -> str:
    """A path as an SQL string literal (DuckDB table functions take no parameters for file names here)."""
    return "'" + str(path).replace("'", "''") + "'"


def _try_duckdb(store: Store, path: Path, select: str, what: str) -> None:
    try:
        store.execute(f"CREATE TEMP TABLE {SOURCE_TABLE} AS {select}")
    except QueryError as e:
        raise InputError(f"cannot read {path} as {what}: {first_line(e)}") from None


def _read_csv(store: Store, path: Path, head: bytes, address_column: str) -> str:
    """CSV with a header through DuckDB; a one-column file without a header is a list. Returns the reader used."""
    delim = ", delim = '\\t'" if path.suffix.lower() in (".tsv", ".tab") else ""
    plain_utf8 = not head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if plain_utf8:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as e:
            plain_utf8 = e.start > len(head) - 4   # only a multi-byte character cut at the sample's end
    reader = "duckdb"
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
        if not agrees:
            store.execute(f"DROP TABLE IF EXISTS {SOURCE_TABLE}")
            plain_utf8 = False
    if not plain_utf8:
        _read_csv_python(store, path, head, delim != "")
        reader = "python"
    cols = _columns(store)
    if address_column not in cols and len(cols) == 1 and _looks_like_address(cols[0]):
        # one address per line, no header: the "header" was the first address
        store.execute(f"DROP TABLE IF EXISTS {SOURCE_TABLE}")
        _read_list(store, path, address_column)
        return "list"
    return reader


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
    """(text, encoding) of a text file: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030."""
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


def _read_csv_python(store: Store, path: Path, head: bytes, tab: bool) -> None:
    """Tolerant CSV reading: short rows padded, extra fields kept in ``extra_fields``, any text encoding."""
    import pyarrow as pa

    text, _ = _decode(path, head)
    sample = text[:65536]
    if tab:
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as e:
        raise InputError(f"cannot read {path} as CSV: {e}") from None
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        raise InputError(f"{path} has no rows; give a file with an address column")
    header = _unique([h.strip() or f"column{i}" for i, h in enumerate(rows[0])])
    width = len(header)
    body = rows[1:]
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


def _read_list(store: Store, path: Path, address_column: str) -> None:
    import pyarrow as pa

    with path.open("rb") as f:
        head = f.read(4)
    text, _ = _decode(path, head)
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    _from_arrow(store, pa.table({address_column: pa.array(lines, pa.string())}))


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
