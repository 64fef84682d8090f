"""`chainrisk export`: the store's transfers, labels and tokens as a Parquet dataset (for Spark or a lakehouse)."""

from __future__ import annotations

from typing import Any

import click

from ._common import SUMMARY, field_rows, format_option, open_store, write


@click.command()
@click.argument("path", metavar="PATH")
@click.option("--replace", is_flag=True,
              help="PATH already holds an export: swap it for the new one (the old stays until the new is complete).")
@format_option(SUMMARY)
@click.pass_context
def export(ctx: click.Context, path: str, replace: bool, fmt: str) -> None:
    """Write the store's transfers (Parquet, partitioned by chain and month), addresses, active labels, inert
    addresses and tokens to the folder PATH, for 'chainrisk score --engine spark --input PATH' or a lakehouse.

    Atomic: the files are written beside PATH and renamed to it when complete; a killed export leaves nothing
    under PATH and the next export starts over. The summary accounts for every transfer (per partition)."""
    from ..engine.spark_engine import export_store

    with open_store(ctx) as st:
        report = export_store(st, path, replace=replace)
    d: dict[str, Any] = report.to_dict()
    parts = "; ".join(f"{p['chain']} {p['month']}: {p['transfers']:,}" for p in d["partitions"]) or "(none)"
    write(fmt, d, table=field_rows(d | {"partitions": parts, "removed_partial": ", ".join(d["removed_partial"])}))
