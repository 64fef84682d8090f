"""The follow options shared by `chainrisk serve --follow` and `chainrisk ingest rpc --follow`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])


def follow_options(f: F) -> F:
    opts = [
        click.option("--follow", is_flag=True, help="Keep following the node: ingest new finalized blocks, "
                     "rescore, raise and deliver alerts, until stopped."),
        click.option("--rpc-url", "rpc_url", envvar="ETH_RPC_URL", default=None,
                     help="JSON-RPC endpoint to follow (env ETH_RPC_URL)."),
        click.option("--follow-chain", "follow_chain", default="ethereum", show_default=True,
                     help="Chain name the followed tokens are registered under."),
        click.option("--follow-token", "follow_tokens", multiple=True, metavar="SYMBOL|ADDRESS",
                     help="Token to follow (repeatable); default: every registered token of the chain."),
        click.option("--follow-from-block", "follow_from_block", type=click.IntRange(min=0), default=0,
                     show_default=True, help="First block to ingest when the store has none of the chain yet."),
        click.option("--follow-confirmations", "follow_confirmations", type=click.IntRange(min=0), default=12,
                     show_default=True, help="Blocks below the node's latest block treated as final."),
        click.option("--poll", "poll", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
                     help="Seconds between polls of the node when nothing happened."),
        click.option("--rescore-after", "rescore_after", type=click.IntRange(min=0), default=1, show_default=True,
                     help="Rescore as soon as this many new transfers arrived (0: on the schedule only)."),
        click.option("--rescore-every", "rescore_every", type=click.FloatRange(min=0), default=300.0,
                     show_default=True, help="Otherwise rescore this often (seconds) when anything changed."),
        click.option("--follow-profile", "follow_profile", default="cn", show_default=True, metavar="cn|fatf|PATH",
                     help="Profile of the runs the follow loop makes."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def follow_settings(follow: bool, rpc_url: str | None, kw: dict[str, Any]) -> Any:
    """The :class:`~chainrisk.monitoring.follow.FollowSettings` of the options, or None without --follow."""
    if not follow:
        return None
    if not rpc_url:
        raise UsageError("--follow needs --rpc-url (or ETH_RPC_URL)")
    from ..monitoring.follow import FollowSettings

    return FollowSettings(rpc_url=rpc_url, chain=kw["follow_chain"], tokens=list(kw["follow_tokens"]) or None,
                          from_block=kw["follow_from_block"], confirmations=kw["follow_confirmations"], poll_s=kw["poll"],
                          rescore_after=kw["rescore_after"], rescore_every_s=kw["rescore_every"],
                          profile=kw["follow_profile"])
