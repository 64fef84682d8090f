"""`chainrisk ingest rpc|file`: the group; each subcommand lives in its own module."""

from __future__ import annotations

import importlib

import click

_SUB = {"rpc": "ingest_rpc_cmd:rpc", "file": "ingest_file_cmd:file"}


class _Lazy(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_SUB)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _SUB:
            return None
        mod, attr = _SUB[name].split(":")
        try:
            m = importlib.import_module(f"chainrisk.cli.{mod}")
        except ModuleNotFoundError:
            return None
        cmd: click.Command = getattr(m, attr)
        return cmd


@click.group(cls=_Lazy)
def ingest() -> None:
    """Load stablecoin transfers into the store: from a node (rpc) or from bulk exports (file)."""
