"""The scoring run: labels + transfers -> exposures, scores and bands, kept as one auditable run.

    >>> import chainrisk
    >>> st = chainrisk.open("case.duckdb")
    >>> run = chainrisk.score(st, profile="cn")          # every address with activity
    >>> run.run_id, run.bands

Pipeline (see ``docs/scoring.md`` for the exact definitions):

1. :func:`load_inputs` reads every transfer with a USD value (``amount * tokens.usd_peg``; tokens without a peg
   carry no USD value and are left out of the graph), in integer micro-USD, and the active labels.
2. :func:`~chainrisk.engine.model.compute` (pure, no I/O) finds inert addresses (null/burn, precompiles, token contracts), hubs,
   exchange deposit addresses, stop nodes and sources; runs :func:`chainrisk.engine.propagate.propagate`; aggregates the
   exposures per category x direction x hop class; and scores every address.
3. :func:`score` records the run (profile, parameters, data as-of, label sources), computes the behavioural
   indicators (:mod:`chainrisk.engine.indicators`, unless ``indicators=False``), and writes scores, exposures and inferred labels, flipping the run
   to ``complete`` in the same transaction (a failure marks it ``failed`` and leaves earlier runs intact).

The pure core (inputs, roles, aggregation, the score formula) is :mod:`chainrisk.engine.model`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time as _time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from ..errors import InputError
from ..profiles import Profile, load_profile
from ..store.asof import naive_utc, point_in_time
from ..store.runs import list_runs as runs
from ..store.work import Workspace
from ..taxonomy import BANDS, CATEGORIES, VICTIM_CATEGORIES, inert_keys
from .indicators import compute_indicators
from .ledger import INFERRED_SOURCE, LEDGER_SOURCE, derive_ledger_labels
from .model import (
    DEPOSIT_CATEGORY,
    DEPOSIT_CONFIDENCE,
    EXPOSURE_CAP,
    INDICATOR_WEIGHT,
    INFERRED_CATEGORY,
    INFERRED_CONFIDENCE,
    MAX_TRANSFER_USD,
    MICRO,
    SWEEP_SHARE,
    SWEEP_WINDOW_S,
    VICTIM_CORROBORATORS,
    Inputs,
    Label,
    Result,
    TableInputs,
    _build,
    compute,
    inputs_from_rows,
)
from .propagate import ForwardingParams, propagate

__all__ = ["Inputs", "Label", "Result", "RunSummary", "compute", "inputs_from_rows", "load_inputs", "runs", "score"]

log = logging.getLogger(__name__)

ENGINE_VERSION = "3"   # two verdicts and an action; purity (hop_decay 1, K 6); victims; inferred sources; forwarding
MAX_HOPS_LIMIT = 10
RUN_LEASE = timedelta(hours=1)   # renewed at each stage; a run past it is stale (Store.fail_stale_runs)


_TRANSFERS_SQL = """
        SELECT t.from_id, t.to_id, t.block_number, t.log_index,
               coalesce(CAST(epoch(t.block_time) AS BIGINT), -1) AS tm,
               CASE WHEN k.usd_peg IS NULL OR t.amount IS NULL THEN -1
                    ELSE CAST(floor(least(t.amount * k.usd_peg, ?) * 1000000 + 0.5) AS BIGINT) END AS usd
        FROM transfers t JOIN tokens k ON k.id = t.token_id
        """


def load_inputs(store: Any) -> Inputs:
    """Read transfers (integer ids, micro-USD) and active labels from the store."""
    cols = store.execute(_TRANSFERS_SQL, [MAX_TRANSFER_USD]).fetchnumpy()
    arr = {k: np.asarray(v, dtype=np.int64) for k, v in cols.items()}
    labels, inert = _labels_and_inert(store)
    return _build(arr["from_id"], arr["to_id"], arr["block_number"], arr["log_index"], arr["tm"], arr["usd"],
                  labels, inert)


def load_table_inputs(store: Any, ws: Any, on_hop: Callable[[str], None] | None = None) -> TableInputs:
    """:func:`load_inputs` for the SQL engine: the transfers are streamed from the store into the workspace
    ``ws`` in batches (never whole in memory) and stay there; the labels and per-address parts are read as
    usual."""
    from .sql_engine import table_inputs

    query = _TRANSFERS_SQL.replace("?", f"CAST({float(MAX_TRANSFER_USD)!r} AS DOUBLE)")   # a relation streams
    reader = store.sql(f"SELECT from_id AS f, to_id AS t, block_number AS b, log_index AS li, tm, usd"
                       f" FROM ({query})").to_arrow_reader(1 << 20)
    ws.load("raw0", reader)
    labels, inert = _labels_and_inert(store)
    return table_inputs(ws, labels, inert, on_hop, close_on_release=True)   # the run owns ws: closed after the hops


def _labels_and_inert(store: Any) -> tuple[list[Label], np.ndarray]:
    labels = [Label(int(a), c, n, int(conf), s) for a, c, n, conf, s in store.execute(
        """
        SELECT a.id, l.category, l.name, l.confidence, l.source
        FROM active_labels l JOIN addresses a ON a.chain = l.chain AND a.address = l.address
        ORDER BY a.id, l.category, l.confidence DESC, l.source, l.name
        """).fetchall()]
    system = inert_keys()
    inert = [int(r[0]) for r in store.execute(
        """
        SELECT a.id FROM addresses a
        WHERE list_contains(?, a.chain || ':' || a.address)
           OR EXISTS (SELECT 1 FROM tokens k WHERE k.chain = a.chain AND k.contract = a.address)
           OR EXISTS (SELECT 1 FROM active_labels l
                      WHERE l.chain = a.chain AND l.address = a.address AND l.category = 'token_contract')
        ORDER BY a.id
        """, [system]).fetchall()]
    return labels, np.array(inert, np.int64)


# -- the run --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunSummary:
    run_id: str
    status: str
    profile: str
    max_hops: int
    n_addresses: int
    n_exposures: int
    n_indicators: int
    n_inferred: int
    bands: dict[str, int]
    as_of_block: int | None
    as_of_time: datetime | None
    label_sources: list[dict[str, Any]]
    duration_s: float
    timings_s: dict[str, float] = field(default_factory=dict)   # per stage: load, indicators, ..., write

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _new_run_id(now: datetime, seed: str) -> str:
    h = hashlib.sha256(f"{now.isoformat()}|{seed}|{_time.perf_counter_ns()}".encode()).hexdigest()[:4]
    return f"r{now:%Y%m%d-%H%M%S}-{h}"


ENGINES = ("array", "sql", "spark")


def score(store: Any, profile: str | Profile = "cn", max_hops: int | None = None, *, indicators: bool = True,
          on_progress: Callable[[str], None] | None = None, prepare_reads: bool = True,
          behaviour: Any = None, as_of: datetime | None = None, engine: str = "array",
          memory_limit: str | None = None, spark: Any = None, spark_dir: str | None = None) -> RunSummary:
    """:func:`score_run`; with ``as_of`` (UTC), a point-in-time run: only the transfers up to that moment and the
    labels as the store knew them then (:func:`chainrisk.store.asof.point_in_time`), recorded in the run's
    parameters (``point_in_time``). A point-in-time run is kept and can be named, but never answers as the
    latest run. ``engine`` etc.: see :func:`score_run`."""
    with point_in_time(store, as_of):
        return score_run(store, profile, max_hops, indicators=indicators, on_progress=on_progress,
                         prepare_reads=prepare_reads, behaviour=behaviour, as_of=as_of, engine=engine,
                         memory_limit=memory_limit, spark=spark, spark_dir=spark_dir)


def score_run(store: Any, profile: str | Profile = "cn", max_hops: int | None = None, *, indicators: bool = True,
              on_progress: Callable[[str], None] | None = None, prepare_reads: bool = True,
              behaviour: Any = None, as_of: datetime | None = None, engine: str = "array",
              memory_limit: str | None = None, spark: Any = None, spark_dir: str | None = None) -> RunSummary:
    """Score every address with activity in ``store`` and keep the result as one complete scoring run.

    ``profile`` is a bundled profile name, a TOML path or a :class:`~chainrisk.profiles.Profile`; ``max_hops``
    overrides the profile's; ``indicators=False`` leaves the behavioural indicators out (graph and labels only);
    ``on_progress`` receives one line per stage; ``prepare_reads`` (default) ends a successful run by building the
    lookup indexes and the run's evidence tables (``prepare_reads=False``: the first lookup builds them);
    ``behaviour`` overrides the profile's ``[behaviour]`` model: a
    :class:`~chainrisk.engine.behaviour.BehaviourModel`, or ``False`` for none. Raises :class:`~chainrisk.errors.InputError` for a bad profile
    or hop count; any failure marks the run ``failed`` (with the error) and leaves earlier runs untouched.

    ``engine`` runs the propagation: ``"array"`` (numpy in memory, the default), ``"sql"`` (DuckDB set-at-a-time
    SQL in a workspace that spills to disk beyond ``memory_limit``, e.g. ``"8GB"``) or ``"spark"`` (the same
    statements on Apache Spark: ``spark`` is a SparkSession or a master URL, default a local session; ``spark_dir``
    where its Parquet tables go, a path every executor sees on a cluster; needs ``chainrisk[spark]`` and Java 17).
    All three give the same exposures, scores and bands, bit for bit.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; give one of {', '.join(ENGINES)}")
    if engine == "spark":
        from .spark_engine import require  # at call time: pyspark only for this engine

        require(spark)   # before the run is recorded: a missing pyspark or Java is a usage error, not a failed run
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    hops = prof.propagation.max_hops if max_hops is None else int(max_hops)
    if not 1 <= hops <= MAX_HOPS_LIMIT:
        raise InputError(f"max hops {hops} is out of range; give 1..{MAX_HOPS_LIMIT}")
    say = on_progress or (lambda msg: log.info(msg))
    t0 = _time.perf_counter()
    now = datetime.now(UTC).replace(tzinfo=None)
    run_id = _new_run_id(now, prof.name)
    params = {"engine_version": ENGINE_VERSION, "max_hops": hops, **prof.to_dict()["propagation"],
              "exposure_cap": EXPOSURE_CAP, "indicator_weight": INDICATOR_WEIGHT,
              "corroboration": "noisy_or(illicit exposure, indicator)",
              "deposit": {"category": DEPOSIT_CATEGORY, "window_s": SWEEP_WINDOW_S, "min_share": SWEEP_SHARE,
                          "confidence": DEPOSIT_CONFIDENCE},
              "inferred_sources": {"indicator": "collector", "category": INFERRED_CATEGORY,
                                   "confidence": INFERRED_CONFIDENCE, "alone_at_most": "medium"},
              "victim": {"outgoing_to": sorted(VICTIM_CATEGORIES), "at_most": "medium",
                         "corroborated_by": sorted(VICTIM_CORROBORATORS)},
              "forwarding": ForwardingParams().__dict__ | {
                  "categories": "illicit, labelled and inferred sources; per inflow the sum over them and hops"}}
    params["max_hops"] = hops
    params["indicators"] = indicators
    params["engine"] = engine
    model = _behaviour_model(prof, behaviour)
    skipped = ""
    if model is not None:
        from .behaviour import MIN_WINDOW_DAYS

        (window,) = store.execute("SELECT coalesce((epoch(max(block_time)) - epoch(min(block_time))) / 86400, 0)"
                                  " FROM transfers").fetchone()
        if float(window) < MIN_WINDOW_DAYS:
            skipped = (f"behaviour model not evaluated: the data cover {float(window):.0f} days, fewer than "
                       f"{MIN_WINDOW_DAYS} (every wallet would look short-lived)")
            params["behaviour_skipped"] = f"data window {float(window):.1f} days < {MIN_WINDOW_DAYS}"
            model = None
    params["behaviour"] = None if model is None else {
        "model": model.id, "content_hash": model.content_hash, "features_version": model.doc.get("features_version"),
        "alone_at_most": prof.behaviour.alone_at_most, "min_part": prof.behaviour.min_part,
        "corroborate_at": prof.behaviour.corroborate_at,
        "combination": "noisy_or(illicit exposure or indicator, behaviour part)"}
    if as_of is not None:   # the store is shadowed by point_in_time() (see score)
        params["point_in_time"] = {"as_of": naive_utc(as_of).isoformat(), "transfers": "block_time <= as_of",
                                   "labels": "imported by as_of and not ended then"}
    asof = store.execute(
        "SELECT block_number, block_time FROM transfers ORDER BY block_number DESC, block_time DESC LIMIT 1"
    ).fetchone()
    as_of_block, as_of_time = (asof[0], asof[1]) if asof else (None, None)
    srcs = [{"source": s, "version": v, "rows": n, "imported_at": t} for s, v, n, t in store.execute(
        "SELECT source, version, rows, imported_at FROM label_sources ORDER BY source").fetchall()]
    # the run records its process and a lease renewed at each stage: a killed run is found stale and failed
    store.execute(
        "INSERT INTO scoring_runs (run_id, created_at, status, profile, profile_json, params_json, as_of_block,"
        " as_of_time, label_sources_json, pid, host, lease_until) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, now, prof.name, json.dumps(prof.to_dict(), sort_keys=True), json.dumps(params, sort_keys=True),
         as_of_block, as_of_time, json.dumps(srcs, sort_keys=True, default=str), os.getpid(), socket.gethostname(),
         now + RUN_LEASE])
    timings: dict[str, float] = {}
    mark = _time.perf_counter()

    def stage(name: str) -> None:
        nonlocal mark
        now_ = _time.perf_counter()
        timings[name] = round(now_ - mark, 3)
        mark = now_
        store.execute("UPDATE scoring_runs SET lease_until = ? WHERE run_id = ?",
                      [datetime.now(UTC).replace(tzinfo=None) + RUN_LEASE, run_id])

    stack = ExitStack()   # the SQL engine's workspace: until the scores are computed
    limit = ExitStack()   # the store's memory limit (SQL engine): until the run is written
    try:
        say("loading transfers and labels")
        if engine == "sql":   # out of core: the transfers go to a spilling workspace and stay there
            ws = stack.enter_context(Workspace(memory_limit=memory_limit))
            limit.enter_context(store.memory_limit(memory_limit))   # the store's own queries under the limit too
            inp: Inputs | TableInputs = load_table_inputs(store, ws, on_hop=say)
        else:
            inp = load_inputs(store)
        stage("load")
        say("deriving RWA investors and issuer operations addresses from the ledger")
        derived = derive_ledger_labels(store)
        inp.labels.extend(Label(a, c, nm, conf, LEDGER_SOURCE if conf >= 100 else INFERRED_SOURCE)
                          for a, c, nm, conf, _ in derived)
        stage("ledger")
        say(f"{_n_transfers(inp):,} transfers with a USD value among {inp.active.size:,} addresses; indicators")
        n_ind = int(compute_indicators(store, run_id, prof, as_of_time)) if indicators else 0
        ind: dict[int, list[tuple[str, int]]] = {}
        for a, i, sv in store.execute(
                "SELECT address_id, indicator, max(severity) FROM indicators WHERE run_id = ?"
                " GROUP BY address_id, indicator ORDER BY address_id, indicator", [run_id]).fetchall():
            ind.setdefault(int(a), []).append((str(i), int(sv)))
        stage("indicators")
        if skipped:
            say(skipped)
        say(f"propagating (K = {hops}, {engine} engine)")
        with _propagator(engine, memory_limit, spark, spark_dir, say) as propagator:
            res = compute(inp, prof, hops, ind, forwarding=indicators, behaviour=model, propagator=propagator)
        res.inferred.extend(derived)
        stage("propagate_and_score")
        stack.close()   # the workspace (and its spill files) is done with
        say("writing the run")
        _write(store, run_id, res, t0, hops, prof.behaviour.alone_at_most)
        limit.close()
        stage("write")
        duration = _time.perf_counter() - t0
    except BaseException as e:
        stack.close()
        limit.close()
        store.execute("UPDATE scoring_runs SET status = 'failed', finished_at = ?, error = ? WHERE run_id = ?",
                      [datetime.now(UTC).replace(tzinfo=None), f"{type(e).__name__}: {e}", run_id])
        store.execute("DELETE FROM indicators WHERE run_id = ?", [run_id])
        raise
    # Prepare fast reads: the lookup indexes and the evidence helper tables for this run (the transfer tables are
    # reused when only labels changed). After the commit: a failure here leaves the run complete, and lookups
    # would build them lazily.
    if prepare_reads:
        say("preparing lookups and evidence")
        from .evidence import refresh_evidence_index  # at call time: networkx only when evidence is prepared

        store.ensure_indexes()
        refresh_evidence_index(store, run_id)
        stage("fast_reads")
    bands = {b: 0 for b in BANDS}
    for b in res.scores["band"]:
        bands[b] += 1
    return RunSummary(run_id, "complete", prof.name, hops, int(inp.active.size), int(res.exposures["addr"].size),
                      n_ind + len(res.indicators), len(res.inferred), bands, as_of_block, as_of_time, srcs, round(duration, 3), timings)


@contextmanager
def _propagator(engine: str, memory_limit: str | None, spark: Any, spark_dir: str | None,
                say: Callable[[str], None]) -> Iterator[Callable[..., Any]]:
    """What runs the hops for ``engine`` (set up for the block, torn down after)."""
    if engine in ("array", "sql"):   # sql: the run's TableInputs carry their workspace, compute() runs the hops there
        yield propagate
    else:
        from .spark_engine import propagator  # at call time: pyspark only for this engine

        with propagator(spark, spark_dir, say) as run:   # a session, a master URL, or SparkResults to load
            yield run


def _n_transfers(inp: Inputs | TableInputs) -> int:
    return inp.n_transfers if isinstance(inp, TableInputs) else int(inp.src.size)


def _behaviour_model(prof: Profile, behaviour: Any) -> Any:
    """The behaviour model of a run: the override, else the profile's (the shipped file unless it names one)."""
    if behaviour is False:
        return None
    if behaviour is not None and behaviour is not True:
        return behaviour
    if not prof.behaviour.enabled and behaviour is None:
        return None
    from .behaviour import load_model

    return load_model(prof.behaviour.model or None)


def _reason_sql(p: str, top: str, nothing: str) -> str:
    """The reason sentence of one verdict from its fields (prefix ``p``) and top-category column ``top``."""
    share = (f"printf('%.1f%% of %s funds %s %s, nearest %s', {p}share * 100,"
             f" CASE {p}dir WHEN 0 THEN 'incoming' ELSE 'outgoing' END, CASE {p}dir WHEN 0 THEN 'from' ELSE 'to' END,"
             f" {top}, CASE WHEN {p}hop = 1 THEN 'directly' ELSE printf('at %d hops', {p}hop) END)"
             f" || CASE WHEN {p}inf = 1 THEN ' (an unlabelled collector the engine inferred; heuristic)' ELSE '' END")
    # the combined reason names the label and its source (existing callers); the two verdicts say only the
    # category and confidence (label names and sources are not for every reader of a verdict)
    label = (f"printf('labelled %s%s by %s (confidence %d)', {top}, coalesce(' ' || {p}name, ''), {p}source, {p}conf)"
             if p == "r_" else f"printf('labelled %s (confidence %d)', {top}, {p}conf)")
    beh = (f" || CASE WHEN {p}beh = 2 THEN printf(', corroborated by behaviour like the illicit addresses the model"
           f" learned from (behaviour part %.1f)', behaviour_score) ELSE '' END")
    return f"""
    CASE {p}kind
      WHEN 6 THEN printf('behaves like the illicit addresses the behaviour model learned from (behaviour part %.1f of'
                         ' 100; alone at most %s)', behaviour_score, ?::VARCHAR)
      WHEN 3 THEN 'mint/burn, precompile or token contract: not a counterparty, carries no risk'
      WHEN 2 THEN printf('behavioural indicator %s (severity %d)', {p}ind, {p}ind_sev)
      WHEN 4 THEN {share} || printf(', with behavioural indicator %s (severity %d)', {p}ind, {p}ind_sev)
      WHEN 5 THEN 'possible victim: ' || {share} || '; no sign of a perpetrator (collector, pass-through, forwarding)'
      WHEN 0 THEN {label}
      WHEN 1 THEN {share}
      ELSE printf('{nothing} within %d hops', ?::INTEGER)
    END{beh}"""


_AXES = (("r_", "", "no exposure to risky categories"), ("i_", "illicit_", "no links to illicit categories"),
         ("v_", "vc_", "no exposure to virtual-currency business"))


WRITE_BATCH = 1 << 20   # rows per Arrow batch of the scores and exposures written to the store


def _score_batch(s: dict[str, Any], sl: slice) -> Any:
    """The rows ``sl`` of the scores as an Arrow record batch (the store's columns; reasons are made in SQL)."""
    import pyarrow as pa

    def col(k: str) -> Any:
        return s[k][sl]

    m = col("addr").size
    cols: dict[str, Any] = {
        "address_id": col("addr"), "categories": pa.array(col("categories"), pa.string()),
        "own_categories": pa.array(col("own_categories"), pa.string()),
        "min_hops": pa.array(col("min_hops"), pa.int32(), mask=col("min_hops") < 0),
        "direct_usd": col("direct_usd") / MICRO, "indirect_usd": col("indirect_usd") / MICRO,
        "volume_in_usd": col("volume_in") / MICRO, "volume_out_usd": col("volume_out") / MICRO,
        "illicit_confidence": pa.array(col("illicit_confidence"), pa.string()),
        "possible_victim": pa.array(col("possible_victim"), pa.bool_()),
        "action": pa.array(col("action"), pa.string())}
    for p, key, _ in _AXES:
        cols[f"{key}score"] = col(f"{key}score")
        cols[f"{key}band"] = pa.array(col(f"{key}band"), pa.string())
        cols[f"{key}top_category"] = pa.array(col(f"{key}top_category"), pa.string())
        for f in ("kind", "dir", "share", "hop", "inf", "conf", "ind_sev", "beh"):
            cols[p + f] = col(p + f)
        for f in ("name", "source", "ind"):
            cols[p + f] = pa.array(col(p + f), pa.string())
    bs = col("behaviour_score")
    cols["behaviour_score"] = pa.array(bs, pa.float64(), mask=np.isnan(bs))
    top = s["behaviour_top"]
    if top is None:
        for name, typ in (("behaviour_features", pa.string()), ("behaviour_values", pa.float64()),
                          ("behaviour_contributions", pa.float64())):
            cols[name] = pa.nulls(m, pa.list_(typ))
    else:   # the valid contributions are a prefix of each row (largest first, then the empty slots)
        t0, t1, t2, t3 = (x[sl] for x in top[:4])
        ok = t3 >= 0
        offsets = pa.array(np.r_[0, np.cumsum(ok.sum(axis=1))].astype(np.int32))
        cols["behaviour_features"] = pa.ListArray.from_arrays(offsets, pa.array(t0[ok], pa.string()))
        cols["behaviour_values"] = pa.ListArray.from_arrays(offsets, pa.array(t1[ok], pa.float64()))
        cols["behaviour_contributions"] = pa.ListArray.from_arrays(offsets, pa.array(t2[ok], pa.float64()))
    return pa.RecordBatch.from_pydict(cols)


def _exposure_batch(e: dict[str, Any], sl: slice) -> Any:
    """The rows ``sl`` of the exposures as an Arrow record batch."""
    import pyarrow as pa

    def codes(k: str) -> Any:
        return pa.array(e[k][sl].astype(np.int32), pa.int32())

    return pa.RecordBatch.from_pydict({
        "address_id": e["addr"][sl],
        "category": pa.DictionaryArray.from_arrays(codes("cat"), pa.array(list(CATEGORIES), pa.string())),
        "direction": pa.DictionaryArray.from_arrays(codes("dir"), pa.array(["in", "out"])),
        "hop_class": pa.DictionaryArray.from_arrays(codes("cls"), pa.array(["direct", "indirect"])),
        "usd": e["usd"][sl] / MICRO, "share": e["share"][sl], "min_hop": e["min_hop"][sl].astype(np.int32),
        "weighted_usd": e["weighted"][sl] / MICRO, "inferred": e["inf"][sl].astype(bool)})


def _batches(make: Callable[[dict[str, Any], slice], Any], cols: dict[str, Any], rows: int) -> Any:
    """The rows as a stream of Arrow batches of :data:`WRITE_BATCH` rows (made as the store reads them: only
    one batch of Arrow copies at a time)."""
    import pyarrow as pa

    first = make(cols, slice(0, min(rows, WRITE_BATCH)))
    rest = (make(cols, slice(lo, lo + WRITE_BATCH)) for lo in range(WRITE_BATCH, rows, WRITE_BATCH))
    return pa.RecordBatchReader.from_batches(first.schema, (b for it in ([first], rest) for b in it))


def _write(store: Any, run_id: str, res: Result, t0: float, max_hops: int, alone: str = "medium") -> None:
    import pyarrow as pa

    s = res.scores
    m = s["addr"].size
    scores = _batches(_score_batch, s, m)
    exposures = _batches(_exposure_batch, res.exposures, res.exposures["addr"].size)
    inferred = pa.table({
        "address_id": pa.array([x[0] for x in res.inferred], pa.int64()),
        "category": pa.array([x[1] for x in res.inferred], pa.string()),
        "name": pa.array([x[2] for x in res.inferred], pa.string()),
        "confidence": pa.array([x[3] for x in res.inferred], pa.int32()),
        "method": pa.array([json.loads(x[4]).get("method", "heuristic") for x in res.inferred], pa.string()),
        "source": pa.array(["chainrisk:ledger" if x[3] >= 100 else "chainrisk:inferred" for x in res.inferred],
                           pa.string()),
        "evidence": pa.array([x[4] for x in res.inferred], pa.string())})
    engine_ind = pa.table({
        "address_id": pa.array([x[0] for x in res.indicators], pa.int64()),
        "indicator": pa.array([x[1] for x in res.indicators], pa.string()),
        "severity": pa.array([x[2] for x in res.indicators], pa.int32()),
        "evidence": pa.array([x[3] for x in res.indicators], pa.string())})
    reasons = ", ".join(f"{_reason_sql(p, key + 'top_category', nothing)} AS r{i}"
                        for i, (p, key, nothing) in enumerate(_AXES, start=1))
    with store.registered(_cr_scores=scores, _cr_exposures=exposures, _cr_inferred=inferred,
                          _cr_indicators=engine_ind), store.transaction():
        store.execute(
            "INSERT INTO scores (run_id, address_id, score, band, top_category, categories, own_categories,"
            " min_hops, direct_usd, indirect_usd, volume_in_usd, volume_out_usd, reason, illicit_score,"
            " illicit_band, illicit_top_category, illicit_reason, illicit_confidence, possible_victim, vc_score,"
            " vc_band, vc_top_category, vc_reason, action, behaviour_score, behaviour_features, behaviour_values,"
            " behaviour_contributions)"
            " SELECT ?, address_id, score, band, top_category, categories, own_categories, min_hops,"
            " direct_usd, indirect_usd, volume_in_usd, volume_out_usd, r1, illicit_score, illicit_band,"
            " illicit_top_category, r2, illicit_confidence, possible_victim, vc_score, vc_band, vc_top_category,"
            " r3, action, behaviour_score, behaviour_features, behaviour_values, behaviour_contributions"
            f" FROM (SELECT *, {reasons} FROM _cr_scores)",
            [run_id, *([alone, max_hops] * 3)])
        store.execute(
            "INSERT INTO exposures (run_id, address_id, category, direction, hop_class, usd, share, min_hop,"
            " weighted_usd, inferred) SELECT ?, address_id, category::VARCHAR, direction::VARCHAR,"
            " hop_class::VARCHAR, usd, share, min_hop, weighted_usd, inferred FROM _cr_exposures", [run_id])
        store.execute(
            "INSERT INTO inferred_labels (run_id, address_id, category, name, confidence, method, evidence, source)"
            " SELECT ?, address_id, category, name, confidence, method, evidence, source FROM _cr_inferred",
            [run_id])
        store.execute(
            "INSERT INTO indicators (run_id, address_id, indicator, severity, evidence)"
            " SELECT ?, address_id, indicator, severity, evidence FROM _cr_indicators", [run_id])
        store.execute(
            "UPDATE scoring_runs SET status = 'complete', finished_at = ?, n_addresses = ?, duration_s = ?"
            " WHERE run_id = ?",
            [datetime.now(UTC).replace(tzinfo=None), m, round(_time.perf_counter() - t0, 3), run_id])

