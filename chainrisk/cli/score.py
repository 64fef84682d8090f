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
@click.option("--as-of", "as_of", default=None, metavar="TIME",
              help="Point in time (ISO 8601, UTC unless an offset is given): only transfers up to TIME and the "
                   "labels the store knew then (imported by TIME, not yet ended). The run is kept but never "
                   "answers as the latest.")
@format_option(SUMMARY)
@click.pass_context
def score(ctx: click.Context, profile: str, max_hops: int | None, indicators: bool, as_of: str | None,
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
