"""`chainrisk watch add|remove|list` (watchlists) and `chainrisk alerts` (list, ack, export, webhooks, deliveries).

While `chainrisk serve` holds the store, give `--service URL` (env CHAINRISK_SERVICE_URL) and an admin key
(`--key`, env CHAINRISK_API_KEY): the command then asks the running service, which owns the store's writes.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ._common import RECORDS, format_option, open_store, write

_SERVICE = click.option("--service", "service", envvar="CHAINRISK_SERVICE_URL", default=None, metavar="URL",
                        help="A running 'chainrisk serve' to ask instead of opening the store (env "
                             "CHAINRISK_SERVICE_URL); needs an admin --key.")
_KEY = click.option("--key", "key", envvar="CHAINRISK_API_KEY", default=None, metavar="TOKEN",
                    help="API key for --service (env CHAINRISK_API_KEY).")
_LIST = click.option("--list", "watchlist", default="default", show_default=True, help="Watchlist name.")


def _client(service: str | None, key: str | None) -> Any:
    if service is None:
        return None
    from ..monitoring.client import ServiceClient

    return ServiceClient(service, key)


@click.group()
def watch() -> None:
    """Watchlists: addresses to monitor, each with your own reference; alerts follow every scoring run."""


@watch.command("add")
@click.argument("addresses", nargs=-1)
@click.option("--reference", default=None, help="Your reference for the address(es), e.g. a customer number.")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Add the addresses of a file (CSV, XLSX, JSONL, JSON, a list, or a 'chainrisk screen' output).")
@click.option("--address-column", default=None,
              help="Address column of --file [default: address_normalized when present, else address].")
@click.option("--reference-column", default=None, help="Reference column of --file [default: reference if present].")
@click.option("--min-band", default=None, type=click.Choice(["low", "medium", "high", "severe"]),
              help="Of a screening output: only rows with a verdict at or above this band.")
@_LIST
@_SERVICE
@_KEY
@format_option(RECORDS)
@click.pass_context
def watch_add(ctx: click.Context, addresses: tuple[str, ...], reference: str | None, file: str | None,
              address_column: str | None, reference_column: str | None, min_band: str | None, watchlist: str,
              service: str | None, key: str | None, fmt: str) -> None:
    """Watch ADDRESSES (or the addresses of --file) in a watchlist."""
    from ..errors import UsageError
    from ..monitoring import watch as w

    if not addresses and not file:
        raise UsageError("give addresses or --file")
    client = _client(service, key)
    if client is not None:
        if file:
            raise UsageError("--file goes to the store directly; with --service, give addresses")
        write(fmt, client.post("/v1/watchlist", {"watchlist": watchlist, "addresses": [
            {"address": a, "reference": reference} for a in addresses]}))
        return
    with open_store(ctx, create=True) as st:
        rep = w.add(st, [(a, reference) for a in addresses], watchlist=watchlist) if addresses else None
        if file:
            frep = w.add_file(st, file, watchlist=watchlist, address_column=address_column,
                              reference_column=reference_column, min_band=min_band)
            rep = frep if rep is None else rep
            if rep is not frep:
                for k in ("added", "unchanged", "replaced", "invalid", "skipped_by_band"):
                    setattr(rep, k, getattr(rep, k) + getattr(frep, k))
    assert rep is not None
    for ex in rep.invalid_examples:
        click.echo(f"invalid: {ex}", err=True)
    write(fmt, rep.to_dict())


@watch.command("remove")
@click.argument("addresses", nargs=-1, required=True)
@_LIST
@_SERVICE
@_KEY
@format_option(RECORDS)
@click.pass_context
def watch_remove(ctx: click.Context, addresses: tuple[str, ...], watchlist: str, service: str | None,
                 key: str | None, fmt: str) -> None:
    """Stop watching ADDRESSES (the entries are kept as history)."""
    from ..monitoring import watch as w

    client = _client(service, key)
    if client is not None:
        write(fmt, client.post("/v1/watchlist/remove", {"watchlist": watchlist, "addresses": list(addresses)}))
        return
    with open_store(ctx) as st:
        write(fmt, w.remove(st, addresses, watchlist=watchlist).to_dict())


@watch.command("list")
@click.option("--list", "watchlist", default=None, help="Only this watchlist.")
@click.option("--all", "include_removed", is_flag=True, help="Include removed entries.")
@_SERVICE
@_KEY
@format_option(RECORDS)
@click.pass_context
def watch_list(ctx: click.Context, watchlist: str | None, include_removed: bool, service: str | None,
               key: str | None, fmt: str) -> None:
    """List watched addresses, oldest first."""
    from ..monitoring import watch as w

    client = _client(service, key)
    if client is not None:
        q = {"watchlist": watchlist, "all": "true" if include_removed else None}
        write(fmt, client.get("/v1/watchlist", q)["entries"])
        return
    with open_store(ctx, read_only=True) as st:
        write(fmt, w.entries(st, watchlist=watchlist, include_removed=include_removed))


# -- alerts ------------------------------------------------------------------------------------------------

class AlertsGroup(click.Group):
    """`chainrisk alerts` lists alerts; its subcommands manage them."""


@click.group(cls=AlertsGroup, invoke_without_command=True)
@click.option("--since", default=None, metavar="TIME", help="Only alerts raised at or after TIME (ISO 8601, UTC).")
@click.option("--state", type=click.Choice(["open", "acknowledged", "retracted"]), default=None, help="Only this state.")
@click.option("--rule", default=None, help="Only this rule.")
@click.option("--limit", type=click.IntRange(1), default=1000, show_default=True, help="At most this many.")
@click.option("--view", type=click.Choice(["admin", "read"]), default="admin", show_default=True,
              help="read: what a read key sees (no label names or sources).")
@_SERVICE
@_KEY
@format_option(RECORDS)
@click.pass_context
def alerts(ctx: click.Context, since: str | None, state: str | None, rule: str | None, limit: int, view: str,
           service: str | None, key: str | None, fmt: str) -> None:
    """Alerts on watched addresses, in the order they were raised (evaluating any run not yet evaluated)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..monitoring import alerts as al
    from ..monitoring.delivery import flat
    from ..monitoring.timeparse import parse_time

    client = _client(service, key)
    if client is not None:
        got = client.get("/v1/alerts", {"since": since, "state": state, "rule": rule, "limit": min(limit, 1000)})
        rows = got["alerts"]
    else:
        with open_store(ctx) as st:
            al.evaluate_pending(st)
            rows, _ = al.list_alerts(st, since=parse_time(since, "--since") if since else None, state=state,
                                     rule=rule, limit=limit, role=view)
    table = [{k: r[k] for k in ("alert_id", "created_at", "state", "rule", "reference", "address", "summary",
                                "knowable_at_previous")} for r in rows]
    write(fmt, rows, table=table, csv=[flat(r) for r in rows])


@alerts.command("ack")
@click.argument("alert_ids", nargs=-1, required=True)
@click.option("--by", "actor", default="cli", show_default=True, help="Who acknowledges (kept with the event).")
@click.option("--note", default=None, help="A note kept with the acknowledgement.")
@_SERVICE
@_KEY
@format_option(RECORDS)
@click.pass_context
def alerts_ack(ctx: click.Context, alert_ids: tuple[str, ...], actor: str, note: str | None, service: str | None,
               key: str | None, fmt: str) -> None:
    """Acknowledge ALERT_IDS (appended as events; the alerts themselves never change)."""
    from ..monitoring import alerts as al

    client = _client(service, key)
    if client is not None:
        write(fmt, client.post("/v1/alerts/ack", {"alert_ids": list(alert_ids), "note": note}))
        return
    with open_store(ctx) as st:
        write(fmt, al.acknowledge(st, list(alert_ids), actor=actor, note=note))


@alerts.command("export")
@click.option("--since", default=None, metavar="TIME", help="Only alerts raised at or after TIME.")
@click.option("--view", type=click.Choice(["admin", "read"]), default="admin", show_default=True,
              help="read: what a read key sees.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="File to write (default stdout).")
@format_option(RECORDS, default="csv",
               help="csv: one flat row per alert; json: the full alerts (an array); jsonl: one per line; table.")
@click.pass_context
def alerts_export(ctx: click.Context, since: str | None, view: str, output: str | None, fmt: str) -> None:
    """Export every alert (CSV by default)."""
    import json

    from ..monitoring import alerts as al
    from ..monitoring.delivery import export, flat
    from ..monitoring.timeparse import parse_time
    from ._common import table_text

    with open_store(ctx) as st:
        al.evaluate_pending(st)
        when = parse_time(since, "--since") if since else None
        if fmt in ("csv", "json"):
            text = export(st, fmt, since=when, role=view)
        else:
            rows = json.loads(export(st, "json", since=when, role=view))
            text = ("".join(json.dumps(r, default=str) + "\n" for r in rows) if fmt == "jsonl"
                    else table_text([flat(r) for r in rows]))
    if output:
        with open(output, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


@alerts.command("deliver")
@click.option("--backoff", type=click.FloatRange(min=0.0), default=2.0, show_default=True,
              help="Seconds before the first retry (doubling after each failure).")
@format_option(RECORDS)
@click.pass_context
def alerts_deliver(ctx: click.Context, backoff: float, fmt: str) -> None:
    """Send new alerts to the webhooks now, and retry the deliveries that are due ('serve --follow' does this)."""
    from ..monitoring import alerts as al
    from ..monitoring import delivery

    with open_store(ctx) as st:
        al.evaluate_pending(st)
        made = delivery.enqueue(st)
        stats = delivery.deliver_due(st, backoff=backoff)
    write(fmt, {"deliveries_made": made, **stats.to_dict()})


@alerts.command("webhook-add")
@click.argument("url")
@click.option("--view", type=click.Choice(["read", "admin"]), default="read", show_default=True,
              help="What the receiver sees: read (no label names or sources) or admin.")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=100, show_default=True, help="Alerts per request.")
@click.option("--max-attempts", type=click.IntRange(1, 100), default=8, show_default=True,
              help="Failed attempts before a delivery is dead-lettered.")
@click.option("--backfill", is_flag=True, help="Also send every alert raised before.")
@format_option(RECORDS)
@click.pass_context
def alerts_webhook_add(ctx: click.Context, url: str, view: str, batch_size: int, max_attempts: int, backfill: bool,
                       fmt: str) -> None:
    """Register a webhook receiver; prints its signing secret once."""
    from ..monitoring import delivery

    with open_store(ctx, create=True) as st:
        hook, secret = delivery.add_webhook(st, url, view=view, batch_size=batch_size, max_attempts=max_attempts,
                                            backfill=backfill)
    write(fmt, {**hook, "secret": secret})


@alerts.command("webhooks")
@format_option(RECORDS)
@click.pass_context
def alerts_webhooks(ctx: click.Context, fmt: str) -> None:
    """List webhook receivers (never their secrets)."""
    from ..monitoring import delivery

    with open_store(ctx, read_only=True) as st:
        write(fmt, delivery.list_webhooks(st))


@alerts.command("webhook-remove")
@click.argument("webhook_id")
@format_option(RECORDS)
@click.pass_context
def alerts_webhook_remove(ctx: click.Context, webhook_id: str, fmt: str) -> None:
    """Stop sending to a webhook (kept as history)."""
    from ..monitoring import delivery

    with open_store(ctx) as st:
        write(fmt, delivery.remove_webhook(st, webhook_id))


@alerts.command("deliveries")
@click.option("--status", type=click.Choice(["pending", "delivered", "dead"]), default=None, help="Only this status.")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True, help="At most this many.")
@format_option(RECORDS)
@click.pass_context
def alerts_deliveries(ctx: click.Context, status: str | None, limit: int, fmt: str) -> None:
    """Webhook deliveries, newest first (dead letters: --status dead)."""
    from ..monitoring import delivery

    with open_store(ctx, read_only=True) as st:
        write(fmt, delivery.list_deliveries(st, status=status, limit=limit))


@alerts.command("resend")
@click.argument("delivery_id")
@format_option(RECORDS)
@click.pass_context
def alerts_resend(ctx: click.Context, delivery_id: str, fmt: str) -> None:
    """Send a delivery again (a dead letter, or one already delivered), at the next 'alerts deliver'."""
    from ..monitoring import delivery

    with open_store(ctx) as st:
        write(fmt, delivery.resend(st, delivery_id))
