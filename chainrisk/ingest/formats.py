"""File formats for :mod:`chainrisk.ingest.file`: how each export is read and which column is which.

A :class:`Source` describes one input file as a DuckDB relation (a ``read_csv``/``read_parquet``/``read_json``
call with every text column typed ``VARCHAR``) plus, for each canonical field, the source column and its DuckDB
type. :mod:`chainrisk.ingest.file` turns that into typed, validated rows in one SQL pass.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, UsageError
from ..store import QueryError, first_line

if TYPE_CHECKING:
    from ..store import Store

FORMATS = ("bigquery", "ethereum-etl", "etherscan", "csv", "tronetl", "tron-logs", "trongrid")
#: the formats of TRON exports (read by :mod:`chainrisk.ingest.tron_files`, with ``--chain tron`` only)
TRON_FORMATS = ("tronetl", "tron-logs", "trongrid")

# Canonical fields of a transfer row. value is the raw integer amount; amount is value / 10^decimals.
CANONICAL = (
    "tx_hash", "log_index", "block_number", "block_time", "token_address", "from_address", "to_address",
    "value", "amount", "token_symbol", "token_decimals",
)

# Per format: canonical field -> source column, and which source columns must be present.
BIGQUERY = {
    "tx_hash": "transaction_hash", "log_index": "log_index", "block_number": "block_number",
    "block_time": "block_timestamp", "token_address": "token_address", "from_address": "from_address",
    "to_address": "to_address", "value": "value",
}
ETHEREUM_ETL = {
    "tx_hash": "transaction_hash", "log_index": "log_index", "block_number": "block_number",
    "block_time": "block_timestamp", "token_address": "token_address", "from_address": "from_address",
    "to_address": "to_address", "value": "value",
}
ETHERSCAN = {
    "tx_hash": "hash", "block_number": "blockNumber", "block_time": "timeStamp", "token_address": "contractAddress",
    "from_address": "from", "to_address": "to", "value": "value", "token_symbol": "tokenSymbol",
    "token_decimals": "tokenDecimal",
}
REQUIRED = {
    "bigquery": ["tx_hash", "log_index", "block_number", "block_time", "token_address", "from_address",
                 "to_address", "value"],
    "ethereum-etl": ["tx_hash", "log_index", "block_number", "token_address", "from_address", "to_address",
                     "value"],
    "etherscan": ["tx_hash", "block_number", "block_time", "token_address", "from_address", "to_address",
                  "value"],
    "csv": ["tx_hash", "block_number", "token_address", "from_address", "to_address"],
}
# Etherscan's tokentx fields, for reading its JSON response.
ETHERSCAN_FIELDS = (
    "blockNumber", "timeStamp", "hash", "nonce", "blockHash", "from", "contractAddress", "to", "value",
    "tokenName", "tokenSymbol", "tokenDecimal", "transactionIndex", "gas", "gasPrice", "gasUsed",
    "cumulativeGasUsed", "input", "confirmations",
)
# Usual column names of each canonical field, tried in order (case-insensitively) when a csv is not mapped.
ALIASES = {
    "tx_hash": ["tx_hash", "transaction_hash", "hash", "txhash", "tx"],
    "log_index": ["log_index", "logindex", "log_idx"],
    "block_number": ["block_number", "blocknumber", "block", "blockno", "block_height"],
    "block_time": ["block_time", "block_timestamp", "block_time_utc", "timestamp", "unixtimestamp", "time",
                   "datetime"],
    "token_address": ["token_address", "contract_address", "contractaddress", "token_contract", "contract"],
    "from_address": ["from_address", "from", "sender"],
    "to_address": ["to_address", "to", "receiver", "recipient"],
    "value": ["value", "value_raw", "raw_value", "amount_raw", "raw_amount"],
    "amount": ["amount", "token_amount", "amount_decimal", "tokenvalue"],
    "token_symbol": ["token_symbol", "tokensymbol", "symbol"],
    "token_decimals": ["token_decimals", "tokendecimal", "tokendecimals", "decimals"],
}


@dataclass
class Source:
    """One input file, ready to be read in SQL."""

    path: Path
    kind: str  # csv | parquet | jsonl | json
    unit: str  # how a bad row's position is named: line (text files), row (Parquet), record (JSON array)
    relation: str  # a FROM item with ? placeholders
    params: list[Any]
    fields: dict[str, tuple[str, str]]  # canonical field -> (SQL expression over the relation, its DuckDB type)
    first_line: int  # position of the first data row
    rejects: str | None = None  # DuckDB's CSV rejects table (rows it could not split into columns)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def display(self) -> str:
        return str(self.path)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"PAR1"


def _first_char(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(4096)
    if head[:2] == b"\x1f\x8b":  # gzip: decide by name
        return "{" if ".json" in path.name.lower() else ","
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return chr(text[0]) if text else ""


def source_for(store: Store, path: Path, fmt: str, mapping: Mapping[str, str], chain: str) -> Source:
    """Describe ``path`` as a :class:`Source` of ``fmt``; an unreadable file or wrong header is an InputError."""
    try:
        if fmt == "bigquery":
            if _is_parquet(path):
                return _parquet(store, path, BIGQUERY, REQUIRED[fmt], fmt)
            return _csv(store, path, BIGQUERY, REQUIRED[fmt], fmt, strict=True)
        if fmt == "ethereum-etl":
            if _is_parquet(path):
                return _parquet(store, path, ETHEREUM_ETL, REQUIRED[fmt], fmt)
            if _first_char(path) in "{[":
                return _jsonl(store, path, ETHEREUM_ETL, REQUIRED[fmt], fmt)
            return _csv(store, path, ETHEREUM_ETL, REQUIRED[fmt], fmt, strict=True)
        if fmt == "etherscan":
            if _first_char(path) in "{[":
                return _etherscan_json(store, path)
            return _csv(store, path, ETHERSCAN, REQUIRED[fmt], fmt, strict=True)
        if fmt == "csv":
            if _is_parquet(path):
                raise InputError(f"{path} is a Parquet file, not CSV; use --input-format bigquery or ethereum-etl")
            return _csv(store, path, dict(mapping), REQUIRED[fmt], fmt, strict=False)
    except QueryError as e:
        raise InputError(f"cannot read {path} as {fmt}: {first_line(e)}; check that it is a {fmt} export") from None
    raise UsageError(f"unknown file format {fmt!r}")




def _resolve(columns: list[str], wanted: Mapping[str, str], required: list[str], fmt: str, path: Path,
             aliases: bool) -> dict[str, str]:
    """canonical field -> actual column name in the file (case-insensitive match)."""
    by_lower = {c.lower(): c for c in columns}
    out: dict[str, str] = {}
    for canon in CANONICAL:
        src = wanted.get(canon)
        if src is not None:
            if src.lower() in by_lower:
                out[canon] = by_lower[src.lower()]
            elif aliases:  # an explicit --map column must exist
                raise InputError(
                    f"{path} has no column {src!r} (mapped to {canon}); its columns are: {', '.join(columns)}"
                )
            continue
        if aliases:
            for alias in ALIASES[canon]:
                if alias in by_lower:
                    out[canon] = by_lower[alias]
                    break
    missing = [c for c in required if c not in out]
    if fmt == "csv" and "value" not in out and "amount" not in out:
        missing.append("value (or amount)")
    if missing:
        if fmt == "csv":
            names = ", ".join(missing)
            raise InputError(
                f"{path} has no column for {names} (its columns are: {', '.join(columns)}); "
                "map them with --map FIELD=COLUMN"
            )
        names = ", ".join(wanted.get(c, c) for c in missing)
        raise InputError(
            f"{path} does not look like a {fmt} export: missing column(s) {names} "
            f"(its columns are: {', '.join(columns[:20])}); check --input-format"
        )
    return out


def _head(path: Path, size: int = 65536) -> str:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read(size)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if e.start > size - 4:  # a multi-byte character cut at the end of the sample
            return data[: e.start].decode("utf-8-sig")
        raise InputError(f"cannot read {path} as CSV: it is not UTF-8 text; check the file and --input-format") from None


def _csv(store: Store, path: Path, wanted: Mapping[str, str], required: list[str], fmt: str,
         strict: bool) -> Source:
    head = _head(path)
    if "\x00" in head:
        raise InputError(f"cannot read {path} as CSV: it is a binary file; check the file and --input-format")
    delim = ","
    if not strict:
        try:
            delim = csv.Sniffer().sniff(head[:8192], delimiters=",;\t|").delimiter
        except csv.Error:
            delim = ","
    first = head.splitlines()[0] if head.strip() else ""
    cols = next(csv.reader([first], delimiter=delim), []) if first else []
    cols = [c.strip() for c in cols]
    if len(cols) < 2:
        raise InputError(f"cannot read {path} as CSV: it has no delimited header line; check the file and --input-format")
    names = _resolve(cols, wanted, required, fmt, path, aliases=not strict)
    rej = "_cr_csv_rejects"
    store.execute(f"DROP TABLE IF EXISTS {rej}")
    store.execute(f"DROP TABLE IF EXISTS {rej}_scan")
    # Every column is read as text under the header's own names; types are checked in SQL, row by row.
    types = "{" + ", ".join(f"'{c.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for c in cols) + "}"
    relation = (
        f"read_csv(?, header = true, columns = {types}, auto_detect = false, delim = ?, quote = '\"',"
        f" escape = '\"', store_rejects = true, rejects_table = '{rej}', rejects_scan = '{rej}_scan')"
    )
    return Source(
        path=path, kind="csv", unit="line", relation=relation, params=[str(path), delim],
        fields={k: (quote_ident(v), "VARCHAR") for k, v in names.items()}, first_line=2, rejects=rej,
        extra={"delimiter": delim},
    )


def _parquet(store: Store, path: Path, wanted: Mapping[str, str], required: list[str], fmt: str) -> Source:
    schema = store.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    types = {r[0]: str(r[1]) for r in schema}
    names = _resolve(list(types), wanted, required, fmt, path, aliases=False)
    vtype = types[names["value"]].upper()
    if vtype in ("FLOAT", "DOUBLE") or (vtype.startswith("DECIMAL") and not vtype.endswith(",0)")):
        raise InputError(
            f"{path}: column {names['value']} is {vtype}, which cannot hold exact token amounts; "
            "export value as a string or an integer type"
        )
    # Count the rows cheaply now: a truncated file fails here, before anything is staged.
    store.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()
    return Source(
        path=path, kind="parquet", unit="row", relation="read_parquet(?)", params=[str(path)],
        fields={k: (quote_ident(v), types[v]) for k, v in names.items()}, first_line=1,
    )


def _json_keys(store: Store, path: Path) -> list[str]:
    row = store.execute(
        "SELECT json_keys(json) FROM read_json_objects(?, format = 'newline_delimited') LIMIT 1", [str(path)]
    ).fetchone()
    return list(row[0]) if row and row[0] else []


def _jsonl(store: Store, path: Path, wanted: Mapping[str, str], required: list[str], fmt: str) -> Source:
    keys = _json_keys(store, path)
    names = _resolve(keys, wanted, required, fmt, path, aliases=False)
    # Every field is read as text, so integers above 2^64 keep their exact digits.
    cols = "{" + ", ".join(f"'{k}': 'VARCHAR'" for k in sorted(set(names.values()))) + "}"
    relation = f"read_json(?, format = 'newline_delimited', columns = {cols})"
    return Source(
        path=path, kind="jsonl", unit="line", relation=relation, params=[str(path)],
        fields={k: (quote_ident(v), "VARCHAR") for k, v in names.items()}, first_line=1,
    )


_JSON_MAX = 134217728  # DuckDB's largest single JSON value here (an Etherscan response is one object)


def _etherscan_json(store: Store, path: Path) -> Source:
    """An Etherscan API response ``{"status", "message", "result": [...]}``, or just its result list, or one
    transfer object per line. Read with typed columns, so a response of 10^5 records needs ~100 MB."""
    fields = "{" + ", ".join(f"'{f}': 'VARCHAR'" for f in ETHERSCAN_FIELDS) + "}"
    records = "STRUCT(" + ", ".join(f'"{f}" VARCHAR' for f in ETHERSCAN_FIELDS) + ")[]"
    rows = store.execute(
        "SELECT status, message, json_type(result), left(CAST(result AS VARCHAR), 200)"
        " FROM read_json(?, columns = {'status': 'VARCHAR', 'message': 'VARCHAR', 'result': 'JSON'},"
        f" format = 'auto', maximum_object_size = {_JSON_MAX}) LIMIT 2",
        [str(path)],
    ).fetchall()
    if not rows:
        raise InputError(f"{path} is empty; export the Etherscan tokentx response again")
    status, message, result_type, result_text = rows[0]
    if result_type == "ARRAY":
        relation = (
            "(SELECT unnest(result, recursive := true)"
            f" FROM read_json(?, columns = {{'result': '{records}'}}, format = 'auto', maximum_object_size = {_JSON_MAX}))"
        )
    elif status is not None or result_type is not None:
        raise InputError(
            f"{path} is an Etherscan error response (status {status}, {message}: {result_text}), "
            "not a list of transfers; export it again"
        )
    else:  # the result list alone, or one transfer object per line
        relation = f"read_json(?, columns = {fields}, format = 'auto', maximum_object_size = {_JSON_MAX})"
    names = dict(ETHERSCAN)
    return Source(
        path=path, kind="json", unit="record", relation=relation, params=[str(path)],
        fields={k: (quote_ident(v), "VARCHAR") for k, v in names.items()}, first_line=1,
    )


def load_blocks(store: Store, path: Path, table: str) -> None:
    """ethereum-etl ``blocks.csv`` (or JSON lines) -> temp ``table(number BIGINT, time TIMESTAMP)``."""
    if not path.is_file():
        raise InputError(f"cannot read the blocks file {path}: no such file; check --blocks")
    try:
        if _first_char(path) in "{[":
            keys = _json_keys(store, path)
            rel = "read_json(?, format = 'newline_delimited', columns = {'number': 'VARCHAR', 'timestamp': 'VARCHAR'})"
        else:
            keys = [r[0] for r in store.execute(
                "DESCRIBE SELECT * FROM read_csv(?, header = true, all_varchar = true)", [str(path)]).fetchall()]
            rel = "read_csv(?, header = true, all_varchar = true)"
        if "number" not in keys or "timestamp" not in keys:
            raise InputError(
                f"the blocks file {path} has no number and timestamp columns (it has: {', '.join(keys[:20])}); "
                "give ethereum-etl's blocks.csv"
            )
        store.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS"
            " SELECT DISTINCT ON (number) TRY_CAST(number AS BIGINT) AS number,"
            " make_timestamp(TRY_CAST(timestamp AS BIGINT) * 1000000) AS time"
            f" FROM {rel} WHERE TRY_CAST(number AS BIGINT) IS NOT NULL AND TRY_CAST(timestamp AS BIGINT) IS NOT NULL",
            [str(path)],
        )
    except QueryError as e:
        raise InputError(f"cannot read the blocks file {path}: {first_line(e)}; give ethereum-etl's blocks.csv") from None
