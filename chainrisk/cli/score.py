"""`chainrisk score`: one scoring run over the whole store; `chainrisk runs`: the scoring runs kept."""

from __future__ import annotations

from typing import Any

import click

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
@click.option("--as-of", "as_of", default=None, metavar="TIME",
              help="Point in time (ISO 8601, UTC unless an offset is given): only transfers up to TIME and the "
                   "labels the store knew then (imported by TIME, not yet ended). The run is kept but never "
                   "answers as the latest.")
@format_option(SUMMARY)
@click.pass_context
def score(ctx: click.Context, profile: str, max_hops: int | None, indicators: bool, engine: str,
          memory_limit: str | None, spark_master: str | None, spark_dir: str | None, as_of: str | None,
          fmt: str) -> None:
    """Score every address in the store: exposures per category and direction, score, band; kept as one run."""
    from ..engine.score import score as run_score
    from ..monitoring.alerts import evaluate_pending
    from ..monitoring.timeparse import parse_time

    def progress(msg: str) -> None:
        if progress_enabled(ctx) or ctx.obj.get("verbose"):
            click.echo(f"score: {msg}", err=True)

    with open_store(ctx) as st:
        summary = run_score(st, profile=profile, max_hops=max_hops, indicators=indicators, on_progress=progress,
                            engine=engine, memory_limit=memory_limit, spark=spark_master, spark_dir=spark_dir,
                            as_of=parse_time(as_of, "--as-of") if as_of else None)
        evaluate_pending(st)   # the watchlists' alerts of the new run (chainrisk.monitoring)
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
