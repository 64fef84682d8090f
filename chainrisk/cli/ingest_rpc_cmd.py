"""`chainrisk ingest rpc`: Transfer logs and issuer blacklist events of stablecoins from a JSON-RPC node."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..chains import CHAINS
from ._common import SUMMARY, field_rows, format_option, open_store, progress_enabled, write

CHAIN_NAMES = list(CHAINS)


@click.command("rpc")
@click.option("--rpc-url", envvar="ETH_RPC_URL", required=True,
              help="JSON-RPC endpoint of the chain's node (env ETH_RPC_URL; a java-tron node's /jsonrpc for "
                   "TRON). Masked in logs and reports.")
@click.option("--token", "tokens", multiple=True, metavar="SYMBOL|ADDRESS",
              help="Token to ingest (repeatable); default: every registered token of the chain. An unregistered "
                   "address is registered with the decimals its contract reports.")
@click.option("--from-block", type=click.IntRange(min=0), default=0, show_default=True, help="First block.")
@click.option("--to-block", type=click.IntRange(min=0), default=None,
              help="Last block; default and maximum: the latest block minus --confirmations.")
@click.option("--confirmations", type=click.IntRange(min=0), default=None,
              help="Blocks below the node's latest block that are treated as final; nothing above is stored "
                   "(default: nothing above the node's finalized block; when the node has no finalized tag, the "
                   "chain's depth: ethereum 12, bsc 88, polygon 512, arbitrum 12000, optimism/base 1000, tron 19).")
@click.option("--concurrency", type=click.IntRange(min=1, max=64), default=2, show_default=True,
              help="Concurrent eth_getLogs requests.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds to wait for one answer; a block range that times out is split.")
@click.option("--max-retries", type=click.IntRange(min=0), default=6, show_default=True,
              help="Retries (exponential backoff with jitter) on 429, 5xx, timeouts and connection errors.")
@click.option("--commit-interval", type=click.FloatRange(min=0.0), default=5.0, show_default=True,
              help="Seconds between commits of fetched ranges; a killed run redoes at most this much work.")
@click.option("--chain", type=click.Choice(CHAIN_NAMES), default="ethereum", show_default=True,
              help="The chain of the node; its chain id is checked against the node's (bsc 56, polygon 137, "
                   "arbitrum 42161, optimism 10, base 8453, tron 728126428).")
@click.option("--follow", is_flag=True,
              help="Keep following: ingest new finalized blocks as they come, rescore, raise and deliver alerts "
                   "(Ctrl-C stops; use 'chainrisk serve --follow' to answer lookups at the same time).")
@click.option("--poll", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
              help="With --follow: seconds between polls when nothing happened.")
@click.option("--rescore-after", type=click.IntRange(min=0), default=1, show_default=True,
              help="With --follow: rescore as soon as this many new transfers arrived (0: schedule only).")
@click.option("--rescore-every", type=click.FloatRange(min=0), default=300.0, show_default=True,
              help="With --follow: otherwise rescore this often (seconds) when anything changed.")
@click.option("--profile", default="cn", show_default=True, metavar="cn|fatf|PATH",
              help="With --follow: profile of the runs.")
@click.option("--max-cycles", type=click.IntRange(min=1), default=None,
              help="With --follow: stop after this many cycles [default: never].")
@format_option(SUMMARY, help="Format of the final report on stdout.")
@click.pass_context
def rpc(ctx: click.Context, rpc_url: str, tokens: tuple[str, ...], from_block: int, to_block: int | None,
        confirmations: int | None, concurrency: int, timeout: float, max_retries: int, commit_interval: float, chain: str,
        follow: bool, poll: float, rescore_after: int, rescore_every: float, profile: str, max_cycles: int | None,
        fmt: str) -> None:
    """Pull Transfer logs and issuer blacklist events of stablecoins from a node into the store.

    Resumable: completed block ranges are recorded with their transfers, so a rerun (after a crash, Ctrl-C or a
    kill) fetches only what is missing. A reorg below the stored tip is detected and repaired on the next run.
    """
    from ..ingest.rpc import Progress, ingest_rpc

    if follow:
        _follow(ctx, rpc_url, tokens, from_block, confirmations, chain, timeout, poll, rescore_after, rescore_every,
                profile, max_cycles, fmt)
        return
    bar: Any = None

    def on_progress(p: Progress) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=max(p.blocks_total, 1), label="blocks", file=sys.stderr,
                                    show_pos=True, show_eta=True)
            bar.__enter__()
        bar.label = f"{p.logs:,} logs"
        bar.update(p.blocks_done - bar.pos)

    with open_store(ctx, create=True) as store:
        try:
            report = ingest_rpc(
                store, rpc_url, tokens=list(tokens) or None, from_block=from_block, to_block=to_block,
                confirmations=confirmations, chain=chain, concurrency=concurrency, timeout=timeout,
                max_retries=max_retries, commit_seconds=commit_interval, progress=on_progress if progress_enabled(ctx) else None,
            )
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    d = report.to_dict()
    shown = {k: ", ".join(map(str, v)) if isinstance(v, list) else v
             for k, v in d.items() if k != "notes" and v is not None}
    write(fmt, d, table=field_rows(shown))


def _follow(ctx: click.Context, rpc_url: str, tokens: tuple[str, ...], from_block: int, confirmations: int | None,
            chain: str, timeout: float, poll: float, rescore_after: int, rescore_every: float, profile: str,
            max_cycles: int | None, fmt: str) -> None:
    import threading

    from ..monitoring.follow import Follower, FollowSettings

    settings = FollowSettings(rpc_url=rpc_url, chain=chain, tokens=list(tokens) or None, from_block=from_block,
                              confirmations=confirmations, poll_s=poll, rescore_after=rescore_after,
                              rescore_every_s=rescore_every, profile=profile, timeout_s=timeout)
    stop = threading.Event()
    with open_store(ctx, create=True) as store:
        follower = Follower(store, settings, on_new_run=lambda run_id: click.echo(f"follow: run {run_id}", err=True))
        try:
            follower.run(stop, max_cycles=max_cycles)
        except KeyboardInterrupt:
            stop.set()
    d = follower.status.to_dict()
    write(fmt, d, table=field_rows({k: v for k, v in d.items() if v is not None}))
