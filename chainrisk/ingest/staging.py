"""Staging for :mod:`chainrisk.ingest.file`: one file's rows as canonical, typed columns, each with the reason
it is bad (or NULL), built in SQL from a :class:`~chainrisk.ingest.formats.Source`.

The staging table is a DuckDB temp table; its ``rowid`` is the row's position in the file. Checks have a cheap
path for already-canonical text and detailed messages only for rows that fail it; addresses are checked on the
file's distinct values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InputError
from . import formats as sources
from .lines import MAX_LINE, count_records, record_head

if TYPE_CHECKING:
    from ..store import Store

STAGE = "_cr_file_stage"
READY = "_cr_file_ready"
TOKENS = "_cr_file_tokens"
REJECTS = "_cr_file_rejects"
BLOCKS = "_cr_file_blocks"
LOST = "_cr_file_lost"  # lines the CSV reader skipped without recording them (longer than its read buffer)
SKIPPED = "_cr_file_skipped"  # line numbers with no staged row: rejected, lost or blank (for the line numbers)
PARTIES = "_cr_file_parties"  # distinct from/to addresses of the staged rows (see check_addresses)
MAX_UINT256 = str(2**256 - 1)

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
        # lower-cased here, row by row (a cheap test first), and checked on the file's distinct values (see
        # check_addresses): lower-casing by an UPDATE of every row of an upper-case file held the whole staging
        # table's old values in memory (out of memory at 1 GB on 4M rows)
        x = _text(r, t)
        return (f"CASE WHEN {x} = lower({x}) THEN {x} WHEN regexp_full_match({x}, '0x[0-9a-fA-F]{{40}}')"
                f" THEN lower({x}) ELSE {x} END")
    if name == "tx_hash":
        x = _text(r, t)
        # the byte length first, then an unbounded class (ASCII only, so 66 bytes are 66 characters): a third
        # cheaper than the regex '0x[0-9a-f]{64}'
        return (f"CASE WHEN strlen({x}) = 66 AND regexp_full_match({x}, '0x[0-9a-f]+') THEN {x}"
                f" WHEN strlen({x}) = 66 AND regexp_full_match({x}, '0x[0-9a-fA-F]+') THEN lower({x}) END")
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
            # a TIMESTAMPTZ is UTC microseconds: taken as they are (AT TIME ZONE goes through ICU, 0.1 s per
            # 1M rows); infinities (no epoch) as before
            return f"CASE WHEN isfinite({r}) THEN make_timestamp(epoch_us({r})) ELSE ({r} AT TIME ZONE 'UTC') END"
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


def stage(store: Store, src: sources.Source, chain: str = "ethereum") -> None:
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
    store.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {STAGE} AS
        SELECT {', '.join(out)}, reason,
               CASE WHEN reason IS NOT NULL THEN CAST(json_object({raw}) AS VARCHAR) END AS row_text
        FROM (SELECT *, CASE WHEN {' AND '.join(ok)} THEN NULL ELSE CASE {' '.join(checks)} END END AS reason
              FROM (SELECT {', '.join(inner)} FROM {src.relation}) AS r) AS q
        """,
        src.params,
    )
    check_addresses(store, chain)


def check_addresses(store: Store, chain: str = "ethereum") -> None:
    """Validate and lower-case the addresses on the file's distinct values rather than on every row (a file
    of N transfers has far fewer distinct addresses than 3N); only rows with a non-canonical one are touched.
    On TRON the distinct values are checked in Python (base58check) and hex forms (``0x`` + 20 bytes, ``41`` +
    20 bytes) become ``T...`` (:func:`chainrisk.ingest.tron_files.tron_bad_addresses`)."""
    # The parties' distinct addresses are kept (PARTIES): when every row is good and canonical they are exactly
    # the batch's addresses that add_transfers gives ids, which then need not be found a second time.
    store.execute(f"""
        CREATE OR REPLACE TEMP TABLE {PARTIES} AS
        SELECT DISTINCT address FROM (SELECT from_address AS address FROM {STAGE}
                                      UNION ALL SELECT to_address FROM {STAGE})
    """)
    store.execute(f"""
        CREATE OR REPLACE TEMP TABLE _cr_file_addrs AS
        SELECT address AS a FROM {PARTIES} UNION SELECT DISTINCT token_address FROM {STAGE}
    """)
    desc = _DESC
    if chain == "tron":
        from .tron_files import tron_bad_addresses

        tron_bad_addresses(store, "_cr_file_addrs", "_cr_file_badaddrs")
        desc = {**_DESC, **{c: "is not a TRON address (T... base58check, or 41/0x + 20 bytes hex)" for c in _ADDRESSES}}
    else:
        store.execute("""
            CREATE OR REPLACE TEMP TABLE _cr_file_badaddrs AS
            SELECT a, CASE WHEN regexp_full_match(a, '0x[0-9a-fA-F]{40}') THEN lower(a) END AS canonical
            FROM _cr_file_addrs WHERE a IS NULL OR NOT regexp_full_match(a, '0x[0-9a-f]{40}')
        """)
    (n,) = store.execute("SELECT count(*) FROM _cr_file_badaddrs").fetchone() or (0,)
    if n:
        store.execute(f"DROP TABLE {PARTIES}")  # some addresses change or are bad: not the batch's set
        fix = []
        why = []
        for col in _ADDRESSES:
            fix.append(f"{col} = coalesce((SELECT canonical FROM _cr_file_badaddrs b WHERE b.a = {STAGE}.{col}),"
                       f" {col})")
            why.append(
                f"WHEN {col} IS NULL OR trim({col}) = '' THEN 'missing {col}'"
                f" WHEN {col} IN (SELECT a FROM _cr_file_badaddrs WHERE canonical IS NULL)"
                f" THEN {_sql_str(col + ' ' + desc[col] + ': ')} || left({col}, 80)"
            )
        store.execute(f"""
            UPDATE {STAGE} SET reason = coalesce(reason, CASE {' '.join(why)} END), {', '.join(fix)}
            WHERE token_address IN (SELECT a FROM _cr_file_badaddrs) OR from_address IN (SELECT a FROM _cr_file_badaddrs)
               OR to_address IN (SELECT a FROM _cr_file_badaddrs) OR token_address IS NULL OR from_address IS NULL
               OR to_address IS NULL
        """)
        store.execute(f"""
            UPDATE {STAGE} SET row_text = json_object('tx_hash', tx_hash, 'from_address', from_address,
                'to_address', to_address, 'token_address', token_address, 'value', value)
            WHERE reason IS NOT NULL AND row_text IS NULL
        """)
    store.execute("DROP TABLE IF EXISTS _cr_file_addrs")
    store.execute("DROP TABLE IF EXISTS _cr_file_badaddrs")


def amount_to_value(store: Store) -> None:
    """value = amount * 10^decimals, exactly, in text; decimals from the registry, else from the file."""
    store.execute(f"""
        UPDATE {STAGE} SET
            value = CASE WHEN length(rtrim(split_part(amount, '.', 2), '0')) <= k.decimals
                         THEN coalesce(nullif(ltrim(split_part(amount, '.', 1)
                              || rpad(rtrim(split_part(amount, '.', 2), '0'), k.decimals, '0'), '0'), ''), '0') END,
            reason = CASE
                WHEN k.decimals IS NULL
                    THEN 'amount ' || amount || ' cannot be converted to base units: the decimals of token '
                         || k.contract || ' are unknown (give a token_decimals column, a raw value column, or '
                         || 'register the token with its decimals first)'
                WHEN {STAGE}.token_decimals IS NOT NULL AND {STAGE}.token_decimals <> k.decimals
                    THEN 'token_decimals ' || {STAGE}.token_decimals || ' disagree with the registry ('
                         || k.decimals || ' for ' || k.contract || ')'
                WHEN length(rtrim(split_part(amount, '.', 2), '0')) > k.decimals
                    THEN 'amount ' || amount || ' has more decimal places than the token''s ' || k.decimals END
        FROM {TOKENS} k
        WHERE k.contract = {STAGE}.token_address AND {STAGE}.reason IS NULL
    """)


def content_keys(store: Store) -> None:
    """A log index for sources that have none: negative, from (token, from, to, value, occurrence in tx).

    Rows identical in (tx, token, from, to, value) are interchangeable, so numbering them in any order gives
    the same set of keys: re-importing, or importing an overlapping export, adds nothing twice."""
    store.execute(f"""
        UPDATE {STAGE} SET log_index = k.key
        FROM (SELECT rowid AS rid,
                     -1 - CAST(md5_number(concat_ws('|', token_address, from_address, to_address, value,
                          row_number() OVER (PARTITION BY tx_hash, token_address, from_address, to_address, value)))
                          % 2147483647 AS INTEGER) AS key
              FROM {STAGE} WHERE reason IS NULL) k
        WHERE {STAGE}.rowid = k.rid
    """)


def account_lines(store: Store, src: sources.Source) -> int:
    """Check that every data line of a CSV file was read or rejected; returns how many were lost.

    The file's records are counted as DuckDB splits them (:mod:`.lines`). DuckDB rejects a line longer than its
    largest line size, but drops one longer than its read buffer (~32 MB) without recording it: such lines are
    found by their length and kept in ``LOST`` as bad rows. When the counts still disagree, the import fails
    (:class:`InputError`): a line that is neither read nor rejected is never lost in silence."""
    store.execute(f"CREATE OR REPLACE TEMP TABLE {LOST} (line BIGINT, reason VARCHAR, row_text VARCHAR)")
    store.execute(f"CREATE OR REPLACE TEMP TABLE {SKIPPED} (line BIGINT)")
    if src.kind != "csv" or not src.rejects:
        return 0
    counted = count_records(src.path, str(src.extra.get("delimiter", ",")))
    (read,) = store.execute(f"SELECT count(*) FROM {STAGE}").fetchone() or (0,)
    rejected = {int(r[0]) for r in store.execute(f"SELECT DISTINCT line FROM {src.rejects}").fetchall()}
    expected = counted.data_records
    got = int(read) + len(rejected)
    lost = [x for x in counted.long_lines if x[0] not in rejected and x[2] >= MAX_LINE - 2] if got < expected else []
    if got + len(lost) != expected:
        raise InputError(
            f"{src.path} has {expected:,} data lines but the CSV reader returned {read:,} rows and rejected "
            f"{len(rejected):,} lines, so {abs(expected - got):,} line(s) cannot be accounted for; nothing from this "
            "file was imported: check the file for unbalanced quotes or a different line end, or convert it "
            "to Parquet")
    if lost:
        store.executemany(
            f"INSERT INTO {LOST} VALUES (?, ?, ?)",
            [(line, f"the line is {size:,} bytes, longer than the {MAX_LINE:,} bytes the CSV reader accepts; "
                    "it was not read", record_head(src.path, offset)) for line, offset, size in lost])
    skipped = sorted({*rejected, *(x[0] for x in lost), *counted.blank_lines})
    if skipped:
        store.executemany(f"INSERT INTO {SKIPPED} VALUES (?)", [(x,) for x in skipped])
    return len(lost)


def structural_errors(store: Store, src: sources.Source) -> int:
    """Lines DuckDB's CSV reader could not split into the header's columns (kept aside in its rejects table),
    and lines it skipped without a record (:func:`account_lines`)."""
    if not src.rejects:
        return 0
    row = store.execute(f"SELECT (SELECT count(DISTINCT line) FROM {src.rejects}) + (SELECT count(*) FROM {LOST})"
                        ).fetchone()
    return int(row[0]) if row else 0


def collect_rejects(store: Store, src: sources.Source) -> None:
    if src.rejects:
        # rowid counts the rows DuckDB kept; lines without a row (rejected, lost, blank) are missing in between:
        # shift lines past them.
        store.execute(f"""
            CREATE OR REPLACE TEMP TABLE _cr_rej_lines AS
            SELECT line AS r, row_number() OVER (ORDER BY line) AS j FROM (SELECT DISTINCT line FROM {SKIPPED})
        """)
        line = (f"s.rowid + {src.first_line} + (SELECT count(*) FROM _cr_rej_lines x"
                " WHERE x.r - 1 - x.j < s.rowid + 1)")
        store.execute(f"""
            INSERT INTO {REJECTS}
            SELECT ?, line,
                   CASE WHEN any_value(error_type) = 'LINE SIZE OVER MAXIMUM'
                        THEN 'the line is longer than the {MAX_LINE:,} bytes the CSV reader accepts: '
                        ELSE 'cannot split into the header''s columns: ' END || any_value(error_message),
                   CASE WHEN any_value(error_type) = 'LINE SIZE OVER MAXIMUM' THEN left(any_value(csv_line), 200)
                        ELSE any_value(csv_line) END
            FROM {src.rejects} GROUP BY line
        """, [src.display])
        store.execute(f"INSERT INTO {REJECTS} SELECT ?, line, reason, row_text FROM {LOST}", [src.display])
    else:
        line = f"s.rowid + {src.first_line}"
    store.execute(
        f"INSERT INTO {REJECTS} SELECT ?, {line}, s.reason, s.row_text FROM {STAGE} s WHERE s.reason IS NOT NULL",
        [src.display],
    )


def resolve_tokens(store: Store, chain: str, register: bool) -> tuple[list[str], list[str]]:
    """Fill the token lookup for the staged rows. With ``register``, a token the registry does not know is
    registered with the decimals the file gives, or, when the file gives none (BigQuery, ethereum-etl), with
    unknown decimals (its transfers are stored as activity, never priced). Without ``register`` only tokens
    already in the registry are kept. Returns (contracts registered with decimals, contracts registered with
    unknown decimals)."""
    unknown = store.execute(
        f"""SELECT s.token_address, min(s.token_symbol), min(s.token_decimals)
            FROM {STAGE} s
            WHERE s.reason IS NULL
              AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.chain = ? AND t.contract = s.token_address)
            GROUP BY 1 ORDER BY 1""",
        [chain],
    ).fetchall()
    added: list[str] = []
    undecided: list[str] = []
    # a token registered earlier with unknown decimals gets them from a file that gives them
    for contract, symbol, decimals in store.execute(
        f"""SELECT s.token_address, min(s.token_symbol), min(s.token_decimals)
            FROM {STAGE} s JOIN tokens t ON t.chain = ? AND t.contract = s.token_address
            WHERE s.reason IS NULL AND t.decimals IS NULL AND s.token_decimals IS NOT NULL
            GROUP BY 1 ORDER BY 1""",
        [chain],
    ).fetchall():
        store.ensure_token(chain, contract, symbol, int(decimals))
    if register:
        for contract, symbol, decimals in unknown:
            if decimals is not None:
                store.ensure_token(chain, contract, symbol, int(decimals))
                added.append(contract)
        rest = [(c, sym) for c, sym, d in unknown if d is None]
        if rest:
            store.execute("CREATE OR REPLACE TEMP TABLE _cr_new_tokens (contract VARCHAR, symbol VARCHAR)")
            store.executemany("INSERT INTO _cr_new_tokens VALUES (?, ?)", rest)
            undecided = store.register_unknown_tokens(chain, "_cr_new_tokens")
            store.execute("DROP TABLE _cr_new_tokens")
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE {TOKENS} AS SELECT id, contract, decimals FROM tokens WHERE chain = ?",
        [chain],
    )
    return added, undecided


def left_out_by_token(store: Store) -> dict[str, int]:
    """Good staged rows whose token is not in the registry (only with ``--registered-only``), by token."""
    rows = store.execute(
        f"SELECT s.token_address, count(*) FROM {STAGE} s"
        f" WHERE s.reason IS NULL AND NOT EXISTS (SELECT 1 FROM {TOKENS} k WHERE k.contract = s.token_address)"
        " GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    return {str(c): int(n) for c, n in rows}


def ready_view(store: Store, chain: str, fmt: str) -> None:
    store.execute(f"""
        CREATE OR REPLACE TEMP VIEW {READY} AS
        SELECT {_sql_str(chain)} AS chain, s.tx_hash, s.log_index, s.block_number, s.block_time,
               k.id AS token_id, s.from_address, s.to_address, TRY_CAST(s.value AS HUGEINT) AS value,
               s.value AS value_raw, {_sql_str('file:' + fmt)} AS source
        FROM {STAGE} s JOIN {TOKENS} k ON k.contract = s.token_address
        WHERE s.reason IS NULL
    """)


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
