"""`chainrisk status`: what the store holds."""

from __future__ import annotations

import click

from ._common import RECORDS, format_option, open_store, write


@click.command()
@format_option(RECORDS)
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Show what the store holds: transfers, addresses, block range, schema versions."""
    with open_store(ctx) as st:
        write(fmt, st.stats() | {"db": st.path})
