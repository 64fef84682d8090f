"""Apache Spark as a backend of the SQL engine: the statements of :mod:`chainrisk.engine.sql_engine`, written once
in DuckDB's dialect, transpiled to Spark SQL with sqlglot and run by a SparkSession (local mode or a cluster).

Inputs travel as Parquet: :meth:`SparkBackend.load` writes an Arrow table to Parquet under the backend's
directory (a shared filesystem or object store path on a cluster) and registers it as a view; :meth:`create`
materialises each statement's result (an executor-local checkpoint by default, or Parquet files with
``checkpoint=False``), so hop k reads hop k-1's table, not a growing lineage; :meth:`fetch` brings a result back
as numpy columns (the per-hop exposures, one row per address reached).

Needs ``pip install 'chainrisk[spark]'`` (pyspark, sqlglot) and Java 17 on the PATH (or ``JAVA_HOME``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import InputError, UsageError
from .propagate import B1, I64, ForwardingEvents, ForwardingParams, HopExposure

INSTALL = "pip install 'chainrisk[spark]' and a Java 17 runtime (e.g. apt-get install default-jre-headless)"


def require(spark: Any = None) -> None:
    """Raise :class:`~chainrisk.errors.UsageError` (one sentence: what to install) without pyspark, sqlglot or Java.
    Loading :class:`SparkResults` (``spark``) needs none of them."""
    if isinstance(spark, SparkResults):
        return
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as e:
        raise UsageError(f"--engine spark needs pyspark and sqlglot ({e.name} is missing); {INSTALL}") from None
    java = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java"
    if shutil.which(java) is None:
        raise UsageError(f"--engine spark needs Java 17 and none was found on the PATH or in JAVA_HOME; {INSTALL}")


@lru_cache(maxsize=256)
def to_spark(query: str) -> str:
    """One statement of the SQL engine in Spark SQL."""
    import sqlglot

    return str(sqlglot.transpile(query, read="duckdb", write="spark")[0])


def active_session() -> Any:
    """The SparkSession this process already runs (None: none; a new one would start a JVM)."""
    require()
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def parse_conf(items: Any) -> dict[str, str]:
    """``KEY=VALUE`` strings (``--spark-conf``) as a dict; a malformed one is an :class:`InputError`."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip() or not value.strip() or not key.strip().startswith("spark."):
            raise InputError(f"--spark-conf {item!r} is not KEY=VALUE with a Spark key (e.g. spark.driver.memory=8g)")
        out[key.strip()] = value.strip()
    return out


def local_defaults(cores: int) -> dict[str, str]:
    """Local mode's settings sized to this machine: the driver JVM (which in local mode also runs the executor
    tasks and keeps the checkpointed hop tables) gets half the RAM, at most 32 GiB, at least 1 GiB (Spark's own
    default of 1 GiB fails beyond a few million transfers); shuffles use 2 partitions per core."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 4 * 2**30
    gib = max(1, min(32, int(ram / 2**30 / 2)))
    return {"spark.driver.memory": f"{gib}g", "spark.sql.shuffle.partitions": str(max(2, cores * 2))}


def local_session(cores: int = 2, shuffle_partitions: int | None = None,
                  conf: dict[str, str] | None = None) -> Any:
    """A local SparkSession bound to the loopback interface only (``local[cores]``).

    ``conf``: Spark settings over :func:`local_defaults`. Memory settings take effect only when this call
    starts the JVM (the first session of the process); ``spark.driver.memory`` is then passed to it."""
    require()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    settings = local_defaults(cores)
    if shuffle_partitions:
        settings["spark.sql.shuffle.partitions"] = str(shuffle_partitions)
    settings.update(conf or {})
    b = (SparkSession.builder.master(f"local[{cores}]").appName("chainrisk")
         .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
         .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
         .config("spark.sql.session.timeZone", "UTC"))
    for k, v in settings.items():
        b = b.config(k, v)
    return b.getOrCreate()


class SparkBackend:
    """The SQL engine's backend on a SparkSession; tables as Parquet under ``directory``."""

    dialect = "spark"

    def __init__(self, session: Any, directory: str | None, checkpoint: bool = True) -> None:
        self.spark = session
        self.dir = directory
        self.checkpoint = checkpoint   # intermediate tables: executor-local checkpoints (True) or Parquet files
        self._views: dict[str, Any] = {}

    def _path(self, name: str) -> str:
        if self.dir is None:
            raise InputError("this Spark backend has no folder for Parquet tables")
        return f"{self.dir.rstrip('/')}/{name}.parquet"

    def load(self, name: str, table: Any) -> None:
        if self.dir is None:   # small tables: straight from the driver's memory, no shared folder needed
            df = self.spark.createDataFrame(table)
            df.createOrReplaceTempView(name)
            self._views[name] = df
            return
        path = self._path(name)
        if "://" in self.dir:
            # a cluster's shared storage (hdfs://, s3a://, ...): Spark writes it
            self.spark.createDataFrame(table).write.mode("overwrite").parquet(path)
        else:
            import pyarrow.parquet as pq

            shutil.rmtree(path, ignore_errors=True)
            os.makedirs(path)
            pq.write_table(table, os.path.join(path, "part-0.parquet"))
        self.spark.read.parquet(path).createOrReplaceTempView(name)

    def create(self, name: str, query: str) -> None:
        df = self.spark.sql(to_spark(query))
        if self.checkpoint:
            # kept by the executors (memory, spilling to their local disks), lineage cut: hop k does not recompute
            # hops 1..k-1
            df = df.localCheckpoint(eager=True)
        else:
            path = self._path(name)
            df.write.mode("overwrite").parquet(path)
            df = self.spark.read.parquet(path)
        df.createOrReplaceTempView(name)
        self._views[name] = df

    def fetch(self, query: str) -> dict[str, np.ndarray]:
        df = self.spark.sql(to_spark(query))
        try:
            tab = df.toArrow()
        except Exception:
            # pyspark 4's toArrow fails on some empty results ("Tried reading schema message, was null"): every
            # column the SQL engine fetches is an integer
            if df.isEmpty():
                return {c: np.empty(0, np.int64) for c in df.columns}
            raise
        return {c: tab.column(c).to_numpy(zero_copy_only=False) for c in tab.column_names}

    def drop(self, *names: str) -> None:
        for name in names:
            self.spark.catalog.dropTempView(name)
            df = self._views.pop(name, None)
            if df is not None and self.checkpoint:
                df.unpersist()
            if self.dir is not None and "://" not in self.dir:
                shutil.rmtree(self._path(name), ignore_errors=True)


def cluster_session(master: str, conf: dict[str, str] | None = None) -> Any:
    """A SparkSession on ``master`` (``spark://host:7077``, ``yarn``, ``k8s://...``, ``local[4]``); executors,
    memory and the like come from ``spark-defaults.conf``, ``spark-submit`` options or ``conf`` (``--spark-conf``).
    ``local[N]`` gets :func:`local_session`'s loopback binding and memory defaults."""
    require()
    if master.startswith("local"):
        inner = master[len("local"):].strip("[]")
        cores = (os.cpu_count() or 2) if inner in ("", "*") else int(inner) if inner.isdigit() else 2
        return local_session(cores, conf=conf)
    from pyspark.sql import SparkSession

    b = (SparkSession.builder.master(master).appName("chainrisk")
         .config("spark.ui.showConsoleProgress", "false").config("spark.sql.session.timeZone", "UTC"))
    for k, v in (conf or {}).items():
        b = b.config(k, v)
    return b.getOrCreate()


@contextmanager
def spark_backend(session: Any = None, directory: str | None = None,
                  conf: dict[str, str] | None = None) -> Iterator[SparkBackend]:
    """A :class:`SparkBackend` on ``session`` (a SparkSession; a master URL: a session there; None: a local
    session; the last two are stopped after the block) with its tables under ``directory`` (None: a private
    temporary folder, removed after; on a cluster, a path all executors see: ``hdfs://...``, ``s3a://...``)."""
    require()
    own = session is None or isinstance(session, str)
    spark = local_session(conf=conf) if session is None else cluster_session(session, conf) \
        if isinstance(session, str) else session
    tmp = directory or tempfile.mkdtemp(prefix="chainrisk-spark-")
    try:
        yield SparkBackend(spark, tmp)
    finally:
        if directory is None:
            shutil.rmtree(tmp, ignore_errors=True)
        if own:
            spark.stop()


# -- scoring from an export (chainrisk export) or a lakehouse table: the driver holds no transfers ----------------

RESULTS_FORMAT = "chainrisk-spark-results/1"
RESULTS_MANIFEST = "_chainrisk_results.json"
LOG_BITS = 24     # the time rank of a transfer from an export: block_number * 2^24 + log_index (same order as the
#                   dense rank of (block_number, log_index) the store's run uses; only the order matters)


def export_store(store: Any, path: str | os.PathLike[str], *, replace: bool = False) -> Any:
    """``chainrisk export``: :func:`chainrisk.store.export.export` with what a scoring run adds to the store's data
    (the labels derived from the RWA ledger, the engine's USD cap), so that Spark scores it as the store would.
    Returns the :class:`~chainrisk.store.export.ExportReport`."""
    from ..store.export import export
    from .ledger import INFERRED_SOURCE, LEDGER_SOURCE, derive_ledger_labels
    from .model import MAX_TRANSFER_USD

    derived = [(a, c, nm, conf, LEDGER_SOURCE if conf >= 100 else INFERRED_SOURCE)
               for a, c, nm, conf, _ in derive_ledger_labels(store)]
    return export(store, path, replace=replace, usd_cap=MAX_TRANSFER_USD, derived_labels=derived)


def roles_sql(dust: int, hub_degree: int, window_s: int, min_share: float, deposit_category: str,
              stop_categories: list[str]) -> dict[str, str]:
    """The roles of :func:`chainrisk.engine.model.roles` as statements over ``raw0`` (eid, s, d, r, w, time)
    and ``xlab`` (node, category: the labels, inert addresses left out) and ``xinert`` (node), in DuckDB's
    dialect: carrying transfers, hubs, exchange deposit addresses and stop nodes. The load step checks them
    against the array engine's roles of the same data."""
    stops = ", ".join("'" + c.replace("'", "''") + "'" for c in stop_categories) or "NULL"
    dep = "'" + deposit_category.replace("'", "''") + "'"
    return {
        "raw": f"""
            SELECT q.eid, q.s, q.d, q.r, q.w, q.time,
                   (q.w >= {dust} AND q.w > 0 AND si.node IS NULL AND di.node IS NULL) AS c
            FROM raw0 q LEFT JOIN xinert si ON si.node = q.s LEFT JOIN xinert di ON di.node = q.d""",
        "labelled": "SELECT DISTINCT node FROM xlab",
        "hub": f"""
            SELECT g.node FROM (
              SELECT node, count(DISTINCT other) AS deg FROM (
                SELECT s AS node, d AS other FROM raw WHERE c UNION ALL SELECT d AS node, s AS other FROM raw WHERE c
              ) p GROUP BY node) g
            LEFT JOIN labelled l ON l.node = g.node LEFT JOIN xinert i ON i.node = g.node
            WHERE g.deg > {hub_degree} AND l.node IS NULL AND i.node IS NULL""",
        # a sweep: a carrying transfer from an unlabelled, not inert address to an exchange wallet, within the
        # window after the sender's latest earlier inflow (either time unknown: not checked)
        "sweep": f"""
            SELECT x.s, x.w, x.time, x.r,
                   max(CASE WHEN x.kind = 1 THEN x.r END) OVER (
                     PARTITION BY x.s ORDER BY x.r * 2 + x.kind ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                   ) AS prev_r, x.kind
            FROM (
              SELECT q.s, q.w, q.time, q.r, 0 AS kind FROM raw q
              JOIN xlab ex ON ex.node = q.d AND ex.category = {dep}
              LEFT JOIN labelled l ON l.node = q.s LEFT JOIN xinert i ON i.node = q.s
              WHERE q.c AND l.node IS NULL AND i.node IS NULL
              UNION ALL
              SELECT q.d AS s, CAST(0 AS BIGINT) AS w, q.time, q.r, 1 AS kind FROM raw q
              WHERE q.d IN (SELECT DISTINCT q2.s FROM raw q2 JOIN xlab ex2 ON ex2.node = q2.d
                            AND ex2.category = {dep} WHERE q2.c)
            ) x""",
        "deposit": f"""
            SELECT sw.s AS node FROM (
              SELECT w0.s, CAST(sum(w0.w) AS BIGINT) AS swept FROM sweep w0
              JOIN (SELECT d, r, max(time) AS pt FROM raw GROUP BY d, r) pin ON pin.d = w0.s AND pin.r = w0.prev_r
              WHERE w0.kind = 0 AND w0.prev_r IS NOT NULL
                AND (pin.pt < 0 OR w0.time < 0 OR w0.time - pin.pt <= {int(window_s)})
              GROUP BY w0.s) sw
            JOIN (SELECT s, CAST(sum(w) AS BIGINT) AS total FROM raw GROUP BY s) o ON o.s = sw.s
            LEFT JOIN hub h ON h.node = sw.s
            WHERE sw.swept > 0 AND CAST(sw.swept AS DOUBLE) >= CAST({float(min_share)!r} AS DOUBLE)
                  * CAST(o.total AS DOUBLE) AND h.node IS NULL""",
        "stop": f"""
            SELECT node FROM hub UNION SELECT node FROM deposit
            UNION SELECT node FROM xlab WHERE category IN ({stops})""",
    }


@dataclass
class SparkResults:
    """A folder of Spark results (:func:`propagate_export`) to load into the store as a scoring run:
    ``chainrisk.score(st, engine="spark", spark=SparkResults(path))``."""

    path: str

    def manifest(self) -> dict[str, Any]:
        f = os.path.join(self.path, RESULTS_MANIFEST)
        if not os.path.isfile(f):
            raise InputError(f"{self.path} holds no Spark results ({RESULTS_MANIFEST} is missing: the run did not "
                             "finish, or this is not a results folder)")
        doc: dict[str, Any] = json.loads(Path(f).read_text())
        if doc.get("format") != RESULTS_FORMAT:
            raise InputError(f"{self.path}: results of format {doc.get('format')!r}; this chainrisk reads "
                             f"{RESULTS_FORMAT!r}")
        return doc


def _read_export(spark: Any, path: str) -> dict[str, Any]:
    """The export's manifest (local folders; on shared storage a missing one is not checked) and its views."""
    if "://" not in path:
        from ..store.export import read_manifest

        manifest = read_manifest(path)
    else:
        manifest = {}
    base = path.rstrip("/")
    spark.read.option("basePath", f"{base}/transfers").parquet(f"{base}/transfers").createOrReplaceTempView("xtr")
    spark.read.parquet(f"{base}/labels").createOrReplaceTempView("xlabels")
    spark.read.parquet(f"{base}/inert").createOrReplaceTempView("xinert0")
    return manifest


def propagate_export(spark: Any, export_path: str, out_path: str, profile: Any = "cn",
                     max_hops: int | None = None, *, forwarding: bool = True,
                     on_progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The propagation of a scoring run on Spark, from an export (``chainrisk export``) or a lakehouse folder with
    the same tables and columns (:data:`chainrisk.store.export.COLUMNS`), into ``out_path`` (Parquet, written
    under ``out_path``.partial and renamed when complete on a local disk). The driver holds no transfers: the
    roles (carrying transfers, hubs, deposit addresses, stop nodes, sources) and every hop are Spark SQL; what
    comes back to the driver is one row per address reached per hop. Returns the results' manifest.

    Load the results into the store with ``chainrisk.score(st, profile, engine="spark",
    spark=SparkResults(out_path))`` (``chainrisk score --engine spark --results PATH``), which scores them with
    the one scoring code path and checks that the roles Spark used are the store's."""
    import time as _time

    from ..profiles import Profile, load_profile
    from ..taxonomy import CATEGORIES, OWN_ONLY
    from .model import DEPOSIT_CATEGORY, FORWARDING, SWEEP_SHARE, SWEEP_WINDOW_S, _micro, hops_for
    from .sql_engine import run_loaded

    say = on_progress or (lambda msg: None)
    t0 = _time.perf_counter()
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    hops = prof.propagation.max_hops if max_hops is None else int(max_hops)
    # intermediate tables are executor checkpoints and the two small inputs come from the driver's memory: no
    # folder every executor must see
    backend = SparkBackend(spark, None, checkpoint=True)
    manifest = _read_export(spark, export_path)
    say("reading the export")
    (n_rows, n_usd, n_self, max_li, max_blk) = spark.sql(
        "SELECT count(*), count(usd_micro), count(CASE WHEN from_id = to_id THEN 1 END), max(log_index),"
        " max(block_number) FROM xtr").collect()[0]
    max_li, max_blk = int(max_li or 0), int(max_blk or 0)
    if max_li >= 2**LOG_BITS or max_blk >= 2**(62 - LOG_BITS):
        raise InputError(f"the export's log_index (max {max_li}) or block_number (max {max_blk}) is too large for "
                         f"the rank key (block * 2^{LOG_BITS} + log_index)")
    from pyspark.sql import functions as F

    tr = spark.table("xtr").where("usd_micro IS NOT NULL AND usd_micro >= 0 AND from_id <> to_id")
    raw0 = tr.select(F.monotonically_increasing_id().alias("eid"), F.col("from_id").cast("bigint").alias("s"),
                     F.col("to_id").cast("bigint").alias("d"),
                     (F.col("block_number").cast("bigint") * F.lit(2**LOG_BITS)
                      + F.col("log_index").cast("bigint")).alias("r"),
                     F.col("usd_micro").cast("bigint").alias("w"), F.col("time_s").cast("bigint").alias("time"))
    raw0 = raw0.localCheckpoint(eager=True)
    raw0.createOrReplaceTempView("raw0")
    spark.sql("SELECT DISTINCT CAST(address_id AS BIGINT) AS node FROM xinert0").createOrReplaceTempView("xinert")
    spark.sql("SELECT DISTINCT CAST(l.address_id AS BIGINT) AS node, l.category FROM xlabels l"
              " LEFT JOIN xinert i ON i.node = l.address_id WHERE i.node IS NULL").createOrReplaceTempView("xlab")
    p = prof.propagation
    stmts = roles_sql(_micro(p.dust_usd), p.hub_degree, SWEEP_WINDOW_S, SWEEP_SHARE, DEPOSIT_CATEGORY,
                      list(p.stop_categories))
    say("roles: carrying transfers, hubs, deposit addresses, stop nodes")
    backend.create("xraw", stmts["raw"])
    spark.table("xraw").createOrReplaceTempView("raw")   # run_loaded drops the view "raw"; "xraw" stays
    for name in ("labelled", "hub", "sweep", "deposit", "stop"):
        backend.create(name, stmts[name])
    cats = {r[0] for r in spark.sql("SELECT DISTINCT category FROM xlab").collect()}
    n_dep = spark.table("deposit").count()
    keys = [c for c in CATEGORIES if prof.severity[c] > 0 and c not in OWN_ONLY
            and (c in cats or (c == DEPOSIT_CATEGORY and n_dep))]
    key_hops = {k: hops_for(prof, k, hops) for k in keys}
    keys = [k for k in keys if max(key_hops[k]) >= 1]
    fwd_keys = [k for k in keys if forwarding and k in prof.axes.illicit]
    fwd = dataclasses.replace(FORWARDING, categories=tuple(fwd_keys))
    judge = bool(fwd_keys)
    src_parts = [f"SELECT {i} AS k, node FROM xlab WHERE category = '{k}'"
                 + (f" UNION SELECT {i} AS k, node FROM deposit" if k == DEPOSIT_CATEGORY else "")
                 for i, k in enumerate(keys)]
    backend.create("src", " UNION ALL ".join(f"SELECT * FROM ({q}) s{i}" for i, q in enumerate(src_parts))
                   if keys else "SELECT CAST(0 AS INT) AS k, CAST(0 AS BIGINT) AS node WHERE FALSE")
    backend.load("hopkeys", pa.table({
        "k": np.arange(len(keys), dtype=np.int32),
        "kin": np.array([key_hops[k][0] for k in keys], np.int32),
        "kout": np.array([key_hops[k][1] for k in keys], np.int32),
        "judge": np.array([k in fwd_keys for k in keys], bool)}))
    (n_edges, n_carry, top) = spark.sql("SELECT count(*), count(CASE WHEN c THEN 1 END), max(r) FROM raw"
                                        ).collect()[0]
    roles: dict[str, Any] = {"stop": backend.fetch("SELECT node FROM stop ORDER BY node")["node"],
             "src": backend.fetch("SELECT k, node FROM src ORDER BY k, node")}
    for name in ("labelled", "hub", "sweep", "deposit"):
        backend.drop(name)
    t_roles = _time.perf_counter() - t0
    say(f"{int(n_edges):,} transfers with a USD value ({int(n_carry):,} carrying); {len(keys)} keys; propagating")

    def hops_of(key: str, direction: int) -> int:
        return key_hops[key][direction]

    exposures, events = run_loaded(backend, keys, hops_of, judge, fwd, int(top or 0), say) if keys else ([], None)
    t_prop = _time.perf_counter() - t0 - t_roles
    ev_tab = None
    if events is not None and events.addr.size:
        # each event's transfer as the store knows it: sender, receiver, amount, time, and how many transfers
        # with the same four come before it (the load step finds the transfer's row by them)
        backend.load("evs", pa.table({"eid": events.edge, "v": events.addr, "taint": events.taint,
                                      "fwd": events.out, "pkey": pa.array(events.key, pa.string()),
                                      "hop": events.hop}))
        ev_tab = spark.sql(
            "SELECT ev.eid, first(ev.v) AS v, first(ev.taint) AS taint, first(ev.fwd) AS fwd, first(ev.pkey) AS pkey,"
            " first(ev.hop) AS hop, first(q.s) AS s, first(q.d) AS d, first(q.w) AS w, first(q.time) AS time,"
            " count(o.eid) AS before FROM evs ev JOIN xraw q ON q.eid = ev.eid"
            " LEFT JOIN xraw o ON o.s = q.s AND o.d = q.d AND o.w = q.w AND o.time = q.time AND o.r < q.r"
            " GROUP BY ev.eid ORDER BY ev.eid").toArrow()
        backend.drop("evs")
    backend.drop("xraw")
    spark.catalog.dropTempView("raw0")
    raw0.unpersist()
    doc = _write_results(out_path, exposures, ev_tab, roles, keys, key_hops, fwd_keys, {
        "format": RESULTS_FORMAT, "export": export_path, "export_created_at": manifest.get("created_at"),
        "profile": prof.name, "max_hops": hops, "forwarding": forwarding,
        "counts": {"export_transfers": int(n_rows), "with_usd": int(n_usd), "without_usd": int(n_rows - n_usd),
                   "self_transfers": int(n_self), "self_transfers_left_out": int(n_usd) - int(n_edges),
                   "edges": int(n_edges), "carrying": int(n_carry), "stop_nodes": int(roles["stop"].size),
                   "exposure_rows": int(sum(h.addr.size for h in exposures)),
                   "forwarding_events": 0 if ev_tab is None else ev_tab.num_rows},
        "timings_s": {"roles": round(t_roles, 3), "propagate": round(t_prop, 3)},
        "spark": {"version": spark.version, "master": spark.sparkContext.master}})
    return doc


def _write_results(out: str, exposures: list[HopExposure], events: Any, roles: dict[str, Any], keys: list[str],
                   key_hops: dict[str, tuple[int, int]], fwd_keys: list[str], doc: dict[str, Any]) -> dict[str, Any]:
    """The results folder, written beside ``out`` and renamed to it when complete (a local disk)."""
    import pyarrow.parquet as pq

    if "://" in out:
        raise InputError(f"--output {out}: results go to a local folder (the driver writes them: one row per "
                         "address reached per hop); copy them from there")
    tmp = out.rstrip("/") + f".partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        cols: dict[str, list[Any]] = {"key": [], "direction": [], "hop": [], "address_id": [], "usd_micro": []}
        for h in exposures:
            cols["key"] += [h.category] * h.addr.size
            cols["direction"] += [h.direction] * h.addr.size
            cols["hop"] += [h.hop] * h.addr.size
            cols["address_id"].append(h.addr)
            cols["usd_micro"].append(h.usd)
        pq.write_table(pa.table({
            "key": pa.array(cols["key"], pa.string()), "direction": pa.array(cols["direction"], pa.string()),
            "hop": pa.array(cols["hop"], pa.int32()),
            "address_id": pa.array(np.concatenate(cols["address_id"]) if exposures else [], pa.int64()),
            "usd_micro": pa.array(np.concatenate(cols["usd_micro"]) if exposures else [], pa.int64())}),
            os.path.join(tmp, "hop_exposures.parquet"))
        if events is not None:
            pq.write_table(events, os.path.join(tmp, "forwarding_events.parquet"))
        pq.write_table(pa.table({"node": roles["stop"]}), os.path.join(tmp, "stop_nodes.parquet"))
        src = roles["src"]
        pq.write_table(pa.table({"key": pa.array([keys[int(k)] for k in src["k"].tolist()], pa.string()),
                                 "node": pa.array(src["node"], pa.int64())}), os.path.join(tmp, "sources.parquet"))
        doc = doc | {"keys": [{"key": k, "hops_in": key_hops[k][0], "hops_out": key_hops[k][1],
                               "forwarding": k in fwd_keys} for k in keys]}
        with open(os.path.join(tmp, RESULTS_MANIFEST), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True, default=str)
        if os.path.exists(out):
            if not os.path.isfile(os.path.join(out, RESULTS_MANIFEST)):
                raise InputError(f"{out} exists and is not a Spark results folder; refusing to replace it")
            shutil.rmtree(out)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return doc


def results_propagator(results: SparkResults, say: Callable[[str], None] | None = None) -> Callable[..., Any]:
    """A propagator (the signature of :func:`chainrisk.engine.propagate.propagate`) that answers with the hop
    exposures and forwarding events of Spark results, after checking that Spark's roles are the ones the store's
    run computed from its own data (same transfers with a USD value, carrying transfers, stop nodes, sources and
    hops of every key): results of another export, profile or store are refused with one sentence."""
    import pyarrow.parquet as pq

    doc = results.manifest()
    base = results.path

    def run(src: I64, dst: I64, rank: I64, usd: I64, carry: B1, stop: B1, sources: Mapping[str, B1],
            max_hops: int | Mapping[str, tuple[int, int]], in_order: I64 | None = None, threads: int = 2,
            time: I64 | None = None, forwarding: ForwardingParams | None = None,
            out_order: I64 | None = None) -> tuple[list[HopExposure], ForwardingEvents | None]:
        del in_order, out_order, threads

        def hops_of(key: str, direction: int) -> int:
            return max_hops if isinstance(max_hops, int) else max_hops[key][direction]

        keys = [k for k in sources if max(hops_of(k, 0), hops_of(k, 1)) >= 1]
        fwd_keys = [k for k in keys if forwarding is not None and k in forwarding.categories]
        c = doc["counts"]
        got = [(x["key"], x["hops_in"], x["hops_out"], x["forwarding"]) for x in doc["keys"]]
        want = [(k, hops_of(k, 0), hops_of(k, 1), k in fwd_keys) for k in keys]
        stale = (f"the Spark results {base} were computed from an export of other data or with another profile "
                 f"than this run ({doc.get('profile')}, max hops {doc.get('max_hops')}, export of "
                 f"{doc.get('export_created_at')}); export the store again and rerun Spark")
        if (int(c["edges"]), int(c["carrying"])) != (int(src.size), int(carry.sum())):
            raise InputError(f"{stale}: {c['edges']:,} transfers with a USD value there ({c['carrying']:,} "
                             f"carrying), {src.size:,} here ({int(carry.sum()):,})")
        if got != want:
            missing = sorted({k for k, *_ in want} - {k for k, *_ in got})
            hint = (f"; this run also propagates {', '.join(missing)} (collectors found by the behavioural "
                    "indicators, which Spark results do not carry): load with --no-indicators"
                    if any(k.endswith(":inferred") for k in missing) else "")
            raise InputError(f"{stale}: keys and hops there {got}, here {want}{hint}")
        stops = pq.read_table(os.path.join(base, "stop_nodes.parquet")).column("node").to_numpy()
        if not np.array_equal(np.sort(stops), np.flatnonzero(stop)):
            raise InputError(f"{stale}: {stops.size:,} stop nodes there, {int(stop.sum()):,} here (or other ones)")
        st = pq.read_table(os.path.join(base, "sources.parquet"))
        skey = np.asarray(st.column("key").to_pylist(), dtype=object)
        snode = st.column("node").to_numpy()
        for k in keys:
            if not np.array_equal(np.sort(snode[skey == k]), np.flatnonzero(sources[k])):
                raise InputError(f"{stale}: the sources of {k} differ")
        ex = pq.read_table(os.path.join(base, "hop_exposures.parquet"))
        # one sort by (direction, key, hop, address), then one slice per group (no mask per group)
        kix = {k: i for i, k in enumerate(keys)}
        kcol = ex.column("key").to_pylist()
        if any(k not in kix for k in set(kcol)):
            raise InputError(f"{stale}: exposures of keys this run does not propagate")
        ek = np.array([kix[k] for k in kcol], np.int64)
        ed = np.array([d == "out" for d in ex.column("direction").to_pylist()], np.int64)
        eh = ex.column("hop").to_numpy().astype(np.int64)
        ea, eu = ex.column("address_id").to_numpy(), ex.column("usd_micro").to_numpy()
        o = np.lexsort((ea, eh, ek, ed))
        g = ((ed[o] * 64 + ek[o]) * 64 + eh[o]) if o.size else np.empty(0, np.int64)
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if o.size else np.empty(0, np.int64)
        out: list[HopExposure] = []
        for a_, b_ in zip(starts.tolist(), [*starts[1:].tolist(), int(o.size)], strict=True):
            i = int(o[a_])
            sel = o[a_:b_]
            out.append(HopExposure(keys[int(ek[i])], "out" if ed[i] else "in", int(eh[i]),
                                   ea[sel].astype(np.int64), eu[sel].astype(np.int64)))
        events = None
        evf = os.path.join(base, "forwarding_events.parquet")
        if fwd_keys and time is not None and os.path.isfile(evf):
            events = _map_events(pq.read_table(evf), src, dst, rank, usd, time)
        if say:
            say(f"loaded Spark results {base}: {sum(h.addr.size for h in out):,} hop exposures, "
                f"{0 if events is None else events.addr.size:,} forwarding events")
        return out, events

    return run


def _map_events(tab: Any, src: I64, dst: I64, rank: I64, usd: I64, time: I64) -> ForwardingEvents:
    """Forwarding events of Spark results with their transfer as a row index of this run's arrays: the transfer
    with the same sender, receiver, amount and time, the ``before``-th of those in time order."""
    s, d = tab.column("s").to_numpy(), tab.column("d").to_numpy()
    w, tm, before = tab.column("w").to_numpy(), tab.column("time").to_numpy(), tab.column("before").to_numpy()
    cand = np.flatnonzero(np.isin(src, np.unique(s)))
    groups: dict[tuple[int, int, int, int], list[int]] = {}
    for i in cand[np.lexsort((rank[cand], time[cand], usd[cand], dst[cand], src[cand]))].tolist():
        groups.setdefault((int(src[i]), int(dst[i]), int(usd[i]), int(time[i])), []).append(i)
    edge = np.empty(s.size, np.int64)
    for j, key in enumerate(zip(s.tolist(), d.tolist(), w.tolist(), tm.tolist(), strict=True)):
        rows = groups.get(key, [])
        if int(before[j]) >= len(rows):
            raise InputError(f"a forwarding event's transfer {key} is not in this store's data; export the store "
                             "again and rerun Spark")
        edge[j] = rows[int(before[j])]
    o = np.argsort(edge, kind="stable")
    keys = tab.column("pkey").to_pylist()
    return ForwardingEvents(tab.column("v").to_numpy().astype(np.int64)[o], edge[o],
                            tab.column("taint").to_numpy().astype(np.int64)[o],
                            tab.column("fwd").to_numpy().astype(np.int64)[o], [keys[i] for i in o.tolist()],
                            tab.column("hop").to_numpy().astype(np.int64)[o])


@contextmanager
def propagator(spark: Any, spark_dir: str | None, say: Callable[[str], None],
               conf: dict[str, str] | None = None) -> Iterator[Callable[..., Any]]:
    """What runs the hops of ``engine="spark"``: the SQL engine's statements on a SparkSession (``spark``: a
    session, a master URL or None for local mode), or, with ``spark`` a :class:`SparkResults`, the hops Spark
    already computed from an export."""
    if isinstance(spark, SparkResults):
        yield results_propagator(spark, say)
        return
    from .sql_engine import sql_propagate

    with spark_backend(spark, spark_dir, conf) as backend:
        yield sql_propagate(backend, on_hop=say)
