"""`chainrisk serve` (the screening HTTP service) and `chainrisk keys create|revoke|list` (its API keys)."""

from __future__ import annotations

import logging
from typing import Any

import click

from ._common import RECORDS, format_option, open_store, write
from .follow_opts import follow_options, follow_settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--rate-limit", default=100.0, show_default=True, type=click.FloatRange(min=0),
              help="Requests per second per API key (0: unlimited).")
@click.option("--burst", default=None, type=click.IntRange(min=1), help="Token bucket size [default: 2 x rate].")
@click.option("--max-items", default=10_000, show_default=True, type=click.IntRange(1, 100_000),
              help="Items per POST /v1/screen.")
@click.option("--max-upload-mb", default=64, show_default=True, type=click.IntRange(1, 4096),
              help="Largest CSV accepted by POST /v1/screen/jobs.")
@click.option("--jobs-dir", default=None, type=click.Path(file_okay=False),
              help="Where screening job results are kept [default: <db>.jobs].")
@click.option("--cache-max-addresses", default=5_000_000, show_default=True, type=click.IntRange(min=0),
              help="Hold the current run's scores in memory for lookups when it has at most this many (0: never).")
@click.option("--threads", "threads", default=40, show_default=True, type=click.IntRange(1, 400),
              help="Threads answering requests.")
@follow_options
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, rate_limit: float, burst: int | None, max_items: int,
          max_upload_mb: int, jobs_dir: str | None, cache_max_addresses: int, threads: int, follow: bool,
          rpc_url: str | None, **follow_kw: Any) -> None:
    """Serve the screening API over HTTP (see docs/service.md).

    The service holds the store open: while it runs, start scoring runs with POST /v1/runs (admin key) instead
    of 'chainrisk score', and manage keys with /v1/keys. Create the first admin key with 'chainrisk keys create'
    before starting it. Stops cleanly (audit log flushed) on Ctrl-C or SIGTERM.

    With --follow (and --rpc-url), the service also follows the node: new finalized blocks are ingested,
    rescored and turned into alerts inside this process, while lookups keep being answered (docs/monitoring.md).
    """
    from ..service import Settings, create_app
    from ..service import serve as run_service

    settings = Settings(db=ctx.obj["db"], rate_limit=rate_limit, burst=burst, max_items=max_items,
                        max_body_bytes=max(4 * 1024 * 1024, max_items * 420),
                        max_upload_bytes=max_upload_mb * 1024 * 1024, jobs_dir=jobs_dir,
                        cache_max_addresses=cache_max_addresses,
                        follow=follow_settings(follow, rpc_url, follow_kw))
    app = create_app(settings)
    logging.getLogger(__name__).warning("chainrisk serve: %s on http://%s:%d", ctx.obj["db"], host, port)
    run_service(app, host=host, port=port, threads=threads)


@click.group()
def keys() -> None:
    """API keys of the screening service (stored hashed; the token is shown once, at creation)."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what holds the key, e.g. 'onboarding-system'.")
@click.option("--role", type=click.Choice(["read", "admin"]), default="read", show_default=True,
              help="read: lookups and screening; admin: also evidence paths, scoring runs and keys.")
@format_option(RECORDS)
@click.pass_context
def keys_create(ctx: click.Context, name: str, role: str, fmt: str) -> None:
    """Create a key and print its token (keep it secret: it is not stored and cannot be shown again)."""
    from ..service.keys import create_key

    with open_store(ctx, create=True) as st:
        key, token = create_key(st, name, role)
    write(fmt, {**key.to_dict(), "token": token})


@keys.command("revoke")
@click.argument("key_id")
@format_option(RECORDS)
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: str, fmt: str) -> None:
    """Revoke the key KEY_ID (e.g. k3f9a1c2d). A running service sees it at once when revoked via its API;
    revoke with this command only while the service is stopped (the store is locked while it runs)."""
    from ..service.keys import revoke_key

    with open_store(ctx) as st:
        write(fmt, revoke_key(st, key_id).to_dict())


@keys.command("list")
@click.option("--active", is_flag=True, help="Only keys that are not revoked.")
@format_option(RECORDS)
@click.pass_context
def keys_list(ctx: click.Context, active: bool, fmt: str) -> None:
    """List keys (ids, roles, names, dates; never secrets)."""
    from ..service.keys import list_keys

    with open_store(ctx) as st:
        write(fmt, [k.to_dict() for k in list_keys(st, include_revoked=not active)])
