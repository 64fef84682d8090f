"""Answers in the lookup contract for the service, fast: point queries for one address, one statement building
the JSON inside DuckDB for a batch.

The JSON is exactly what :meth:`chainrisk.answers.lookup.LookupResult.to_dict` gives (same keys in the same order, same
rounding (``round_even`` = Python's ``round``), same reasons; tests compare the two on the same store), reduced to
what :mod:`.policy` allows a role to see. Each answer pins the latest complete scoring run first and reads it by
id: a complete run never changes, so answers are consistent, and a run still being written is invisible.

* :func:`answer_one`: one address. Its id is found first (an index point query), then every table is read by
  that constant id, and the answer is assembled by :class:`chainrisk.answers.lookup.LookupResult` itself.
* :func:`answer_many`: a batch (``POST /v1/screen``): distinct addresses are joined in bulk (hash joins) and each
  answer's JSON is built by DuckDB, so no Python object is made per address.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from ..address import Address, try_parse
from ..errors import NoScoringRun
from ..store.runs import CURRENT, LATEST

if TYPE_CHECKING:
    from ..store import Store

_LOWER_HEX = re.compile(r"0x[0-9a-f]{40}")
LATEST_RUN = f"SELECT run_id FROM scoring_runs WHERE {CURRENT} ORDER BY {LATEST} LIMIT 1"


def _iso(c: str) -> str:
    return (f"CASE WHEN {c} IS NULL THEN NULL WHEN epoch_us({c}) % 1000000 = 0"
            f" THEN strftime({c}, '%Y-%m-%dT%H:%M:%S') ELSE strftime({c}, '%Y-%m-%dT%H:%M:%S.%f') END")


def _split(c: str) -> str:
    return f"list_filter(string_split(coalesce({c}, ''), ';'), lambda x: x <> '')"


def _label_struct(admin: bool) -> str:
    if not admin:
        return "struct_pack(category := l.category, active := l.valid_to IS NULL)"
    return ("struct_pack(category := l.category, name := l.name, source := l.source,"
            " source_version := l.source_version, confidence := l.confidence,"
            f" valid_from := {_iso('l.valid_from')}, valid_to := {_iso('l.valid_to')},"
            " active := l.valid_to IS NULL)")


_LABEL_ORDER = "l.valid_to IS NOT NULL, l.confidence DESC, l.category, l.source, l.valid_from NULLS FIRST"
_EXPOSURE = ("struct_pack(category := e.category, direction := e.direction, hop_class := e.hop_class,"
             " usd := round_even(e.usd, 2), share := round_even(e.share, 4), min_hop := CAST(e.min_hop AS BIGINT),"
             " inferred := coalesce(e.inferred, false))")
_EXPOSURE_ORDER = "e.usd DESC, e.category, e.direction, e.hop_class, coalesce(e.inferred, false)"
# the two verdicts and the action (scores' verdict columns; NULL in a run of an older engine)
_VERDICTS = (
    " illicit := struct_pack(score := {ok_illicit_score}, band := {ok}s.illicit_band{end},"
    " reason := {ok}s.illicit_reason{end}, top_category := {ok}s.illicit_top_category{end},"
    " confidence := {ok}s.illicit_confidence{end}),"
    " vc_business := struct_pack(score := {ok_vc_score}, band := {ok}s.vc_band{end},"
    " reason := {ok}s.vc_reason{end}, top_category := {ok}s.vc_top_category{end}),"
    " action := {ok}s.action{end},"
)
_INDICATOR_ORDER = "n.severity DESC, n.indicator"


def _indicator_struct(admin: bool) -> str:
    ev = ("CASE WHEN json_valid(n.evidence) THEN CAST(n.evidence AS JSON) ELSE to_json(n.evidence) END"
          if admin else "CAST(NULL AS JSON)")
    return f"struct_pack(indicator := n.indicator, severity := CAST(n.severity AS BIGINT), evidence := {ev})"


def _body(admin: bool) -> str:
    """The JSON of one answer without ``input`` and ``provenance`` (added around it in Python)."""
    ok = "s.score IS NOT NULL"
    unknown_reason = (
        "CASE WHEN i.id IS NULL THEN 'no ' || i.chain || ' activity of this address is in the store'"
        " ELSE 'the address is in the store but not in scoring run ' || (SELECT run_id FROM run)"
        " || ' (its data arrived later); rerun ''chainrisk score''' END"
        " || CASE WHEN len(coalesce(lab.active_names, [])) > 0"
        " THEN '; it carries labels: ' || array_to_string(list_sort(list_distinct(lab.active_names)), ', ')"
        " ELSE '' END")

    def when_ok(expr: str, default: str = "NULL") -> str:
        return f"CASE WHEN {ok} THEN {expr} ELSE {default} END"

    return (
        "to_json(struct_pack("
        f" status := CASE WHEN {ok} THEN 'ok' ELSE 'unknown' END,"
        " address := i.address, chain := i.chain,"
        f" risk_score := {when_ok('round_even(s.score, 2)')},"
        f" risk_band := {when_ok('s.band')},"
        f" reason := CASE WHEN {ok} THEN coalesce(s.reason, '') ELSE {unknown_reason} END,"
        f" top_category := {when_ok('s.top_category')},"
        + _VERDICTS.format(ok_illicit_score=when_ok("round_even(s.illicit_score, 2)"),
                           ok_vc_score=when_ok("round_even(s.vc_score, 2)"), ok=f"CASE WHEN {ok} THEN ",
                           end=" END") +
        f" categories := {when_ok(_split('s.categories'), 'CAST([] AS VARCHAR[])')},"
        f" own_categories := {when_ok(_split('s.own_categories'), 'CAST([] AS VARCHAR[])')},"
        f" min_hops := {when_ok('CAST(s.min_hops AS BIGINT)')},"
        f" direct_usd := {when_ok('round_even(s.direct_usd, 2)')},"
        f" indirect_usd := {when_ok('round_even(s.indirect_usd, 2)')},"
        f" volume_in_usd := {when_ok('round_even(s.volume_in_usd, 2)')},"
        f" volume_out_usd := {when_ok('round_even(s.volume_out_usd, 2)')},"
        " labels := coalesce(lab.labels, []),"
        f" exposures := {when_ok('coalesce(ex.exposures, [])', '[]')},"
        f" indicators := {when_ok('coalesce(ind.indicators, [])', '[]')},"
        " evidence := CAST(NULL AS JSON)"
        "))"
    )


def _labels_cte(admin: bool, where: str, group: str) -> str:
    return (f"SELECT {group}, list({_label_struct(admin)} ORDER BY {_LABEL_ORDER}) AS labels,"
            " list(l.category || ' (' || l.source || ')') FILTER (WHERE l.valid_to IS NULL) AS active_names"
            f" {where} GROUP BY {group}")


def _batch_sql(admin: bool, table: str) -> str:
    # table: (pos, chain, address), distinct addresses
    return f"""
    WITH run AS ({LATEST_RUN}),
    i AS (SELECT b.pos, b.chain, b.address, a.id FROM {table} b
          LEFT JOIN addresses a ON a.address = b.address AND a.chain = b.chain),
    s AS (SELECT sc.* FROM scores sc SEMI JOIN i ON sc.address_id = i.id WHERE sc.run_id = (SELECT run_id FROM run)),
    lab AS ({_labels_cte(admin, f"FROM {table} b JOIN labels l ON l.address = b.address AND l.chain = b.chain",
                         "b.pos")}),
    ex AS (SELECT e.address_id, list({_EXPOSURE} ORDER BY {_EXPOSURE_ORDER}) AS exposures
           FROM exposures e SEMI JOIN i ON e.address_id = i.id
           WHERE e.run_id = (SELECT run_id FROM run) GROUP BY e.address_id),
    ind AS (SELECT n.address_id, list({_indicator_struct(admin)} ORDER BY {_INDICATOR_ORDER}) AS indicators
            FROM indicators n SEMI JOIN i ON n.address_id = i.id
            WHERE n.run_id = (SELECT run_id FROM run) GROUP BY n.address_id)
    SELECT i.pos, (SELECT run_id FROM run), {_body(admin)}
    FROM i LEFT JOIN s ON s.address_id = i.id LEFT JOIN lab ON lab.pos = i.pos
    LEFT JOIN ex ON ex.address_id = i.id LEFT JOIN ind ON ind.address_id = i.id
    """


_SQL: dict[tuple[str, bool], str] = {}


def _sql(kind: str, admin: bool) -> str:
    key = (kind, admin)
    if key not in _SQL:
        _SQL[key] = _batch_sql(admin, "_svc_batch")
    return _SQL[key]


class Provenances:
    """The provenance JSON of each run, per role (a complete run never changes, so it is cached)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[bytes, bytes]] = {}
        self._objects: dict[str, Any] = {}
        self._lock = threading.Lock()

    def known(self, run_id: str) -> Any:
        """The provenance of ``run_id`` if already read, else None (no store access)."""
        return self._objects.get(run_id)

    def provenance(self, store: Store, run_id: str) -> Any:
        """The :class:`~chainrisk.store.runs.Provenance` of a complete run."""
        hit = self._objects.get(run_id)
        if hit is None:
            hit = store.run(run_id)
            with self._lock:
                self._objects[run_id] = hit
        return hit

    def get(self, store: Store, run_id: str, admin: bool) -> bytes:
        hit = self._cache.get(run_id)
        if hit is None:
            from .policy import READ_PROVENANCE

            full = self.provenance(store, run_id).to_dict()
            hit = (orjson.dumps(full, default=str),
                   orjson.dumps({k: full.get(k) for k in READ_PROVENANCE}, default=str))
            with self._lock:
                self._cache[run_id] = hit
        return hit[0] if admin else hit[1]


def _invalid(value: str, reason: str, prov: bytes) -> bytes:
    return orjson.dumps({
        "input": value, "status": "invalid", "address": None, "chain": None, "risk_score": None, "risk_band": None,
        "reason": reason, "top_category": None, "illicit": _NO_ILLICIT, "vc_business": _NO_VC, "action": None,
        "categories": [], "own_categories": [], "min_hops": None,
        "direct_usd": None, "indirect_usd": None, "volume_in_usd": None, "volume_out_usd": None, "labels": [],
        "exposures": [], "indicators": [], "evidence": None, "behaviour": None, "chains": [], "per_chain": [],
    })[:-1] + b',"provenance":' + prov + b"}"


_NO_ILLICIT = {"score": None, "band": None, "reason": None, "top_category": None, "confidence": None}
_NO_VC = {"score": None, "band": None, "reason": None, "top_category": None}


def _no_run(store: Store) -> NoScoringRun:
    return NoScoringRun(f"no complete scoring run in {store.path}; run 'chainrisk score' first")


_ONE_KEYS = (
    "SELECT 0 AS k, id, NULL AS category, NULL AS name, NULL AS source, NULL AS source_version,"
    " NULL AS confidence, NULL AS valid_from, NULL AS valid_to FROM addresses WHERE address = $1 AND chain = $2"
    " UNION ALL SELECT 1, NULL, category, name, source, source_version, confidence, valid_from, valid_to"
    " FROM labels WHERE address = $1 AND chain = $2"
    " ORDER BY k, valid_to IS NOT NULL, confidence DESC, category, source, valid_from NULLS FIRST"
)
_ONE_ROWS = (
    "SELECT 0 AS k, score, band, top_category, categories, own_categories, min_hops, direct_usd, indirect_usd,"
    " volume_in_usd, volume_out_usd, reason, NULL AS category, NULL AS direction, NULL AS hop_class, NULL AS usd,"
    " NULL AS share, NULL AS min_hop, NULL AS indicator, NULL AS severity, NULL AS evidence,"
    " illicit_score, illicit_band, illicit_reason, illicit_top_category, illicit_confidence, vc_score, vc_band,"
    " vc_reason, vc_top_category, action, NULL AS inferred"
    " FROM scores WHERE address_id = $1 AND run_id = $2"
    " UNION ALL SELECT 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, category, direction,"
    " hop_class, usd, share, min_hop, NULL, NULL, NULL" + ", NULL" * 10 + ", coalesce(inferred, false)"
    " FROM exposures WHERE address_id = $1 AND run_id = $2"
    " UNION ALL SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL, indicator, severity, evidence" + ", NULL" * 11 + " FROM indicators"
    " WHERE address_id = $1 AND run_id = $2"
    " ORDER BY k, usd DESC, category, direction, hop_class, inferred, severity DESC, indicator"
)


def answer_one(store: Store, address: Address, value: str, admin: bool, provs: Provenances,
               run_id: str) -> bytes:
    """The JSON answer for one parsed address (``value`` is the caller's text) in the complete run ``run_id``.

    Two statements of point queries by constant keys (index or zone-map lookups), assembled into the library's
    own :class:`~chainrisk.answers.lookup.LookupResult`: for one address that is cheaper than one large statement, and a
    complete run never changes, so reading it by id across statements is consistent.
    """
    from ..answers.lookup import (
        Exposure,
        Indicator,
        Label,
        LookupResult,
        _loads,
        _r,
        _split,
        behaviour_of,
        unknown_reason,
        verdicts,
    )
    from .policy import redact

    run = provs.provenance(store, run_id)
    keys = store.execute(_ONE_KEYS, [address.address, address.chain]).fetchall()
    ids = [r[1] for r in keys if r[0] == 0]
    labels = [Label(*r[2:]) for r in keys if r[0] == 1]
    base: dict[str, Any] = {"input": value, "address": address.address, "chain": address.chain, "provenance": run,
                            "labels": labels}
    rows = store.execute(_ONE_ROWS, [ids[0], run_id]).fetchall() if ids else []
    score = [r for r in rows if r[0] == 0]
    if not score:
        why = unknown_reason(address.chain, bool(ids), run_id, labels)
        res = LookupResult(status="unknown", reason=why, **base)
    else:
        row = score[0][1:12]
        exposures = [Exposure(r[12], r[13], r[14], round(float(r[15]), 2), round(float(r[16]), 4), int(r[17]),
                              bool(r[31])) for r in rows if r[0] == 1]
        indicators = [Indicator(r[18], int(r[19]), _loads(r[20], r[20])) for r in rows if r[0] == 2]
        illicit, vc, action = verdicts(score[0][21:31])
        res = LookupResult(
            status="ok", reason=row[10] or "", risk_score=_r(row[0]), risk_band=row[1], top_category=row[2],
            illicit=illicit, vc_business=vc, action=action,
            categories=_split(row[3]), own_categories=_split(row[4]), min_hops=row[5], direct_usd=_r(row[6]),
            indirect_usd=_r(row[7]), volume_in_usd=_r(row[8]), volume_out_usd=_r(row[9]),
            exposures=exposures, indicators=indicators, behaviour=behaviour_of(store, ids[0], run_id), **base)
    return orjson.dumps(redact(res.to_dict(), "admin" if admin else "read"), default=str)


class RunPin:
    """The latest complete run id, re-read at most every ``ttl`` seconds (and at once after :meth:`invalidate`).

    Only this process can write the store while it serves, and it invalidates the pin when its own scoring run
    finishes; the TTL covers runs written by other threads of the process (and tests)."""

    def __init__(self, ttl: float = 0.25) -> None:
        import time

        self._clock = time.monotonic
        self.ttl = ttl
        self._value: tuple[float, str] | None = None

    def invalidate(self) -> None:
        self._value = None

    def peek(self) -> str | None:
        """The pinned run id while it is fresh, without touching the store (else None)."""
        v = self._value
        return v[1] if v is not None and self._clock() - v[0] < self.ttl else None

    def get(self, store: Store) -> str:
        now = self._clock()
        v = self._value
        if v is not None and now - v[0] < self.ttl:
            return v[1]
        got = store.execute(LATEST_RUN).fetchall()
        if not got:
            raise _no_run(store)
        self._value = (now, got[0][0])
        return str(got[0][0])


def answer_many(store: Store, values: list[str], admin: bool, provs: Provenances) -> tuple[list[bytes], str]:
    """JSON answers for ``values`` (one per value, in order; duplicates computed once) and the answering run."""
    # canonical lower-case hex is by far the commonest input: take it as it is, parse everything else
    parsed = [Address("ethereum", v) if isinstance(v, str) and _LOWER_HEX.fullmatch(v) else try_parse(v)
              for v in values]
    index: dict[tuple[str, str], int] = {}
    for p in parsed:
        if isinstance(p, Address):
            index.setdefault((p.chain, p.address), len(index))
    bodies: list[bytes] = [b""] * len(index)
    if index:
        keys = list(index)
        table = pa.table({"pos": pa.array(range(len(keys)), pa.int64()), "chain": [k[0] for k in keys],
                          "address": [k[1] for k in keys]})
        with store.registered(_svc_batch=table):
            rows = store.execute(_sql("many", admin)).fetchall()
        run_id = rows[0][1] if rows else None
        for pos, _rid, body in rows:
            bodies[pos] = body.encode()[1:-1]
    else:
        got = store.execute(LATEST_RUN).fetchall()
        run_id = got[0][0] if got else None
    if run_id is None:
        raise _no_run(store)
    prov = provs.get(store, run_id, admin)
    tail = b',"provenance":' + prov + b"}"
    beh = _behaviours(store, list(index), run_id) if index else []
    out: list[bytes] = []
    for v, p in zip(values, parsed, strict=True):
        if isinstance(p, Address):
            i = index[(p.chain, p.address)]
            out.append(b'{"input":' + orjson.dumps(v) + b"," + bodies[i] + b',"behaviour":' + beh[i]
                       + b',"chains":' + orjson.dumps([p.chain]) + b',"per_chain":[]' + tail)
        else:
            out.append(_invalid(v, p.reason, prov))
    if not admin:   # the one redaction step (the SQL above only narrows what it reads)
        from .policy import redact

        out = [orjson.dumps(redact(orjson.loads(b), "read"), default=str) for b in out]
    return out, run_id


def _behaviours(store: Store, keys: list[tuple[str, str]], run_id: str) -> list[bytes]:
    """The lookup contract's ``behaviour`` object (JSON) of each (chain, address) in ``keys`` in run ``run_id``."""
    from ..answers.lookup import BEHAVIOUR_COLUMNS, behaviour_dict, has_column

    out = [b"null"] * len(keys)
    if not has_column(store, "scores", "behaviour_score"):
        return out
    table = pa.table({"pos": pa.array(range(len(keys)), pa.int64()), "chain": [k[0] for k in keys],
                      "address": [k[1] for k in keys]})
    with store.registered(_svc_beh=table):
        rows = store.execute(
            f"SELECT b.pos, {', '.join('s.' + c for c in BEHAVIOUR_COLUMNS)} FROM _svc_beh b"
            " JOIN addresses a ON a.chain = b.chain AND a.address = b.address"
            " JOIN scores s ON s.address_id = a.id AND s.run_id = ? WHERE s.behaviour_score IS NOT NULL",
            [run_id]).fetchall()
    for pos, *cols in rows:
        out[int(pos)] = orjson.dumps(behaviour_dict(*cols))
    return out


def as_dict(answer: bytes) -> dict[str, Any]:
    """An answer parsed back (for tests and the jobs writer)."""
    return dict(orjson.loads(answer))


class RunCache:
    """One complete run's scores in memory, for single lookups without a query per table.

    A complete run never changes, so its scores can be held as columns (Arrow strings, NumPy numbers) with a
    sorted array of 64-bit keys ``hash((chain, address))`` to find a row (the full address is compared, so a
    hash collision costs a probe, never a wrong answer). Alongside: which addresses have exposures, indicators
    or labels, so those tables are read only for the addresses that have rows there (a minority). Built in a
    background thread when a run becomes current; until it is ready, lookups use :func:`answer_one`.
    """

    COLUMNS = ("score", "band", "top_category", "categories", "own_categories", "min_hops", "direct_usd",
               "indirect_usd", "volume_in_usd", "volume_out_usd", "reason", "illicit_score", "illicit_band",
               "illicit_reason", "illicit_top_category", "illicit_confidence", "vc_score", "vc_band", "vc_reason",
               "vc_top_category", "action")

    def __init__(self, store: Store, run_id: str) -> None:
        import numpy as np

        from ..answers.lookup import BEHAVIOUR_COLUMNS, has_column

        self.run_id = run_id
        beh = ", ".join(f"s.{c}" if has_column(store, "scores", c) else f"NULL AS {c}" for c in BEHAVIOUR_COLUMNS)
        t = store.arrow(
            "SELECT a.chain, a.address, s.address_id, " + ", ".join(f"s.{c}" for c in self.COLUMNS)
            + ", " + beh + " FROM scores s JOIN addresses a ON a.id = s.address_id WHERE s.run_id = $run", {"run": run_id})
        chains, addrs = t.column("chain").to_pylist(), t.column("address").to_pylist()
        keys = np.fromiter((hash(k) for k in zip(chains, addrs, strict=True)), dtype=np.int64, count=t.num_rows)
        self._order = np.argsort(keys, kind="stable")
        self._keys = keys[self._order]
        self._chain, self._address = t.column("chain"), t.column("address")
        self._ids = t.column("address_id").to_numpy()
        self._cols = {c: t.column(c) for c in self.COLUMNS}
        self._beh = [t.column(c) for c in BEHAVIOUR_COLUMNS]
        ids_with = store.execute(
            "SELECT DISTINCT address_id, 1 FROM exposures WHERE run_id = ?"
            " UNION ALL SELECT DISTINCT address_id, 2 FROM indicators WHERE run_id = ?", [run_id, run_id]
        ).fetchall()
        self._exposed = {i for i, k in ids_with if k == 1}
        self._flagged = {i for i, k in ids_with if k == 2}
        self._labelled = {hash(k) for k in store.execute("SELECT DISTINCT chain, address FROM labels").fetchall()}
        self.size = t.num_rows

    def find(self, address: Address) -> int | None:
        import numpy as np

        key = hash((address.chain, address.address))
        lo = int(np.searchsorted(self._keys, key, side="left"))
        while lo < len(self._keys) and self._keys[lo] == key:
            row = int(self._order[lo])
            if self._address[row].as_py() == address.address and self._chain[row].as_py() == address.chain:
                return row
            lo += 1
        return None

    def answer_inline(self, address: Address, value: str, admin: bool, provs: Provenances) -> bytes | None:
        """The answer when it needs no query at all (scored, without labels, exposures or indicators, provenance
        already known), else None. Pure Python: safe to call in the event loop."""
        if hash((address.chain, address.address)) in self._labelled:
            return None
        row = self.find(address)
        if row is None:
            return None
        aid = int(self._ids[row])
        run = provs.known(self.run_id)
        if aid in self._exposed or aid in self._flagged or run is None:
            return None
        return self._build(row, address, value, admin, run, [], [])

    def answer(self, store: Store, address: Address, value: str, admin: bool, provs: Provenances) -> bytes | None:
        """The JSON answer, or None when the address is not scored in this run (then ask :func:`answer_one`)."""
        from ..answers.lookup import Label

        row = self.find(address)
        if row is None:
            return None
        aid = int(self._ids[row])
        labels: list[Label] = []
        if hash((address.chain, address.address)) in self._labelled:
            labels = [Label(*r[2:]) for r in store.execute(_ONE_KEYS, [address.address, address.chain]).fetchall()
                      if r[0] == 1]
        rows = (store.execute(_ONE_ROWS, [aid, self.run_id]).fetchall()
                if aid in self._exposed or aid in self._flagged else [])
        return self._build(row, address, value, admin, provs.provenance(store, self.run_id), labels, rows)

    def _build(self, row: int, address: Address, value: str, admin: bool, run: Any, labels: list[Any],
               rows: list[Any]) -> bytes:
        from ..answers.lookup import (
            Exposure,
            Indicator,
            LookupResult,
            _loads,
            _r,
            _split,
            behaviour_dict,
            verdicts,
        )
        from .policy import redact

        v = [self._cols[c][row].as_py() for c in self.COLUMNS]
        b = [c[row].as_py() for c in self._beh]
        illicit, vc, action = verdicts(v[11:21])
        res = LookupResult(
            input=value, address=address.address, chain=address.chain, provenance=run,
            labels=labels, status="ok", reason=v[10] or "", risk_score=_r(v[0]), risk_band=v[1], top_category=v[2],
            illicit=illicit, vc_business=vc, action=action,
            behaviour=behaviour_dict(*b) if b[0] is not None else None,
            categories=_split(v[3]), own_categories=_split(v[4]), min_hops=v[5], direct_usd=_r(v[6]),
            indirect_usd=_r(v[7]), volume_in_usd=_r(v[8]), volume_out_usd=_r(v[9]),
            exposures=[Exposure(r[12], r[13], r[14], round(float(r[15]), 2), round(float(r[16]), 4), int(r[17]),
                                bool(r[31])) for r in rows if r[0] == 1],
            indicators=[Indicator(r[18], int(r[19]), _loads(r[20], r[20])) for r in rows if r[0] == 2])
        return orjson.dumps(redact(res.to_dict(), "admin" if admin else "read"), default=str)
