"""`chainrisk score`: one scoring run over the whole store; `chainrisk runs`: the scoring runs kept."""

from __future__ import annotations

from typing import Any

import click

from ..errors import UsageError
from ._common import RECORDS, SUMMARY, field_rows, format_option, open_store, progress_enabled, write


@click.command()
@click.option("--profile", default="cn", show_default=True, metavar="cn|fatf|PATH",
              help="Risk profile: a bundled name or the path of a tuned TOML copy.")
@click.option("--max-hops", "max_hops", type=click.IntRange(1, 10), default=None,
              help="Hops to propagate (default: the profile's, 4).")
@click.option("--indicators/--no-indicators", default=True, show_default=True,
              help="Fold the behavioural indicators (FATF red flags) into the scores.")
@click.option("--engine", type=click.Choice(["array", "sql", "spark"]), default="array", show_default=True,
              help="What runs the propagation: numpy arrays in memory; DuckDB SQL spilling to disk (larger than "
                   "memory); Apache Spark (pip install 'chainrisk[spark]', Java 17). Same results from each.")
@click.option("--memory-limit", "memory_limit", default=None, metavar="SIZE",
              help="--engine sql: DuckDB's memory limit before it spills to disk, e.g. 8GB (default: 80% of RAM).")
@click.option("--spark-master", "spark_master", default=None, metavar="URL",
              help="--engine spark: the cluster (spark://host:7077, yarn, k8s://...; default: local mode, 2 cores).")
@click.option("--spark-dir", "spark_dir", default=None, metavar="PATH",
              help="--engine spark: where its Parquet tables go; on a cluster a path every executor sees "
                   "(hdfs://..., s3a://...). Default: a temporary folder.")
@click.option("--spark-conf", "spark_conf", multiple=True, metavar="KEY=VALUE",
              help="--engine spark: a Spark setting (repeatable), e.g. spark.driver.memory=16g or "
                   "spark.sql.shuffle.partitions=2000; local mode defaults to half the RAM for the driver.")
@click.option("--input", "input_path", default=None, metavar="PATH",
              help="--engine spark: read the transfers from this export ('chainrisk export') or lakehouse folder "
                   "of the same columns, not from the store: Spark computes the roles and hops, the driver holds "
                   "no transfers; the results are then loaded into the store as this run.")
@click.option("--output", "output_path", default=None, metavar="PATH",
              help="--engine spark --input: keep Spark's results (Parquet) in this folder (default: a temporary "
                   "folder, removed after loading).")
@click.option("--results", "results_path", default=None, metavar="PATH",
              help="--engine spark: load results Spark already computed (--input ... --output PATH, or "
                   "spark_engine.propagate_export under spark-submit) into the store as this run.")
@click.option("--as-of", "as_of", default=None, metavar="TIME",
              help="Point in time (ISO 8601, UTC unless an offset is given): only transfers up to TIME and the "
                   "labels the store knew then (imported by TIME, not yet ended). The run is kept but never "
                   "answers as the latest.")
@format_option(SUMMARY)
@click.pass_context
def score(ctx: click.Context, profile: str, max_hops: int | None, indicators: bool, engine: str,
          memory_limit: str | None, spark_master: str | None, spark_dir: str | None, spark_conf: tuple[str, ...],
          input_path: str | None, output_path: str | None, results_path: str | None, as_of: str | None,
          fmt: str) -> None:
    """Score every address in the store: exposures per category and direction, score, band; kept as one run."""
    from ..engine.score import score as run_score
    from ..monitoring.alerts import evaluate_pending
    from ..monitoring.timeparse import parse_time

    def progress(msg: str) -> None:
        if progress_enabled(ctx) or ctx.obj.get("verbose"):
            click.echo(f"score: {msg}", err=True)

    spark: Any = spark_master
    session: Any = None   # a session this command started (stopped after Spark's part)
    own = False
    tmp_results = None
    if engine != "spark" and (spark_conf or input_path or output_path or results_path or spark_master):
        raise UsageError("--spark-master, --spark-conf, --input, --output and --results need --engine spark")
    if input_path and results_path:
        raise UsageError("give --input (compute with Spark, then load) or --results (load), not both")
    if output_path and not input_path:
        raise UsageError("--output needs --input (it keeps the results Spark computes from that export)")
    if engine == "spark" and (input_path or results_path) and as_of:
        raise UsageError("--as-of cannot be combined with --input/--results (an export is a snapshot of its own)")
    if engine == "spark" and not results_path:
        from ..engine.spark_engine import active_session, cluster_session, local_session, parse_conf

        conf = parse_conf(spark_conf)
        if input_path or spark_conf:   # chainrisk starts (and stops) the session itself
            own = active_session() is None   # a session of the calling process (tests, a notebook) is left running
            session = cluster_session(spark_master, conf) if spark_master else local_session(conf=conf)
            spark = session
    try:
        if input_path:
            import tempfile

            from ..engine.spark_engine import propagate_export

            if output_path is None:
                tmp_results = tempfile.mkdtemp(prefix="chainrisk-spark-results-")
            out = output_path or f"{tmp_results}/results"
            doc = propagate_export(spark, input_path, out, profile, max_hops, forwarding=indicators,
                                   on_progress=progress)
            progress(f"Spark results in {out}: {doc['counts']}")
            results_path = out
            if own:   # Spark's part is done: free its memory before the store's part
                session.stop()
                session = None
        if results_path:
            from ..engine.spark_engine import SparkResults

            spark = SparkResults(results_path)
        with open_store(ctx) as st:
            summary = run_score(st, profile=profile, max_hops=max_hops, indicators=indicators,
                                on_progress=progress, engine=engine, memory_limit=memory_limit, spark=spark,
                                spark_dir=spark_dir, as_of=parse_time(as_of, "--as-of") if as_of else None)
            evaluate_pending(st)   # the watchlists' alerts of the new run (chainrisk.monitoring)
    finally:
        if own and session is not None:
            session.stop()
        if tmp_results:
            import shutil

            shutil.rmtree(tmp_results, ignore_errors=True)
    d: dict[str, Any] = summary.to_dict()
    sources = ", ".join(f"{s['source']} {s['version'] or ''}".strip() for s in d["label_sources"]) or "(none)"
    bands = ", ".join(f"{b}={n}" for b, n in d["bands"].items())
    write(fmt, d, table=field_rows(d | {"label_sources": sources, "bands": bands}))


@click.command()
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="How many runs, newest first.")
@format_option(RECORDS)
@click.pass_context
def runs(ctx: click.Context, limit: int, fmt: str) -> None:
    """List the scoring runs kept in the store, newest first."""
    from ..engine.score import runs as list_runs

    with open_store(ctx, read_only=True) as st:
        write(fmt, list_runs(st, limit))
