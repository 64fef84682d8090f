"""The propagation as set-at-a-time SQL: the same hop exposures as :func:`chainrisk.engine.propagate.propagate`,
bit for bit, computed by a SQL engine (DuckDB out of core, or Apache Spark) instead of numpy arrays.

The semantics are the array engine's (see :mod:`chainrisk.engine.propagate`); this module only restates them as
statements. Once per direction, one window over every address's inflows and relaying outflows in time order (a
rank's inflows after its outflows) gives

* ``B`` of each relaying transfer, everything its sender had received strictly before it (the table
  ``relay_<dir>``), and its position ``qpos`` among its sender's relaying outflows (``node * 2^32`` + their time
  order);
* for every transfer, ``nx``, the position of its receiver's first relaying outflow after it: a transfer into
  ``u`` counts for exactly ``u``'s relaying outflows at positions ``nx ..`` (the array engine's prefix range).

Each hop of every category at once is then one statement per direction, without sorting the relaying transfers:
the tainted transfers of hop k-1 (``k`` = the propagation key, ``d`` = receiver, ``t`` = micro-USD taint),
running-summed per (key, receiver) in ``nx`` order, cut the receiver's outflow positions into segments of one
``A`` (the taint it had received strictly before); each segment is expanded to its positions and joined with
``relay_<dir>`` on ``qpos``; ``Tk = floor(w * A / B + 0.5)`` with the same IEEE double operations
in the same order as numpy, so the result is the array engine's to the last micro-USD. Each hop's rows carry
their own ``nx`` for the next hop.

The exposure of hop k is ``sum(t) GROUP BY k, d``; forwarding events (incoming direction) are a join of the hop's
tainted transfers with the receiver's transfers inside the time window (ranks by the running maximum of time).

The statements are written once, in DuckDB's dialect, and run by a *backend*: anything with ``load`` (an Arrow
table in), ``create`` (a query materialised as a table), ``fetch`` (a query's result as numpy columns) and
``drop`` -- :class:`chainrisk.store.work.Workspace` (DuckDB, spilling to disk) or
:class:`chainrisk.engine.spark_engine.SparkBackend` (the same statements transpiled to Spark SQL). Everything
from the hop exposures onward (aggregation, scores, bands, verdicts) is the array engine's one code path
(:func:`chainrisk.engine.model.compute` with ``propagator=``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from .propagate import B1, I64, ForwardingEvents, ForwardingParams, HopExposure

Propagator = Callable[..., tuple[list[HopExposure], ForwardingEvents | None]]

_DIRS = {  # direction -> (sender column, receiver column, rank expression, the key's K column)
    "in": ("s", "d", "e.r", "kin"),
    "out": ("d", "s", "{top} - e.r", "kout"),
}
# A running sum over (rank, kind) with a transfer's own rank's inflows (kind 1) after its outflows (kind 0, amount
# 0): at an outflow it is the sum of the inflows strictly before it (a streaming ROWS frame, far cheaper than
# RANGE ... 1 PRECEDING, same value)
# (one BIGINT partition and order key each: sorting one wide key is cheaper than two)
_RUNNING = "ORDER BY r * 2 + kind ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
_NULL = "CAST(NULL AS BIGINT)"
_POS = 4294967296   # 2^32: an address's positions are node * 2^32 + its relaying outflows' order (< 2^32 each)


class Backend(Protocol):
    def load(self, name: str, table: Any) -> None: ...
    def create(self, name: str, query: str) -> None: ...
    def fetch(self, query: str) -> dict[str, np.ndarray]: ...
    def drop(self, *names: str) -> None: ...


# -- the statements -------------------------------------------------------------------------------------------

def edges_sql(with_time: bool, raw: str = "raw") -> str:
    """The edge table ``e``: the loaded transfers ``raw`` and ``tm``, the running maximum of time by rank (the
    forwarding window's clock; -1 unknown)."""
    if not with_time:
        return f"SELECT eid, s, d, r, w, c, CAST(-1 AS BIGINT) AS tm FROM {raw}"
    return (
        f"SELECT raw.eid, raw.s, raw.d, raw.r, raw.w, raw.c, m.tm FROM {raw} raw JOIN ("
        " SELECT r, max(mx) OVER (ORDER BY r ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS tm"
        f" FROM (SELECT r, max(time) AS mx FROM {raw} GROUP BY r) g) m ON m.r = raw.r")


def senders_sql(direction: str) -> str:
    """The addresses with relaying outflows in a direction (carrying, not a stop node) and how many (``n``)."""
    s = _DIRS[direction][0]
    return f"""
    SELECT e.{s} AS node, count(*) AS n FROM e LEFT JOIN stop ON stop.node = e.{s}
    WHERE e.c AND stop.node IS NULL GROUP BY e.{s}"""


def relay_window_sql(direction: str, top: int) -> str:
    """One stream per relaying address (:func:`senders_sql`) of its inflows (``kind`` 1) and its relaying outflows
    (``kind`` 0) in time order, a rank's inflows after its outflows, with two running values: ``b``, the sum of the
    inflows so far (at an outflow: everything the sender had received strictly before it) and ``pos``,
    ``node * 2^32`` plus the count of outflows so far. An outflow's position is ``pos - 1``: the address's relaying
    outflows are numbered in time order. An inflow's ``pos`` is the position of the first outflow after it: it
    counts for exactly the outflows at positions ``pos .. ne - 1`` (``ne``: ``node * 2^32`` plus the address's
    outflow count). Transfers into addresses that never relay are not in the stream."""
    s, d, r, _ = _DIRS[direction]
    r = r.format(top=top)
    return f"""
    SELECT kind, eid, dd AS d, ww AS w, CAST(sum(x) OVER (PARTITION BY node {_RUNNING}) AS BIGINT) AS b,
           node * {_POS} + count(dd) OVER (PARTITION BY node {_RUNNING}) AS pos, ne
    FROM (
      SELECT e.{d} AS node, {r} AS r, 1 AS kind, e.w AS x, e.eid, {_NULL} AS dd, {_NULL} AS ww,
             e.{d} * {_POS} + rs.n AS ne
      FROM e JOIN senders_{direction} rs ON rs.node = e.{d}
      UNION ALL
      SELECT e.{s} AS node, {r} AS r, 0 AS kind, CAST(0 AS BIGINT) AS x, e.eid, e.{d} AS dd, e.w AS ww, {_NULL} AS ne
      FROM e LEFT JOIN stop ON stop.node = e.{s} WHERE e.c AND stop.node IS NULL
    ) ev"""


def inpos_sql(direction: str) -> str:
    """Every transfer's place among its receiver's relaying outflows: ``nx``, the position of the first one after
    it (NULL: none after it). One row per transfer, so that the joins with it are inner joins (DuckDB's outer
    joins do not spill under a small memory limit)."""
    d = _DIRS[direction][1]
    return f"""
    SELECT eid, CASE WHEN pos < ne THEN pos END AS nx FROM rw_{direction} WHERE kind = 1
    UNION ALL
    SELECT e.eid, {_NULL} AS nx FROM e
    WHERE NOT EXISTS (SELECT 1 FROM senders_{direction} rs WHERE rs.node = e.{d})"""


def relay0_sql(direction: str) -> str:
    """Relaying transfers of a direction with ``b`` (everything the sender had received strictly before; only those
    with ``b > 0`` can ever carry taint) and their position ``qpos`` among the sender's relaying outflows."""
    return f"SELECT pos - 1 AS qpos, eid, d, w, b FROM rw_{direction} WHERE kind = 0 AND b > 0"


def relay_sql(direction: str) -> str:
    """:func:`relay0_sql` with (as an inflow into its receiver) ``nx`` of :func:`inpos_sql`; only what a hop
    reads (a hop's rows are written once per key reached: narrow rows are most of its speed)."""
    return f"""
    SELECT q.qpos, q.eid, q.d, q.w, q.b, i.nx
    FROM relay0_{direction} q JOIN inpos_{direction} i ON i.eid = q.eid"""


def hop1_sql(direction: str, with_pos: bool = True) -> str:
    """Hop 1: every carrying transfer out of a source carries its whole amount (with ``nx`` of :func:`inpos_sql`
    for the next hop, NULL without one)."""
    s, d, _, kcol = _DIRS[direction]
    pos, join = (("i.nx", f" JOIN inpos_{direction} i ON i.eid = e.eid") if with_pos else (f"{_NULL} AS nx", ""))
    return f"""
    SELECT src.k, e.eid, e.{d} AS d, e.w AS t, {pos}
    FROM e JOIN src ON src.node = e.{s} JOIN hopkeys ON hopkeys.k = src.k{join}
    WHERE e.c AND hopkeys.{kcol} >= 1"""


def hop_sql(direction: str, prev: str, hop: int) -> str:
    """Hop ``hop`` >= 2 from the tainted transfers ``prev`` of hop ``hop - 1``.

    No sort of the relaying transfers: a tainted inflow counts for its receiver's relaying outflows from its
    ``nx`` on (:func:`relay_window_sql`), so per (key, receiver) the tainted inflows, running-summed in ``nx``
    order, cut the receiver's outflow positions into segments of equal ``A`` (from an inflow's ``nx`` to the
    next one's; of inflows with equal ``nx`` only the last, by ``eid``, has a non-empty segment, and its running
    sum includes them all); each segment is expanded to its positions and joined with the relaying transfers on
    ``qpos``. Receivers that are stop nodes or the key's own sources, and inflows with no relaying outflow after
    them, drop out first."""
    kcol = _DIRS[direction][3]
    part = f"PARTITION BY k * {_POS} + d ORDER BY nx, eid"
    return f"""
    WITH prev AS (
      SELECT p.k, p.eid, p.d, p.nx, p.d * {_POS} + rs.n AS ne, p.t FROM {prev} p JOIN hopkeys ON hopkeys.k = p.k
      JOIN senders_{direction} rs ON rs.node = p.d LEFT JOIN src ON src.k = p.k AND src.node = p.d
      WHERE hopkeys.{kcol} >= {hop} AND p.nx IS NOT NULL AND src.node IS NULL
    ), seg AS (
      SELECT k, nx AS lo, coalesce(lead(nx) OVER ({part}), ne) AS hi,
             CAST(sum(t) OVER ({part} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS a
      FROM prev
    ), x AS (
      SELECT k, a, unnest(range(lo, hi)) AS pos FROM seg
    ), tk AS (
      SELECT x.k, q.eid, q.d,
             CAST(floor(CAST(q.w AS DOUBLE) * CAST(x.a AS DOUBLE) / CAST(q.b AS DOUBLE) + 0.5) AS BIGINT) AS t, q.nx
      FROM x JOIN relay_{direction} q ON q.qpos = x.pos
    )
    SELECT k, eid, d, t, nx FROM tk WHERE t > 0"""


def exposure_sql(table: str) -> str:
    """The exposure of one hop: its tainted transfers (``table``: a table, or a parenthesised query with an
    alias) summed per (key, receiver)."""
    return f"SELECT k, d, CAST(sum(t) AS BIGINT) AS usd FROM {table} GROUP BY k, d ORDER BY k, d"


def fwd_parts_sql(table: str, hop: int) -> str:
    """One hop's part of the illicit taint (judged keys; not a transfer into one of the key's own sources)."""
    return f"""
    SELECT t.k, CAST({hop} AS BIGINT) AS hop, t.eid, t.t FROM {table} t JOIN hopkeys ON hopkeys.k = t.k
    LEFT JOIN src ON src.k = t.k AND src.node = t.d WHERE hopkeys.judge AND src.node IS NULL"""


def forwarding_sql(parts: list[str], fwd: ForwardingParams) -> str:
    """Forwarding events over the illicit taint of every transfer (the sum of its parts over the judged keys and
    hops, capped at its amount), each naming the key and hop of its largest part (ties: earlier key, lower hop)."""
    min_t = int(np.floor(fwd.min_usd * 1_000_000 + 0.5))
    win = int(fwd.window_s)
    share = repr(float(fwd.out_share))
    union = " UNION ALL ".join(f"SELECT k, hop, eid, t FROM {p}" for p in parts)
    return f"""
    WITH parts AS ({union}
    ), tau AS (
      SELECT eid, CAST(sum(t) AS BIGINT) AS tau FROM parts GROUP BY eid
    ), best AS (
      SELECT eid, k, hop FROM (
        SELECT eid, k, hop, row_number() OVER (PARTITION BY eid ORDER BY t DESC, k, hop) AS rn FROM parts) b
      WHERE rn = 1
    ), cand AS (
      SELECT e.eid, e.d AS v, e.r, least(tau.tau, e.w) AS t, e.w, e.tm AS te, best.k, best.hop
      FROM tau JOIN e ON e.eid = tau.eid JOIN best ON best.eid = tau.eid LEFT JOIN stop ON stop.node = e.d
      WHERE stop.node IS NULL AND least(tau.tau, e.w) >= {min_t} AND 2 * least(tau.tau, e.w) >= e.w AND e.tm >= 0
    ), vin AS (
      SELECT c.eid, CAST(sum(e.w) AS BIGINT) AS vin FROM cand c JOIN e ON e.d = c.v
      WHERE e.tm >= c.te - {win} AND e.tm <= c.te + {win} GROUP BY c.eid
    ), vout AS (
      SELECT c.eid, CAST(sum(e.w) AS BIGINT) AS vout FROM cand c JOIN e ON e.s = c.v
      WHERE e.c AND e.r > c.r AND e.tm <= c.te + {win} GROUP BY c.eid
    )
    SELECT c.v, c.eid, c.t, coalesce(vout.vout, CAST(0 AS BIGINT)) AS fwd, c.k, c.hop
    FROM cand c JOIN vin ON vin.eid = c.eid LEFT JOIN vout ON vout.eid = c.eid
    WHERE 2 * c.t >= vin.vin
      AND CAST(coalesce(vout.vout, CAST(0 AS BIGINT)) AS DOUBLE) >= CAST({share} AS DOUBLE) * CAST(c.t AS DOUBLE)
    ORDER BY c.eid"""


# -- running them ---------------------------------------------------------------------------------------------

def _ids(mask: B1) -> I64:
    return np.flatnonzero(mask).astype(np.int64)


def _split(cols: dict[str, np.ndarray], nkeys: int) -> list[slice]:
    k = np.asarray(cols["k"], np.int64)
    bounds = np.searchsorted(k, np.arange(nkeys + 1))
    return [slice(int(bounds[i]), int(bounds[i + 1])) for i in range(nkeys)]


def sql_propagate(backend: Backend, on_hop: Callable[[str], None] | None = None) -> Propagator:
    """A drop-in for :func:`chainrisk.engine.propagate.propagate` that runs the hops as SQL on ``backend``."""

    def run(src: I64, dst: I64, rank: I64, usd: I64, carry: B1, stop: B1, sources: Mapping[str, B1],
            max_hops: int | Mapping[str, tuple[int, int]], in_order: I64 | None = None, threads: int = 2,
            time: I64 | None = None, forwarding: ForwardingParams | None = None,
            out_order: I64 | None = None) -> tuple[list[HopExposure], ForwardingEvents | None]:
        del in_order, out_order, threads   # the SQL engine plans its own order and parallelism

        def hops_of(key: str, direction: int) -> int:
            return max_hops if isinstance(max_hops, int) else max_hops[key][direction]

        keys = [k for k in sources if max(hops_of(k, 0), hops_of(k, 1)) >= 1]
        if not keys:
            return [], None
        judge = forwarding is not None and bool(forwarding.categories) and time is not None
        m = int(src.size)
        top = int(rank.max()) if m else 0
        backend.load("raw", pa.table({
            "eid": np.arange(m, dtype=np.int64), "s": src, "d": dst, "r": rank, "w": usd, "c": carry,
            "time": time if time is not None else np.full(m, -1, np.int64)}))
        _load_roles(backend, keys, hops_of, judge, forwarding, stop, sources)
        return run_loaded(backend, keys, hops_of, judge, forwarding, top, on_hop)

    return run


def _load_roles(backend: Backend, keys: list[str], hops_of: Callable[[str, int], int], judge: bool,
                forwarding: ForwardingParams | None, stop: B1, sources: Mapping[str, B1]) -> None:
    """The tables ``stop``, ``src`` and ``hopkeys`` of :func:`run_loaded`."""
    backend.load("stop", pa.table({"node": _ids(stop)}))
    sk = [np.full(_ids(sources[k]).size, i, np.int32) for i, k in enumerate(keys)]
    backend.load("src", pa.table({
        "k": np.concatenate(sk) if sk else np.empty(0, np.int32),
        "node": np.concatenate([_ids(sources[k]) for k in keys])}))
    backend.load("hopkeys", pa.table({
        "k": np.arange(len(keys), dtype=np.int32),
        "kin": np.array([hops_of(k, 0) for k in keys], np.int32),
        "kout": np.array([hops_of(k, 1) for k in keys], np.int32),
        "judge": np.array([judge and forwarding is not None and k in forwarding.categories for k in keys],
                          bool)}))


def propagate_tables(backend: Backend, raw: str, top: int, stop: B1, sources: Mapping[str, B1],
                     max_hops: Mapping[str, tuple[int, int]], forwarding: ForwardingParams | None,
                     on_hop: Callable[[str], None] | None = None,
                     sink: Callable[[HopExposure], None] | None = None,
                     ) -> tuple[list[HopExposure], ForwardingEvents | None]:
    """The hops over the transfers already in the backend's table ``raw`` (``eid, s, d, r, w, c, time``; ``top``
    its largest rank), for the stop nodes and sources given as masks over the address ids (the SQL engine's
    out-of-core run: :class:`TableGraph`). Leaves ``raw`` in place. ``sink``: see :func:`run_loaded`."""

    def hops_of(key: str, direction: int) -> int:
        return max_hops[key][direction]

    keys = [k for k in sources if max(hops_of(k, 0), hops_of(k, 1)) >= 1]
    if not keys:
        return [], None
    judge = forwarding is not None and bool(forwarding.categories)
    _load_roles(backend, keys, hops_of, judge, forwarding, stop, sources)
    return run_loaded(backend, keys, hops_of, judge, forwarding, top, on_hop, raw=raw, drop_raw=False, sink=sink)


def run_loaded(backend: Backend, keys: list[str], hops_of: Callable[[str, int], int], judge: bool,
               forwarding: ForwardingParams | None, top: int, on_hop: Callable[[str], None] | None = None,
               raw: str = "raw", drop_raw: bool = True, sink: Callable[[HopExposure], None] | None = None,
               ) -> tuple[list[HopExposure], ForwardingEvents | None]:
    """The hops of every key on ``backend``, whose tables ``raw`` (eid, s, d, r, w, c, time), ``stop``, ``src``
    and ``hopkeys`` are loaded (by :func:`sql_propagate`, :func:`propagate_tables`, or from Parquet by the Spark
    engine); ``top`` is the largest rank. Drops every table it made, the three role tables and (``drop_raw``)
    ``raw``.

    ``sink``: each hop exposure is passed to it as soon as it is fetched (a key and direction's hops in hop
    order; :class:`~chainrisk.engine.aggregate.ExposureFold`) instead of being collected: the returned list is
    then empty."""
    backend.create("e", edges_sql(judge, raw))
    if drop_raw:
        backend.drop(raw)
    out: list[HopExposure] = []
    made = ["e", "stop", "src", "hopkeys"]
    parts: list[str] = []          # per incoming hop: the judged keys' taint (forwarding)
    judged_any = False             # a judged key had a tainted hop (the array engine's events are then not None)
    events: ForwardingEvents | None = None
    try:
        for direction in ("in", "out"):
            di = 0 if direction == "in" else 1
            kmax = max(hops_of(k, di) for k in keys)
            if kmax < 1:
                continue
            per_key: list[list[HopExposure]] = [[] for _ in keys]
            if kmax >= 2:
                # one window, then its two halves; the window's table goes before the join (out of core, the
                # tables held at once are what a small memory limit has to fit)
                for table, query in ((f"senders_{direction}", senders_sql(direction)),
                                     (f"rw_{direction}", relay_window_sql(direction, top)),
                                     (f"inpos_{direction}", inpos_sql(direction)),
                                     (f"relay0_{direction}", relay0_sql(direction))):
                    backend.create(table, query)
                    made.append(table)
                backend.drop(f"rw_{direction}")
                backend.create(f"relay_{direction}", relay_sql(direction))
                made.append(f"relay_{direction}")
                backend.drop(f"relay0_{direction}")
            prev = ""
            for hop in range(1, kmax + 1):
                name = f"t_{direction}_{hop}"
                query = hop1_sql(direction, kmax >= 2) if hop == 1 else hop_sql(direction, prev, hop)
                # the last hop's rows are read once (its exposure) unless forwarding reads them too: summed as
                # they are made, never written (the widest hop is often the last)
                keep = hop < kmax or (direction == "in" and judge and forwarding is not None)
                if keep:
                    backend.create(name, query)
                    made.append(name)
                    ex = backend.fetch(exposure_sql(name))
                else:
                    ex = backend.fetch(exposure_sql(f"({query}) h"))
                if hop == 1:
                    backend.drop(f"inpos_{direction}")   # hop 1 took its positions; later hops carry them
                if prev:
                    backend.drop(prev)
                prev = name
                if ex["k"].size == 0:
                    break
                if on_hop:
                    on_hop(f"{direction} hop {hop}: {ex['k'].size:,} exposures")
                split = _split(ex, len(keys))
                if direction == "in" and judge and forwarding is not None:
                    if any(split[i].start < split[i].stop for i, k in enumerate(keys)
                           if k in forwarding.categories):
                        judged_any = True
                    backend.create(f"fp_{hop}", fwd_parts_sql(name, hop))
                    parts.append(f"fp_{hop}")
                    made.append(f"fp_{hop}")
                for i, key in enumerate(keys):
                    sl = split[i]
                    if sl.start == sl.stop or hop > hops_of(key, di):
                        continue
                    h = HopExposure(key, direction, hop, np.asarray(ex["d"][sl], np.int64),
                                    np.asarray(ex["usd"][sl], np.int64))
                    if sink is not None:
                        sink(h)
                    else:
                        per_key[i].append(h)
                del ex, split
            out += [h for hs in per_key for h in hs]
            if direction == "in" and judged_any and forwarding is not None:
                # the parts as one table first (Spark 4's planner loses a column of the union otherwise)
                backend.create("fparts", " UNION ALL ".join(f"SELECT k, hop, eid, t FROM {p}" for p in parts))
                made.append("fparts")
                fw = backend.fetch(forwarding_sql(["fparts"], forwarding))
                hop_no = np.asarray(fw["hop"], np.int64)
                events = ForwardingEvents(
                    np.asarray(fw["v"], np.int64), np.asarray(fw["eid"], np.int64),
                    np.asarray(fw["t"], np.int64), np.asarray(fw["fwd"], np.int64),
                    [keys[int(i)] for i in np.asarray(fw["k"]).tolist()], hop_no)
    finally:
        backend.drop(*made)
    return out, events


# -- the whole run's transfers in the workspace (out of core) -------------------------------------------------

class TableGraph:
    """The transfers of a scoring run held in a DuckDB workspace (:class:`chainrisk.store.work.Workspace`)
    rather than in numpy arrays: the roles that read every transfer (carrying flags, hub degrees, deposit
    sweeps, volumes) and the hops run there as SQL, so the process holds per-address arrays only.

    ``raw0`` (loaded by the caller) has the store's rows: ``f, t, b, li, tm, usd`` (usd -1: no USD value). The
    definitions are :func:`chainrisk.engine.model.roles`', restated set-at-a-time; the results are the same,
    bit for bit (tests/engine/test_engines.py).

    ``close_on_release``: :meth:`release` closes the workspace itself (its owner is done with it too), so that
    DuckDB's memory goes back before the aggregation and scoring."""

    def __init__(self, ws: Any, on_hop: Callable[[str], None] | None = None, close_on_release: bool = False) -> None:
        self.ws = ws
        self.on_hop = on_hop
        self.close_on_release = close_on_release
        self.top = -1
        self.m = 0

    def addresses(self) -> tuple[int, I64]:
        """(1 + the largest address id of any transfer, the sorted ids of every address with a transfer)."""
        act = self.ws.fetch("SELECT node FROM (SELECT f AS node FROM raw0 UNION SELECT t FROM raw0) ORDER BY node")
        ids = np.asarray(act["node"], np.int64)
        row = self.ws.fetch("SELECT count(*) AS m FROM raw0 WHERE usd >= 0 AND f <> t")
        self.m = int(row["m"][0])
        return (int(ids[-1]) + 1 if ids.size else 0), ids

    def edges(self, inert: I64, dust: int) -> None:
        """The run's transfer table ``tx`` (eid, s, d, r, w, c, time): USD value, no self-transfers, dense time
        rank of (block, log index), carrying flag (``dust`` and inert addresses); ``raw0`` is dropped."""
        self.ws.load("inert", pa.table({"node": inert}))
        self.ws.create("tx", f"""
            SELECT CAST(row_number() OVER () - 1 AS BIGINT) AS eid, f AS s, t AS d,
                   CAST(dense_rank() OVER (ORDER BY b, li) - 1 AS BIGINT) AS r, usd AS w,
                   (usd >= {int(dust)} AND usd > 0 AND i1.node IS NULL AND i2.node IS NULL) AS c, tm AS time
            FROM raw0 LEFT JOIN inert i1 ON i1.node = raw0.f LEFT JOIN inert i2 ON i2.node = raw0.t
            WHERE usd >= 0 AND f <> t""")
        self.ws.drop("raw0", "inert")
        row = self.ws.fetch("SELECT count(*) AS m, coalesce(max(r), 0) AS top FROM tx")
        self.m, self.top = int(row["m"][0]), int(row["top"][0])
        self._say(f"transfer table: {self.m:,} transfers, {self.top + 1:,} time ranks")

    def _say(self, msg: str) -> None:
        if self.on_hop:
            self.on_hop(msg)

    def _dense(self, query: str, n: int) -> I64:
        cols = self.ws.fetch(query)
        out = np.zeros(n, np.int64)
        out[np.asarray(cols["node"], np.int64)] = np.asarray(cols["v"], np.int64)
        return out

    def degrees(self, n: int) -> I64:
        """Distinct counterparties of each address over carrying transfers (:func:`~.propagate.degrees`)."""
        self._say("degrees")
        return self._dense("""
            WITH p AS (SELECT DISTINCT least(s, d) AS lo, greatest(s, d) AS hi FROM tx WHERE c)
            SELECT node, CAST(count(*) AS BIGINT) AS v FROM (SELECT lo AS node FROM p UNION ALL SELECT hi FROM p) x
            GROUP BY node""", n)

    def volumes(self, n: int) -> tuple[I64, I64]:
        """Everything each address received and sent (micro-USD), as dense arrays."""
        return (self._dense("SELECT d AS node, CAST(sum(w) AS BIGINT) AS v FROM tx GROUP BY d", n),
                self._dense("SELECT s AS node, CAST(sum(w) AS BIGINT) AS v FROM tx GROUP BY s", n))

    def deposit_addresses(self, candidate: B1, exchange: B1, window_s: int, min_share: float) -> tuple[I64, I64]:
        """:func:`~.propagate.deposit_addresses` over ``tx``: a sweep is a carrying transfer from a candidate to
        an exchange wallet at most ``window_s`` after the candidate's latest earlier inflow (a running window);
        a deposit address sweeps at least ``min_share`` of its outgoing USD; each with the exchange it swept
        most to (ties: lowest id)."""
        self.ws.load("nocand", pa.table({"node": np.flatnonzero(~candidate).astype(np.int64)}))
        self.ws.load("exch", pa.table({"node": np.flatnonzero(exchange).astype(np.int64)}))
        try:
            # each candidate's sweeps and its inflows in one stream by rank (a rank's sweeps before its inflows):
            # the latest earlier inflow's time is the last non-null inflow time before the sweep
            self.ws.create("sw0", """
                SELECT tx.s, tx.d, tx.r, tx.w, tx.time FROM tx JOIN exch ON exch.node = tx.d
                LEFT JOIN nocand ON nocand.node = tx.s WHERE tx.c AND nocand.node IS NULL""")
            self.ws.create("sweep", f"""
                SELECT s, d, w FROM (
                  SELECT node AS s, d, w, t, count(pt) OVER (PARTITION BY node {_RUNNING}) AS n_prev,
                         last_value(pt IGNORE NULLS) OVER (PARTITION BY node {_RUNNING}) AS prev_t
                  FROM (
                    SELECT s AS node, r, 0 AS kind, d, w, time AS t, {_NULL} AS pt FROM sw0
                    UNION ALL
                    SELECT tx.d AS node, tx.r, 1 AS kind, {_NULL}, {_NULL}, {_NULL}, tx.time AS pt
                    FROM tx WHERE tx.d IN (SELECT DISTINCT s FROM sw0)
                  ) ev
                ) x WHERE d IS NOT NULL AND n_prev > 0
                        AND (prev_t < 0 OR t < 0 OR t - prev_t <= {int(window_s)})""")
            got = self.ws.fetch(f"""
                WITH swept AS (SELECT s, CAST(sum(w) AS BIGINT) AS sw FROM sweep GROUP BY s),
                dep AS (
                  SELECT swept.s FROM swept JOIN (SELECT s, CAST(sum(w) AS BIGINT) AS o FROM tx
                                                 WHERE s IN (SELECT s FROM swept) GROUP BY s) t ON t.s = swept.s
                  WHERE swept.sw > 0 AND CAST(swept.sw AS DOUBLE) >= CAST({float(min_share)!r} AS DOUBLE)
                                                                      * CAST(t.o AS DOUBLE)),
                pair AS (SELECT s, d, CAST(sum(w) AS BIGINT) AS v FROM sweep WHERE s IN (SELECT s FROM dep)
                         GROUP BY s, d)
                SELECT s, d FROM (SELECT s, d, row_number() OVER (PARTITION BY s ORDER BY v DESC, d) AS rn
                                  FROM pair) q WHERE rn = 1 ORDER BY s""")
        finally:
            self.ws.drop("nocand", "exch", "sw0", "sweep")
        self._say(f"deposit addresses: {got['s'].size:,}")
        return np.asarray(got["s"], np.int64), np.asarray(got["d"], np.int64)

    def propagate(self, stop: B1, sources: Mapping[str, B1], max_hops: Mapping[str, tuple[int, int]],
                  forwarding: ForwardingParams | None, sink: Callable[[HopExposure], None] | None = None,
                  ) -> tuple[list[HopExposure], ForwardingEvents | None]:
        """The hops (:func:`propagate_tables`); with ``sink``, each hop exposure goes to it as it is fetched."""
        return propagate_tables(self.ws, "tx", self.top, stop, sources, max_hops, forwarding, self.on_hop, sink)

    def edge_fields(self, eid: I64) -> dict[str, I64]:
        """``s``, ``r``, ``time`` and ``w`` of the transfers ``eid`` (in that order)."""
        self.ws.load("want", pa.table({"i": np.arange(eid.size, dtype=np.int64), "eid": eid}))
        try:
            got = self.ws.fetch("SELECT tx.s, tx.r, tx.time, tx.w FROM want JOIN tx ON tx.eid = want.eid ORDER BY want.i")
        finally:
            self.ws.drop("want")
        return {k: np.asarray(v, np.int64) for k, v in got.items()}

    def release(self) -> None:
        """Drop the transfer table (after the last step that reads it); ``close_on_release``: close the
        workspace."""
        self.ws.drop("tx")
        if self.close_on_release:
            self.ws.close()

    def arrays(self) -> dict[str, np.ndarray]:
        """Every transfer as arrays (src, dst, rank, usd, time, carry) in eid order: for the parts that still
        need them in memory (the behaviour model's features)."""
        got = self.ws.fetch("SELECT s, d, r, w, time, c FROM tx ORDER BY eid")
        return {"src": np.asarray(got["s"], np.int64), "dst": np.asarray(got["d"], np.int64),
                "rank": np.asarray(got["r"], np.int64), "usd": np.asarray(got["w"], np.int64),
                "time": np.asarray(got["time"], np.int64), "carry": np.asarray(got["c"], bool)}


def table_inputs(ws: Any, labels: list[Any], inert: I64, on_hop: Callable[[str], None] | None = None,
                 close_on_release: bool = False) -> Any:
    """The :class:`~chainrisk.engine.model.TableInputs` of the transfers in ``ws``'s table ``raw0`` (``f, t, b,
    li, tm, usd``: from, to, block, log index, epoch seconds or -1, micro-USD or -1) with these labels and inert
    address ids (sorted); ``close_on_release``: see :class:`TableGraph`."""
    from .model import TableInputs

    graph = TableGraph(ws, on_hop, close_on_release)
    n, active = graph.addresses()
    n = int(max([n, *(lab.address_id + 1 for lab in labels), *(inert[-1:] + 1).tolist()]))
    return TableInputs(n=n, active=active, inert=inert, graph=graph, labels=labels)
