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

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import InputError, UsageError

INSTALL = "pip install 'chainrisk[spark]' and a Java 17 runtime (e.g. apt-get install default-jre-headless)"


def require() -> None:
    """Raise :class:`~chainrisk.errors.UsageError` (one sentence: what to install) without pyspark, sqlglot or Java."""
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

    def __init__(self, session: Any, directory: str, checkpoint: bool = True) -> None:
        self.spark = session
        self.dir = directory
        self.checkpoint = checkpoint   # intermediate tables: executor-local checkpoints (True) or Parquet files
        self._views: dict[str, Any] = {}

    def _path(self, name: str) -> str:
        return f"{self.dir.rstrip('/')}/{name}.parquet"

    def load(self, name: str, table: Any) -> None:
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
            if "://" not in self.dir:
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
