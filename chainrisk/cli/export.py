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
    from ..engine.ledger import INFERRED_SOURCE, LEDGER_SOURCE, derive_ledger_labels
    from ..engine.model import MAX_TRANSFER_USD
    from ..store.export import export as run_export

    with open_store(ctx) as st:
        # the labels a scoring run derives from the RWA ledger go with the store's own (as the run adds them)
        derived = [(a, c, nm, conf, LEDGER_SOURCE if conf >= 100 else INFERRED_SOURCE)
                   for a, c, nm, conf, _ in derive_ledger_labels(st)]
        report = run_export(st, path, replace=replace, usd_cap=MAX_TRANSFER_USD, derived_labels=derived)
    d: dict[str, Any] = report.to_dict()
    parts = "; ".join(f"{p['chain']} {p['month']}: {p['transfers']:,}" for p in d["partitions"]) or "(none)"
    write(fmt, d, table=field_rows(d | {"partitions": parts, "removed_partial": ", ".join(d["removed_partial"])}))
