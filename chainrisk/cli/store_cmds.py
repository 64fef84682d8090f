"""`chainrisk status`: what the store holds."""

from __future__ import annotations

import click

from ._common import FORMAT_OPTION, emit, open_store


@click.command()
@FORMAT_OPTION
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Show what the store holds: transfers, addresses, block range, schema versions."""
    with open_store(ctx) as st:
        emit(st.stats() | {"db": st.path}, fmt)
