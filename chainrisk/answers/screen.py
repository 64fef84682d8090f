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

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..address import try_parse
from ..errors import UsageError
from ..store import Provenance, Store, read_arrow, resolve_run
from ..taxonomy import BANDS
from ..version import __version__
from .bank_file import ERROR_TABLE, SOURCE_TABLE, InputInfo, load, quote_ident, sha256_file
from .lookup import ACTIONS, has_column
from .redact import READ_PROVENANCE, ROLES, read_reason_sql

log = logging.getLogger(__name__)

RESULT_COLUMNS = (
    "input_row", "status", "address_normalized", "chain", "risk_score", "risk_band", "top_category", "categories",
    "min_hops", "direct_usd", "indirect_usd", "reason", "run_id", "duplicate_of_row",
    # the two verdicts and the action (issue 11), after the older columns so that readers by position keep working
    "illicit_score", "illicit_band", "vc_business_score", "vc_business_band", "action",
    # the behaviour part (issue 12): the model's score, whether it behaves like the illicit addresses the model
    # learned from (score >= 5, the model's base rate) or an ordinary one, and the features that weigh most
    "behaviour_score", "behaves_like", "behaviour_features",
    # one address, many chains (issue 15): the chains where the address has activity, ';'-separated; ``chain``
    # is ``evm`` when there are several (the row then carries the combined verdict: the worst per verdict)
    "chains",
)
SINCE_COLUMNS = ("previous_risk_band", "previous_risk_score", "previous_run_id")
FORMATS = ("csv", "jsonl", "json", "parquet", "xlsx")
XLSX_MAX_ROWS = 1_048_575          # an Excel sheet holds 1,048,576 rows, one of them the header
BOM = b"\xef\xbb\xbf"

_NORM = "__chainrisk_screen_norm"
_FIX = "__chainrisk_screen_fix"
_OUT = "__chainrisk_screen_out"
_RES = "__chainrisk_screen_res"
_GOOD = "__chainrisk_screen_good"
_CK = "__chainrisk_screen_chains"
_CKMAP = "__chainrisk_screen_chainmap"
ANY_EVM = "*evm"   # the chain wanted for an EVM address without a chain cell: every EVM chain


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
            p = "'" + str(self.output).replace("'", "''") + "'"
            reader = {"parquet": f"read_parquet({p})", "csv": f"read_csv({p}, all_varchar = true)",
                      "jsonl": f"read_json({p}, format = 'newline_delimited')",
                      "json": f"read_json({p}, format = 'array')"}[self.format or "csv"]
            self._table = read_arrow(f"SELECT * FROM {reader}")
        return self._table

    def df(self) -> Any:
        """The output rows as a pandas DataFrame."""
        return self.arrow().to_pandas()

    def hits(self, band: str) -> int:
        """Rows (with status ok) at or above ``band``."""
        by_band = self.report["counts"]["band"]
        return int(sum(n for b, n in by_band.items() if band_rank(b) >= band_rank(band)))


def _chain_key(chain_column: str | None) -> str:
    """The SQL of a source row's chain cell as a join key (lower-case, trimmed; '' when empty or no column: a
    plain equality key, so every join on it is a hash join)."""
    if chain_column is None:
        return "''"
    return f"coalesce(lower(trim(CAST(src.{quote_ident(chain_column)} AS VARCHAR))), '')"


def _chain_table(store: Store, chain_column: str | None) -> None:
    """Table _CK: each distinct (address cell, chain cell) pair with the chain it asks for (``want``: a chain,
    :data:`ANY_EVM`, or NULL = the address's own chain) or why the chain cell is unusable (``chain_reason``)."""
    import pyarrow as pa

    from ..labels.chains import EVM_LABEL_CHAINS, canonical_chain

    col = quote_ident(chain_column) if chain_column else None
    keys = _chain_key(chain_column)
    store.execute(f"DROP TABLE IF EXISTS {_CK}")
    distinct_cells = ([r[0] for r in store.execute(f"SELECT DISTINCT {keys} FROM {SOURCE_TABLE} src").fetchall()]
                      if col else [""])
    cells: list[str | None] = []
    wants: list[str | None] = []
    reasons: list[str | None] = []
    for cell in distinct_cells:
        cells.append(cell or "")
        if not cell:
            wants.append(None)
            reasons.append(None)
            continue
        try:
            c = canonical_chain(cell)
        except UsageError:
            wants.append(None)
            reasons.append(f"unknown chain {cell!r}")
            continue
        if c != "tron" and c not in EVM_LABEL_CHAINS:
            wants.append(None)
            reasons.append(f"unknown chain {cell!r}")
        else:
            wants.append(c)
            reasons.append(None)
    table = pa.table({"chain_key": pa.array(cells, pa.string()), "want": pa.array(wants, pa.string()),
                      "chain_reason": pa.array(reasons, pa.string())})
    with store.registered(**{_CKMAP: table}):
        store.execute(
            f"CREATE TEMP TABLE {_CK} AS SELECT m.chain_key, m.want, m.chain_reason FROM {_CKMAP} m")


def _normalise(store: Store, address_column: str, run: Provenance, since: Provenance | None,
               chain_column: str | None = None) -> dict[str, int]:
    """Distinct input values -> their address, chain, score and first input row, in table _RES.

    SQL classifies every distinct value: lower- or upper-case ``0x`` hex is final there; only distinct mixed-case
    hex (EIP-55, checked in bulk) and everything else (TRON base58, malformed: :func:`try_parse`) go to Python.
    An EVM address is one key on every EVM chain: without a chain cell it is matched on each chain where the store
    has it and its row gets the combined verdict (the worst per verdict; the profile's action for those bands);
    a chain cell (``chain_column``) narrows it to that chain."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pc_invert = pc.invert
    col = quote_ident(address_column)
    store.execute(f"DROP TABLE IF EXISTS {_NORM}")
    # raw_key: the join key of a raw cell (NULL -> a sentinel so that empty cells join too)
    store.execute(
        f"""
        CREATE TEMP TABLE {_NORM} AS
        SELECT raw_key, first_raw,
               CASE WHEN kind = 0 THEN 'ethereum' END AS chain,
               CASE WHEN kind = 0 THEN lower(t) END AS address,
               CASE WHEN kind = -1 THEN 'empty address' END AS reason, kind,
               CASE WHEN kind = 1 THEN substr(t, 3) END AS body
        FROM (SELECT raw_key, first_raw, t,
                     CASE WHEN t = '' THEN -1
                          WHEN regexp_full_match(t, '0[xX](?:[0-9a-f]{{40}}|[0-9A-F]{{40}})') THEN 0
                          WHEN regexp_full_match(t, '0[xX][0-9a-fA-F]{{40}}') THEN 1
                          ELSE 2 END AS kind
              FROM (SELECT raw_key, first_raw, CASE WHEN raw_key = chr(0) THEN '' ELSE trim(raw_key) END AS t
                    FROM (SELECT coalesce({col}, chr(0)) AS raw_key, min(rowid) AS first_raw
                          FROM {SOURCE_TABLE} WHERE rowid NOT IN (SELECT row FROM {ERROR_TABLE})
                          GROUP BY ALL)))
        """
    )
    mixed = store.sql(f"SELECT raw_key, first_raw, body FROM {_NORM} WHERE kind = 1").to_arrow_table()
    other = store.sql(f"SELECT raw_key, first_raw FROM {_NORM} WHERE kind = 2").to_arrow_table()
    ok = pa.array(_eip55_valid(mixed.column(2).to_pylist()), pa.bool_())
    # valid mixed-case values keep their body (SQL lower-cases it); the rest is parsed one by one
    good = mixed.filter(ok).select(["raw_key", "first_raw", "body"])
    bad = mixed.filter(pc_invert(ok))
    keys: list[str] = []
    firsts: list[int] = []
    chains: list[str | None] = []
    addrs: list[str | None] = []
    reasons: list[str | None] = []
    # TRON base58 values are checked column-wise (numpy + hashlib; try_parse takes ~10 us each): a bank file of
    # TRON customers has hundreds of thousands of them
    from ..ingest.tron_b58 import b58_valid

    ov = other.column(0).to_pylist()
    stripped = [v.strip() for v in ov]
    is_t = b58_valid([v if v[:1] == "T" else "" for v in stripped])
    if is_t.any():
        keys += [v for v, ok in zip(ov, is_t, strict=True) if ok]
        firsts += [f for f, ok in zip(other.column(1).to_pylist(), is_t, strict=True) if ok]
        addrs += [v for v, ok in zip(stripped, is_t, strict=True) if ok]
        chains += ["tron"] * len(addrs)
        reasons += [None] * len(addrs)
        other = other.filter(pa.array(~is_t))
    for tbl in (bad, other):
        for v, first in zip(tbl.column(0).to_pylist(), tbl.column(1).to_pylist(), strict=True):
            p = try_parse(v)
            keys.append(v)
            firsts.append(first)
            if isinstance(p, Exception):
                chains.append(None)
                addrs.append(None)
                reasons.append(p.reason)
            else:
                chains.append(p.chain)
                addrs.append(p.address)
                reasons.append(None)
    fix = pa.table({"raw_key": pa.array(keys, pa.string()), "first_raw": pa.array(firsts, pa.int64()),
                    "chain": pa.array(chains, pa.string()), "address": pa.array(addrs, pa.string()),
                    "reason": pa.array(reasons, pa.string())})
    n_python = len(keys) + good.num_rows
    params: dict[str, Any] = {"run": run.run_id, "evm": sorted(_evm_chains()), "order": _chain_rank(),
                              "chain_sets": _chain_sets(_chain_rank())}
    since_sel = since_join = since_agg = ""
    if since:
        params["since"] = since.run_id
        since_sel = ", p.band AS prev_band, p.score AS prev_score"
        since_join = "LEFT JOIN scores p ON p.address_id = a.id AND p.run_id = $since"
        since_agg = (f", arg_max(h.prev_band, {_wkey('h.prev_score')}) AS prev_band,"
                     " max(h.prev_score) AS prev_score")
    cols = ("illicit_score", "illicit_band", "vc_score", "vc_band", "action", "behaviour_score", "behaviour_features")
    verdict = ", ".join(f"s.{c}" if has_column(store, "scores", c) else f"NULL AS {c}" for c in cols)
    action = _action_sql(run)
    _chain_table(store, chain_column)
    # (address cell, chain cell) pairs with their first input row (a pair is what duplicates are counted on)
    pairs = (f"SELECT coalesce({quote_ident(address_column)}, chr(0)) AS raw_key, {_chain_key(chain_column)}"
             f" AS chain_key, min(rowid) AS first_raw FROM {SOURCE_TABLE} src"
             f" WHERE rowid NOT IN (SELECT row FROM {ERROR_TABLE}) GROUP BY ALL"
             if chain_column else f"SELECT raw_key, '' AS chain_key, first_raw FROM {_NORM}")
    with store.registered(**{_FIX: fix, _GOOD: good}):
        store.execute(f"DROP TABLE IF EXISTS {_RES}")
        # first_row: the first input row of the normalised address (different spellings of one address are
        # duplicates too); grouped only where an address has several spellings, to keep it a small join.
        # hit: one row per chain where the store has the address; agg: the worst per verdict over them.
        store.execute(
            f"""
            CREATE TEMP TABLE {_RES} AS
            WITH n AS (
                SELECT raw_key, first_raw, chain, address, reason FROM {_NORM} WHERE kind <= 0
                UNION ALL
                SELECT raw_key, first_raw, chain, address, reason FROM {_FIX}
                UNION ALL
                SELECT raw_key, first_raw, 'ethereum', '0x' || lower(body), NULL FROM {_GOOD}),
            q0 AS (
                SELECT n.raw_key, pr.chain_key, pr.first_raw, n.chain AS parsed_chain,
                       CASE WHEN ck.chain_reason IS NULL AND NOT ({_mismatch("ck.want", "n.chain")})
                            THEN n.address END AS address,
                       CASE WHEN n.address IS NULL THEN n.reason
                            WHEN ck.chain_reason IS NOT NULL THEN ck.chain_reason
                            WHEN {_mismatch("ck.want", "n.chain")}
                            THEN CASE WHEN n.chain = 'tron' THEN 'a tron' ELSE 'an EVM (0x)' END
                                 || ' address cannot be on chain ' || ck.want END AS reason,
                       CASE WHEN ck.want IS NOT NULL THEN ck.want WHEN n.chain = 'tron' THEN 'tron'
                            ELSE '{ANY_EVM}' END AS want
                FROM ({pairs}) pr
                JOIN n ON n.raw_key = pr.raw_key
                LEFT JOIN {_CK} ck ON ck.chain_key = pr.chain_key),
            spellings AS (
                SELECT want, address, min(first_raw) AS first_row FROM q0 WHERE address IS NOT NULL
                GROUP BY ALL HAVING count(*) > 1),
            q AS (
                SELECT q0.*, coalesce(g.first_row, q0.first_raw) AS first_row, row_number() OVER () AS qid
                FROM q0 LEFT JOIN spellings g ON g.want = q0.want AND g.address = q0.address),
            hit AS (
                SELECT q.qid, a.chain AS hit_chain, a.id AS address_id, list_position($order, a.chain) AS pos,
                       s.score, s.band, s.top_category, s.categories, s.min_hops, s.direct_usd, s.indirect_usd,
                       s.reason AS score_reason, {verdict} {since_sel}
                FROM q JOIN addresses a ON a.address = q.address
                LEFT JOIN scores s ON s.address_id = a.id AND s.run_id = $run
                {since_join}
                WHERE a.chain = q.want OR (q.want = '{ANY_EVM}' AND list_contains($evm, a.chain))),
            cnt AS (SELECT qid, count(*) AS n FROM hit GROUP BY qid),
            -- an address on one chain (the common case) needs no aggregation: its row is the answer
            one AS (
                SELECT h.qid, 1 AS n_chains, CAST(0 AS UBIGINT) AS mask, h.hit_chain AS one_chain, h.address_id,
                       h.score, h.hit_chain AS worst_chain, h.band, h.top_category, h.categories AS worst_categories,
                       CAST(NULL AS VARCHAR) AS all_categories, true AS same_categories, h.min_hops, h.direct_usd, h.indirect_usd,
                       h.score_reason, h.illicit_score, h.illicit_band, h.vc_score, h.vc_band,
                       list_position({_ACTIONS_LIST}, h.action) AS action_rank, h.behaviour_score,
                       h.behaviour_features {", h.prev_band, h.prev_score" if since else ""}
                FROM hit h JOIN cnt c ON c.qid = h.qid WHERE c.n = 1),
            -- an address on several chains: the worst per verdict (score, then registry order: deterministic);
            -- plain (unordered) aggregates only, an ordered one would sort every group
            many AS (
                SELECT h.qid, count(*) AS n_chains, bit_or(CAST(1 AS UBIGINT) << h.pos) AS mask,
                       min(h.hit_chain) AS one_chain, min(h.address_id) AS address_id, max(h.score) AS score,
                       arg_max({{'c': h.hit_chain, 'b': h.band, 't': h.top_category, 'k': h.categories,
                                 'r': h.score_reason}}, {_wkey("h.score")}) AS w,
                       string_agg(h.categories, ';') AS all_categories,
                       count(h.categories) = count(*) AND min(h.categories) = max(h.categories) AS same_categories,
                       min(h.min_hops) AS min_hops, sum(h.direct_usd) AS direct_usd, sum(h.indirect_usd) AS indirect_usd,
                       max(h.illicit_score) AS illicit_score,
                       arg_max(h.illicit_band, {_wkey("h.illicit_score")}) AS illicit_band,
                       max(h.vc_score) AS vc_score, arg_max(h.vc_band, {_wkey("h.vc_score")}) AS vc_band,
                       max(list_position({_ACTIONS_LIST}, h.action)) AS action_rank,
                       max(h.behaviour_score) AS behaviour_score,
                       arg_max(h.behaviour_features, {_wkey("h.behaviour_score")}) AS behaviour_features
                       {since_agg}
                FROM hit h JOIN cnt c ON c.qid = h.qid WHERE c.n > 1 GROUP BY h.qid),
            agg AS (SELECT * FROM one UNION ALL BY NAME
                    SELECT * EXCLUDE (w), w.c AS worst_chain, w.b AS band, w.t AS top_category,
                           w.k AS worst_categories, w.r AS score_reason FROM many)
            SELECT q.raw_key, q.chain_key,
                   CASE WHEN q.address IS NULL THEN NULL WHEN g.n_chains > 1 THEN 'evm'
                        WHEN g.n_chains = 1 THEN g.one_chain
                        WHEN q.want = '{ANY_EVM}' THEN q.parsed_chain ELSE q.want END AS chain,
                   q.address, q.reason AS invalid_reason, g.address_id, g.n_chains,
                   CASE WHEN g.n_chains = 1 THEN g.one_chain
                        WHEN g.n_chains > 1 THEN $chain_sets[CAST(coalesce(g.mask, 0) AS BIGINT) + 1] END AS chains,
                   g.worst_chain, g.score, g.band, g.top_category,
                   -- the worst chain's categories in its order, then the other chains' ones alphabetically (when
                   -- every chain has the same categories, written without empty items, that is the worst's own)
                   nullif(CASE WHEN g.n_chains > 1 AND NOT (g.same_categories
                                   AND g.worst_categories NOT LIKE '%;;%' AND NOT starts_with(g.worst_categories, ';')
                                   AND NOT ends_with(g.worst_categories, ';')) THEN array_to_string(list_concat(
                       list_filter(string_split(coalesce(g.worst_categories, ''), ';'), lambda x: x <> ''),
                       list_sort(list_filter(list_distinct(string_split(coalesce(g.all_categories, ''), ';')),
                                             lambda x: x <> '' AND NOT list_contains(
                                                 string_split(coalesce(g.worst_categories, ''), ';'), x)))), ';')
                       ELSE g.worst_categories END, '') AS categories, g.min_hops,
                   g.direct_usd, g.indirect_usd, g.score_reason, q.first_row,
                   g.illicit_score, g.illicit_band, g.vc_score, g.vc_band,
                   CASE WHEN g.n_chains > 1 THEN {action} ELSE {_ACTIONS_LIST}[g.action_rank] END AS action,
                   g.behaviour_score, g.behaviour_features {", g.prev_band, g.prev_score" if since else ""}
            FROM q LEFT JOIN agg g ON g.qid = q.qid
            """, params,
        )
    return {"distinct_values": _scalar(store, f"SELECT count(*) FROM {_NORM}"), "checked_in_python": n_python,
            "eip55_checked": mixed.num_rows}


_ACTIONS_LIST = "[" + ", ".join(f"'{a}'" for a in ACTIONS) + "]"


def _wkey(score: str) -> str:
    """SQL: the order of a chain's row by ``score``, ties to the registry's earlier chain (``h.pos``)."""
    return f"round({score}, 4) * 100000 - h.pos"


def _evm_chains() -> frozenset[str]:
    from ..labels.chains import EVM_LABEL_CHAINS

    return EVM_LABEL_CHAINS


def _chain_rank() -> list[str]:
    from ..chains import CHAINS

    return list(CHAINS)


def _chain_sets(order: list[str]) -> list[str]:
    """The ``chains`` cell of each mask of chain positions (bit ``i`` set: the chain at 1-based position ``i`` of
    ``order``), indexed by mask + 1: a list lookup per row instead of a list filter."""
    return [";".join(c for i, c in enumerate(order, start=1) if (m >> i) & 1) for m in range(1 << (len(order) + 1))]


def _mismatch(want: str, parsed: str) -> str:
    """SQL: the chain cell names a chain the address cannot be on (a TRON address on an EVM chain, or back)."""
    return f"coalesce(({want} = 'tron') <> ({parsed} = 'tron'), false)"


def _action_sql(run: Provenance) -> str:
    """SQL of the action that follows from the combined bands (``g.illicit_band``, ``g.vc_band``) by the run's
    profile (:meth:`chainrisk.profiles.Action.decide`); the worst chain's action when the run lacks the
    thresholds."""
    from ..profiles import NEVER, Action

    settings = (run.profile_settings or {}).get("action")
    worst = f"{_ACTIONS_LIST}[g.action_rank]"
    if not isinstance(settings, dict):
        return worst
    try:
        act = Action(**settings)
    except TypeError:
        return worst

    def at(col: str, threshold: str) -> str:
        if threshold == NEVER or threshold not in BANDS:
            return "false"
        return f"coalesce(list_position({list(BANDS)!r}, {col}) >= {BANDS.index(threshold) + 1}, false)"

    report, sever = at("g.illicit_band", act.report_illicit_at), at("g.vc_band", act.sever_vc_at)
    review = f"({at('g.illicit_band', act.review_illicit_at)} OR {at('g.vc_band', act.review_vc_at)})"
    return (f"CASE WHEN g.action_rank IS NULL THEN NULL WHEN {report} AND {sever} THEN 'sever_and_report'"
            f" WHEN {report} THEN 'report' WHEN {sever} THEN 'sever' WHEN {review} THEN 'review' ELSE 'none' END")


def _eip55_valid(bodies: list[str]) -> list[bool]:
    """Whether each mixed-case 40-digit hex body carries a valid EIP-55 checksum, checked in bulk with numpy."""
    if not bodies:
        return []
    import numpy as np

    joined = "".join(bodies).encode("ascii")
    raw = np.frombuffer(joined, dtype=np.uint8).reshape(-1, 40)
    digests = np.frombuffer(_keccak_many(joined.lower(), 40), dtype=np.uint8).reshape(-1, 32)[:, :20]
    # nibble i of the hash is >= 8 <=> letter i must be upper case
    high = np.empty((len(bodies), 40), dtype=bool)
    high[:, 0::2] = (digests & 0x80) != 0
    high[:, 1::2] = (digests & 0x08) != 0
    letter = raw > 0x39
    upper = (raw & 0x20) == 0
    return (~np.any(letter & (upper != high), axis=1)).tolist()


def _keccak_many(data: bytes, width: int) -> bytes:
    """Keccak-256 of each ``width``-byte slice of ``data``, concatenated (32 bytes each). Drives pycryptodome's C
    keccak directly over one buffer (3x faster than a hash object per item); falls back to eth_hash."""
    n = len(data) // width
    try:
        import ctypes

        from Crypto.Hash.keccak import _raw_keccak_lib as lib  # type: ignore[attr-defined]
        from Crypto.Util._raw_api import VoidPointer, c_size_t, c_ubyte  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - another keccak backend
        from eth_hash.auto import keccak

        return b"".join(keccak(data[i * width:(i + 1) * width]) for i in range(n))
    state = VoidPointer()
    if lib.keccak_init(state.address_of(), c_size_t(64), c_ubyte(24)):
        raise RuntimeError("keccak_init failed")
    st = state.get()
    inbuf = ctypes.create_string_buffer(data, len(data))
    outbuf = ctypes.create_string_buffer(32 * n)
    base, obase = ctypes.addressof(inbuf), ctypes.addressof(outbuf)
    absorb, digest, reset, vp = lib.keccak_absorb, lib.keccak_digest, lib.keccak_reset, ctypes.c_void_p
    nw, n32, pad = c_size_t(width), c_size_t(32), c_ubyte(1)
    try:
        for i in range(n):
            reset(st)
            absorb(st, vp(base + width * i), nw)
            digest(st, vp(obase + 32 * i), n32, pad)
    finally:
        lib.keccak_destroy(st)
    return outbuf.raw


def _scalar(store: Store, q: str, params: list[Any] | None = None) -> int:
    rows = store.execute(q, params or []).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _build_output(store: Store, info: InputInfo, run: Provenance, since: Provenance | None, role: str,
                  chain_column: str | None = None) -> None:
    """The narrow per-row result table _OUT, one row per input row in input order (``__row``). A row the reader
    could not parse (ERROR_TABLE) is ``invalid`` with the reader's reason, whatever its address cell holds. For a
    read role the reason of a scored row is built from its categories only (:mod:`.redact`), never the engine's."""
    col = quote_ident(info.address_column)
    params: dict[str, Any] = {"run": run.run_id}
    since_sel = ""
    if since:
        params["since"] = since.run_id
        since_sel = (", r.prev_band AS previous_risk_band, round(r.prev_score, 2) AS previous_risk_score,"
                     " CAST($since AS VARCHAR) AS previous_run_id,"
                     " r.address IS NOT NULL AND r.band IS DISTINCT FROM r.prev_band AS __changed")
    scored_reason = "r.score_reason" if role == "admin" else read_reason_sql("r.top_category", "r.min_hops")
    # a row combined over several chains says which chain gave its verdict
    scored_reason = (f"CASE WHEN r.n_chains > 1 THEN 'worst on ' || r.worst_chain || ': ' ELSE '' END"
                     f" || ({scored_reason})")
    store.execute(f"DROP TABLE IF EXISTS {_OUT}")
    store.execute(
        f"""
        CREATE TEMP TABLE {_OUT} AS
        SELECT src.rowid AS __row, src.rowid + 1 AS input_row,
               CASE WHEN r.address IS NULL THEN 'invalid' WHEN r.score IS NULL THEN 'unknown' ELSE 'ok' END AS status,
               r.address AS address_normalized, r.chain,
               round(r.score, 2) AS risk_score, r.band AS risk_band, r.top_category, r.categories,
               r.min_hops, round(r.direct_usd, 2) AS direct_usd, round(r.indirect_usd, 2) AS indirect_usd,
               CASE WHEN e.reason IS NOT NULL THEN e.reason
                    WHEN r.address IS NULL THEN r.invalid_reason
                    WHEN r.address_id IS NULL THEN 'no activity of this address is in the store'
                         || CASE WHEN r.chain NOT IN ('ethereum', 'tron') THEN ' on ' || r.chain ELSE '' END
                    WHEN r.score IS NULL THEN 'not in this scoring run (its data arrived later)'
                    ELSE {scored_reason} END AS reason,
               CAST($run AS VARCHAR) AS run_id,
               CASE WHEN r.first_row <> src.rowid THEN r.first_row + 1 END AS duplicate_of_row,
               round(r.illicit_score, 2) AS illicit_score, r.illicit_band,
               round(r.vc_score, 2) AS vc_business_score, r.vc_band AS vc_business_band, r.action,
               round(r.behaviour_score, 2) AS behaviour_score,
               CASE WHEN r.behaviour_score IS NULL THEN NULL WHEN r.behaviour_score >= 5 THEN 'illicit'
                    ELSE 'ordinary' END AS behaves_like,
               array_to_string(r.behaviour_features, ';') AS behaviour_features,
               r.chains
               {since_sel}
        FROM {SOURCE_TABLE} src
        LEFT JOIN {ERROR_TABLE} e ON e.row = src.rowid
        LEFT JOIN {_RES} r ON e.row IS NULL AND r.raw_key = coalesce(src.{col}, chr(0))
                          AND r.chain_key = {_chain_key(chain_column)}
        ORDER BY src.rowid
        """,
        params,
    )


def _output_select(info: InputInfo, since: bool) -> tuple[str, list[str]]:
    """SELECT of the output rows in input order: the bank's columns (``input_<name>`` when a name clashes with a
    result column) beside the result columns, by a positional join (no wide sort)."""
    result_cols = list(RESULT_COLUMNS) + (list(SINCE_COLUMNS) if since else [])
    taken = set(result_cols)
    pairs = []
    for c in info.columns:
        name = c
        while name in taken:
            name = "input_" + name
        taken.add(name)
        pairs.append((c, name))
    sel = ", ".join([f"src.{quote_ident(c)} AS {quote_ident(n)}" for c, n in pairs]
                    + [f"o.{quote_ident(c)}" for c in result_cols])
    where = "WHERE o.__changed" if since else ""
    return f"SELECT {sel} FROM {SOURCE_TABLE} src POSITIONAL JOIN {_OUT} o {where}", [n for _, n in pairs] + result_cols


def _write(store: Store, output: Path, fmt: str, select: str, *, excel: bool = False) -> Any:
    """COPY the result (input order) to ``output`` atomically (a temp file renamed into place). ``excel`` puts a
    UTF-8 byte-order mark before CSV, so that Excel on Windows reads Chinese names as they are (without it, it
    guesses the ANSI code page and shows mojibake). XLSX is written by openpyxl; returns its rows as Arrow."""
    if fmt == "xlsx":
        return _write_xlsx(store, output, select)
    opts = {"csv": "FORMAT csv, HEADER true", "parquet": "FORMAT parquet, COMPRESSION zstd",
            "jsonl": "FORMAT json", "json": "FORMAT json, ARRAY true"}[fmt]
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    lit = "'" + str(tmp).replace("'", "''") + "'"
    try:
        store.execute(f"COPY ({select}) TO {lit} ({opts})")
        if excel and fmt == "csv":
            marked = tmp.with_name(tmp.name + ".bom")
            with tmp.open("rb") as src, marked.open("wb") as dst:
                dst.write(BOM)
                shutil.copyfileobj(src, dst, 1 << 20)
            os.replace(marked, tmp)
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()
    return None


def _write_xlsx(store: Store, output: Path, select: str) -> Any:
    """The rows as a real Excel workbook (one sheet ``screened``, a bold frozen header, text cells for addresses
    and references, numbers as numbers), written in openpyxl's streaming mode."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    table = store.sql(select).to_arrow_table()
    if table.num_rows > XLSX_MAX_ROWS:
        raise UsageError(f"{table.num_rows:,} rows do not fit in one Excel sheet (at most {XLSX_MAX_ROWS:,}); "
                         "write .csv (with --excel for Excel) or .parquet instead")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("screened")
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for name in table.column_names:
        c = WriteOnlyCell(ws, value=name)
        c.font = bold
        header.append(c)
    ws.append(header)
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    for row in zip(*cols, strict=True):
        ws.append([_xlsx_cell(ws, v) for v in row])
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        wb.save(tmp)
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()
    return table


_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_cell(ws: Any, v: Any) -> Any:
    """A value as an Excel cell: text without the control characters XML forbids, and a text starting with '='
    stored as text (never as a formula Excel would run: a bank file must not execute what a customer typed)."""
    if isinstance(v, str):
        v = _XLSX_ILLEGAL.sub("\ufffd", v)
        if v.startswith("="):
            from openpyxl.cell import WriteOnlyCell

            cell = WriteOnlyCell(ws, value=v)
            cell.data_type = "s"
            return cell
    return v


def default_report_path(output: Path) -> Path:
    """``screened.csv`` -> ``screened.report.json`` (beside the output)."""
    return output.with_name(output.stem + ".report.json")


def screen(
    store: Store, input: Any, *, address_column: str = "address", run_id: str | None = None,
    output: str | os.PathLike[str] | None = None, format: str | None = None, since: str | None = None,
    fail_on: str | None = None, report_path: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None, role: str = "admin", excel: bool = False,
    chain_column: str | None = None,
) -> ScreenResult:
    """Screen ``input`` (a CSV/XLSX/JSONL/list file path, or addresses / dicts / DataFrame / Arrow table in memory)
    against ``run_id`` (default: the latest complete run).

    With ``output``, writes the rows there (``format`` from the suffix unless given: csv, jsonl, json, parquet) and
    the audit report beside it (``report_path``, default ``<output stem>.report.json``). ``.xlsx`` writes a real
    Excel workbook; ``excel=True`` puts a UTF-8 byte-order mark before CSV so Excel shows Chinese text as it is. Without ``output``, the
    rows are kept in memory (:meth:`ScreenResult.arrow` / :meth:`ScreenResult.df`). ``since`` keeps only rows whose
    band changed since that earlier run. ``fail_on`` is recorded in the report with the number of hits.
    ``role="read"`` gives the read view (no tipping-off): reasons built from categories only, and a report whose
    run provenance omits the label-source inventory (:mod:`chainrisk.answers.redact`).

    An EVM address is one key on every EVM chain: without a chain it is screened on each chain where the store has
    activity of it, and its row gets the combined verdict (the worst per verdict, the action that follows; chain
    ``evm`` when several) and the ``chains`` column. ``chain_column`` names a column giving each row's chain
    (``bsc``, ``bnb``, ``polygon``, ...; an empty cell: every chain); by default a column named ``chain`` is used
    when the input has one.
    """
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    t0 = time.perf_counter()
    started = datetime.now(UTC)
    say = progress or (lambda _msg: None)
    if fail_on is not None:
        band_rank(fail_on)
    out_path = Path(output) if output is not None else None
    if out_path is not None and format is None and out_path.suffix.lower() in (".xls", ".xlsm", ".xlsb"):
        raise UsageError(f"cannot write {out_path.suffix} files; name the output .xlsx (an Excel workbook), or .csv "
                         "with excel=True (--excel)")
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
        chain_col = _find_chain_column(info, chain_column)
        t = time.perf_counter()
        say(f"normalising {info.rows:,} addresses")
        norm = _normalise(store, info.address_column, run, since_run, chain_col)
        timings["normalise_s"] = time.perf_counter() - t
        t = time.perf_counter()
        say("joining with the scoring run")
        _build_output(store, info, run, since_run, role, chain_col)
        timings["score_s"] = time.perf_counter() - t
        counts = _counts(store, info, since_run is not None)
        select, _columns = _output_select(info, since_run is not None)
        t = time.perf_counter()
        table = None
        if out_path is not None:
            say(f"writing {out_path}")
            table = _write(store, out_path, fmt, select, excel=excel)
        else:
            table = store.sql(select).to_arrow_table()
        timings["write_s"] = time.perf_counter() - t
    finally:
        for tbl in (_OUT, _RES, _NORM, _CK, SOURCE_TABLE, ERROR_TABLE):
            store.execute(f"DROP TABLE IF EXISTS {tbl}")
    timings["total_s"] = time.perf_counter() - t0
    report: dict[str, Any] = {
        "chainrisk_version": __version__,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "input": {"path": info.path, "format": info.format, "reader": info.reader, "sha256": info.sha256,
                  "bytes": info.bytes, "rows": info.rows, "columns": info.columns,
                  "address_column": info.address_column, "chain_column": chain_col, "lines": info.lines,
                  "unparseable_rows": info.unparseable,
                  "decoding": info.decoding},
        "output": None,
        "run": run.to_dict() if role == "admin" else {k: run.to_dict()[k] for k in READ_PROVENANCE},
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
                            "sha256": sha256_file(out_path), "excel_bom": bool(excel and fmt == "csv")}
        rp = Path(report_path) if report_path is not None else default_report_path(out_path)
        tmp = rp.with_name(f".{rp.name}.tmp")
        tmp.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, rp)
        report["report_path"] = str(rp)
    elif report_path is not None:
        Path(report_path).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        report["report_path"] = str(report_path)
    return res



def _find_chain_column(info: InputInfo, chain_column: str | None) -> str | None:
    """The input's chain column: ``chain_column`` (an error naming the columns when absent), else a column named
    ``chain`` (any case) when there is one, else None."""
    if chain_column is not None:
        if chain_column in info.columns:
            return chain_column
        near = [c for c in info.columns if c.strip().lower() == chain_column.strip().lower()]
        if near:
            return near[0]
        raise UsageError(f"no column {chain_column!r} in the input (columns: {', '.join(info.columns)}); "
                         "check --chain-column")
    near = [c for c in info.columns if c.strip().lower() == "chain" and c != info.address_column]
    return near[0] if near else None


def _format_from_suffix(path: Path) -> str:
    s = path.suffix.lower().lstrip(".")
    return {"ndjson": "jsonl", "pq": "parquet"}.get(s, s if s in FORMATS else "csv")


def _counts(store: Store, info: InputInfo, since: bool) -> dict[str, Any]:
    """Counts for the report over all input rows: by status and by band (before any --since filtering)."""
    status = {s: 0 for s in ("ok", "unknown", "invalid")}
    band = {b: 0 for b in BANDS}
    illicit = {b: 0 for b in BANDS}
    vc = {b: 0 for b in BANDS}
    action = {a: 0 for a in ACTIONS}
    for s, b, ib, vb, a, n in store.execute(
            f"SELECT status, risk_band, illicit_band, vc_business_band, action, count(*) FROM {_OUT} GROUP BY ALL"
    ).fetchall():
        status[s] += int(n)
        for counts, key in ((band, b), (illicit, ib), (vc, vb), (action, a)):
            if key is not None:
                counts[key] = counts.get(key, 0) + int(n)
    out_rows = _scalar(store, f"SELECT count(*) FROM {_OUT} WHERE __changed") if since else info.rows
    distinct = _scalar(store, f"SELECT count(DISTINCT chain || ':' || address) FROM {_RES} WHERE address IS NOT NULL")
    dup_rows = _scalar(store, f"SELECT count(*) FROM {_OUT} WHERE duplicate_of_row IS NOT NULL")
    return {"input_rows": info.rows, "output_rows": out_rows, "distinct_addresses": distinct,
            "duplicate_rows": dup_rows, "status": status, "band": band, "illicit_band": illicit,
            "vc_business_band": vc, "action": action}


