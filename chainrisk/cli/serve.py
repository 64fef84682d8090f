"""`chainrisk serve` (the screening HTTP service) and `chainrisk keys create|revoke|list` (its API keys)."""

from __future__ import annotations

import logging
from typing import Any

import click

from ..errors import UsageError
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
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds a connection has to send a request's headers (slow clients are closed).")
@click.option("--body-timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds allowed between two parts of a request body (408 request_timeout).")
@click.option("--max-connections", default=None, type=click.IntRange(min=16),
              help="Open connections at most; at the cap the oldest one still sending headers is closed "
                   "[default: the file-descriptor limit less 128].")
@click.option("--profiles-dir", default=None, type=click.Path(file_okay=False),
              help="POST /v1/runs takes profile names from this folder (NAME.toml) besides the bundled ones.")
@click.option("--job-retention-hours", default=168.0, show_default=True, type=click.FloatRange(min=0),
              help="Screening jobs (their files and rows) are deleted this long after they finish (0: at once "
                   "after download is no longer possible; use DELETE /v1/screen/jobs/ID to delete earlier).")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="IP",
              help="A reverse proxy whose X-Forwarded-For gives the client address in the audit log "
                   "(repeatable; default: none, the peer address is the client).")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True),
              help="Serve HTTPS with this certificate (PEM; with --tls-key).")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True), help="The private key of --tls-cert.")
@follow_options
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, rate_limit: float, burst: int | None, max_items: int,
          max_upload_mb: int, jobs_dir: str | None, cache_max_addresses: int, threads: int, header_timeout: float,
          body_timeout: float, max_connections: int | None, profiles_dir: str | None, job_retention_hours: float,
          trusted_proxies: tuple[str, ...], tls_cert: str | None, tls_key: str | None, follow: bool,
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
                        cache_max_addresses=cache_max_addresses, header_timeout=header_timeout,
                        body_timeout=body_timeout, max_connections=max_connections, profiles_dir=profiles_dir,
                        job_retention_hours=job_retention_hours, trusted_proxies=trusted_proxies,
                        follow=follow_settings(follow, rpc_url, follow_kw))
    if bool(tls_cert) != bool(tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    app = create_app(settings)
    scheme = "https" if tls_cert else "http"
    logging.getLogger(__name__).warning("chainrisk serve: %s on %s://%s:%d", ctx.obj["db"], scheme, host, port)
    run_service(app, host=host, port=port, threads=threads, tls_cert=tls_cert, tls_key=tls_key)


@click.group()
def keys() -> None:
    """API keys of the screening service (stored hashed; the token is shown once, at creation)."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what holds the key, e.g. 'onboarding-system'.")
@click.option("--role", type=click.Choice(["read", "admin"]), default="read", show_default=True,
              help="read: lookups and screening; admin: also evidence paths, scoring runs and keys.")
@click.option("--expires-in-days", type=click.FloatRange(min=0, min_open=True, max=3650), default=None,
              help="The key stops working after this many days [default: never; revoke it to end it].")
@format_option(RECORDS)
@click.pass_context
def keys_create(ctx: click.Context, name: str, role: str, expires_in_days: float | None, fmt: str) -> None:
    """Create a key and print its token (keep it secret: it is not stored and cannot be shown again)."""
    from datetime import UTC, datetime, timedelta

    from ..service.keys import create_key

    expires = (datetime.now(UTC).replace(tzinfo=None) + timedelta(days=expires_in_days)
               if expires_in_days is not None else None)
    with open_store(ctx, create=True) as st:
        key, token = create_key(st, name, role, created_by=f"cli:{_os_user()}", expires_at=expires)
    write(fmt, {**key.to_dict(), "token": token})


@keys.command("rotate")
@click.argument("key_id")
@format_option(RECORDS)
@click.pass_context
def keys_rotate(ctx: click.Context, key_id: str, fmt: str) -> None:
    """Give the key KEY_ID a new token (same id, role and expiry): the old token stops working at once. Use it
    while the service is stopped; while it runs, POST /v1/keys/KEY_ID/rotate (admin)."""
    from ..service.keys import rotate_key

    with open_store(ctx) as st:
        key, token = rotate_key(st, key_id, rotated_by=f"cli:{_os_user()}")
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
        write(fmt, revoke_key(st, key_id, revoked_by=f"cli:{_os_user()}").to_dict())


@keys.command("list")
@click.option("--active", is_flag=True, help="Only keys that are not revoked.")
@format_option(RECORDS)
@click.pass_context
def keys_list(ctx: click.Context, active: bool, fmt: str) -> None:
    """List keys (ids, roles, names, dates; never secrets)."""
    from ..service.keys import list_keys

    with open_store(ctx) as st:
        write(fmt, [k.to_dict() for k in list_keys(st, include_revoked=not active)])


def _os_user() -> str:
    """Who runs the command (for created_by/revoked_by of keys made with the CLI)."""
    import getpass

    try:
        return getpass.getuser()[:64]
    except Exception:  # no user name in the environment or the password database
        import os

        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
