"""`chainrisk demo`: the whole pipeline on a simulated economy, with a summary a person understands."""

from __future__ import annotations

import click

from ._common import SUMMARY, format_option, write


@click.command()
@click.option("--db", "db_path", default=None, metavar="PATH",
              help="The demo store to create (default chainrisk-demo.duckdb; replaced only if a demo made it).")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Economy size: 1.0 is about a million transfers; grows linearly.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same economy).")
@click.option("--profile", default="cn", show_default=True,
              help="Risk profile for scoring: cn, fatf, or a TOML file.")
@click.option("--via-node", is_flag=True,
              help="Send a smaller economy as real ERC-20 transactions to a local anvil node and ingest it by RPC.")
@click.option("--tron/--no-tron", default=True, show_default=True,
              help="Also build the TRON economy (a quarter the size, USDT-TRC20 dominant) from tronetl files and "
                   "score it in the same run (not with --via-node).")
@click.option("--out", "out_dir", default=None, metavar="DIR",
              help="Folder for the generated files (default <db>.files).")
@format_option(SUMMARY, hints={"text": "'text' is named 'table' (the summary for a person): use --format table"})
@click.pass_context
def demo(ctx: click.Context, db_path: str | None, scale: float, seed: int, profile: str, via_node: bool,
         tron: bool, out_dir: str | None, fmt: str) -> None:
    """Build a simulated stablecoin economy and run it end to end: ingest, labels, score, screen, lookups.

    Needs no node, no API key and no download. Progress goes to stderr; the summary (counts, timings, the band
    distribution of the declared customers, how well the scoring recovered the ground truth, and explained
    lookups) goes to stdout.
    """
    from ..demo.run import DEFAULT_DB, run_demo

    quiet = bool(ctx.obj and ctx.obj.get("quiet"))

    def say(msg: str) -> None:
        if not quiet:
            click.echo(msg, err=True)

    # `chainrisk --db X demo` means the same as `chainrisk demo --db X` (the environment default does not)
    parent = ctx.parent
    if db_path is None and parent is not None and \
            parent.get_parameter_source("db") == click.core.ParameterSource.COMMANDLINE:
        db_path = parent.params["db"]
    summary = run_demo(db_path or DEFAULT_DB, scale=scale, seed=seed, profile=profile, via_node=via_node,
                       out=out_dir, tron=tron, on_progress=say)
    write(fmt, summary.to_dict(), table=summary.to_text())
