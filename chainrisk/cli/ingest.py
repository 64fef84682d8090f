"""`chainrisk ingest rpc|file`: the group; each subcommand lives in its own module."""

from __future__ import annotations

import click

from . import LazyGroup


@click.group(cls=LazyGroup, lazy={"rpc": "ingest_rpc_cmd:rpc", "file": "ingest_file_cmd:file"})
def ingest() -> None:
    """Load stablecoin transfers into the store: from a node (rpc) or from bulk exports (file)."""
