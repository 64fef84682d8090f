"""TRON file formats for :mod:`chainrisk.ingest.file` (``--chain tron``): how each export is read.

- ``tronetl``: tronetl's ``token_transfers.csv`` (or JSON lines / Parquet): ethereum-etl's columns
  (``block_number, transaction_hash, log_index, token_address, from_address, to_address, value``) with ``T...``
  addresses; block times from its ``blocks.csv`` (``--blocks``).
- ``tron-logs``: an export of TRON event logs, e.g. Google's public TRON dataset's ``logs`` table filtered on a
  token contract (columns ``address, topics, data, transaction_hash, log_index, block_number,
  block_timestamp``; ``topics`` a list, or JSON text in CSV). Hex addresses (``0x`` + 20 bytes, or ``41`` + 20
  bytes) are converted to base58. Logs that are not a TRC-20 ``Transfer`` (other events, 4-topic TRC-721
  transfers) are counted as ``rows_other_events``, never stored; a value above 2^128 - 1 is a bad row (no real
  TRC-20 stablecoin amount comes near it).
- ``trongrid``: TronGrid's ``/v1/accounts/{address}/transactions/trc20`` JSON (one response ``{"data": [...],
  "meta": ...}``, a list of responses, a list of its records, or one record per line). A record has
  ``transaction_id, token_info{address, decimals, symbol}, block_timestamp`` (milliseconds), ``from, to, type,
  value`` and **no log index and no block number**: rows get the content key of
  :func:`chainrisk.ingest.staging.content_keys` (the same transfer pulled for the sender and for the receiver is
  one row), and block number 0 with the exact block time. Records whose ``type`` is not ``Transfer``
  (``Approval``) are counted as ``rows_other_events``.

Transaction ids are stored as ``0x`` + 64 lower-case hex digits whatever the source writes (TRON's own tools
write them bare), so a transfer read from a node and from a file has one key.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from . import formats as sources

if TYPE_CHECKING:
    from ..store import Store

TRON_FORMATS = ("tronetl", "tron-logs", "trongrid")

_LOG_COLUMNS = ("address", "topics", "data", "transaction_hash", "log_index", "block_number", "block_timestamp")
_JSON_MAX = 134217728


def _txid(expr: str) -> str:
    """TRON tx ids: bare 64 hex digits (TRON's tools) or 0x-prefixed (the JSON-RPC) -> 0x + 64."""
    return f"(CASE WHEN length({expr}) = 64 THEN '0x' || {expr} ELSE {expr} END)"


def source_for(store: Store, path: Path, fmt: str) -> sources.Source:
    if fmt == "tronetl":
        if sources._is_parquet(path):
            src = sources._parquet(store, path, sources.ETHEREUM_ETL, sources.REQUIRED["ethereum-etl"], fmt)
        elif sources._first_char(path) in "{[":
            src = sources._jsonl(store, path, sources.ETHEREUM_ETL, sources.REQUIRED["ethereum-etl"], fmt)
        else:
            src = sources._csv(store, path, sources.ETHEREUM_ETL, sources.REQUIRED["ethereum-etl"], fmt, strict=True)
        expr, typ = src.fields["tx_hash"]
        if typ.upper() == "VARCHAR":
            src.fields["tx_hash"] = (_txid(expr), typ)
        return src
    if fmt == "tron-logs":
        return _logs(store, path)
    if fmt == "trongrid":
        return _trongrid(store, path)
    raise AssertionError(fmt)


def _logs(store: Store, path: Path) -> sources.Source:
    if sources._is_parquet(path):
        cols = {r[0]: str(r[1]) for r in store.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()}
        base, kind, unit = "read_parquet(?)", "parquet", "row"
    elif sources._first_char(path) in "{[":
        cols = {k: "VARCHAR" for k in sources._json_keys(store, path)}
        spec = ", ".join(f"'{k}': '{'VARCHAR[]' if k == 'topics' else 'VARCHAR'}'" for k in _LOG_COLUMNS if k in cols)
        base, kind, unit = f"read_json(?, format = 'newline_delimited', columns = {{{spec}}})", "jsonl", "line"
    else:
        head = sources._head(path).splitlines()
        names = [c.strip() for c in next(csv.reader(head[:1]), [])]
        cols = {c: "VARCHAR" for c in names}
        base = "read_csv(?, header = true, all_varchar = true, quote = '\"', escape = '\"')"
        kind, unit = "csv", "line"
    missing = [c for c in _LOG_COLUMNS if c not in cols and c != "block_timestamp"]
    if missing:
        raise InputError(f"{path} does not look like a TRON logs export: missing column(s) {', '.join(missing)} "
                         f"(its columns are: {', '.join(list(cols)[:20])}); check --input-format")
    topics = "topics" if kind != "csv" else "from_json(topics, '[\"VARCHAR\"]')"
    time_col = "block_timestamp" if "block_timestamp" in cols else "NULL"
    # one row per log; the Transfer ones get from/to/value decoded here, in SQL
    # imported here, not at module level: rpc_store loads the node client (web3, requests)
    from .rpc_store import TRANSFER

    word = "lower(substr({w}, greatest(length({w}) - 39, 1)))"
    relation = f"""(
        SELECT *, {word.format(w='_t[2]')} AS _from, {word.format(w='_t[3]')} AS _to,
               CASE WHEN length(_d) = 66 THEN coalesce(CAST(TRY_CAST('0x' || coalesce(nullif(ltrim(substr(_d, 3), '0'),
                    ''), '0') AS UHUGEINT) AS VARCHAR), _d) ELSE _d END AS _value
        FROM (SELECT CAST(address AS VARCHAR) AS _address, {topics} AS _t, CAST(data AS VARCHAR) AS _d,
                     CAST(transaction_hash AS VARCHAR) AS _tx, CAST(log_index AS VARCHAR) AS _li,
                     CAST(block_number AS VARCHAR) AS _bn, {time_col} AS _time
              FROM {base})
        WHERE len(_t) = 3 AND lower(_t[1]) IN ('{TRANSFER}', '{TRANSFER[2:]}')
    )"""
    (total, transfers) = store.execute(
        f"SELECT (SELECT count(*) FROM {base}), (SELECT count(*) FROM {relation})", [str(path), str(path)]
    ).fetchone() or (0, 0)
    time_type = cols.get("block_timestamp", "VARCHAR")
    fields = {
        "tx_hash": (_txid("_tx"), "VARCHAR"), "log_index": ("_li", "VARCHAR"), "block_number": ("_bn", "VARCHAR"),
        "token_address": ("_address", "VARCHAR"), "from_address": ("'0x' || _from", "VARCHAR"),
        "to_address": ("'0x' || _to", "VARCHAR"), "value": ("_value", "VARCHAR"),
    }
    if time_col != "NULL":
        fields["block_time"] = ("_time", time_type if kind == "parquet" else "VARCHAR")
    return sources.Source(path=path, kind=kind, unit=unit, relation=relation, params=[str(path)], fields=fields,
                          first_line=1 if kind != "csv" else 2,
                          extra={"other_events": int(total) - int(transfers)})


def _trongrid(store: Store, path: Path) -> sources.Source:
    p = str(path)
    try:
        kind = store.execute(
            f"SELECT json_type(j) FROM read_json_objects(?, format = 'auto', maximum_object_size = {_JSON_MAX}) t(j)"
            " LIMIT 1", [p]).fetchone()
    except Exception as e:
        raise InputError(f"cannot read {path} as TronGrid JSON: {sources.first_line(e)}; save the API's JSON "
                         "answer as it came") from None
    if kind is None:
        raise InputError(f"{path} is empty; pull the TronGrid answer again")
    has_data = store.execute(
        f"SELECT count(*) FILTER (WHERE json_exists(j, '$.data')), count(*) FILTER (WHERE json_exists(j, "
        f"'$.transaction_id')), count(*) FROM read_json_objects(?, format = 'auto', maximum_object_size = {_JSON_MAX})"
        " t(j)", [p]).fetchone()
    assert has_data is not None
    if has_data[0]:
        ok = store.execute(
            f"SELECT count(*) FILTER (WHERE json_extract_string(j, '$.success') = 'false') FROM "
            f"read_json_objects(?, format = 'auto', maximum_object_size = {_JSON_MAX}) t(j)", [p]).fetchone()
        if ok and ok[0]:
            raise InputError(f"{path} holds a TronGrid error answer (success: false), not transfers; pull it again")
        rows = (f"SELECT unnest(from_json(json_extract(j, '$.data'), '[{_RECORD}]'), recursive := true)"
                f" FROM read_json_objects(?, format = 'auto', maximum_object_size = {_JSON_MAX}) t(j)")
    elif has_data[1]:
        rows = (f"SELECT unnest(from_json(j, '{_RECORD}'), recursive := true)"
                f" FROM read_json_objects(?, format = 'auto', maximum_object_size = {_JSON_MAX}) t(j)")
    else:
        raise InputError(f"{path} does not look like TronGrid's trc20 transactions JSON (no data or "
                         "transaction_id); check --input-format")
    typed = f"(SELECT row_number() OVER () AS _pos, * FROM ({rows}))"
    relation = f"(SELECT * FROM {typed} WHERE coalesce(\"type\", 'Transfer') = 'Transfer')"
    (total, transfers) = store.execute(
        f"SELECT (SELECT count(*) FROM {typed}), (SELECT count(*) FROM {relation})", [p, p]).fetchone() or (0, 0)
    fields = {
        "tx_hash": (_txid("transaction_id"), "VARCHAR"), "block_number": ("'0'", "VARCHAR"),
        "block_time": ("CASE WHEN regexp_full_match(block_timestamp, '[0-9]{1,14}') THEN "
                       "make_timestamp(CAST(block_timestamp AS BIGINT) * 1000) END", "TIMESTAMP"),
        "token_address": ("address", "VARCHAR"), "from_address": ('"from"', "VARCHAR"),
        "to_address": ('"to"', "VARCHAR"), "value": ('"value"', "VARCHAR"),
        "token_symbol": ("symbol", "VARCHAR"), "token_decimals": ("decimals", "VARCHAR"),
    }
    return sources.Source(path=path, kind="json", unit="record", relation=relation, params=[p], fields=fields,
                          first_line=1, extra={"other_events": int(total) - int(transfers)})


_RECORD = ('{"transaction_id": "VARCHAR", "token_info": {"symbol": "VARCHAR", "address": "VARCHAR", '
           '"decimals": "VARCHAR", "name": "VARCHAR"}, "block_timestamp": "VARCHAR", "from": "VARCHAR", '
           '"to": "VARCHAR", "type": "VARCHAR", "value": "VARCHAR"}')


def tron_bad_addresses(store: Store, addrs: str, out: str) -> None:
    """``out(a, canonical)``: the distinct addresses of table ``addrs`` that are not already canonical base58,
    with their base58 form (NULL when invalid), checked in Python once per distinct value."""
    import pyarrow as pa

    from .tron_b58 import b58_valid, hex_to_b58

    values = store.arrow(f"SELECT a FROM {addrs}").column("a").to_pylist()
    ok = b58_valid([v if v is not None else "" for v in values])
    bad_a: list[str | None] = [v for v, good in zip(values, ok, strict=True) if not good]
    bad_c = hex_to_b58([v.strip() if v is not None else "" for v in bad_a])
    tbl = pa.table({"a": pa.array(bad_a, pa.string()), "canonical": pa.array(bad_c, pa.string())})
    with store.registered(_cr_tron_bad=tbl):
        store.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT * FROM _cr_tron_bad")
