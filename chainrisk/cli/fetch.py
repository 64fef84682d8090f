"""`chainrisk fetch`: one address's TRC-20 history (and its largest counterparties', one hop) from TronGrid."""

from __future__ import annotations

import click

from ._common import SUMMARY, field_rows, format_option, open_store, write


@click.command("fetch")
@click.argument("address")
@click.option("--chain", type=click.Choice(["tron"]), default="tron", show_default=True,
              help="The address's chain (TronGrid serves TRON).")
@click.option("--source", type=click.Choice(["trongrid"]), default="trongrid", show_default=True,
              help="Where to pull the history from.")
@click.option("--api-url", default="https://api.trongrid.io", show_default=True, envvar="TRONGRID_URL",
              help="TronGrid's base URL (env TRONGRID_URL). The API key comes from TRONGRID_API_KEY.")
@click.option("--hops", type=click.IntRange(0, 1), default=1, show_default=True,
              help="0: the address only; 1: also its largest counterparties (bounded below).")
@click.option("--max-pages", type=click.IntRange(min=1), default=50, show_default=True,
              help="Pages of 200 transfers to pull for the address (newest first).")
@click.option("--max-counterparties", type=click.IntRange(min=0), default=25, show_default=True,
              help="Counterparties to pull one hop out, largest USD flows first.")
@click.option("--counterparty-pages", type=click.IntRange(min=1), default=5, show_default=True,
              help="Pages to pull per counterparty (an exchange wallet has millions of transfers).")
@click.option("--rate", type=click.FloatRange(min=0.1, max=100), default=15.0, show_default=True,
              help="Requests per second at most (TronGrid allows 15 per key).")
@click.option("--save-dir", type=click.Path(file_okay=False), default=None,
              help="Keep the pulled pages here as TronGrid JSON (re-importable with ingest file --input-format "
                   "trongrid); default: a temp dir, removed after the import.")
@format_option(SUMMARY, help="Format of the report on stdout.")
@click.pass_context
def fetch(ctx: click.Context, address: str, chain: str, source: str, api_url: str, hops: int, max_pages: int,
          max_counterparties: int, counterparty_pages: int, rate: float, save_dir: str | None, fmt: str) -> None:
    """Pull ADDRESS's TRC-20 transfers (and its counterparties', one hop out) from TronGrid into the store.

    For an investigator without a node: then `chainrisk score` and `chainrisk lookup ADDRESS --explain`. Honours
    TronGrid's rate (15 req/s), its 429s and its key suspensions (HTTP 403, waited out); a rerun adds nothing
    twice.
    """
    from ..ingest.trongrid import fetch_trongrid

    with open_store(ctx, create=True) as store:
        rep = fetch_trongrid(store, address, chain=chain, api_url=api_url, hops=hops, max_pages=max_pages,
                             max_counterparties=max_counterparties, counterparty_pages=counterparty_pages,
                             rate=rate, save_dir=save_dir)
    for note in rep.notes:
        click.echo(f"note: {note}", err=True)
    d = rep.to_dict()
    shown = {k: (len(v) if k == "addresses_fetched" else ", ".join(map(str, v))) if isinstance(v, list) else v
             for k, v in d.items() if k != "notes"}
    write(fmt, d, table=field_rows(shown))
