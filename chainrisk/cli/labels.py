"""`chainrisk labels import|update|list|show|sources|categories`: the label store from the command line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from ..labels.importers import FORMAT_NAMES
from ._common import (
    RECORDS,
    format_option,
    input_format_hints,
    open_store,
    require_input_format,
    table_text,
    write,
)

OUT = format_option(RECORDS)
PROFILE = click.option("--profile", metavar="NAME|PATH",
                       help="Add each label's severity under this profile (cn, fatf, or a tuned TOML file).")


@click.group()
def labels() -> None:
    """The label store: import sources, refresh the live ones, list and show labels.

    Every label has a category from one taxonomy (`chainrisk labels categories`), a source with its version, a
    confidence (100 ledger, 60 authority, 50 trusted provider, 20 web crawl, 10 heuristic) and a validity period.
    Re-importing a source replaces its previous version atomically; removed labels are ended, never deleted.
    """


def _report(results: list[Any], fmt: str, strict: bool) -> None:
    from ..errors import PartialError

    full = [r.to_dict() for r in results]
    rows = [{k: v for k, v in d.items() if k not in ("skip_reasons", "skip_examples", "origin")} for d in full]
    write(fmt, full, table=rows, csv=rows)
    skipped = 0
    for r in results:
        for reason, n in sorted(r.skip_reasons.items(), key=lambda kv: -kv[1]):
            click.echo(f"warning: {r.source}: skipped {n} row(s): {reason}, e.g. {r.skip_examples[reason]!r}",
                       err=True)
            skipped += n
    if strict and skipped:
        raise PartialError(f"{skipped} input row(s) were skipped (see the warnings); labels of the good rows were "
                           "imported; fix the file or drop --strict")


@labels.command("import")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--input-format", type=click.Choice(FORMAT_NAMES), metavar="FORMAT",
              help=f"The format of PATH... (required): {', '.join(FORMAT_NAMES)}.")
@click.option("--source", help="Source name (default: per format, e.g. ofac-sdn; for list: the file stem).")
@click.option("--category", help="Category for list formats (required there); overrides elsewhere.")
@click.option("--confidence", type=click.IntRange(0, 100), help="Override the format's default confidence.")
@click.option("--chain", help="Chain of list addresses (default: recognised from each address).")
@click.option("--version", "version", help="Source version (default: the data's own date, else its hash).")
@click.option("--strict", is_flag=True, help="Exit 3 when any input row was skipped.")
@click.option("--allow-mass-removal", is_flag=True,
              help="Accept a version that ends more than 20% of the source's active labels (or an SDN.CSV without "
                   "its end marker): refused by default, as a truncated list looks like that.")
@click.option("--service", envvar="CHAINRISK_SERVICE_URL", default=None, metavar="URL",
              help="Send the file to a running 'chainrisk serve' (env CHAINRISK_SERVICE_URL; admin --key), which "
                   "owns the store while it runs.")
@click.option("--key", envvar="CHAINRISK_API_KEY", default=None, metavar="TOKEN",
              help="API key for --service (env CHAINRISK_API_KEY).")
@format_option(RECORDS, help="Format of the import report on stdout.",
               hints=input_format_hints(FORMAT_NAMES, RECORDS))
@click.pass_context
def import_cmd(ctx: click.Context, paths: tuple[str, ...], input_format: str | None, source: str | None,
               category: str | None, confidence: int | None, chain: str | None, version: str | None,
               strict: bool, allow_mass_removal: bool, service: str | None, key: str | None, fmt: str) -> None:
    """Import PATH... as one version of a label source, replacing its previous version.

    Prints added / removed / unchanged / updated counts per source; rows with invalid addresses are skipped
    and reported on stderr. A file that is not of FORMAT changes nothing (exit 4).
    Examples:

    \b
      chainrisk labels import --input-format bundled
      chainrisk labels import sdn_advanced.xml --input-format ofac-xml
      chainrisk labels import sanctioned_addresses_ETH.txt --input-format list --category sanctions --confidence 60
    """
    from ..labels import import_labels

    input_format = require_input_format(ctx, input_format, fmt, FORMAT_NAMES)
    if service is not None:
        from ..monitoring.client import ServiceClient

        _report(ServiceClient(service, key).import_labels(
            list(paths), input_format, source=source, category=category, confidence=confidence, chain=chain,
            version=version, allow_mass_removal=allow_mass_removal), fmt, strict)
        return
    with open_store(ctx, create=True) as st:
        results = import_labels(st, list(paths), input_format, source=source, category=category,
                                confidence=confidence, chain=chain, version=version,
                                allow_mass_removal=allow_mass_removal)
    _report(results, fmt, strict)


@labels.command("update")
@click.option("--ofac-url", default=None, metavar="URL", help="Where to fetch sdn_advanced.xml (default: OFAC).")
@click.option("--no-ofac", is_flag=True, help="Do not refresh the OFAC SDN list.")
@click.option("--no-bundled", is_flag=True, help="Do not refresh chainrisk's bundled registry.")
@click.option("--no-onchain", is_flag=True, help="Do not rebuild the on-chain issuer freeze labels.")
@click.option("--rpc-url", envvar="CHAINRISK_RPC_URL", metavar="URL",
              help="Node to fetch new freeze events from first (env CHAINRISK_RPC_URL); without it the labels are "
                   "rebuilt from the events already ingested.")
@click.option("--token", "tokens", multiple=True, help="Token to fetch from the node (default: all registered).")
@click.option("--from-block", type=int, default=0, show_default=True,
              help="With --rpc-url: the first block to fetch (ranges fetched before are skipped).")
@click.option("--to-block", type=int, default=None,
              help="With --rpc-url: the last block (default: the latest minus --confirmations).")
@click.option("--confirmations", type=int, default=None,
              help="With --rpc-url: blocks below the node's latest treated as final; nothing above is fetched "
                   "(default: the chain's; on TRON also the node's finalized block).")
@click.option("--chain", type=click.Choice(["ethereum", "tron", "bsc", "polygon", "arbitrum", "optimism", "base"]),
              default="ethereum", show_default=True,
              help="With --rpc-url: the node's chain (tron: a java-tron /jsonrpc node; its chain id is checked).")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds per HTTP request.")
@OUT
@click.pass_context
def update(ctx: click.Context, ofac_url: str | None, no_ofac: bool, no_bundled: bool, no_onchain: bool,
           rpc_url: str | None, tokens: tuple[str, ...], from_block: int, to_block: int | None,
           confirmations: int | None, chain: str, timeout: float, fmt: str) -> None:
    """Refresh the live sources: the bundled registry, OFAC's current SDN list, the on-chain issuer freezes.

    All are fetched first, then replaced in one transaction: a failed download changes nothing (exit 5).
    """
    from ..labels.update import OFAC_URL, update_labels

    with open_store(ctx, create=True) as st:
        rep = update_labels(st, bundled=not no_bundled, ofac=not no_ofac, ofac_url=ofac_url or OFAC_URL,
                            onchain=not no_onchain, rpc_url=rpc_url, tokens=list(tokens) or None,
                            from_block=from_block, to_block=to_block, confirmations=confirmations, timeout=timeout,
                            chain=chain)
    if rep.ingest:
        i = rep.ingest
        click.echo(f"node {i.get('rpc_url')}: blocks {i.get('from_block')}..{i.get('to_block')}, "
                   f"{i.get('blacklist_events_added', 0):,} freeze events and {i.get('transfers_added', 0):,} "
                   "transfers added", err=True)
    for note in rep.notes:
        click.echo(f"note: {note}", err=True)
    _report(rep.results, fmt, False)


def _with_severity(rows: list[dict[str, Any]], profile: str | None) -> list[dict[str, Any]]:
    if not profile:
        return rows
    from ..profiles import load_profile

    p = load_profile(profile)
    for r in rows:
        r["severity"] = p.severity.get(r["category"])
    return rows


_LIST_COLUMNS = ("chain", "address", "category", "name", "source", "confidence", "valid_from", "valid_to")


@labels.command("list")
@click.option("--source", help="Only this source.")
@click.option("--category", help="Only this category.")
@click.option("--chain", help="Only this chain (aliases as in imports: bnb is bsc).")
@click.option("--all", "include_history", is_flag=True, help="Include ended and retired labels (history).")
@click.option("--limit", type=int, default=None, help="At most this many rows.")
@PROFILE
@OUT
@click.pass_context
def list_cmd(ctx: click.Context, source: str | None, category: str | None, chain: str | None,
             include_history: bool, limit: int | None, profile: str | None, fmt: str) -> None:
    """List labels (active ones unless --all), by source, category and chain."""
    from ..labels import list_labels
    from ..taxonomy import check_category

    if category:
        category = check_category(category)
    if chain:
        from ..labels.chains import canonical_chain

        chain = canonical_chain(chain)   # the alias table: --chain bnb lists bsc
    with open_store(ctx, read_only=True) as st:
        rows = list_labels(st, source=source, category=category, chain=chain, include_history=include_history,
                           limit=limit)
    table = [{k: r[k] for k in _LIST_COLUMNS} for r in rows]
    write(fmt, _with_severity(rows, profile), table=_with_severity(table, profile))


@labels.command("link")
@click.option("--rpc-url", envvar="CHAINRISK_RPC_URL", metavar="URL",
              help="A node (env CHAINRISK_RPC_URL) to tell externally owned addresses from contracts (eth_getCode "
                   "and eth_getTransactionCount). Without it nothing is known to be externally owned and nothing "
                   "is linked.")
@click.option("--chain", type=click.Choice(["ethereum", "bsc", "polygon", "arbitrum", "optimism", "base"]),
              default="ethereum", show_default=True, help="The node's chain (its chain id is checked).")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds per HTTP request.")
@OUT
@click.pass_context
def link(ctx: click.Context, rpc_url: str | None, chain: str, timeout: float, fmt: str) -> None:
    """Offer labels of externally owned addresses on their other EVM chains (source 'linked-evm').

    An EVM address is one key on every EVM chain, so a label on an externally owned address (say OFAC's, on
    ethereum) is offered, at half its confidence, on each other chain where the store has activity of that
    address. Never for a contract (a token contract, an address labelled token_contract/bridge/defi, or with code
    at the node): its address on another chain may be someone else's. An address not known to be externally owned
    (no node, or no transaction sent from it) is not linked. Rebuilt in full on every run; score again afterwards.
    """
    from ..labels.links import link_labels

    progress = (lambda msg: click.echo(f"link: {msg}", err=True)) if ctx.obj.get("verbose") else None
    with open_store(ctx) as st:
        rep = link_labels(st, rpc_url=rpc_url, chain=chain, timeout=timeout, progress=progress)
    click.echo(f"{rep.checked_addresses:,} labelled addresses active on another chain: {rep.eoa:,} externally "
               f"owned, {rep.contract:,} contracts, {rep.unknown:,} unknown; {rep.linked:,} linked labels", err=True)
    for note in rep.notes:
        click.echo(f"note: {note}", err=True)
    _report([rep.result] if rep.result is not None else [], fmt, False)


@labels.command("show")
@click.argument("address")
@click.option("--active", "active_only", is_flag=True, help="Only labels valid now (default: with history).")
@PROFILE
@OUT
@click.pass_context
def show(ctx: click.Context, address: str, active_only: bool, profile: str | None, fmt: str) -> None:
    """Every label on ADDRESS (all sources, conflicting ones included), with what the system knows by nature
    (null address, precompile, token contract). Exit 4 when ADDRESS is not a valid address."""
    from ..address import parse_address
    from ..errors import InvalidAddress
    from ..labels import labels_for, special_notes

    try:
        a = parse_address(address)
    except InvalidAddress:
        text = address.strip()
        if text[:2].lower() == "0x" or text[:1] == "T" or all(c in "0123456789abcdefABCDEF" for c in text):
            raise
        a = None  # an address of another chain (Bitcoin, XRP, ...): labels keep it verbatim
    key = a.address if a else address.strip()
    with open_store(ctx, read_only=True) as st:
        rows = _with_severity(labels_for(st, key, include_history=not active_only), profile)
        notes = special_notes(st, key)
    cols = ["status", "chain", "category", *(["severity"] if profile else []), "name", "source", "confidence",
            "valid_from", "valid_to", "details"]
    text = "".join(f"# {n}\n" for n in notes)
    text += table_text([{c: r.get(c) for c in cols} for r in rows]) if rows else f"# no labels on {key}\n"
    # the JSON document writes times as str() does ('2024-01-02 03:04:05'), as it always has
    doc = {"address": key, "chain": a.chain if a else None, "notes": notes,
           "labels": [{k: str(v) if isinstance(v, datetime) else v for k, v in r.items()} for r in rows]}
    write(fmt, rows, json=doc, table=text, unicode=("json",))


@labels.command("sources")
@OUT
@click.pass_context
def sources(ctx: click.Context, fmt: str) -> None:
    """Each label source: its current version, when it was imported, label counts, last import's changes."""
    from ..labels import list_sources

    with open_store(ctx, read_only=True) as st:
        rows = list_sources(st)
    write(fmt, rows, table=[{k: v for k, v in r.items() if k not in ("sha256", "origin")} for r in rows])


@labels.command("retire")
@click.argument("source")
@OUT
@click.pass_context
def retire(ctx: click.Context, source: str, fmt: str) -> None:
    """Stop using SOURCE: its current labels are ended now (kept as history) and it leaves `labels sources`.

    For a source you may no longer use (licence, quality). Re-importing it later starts a new version.
    """
    from ..labels import retire_source

    with open_store(ctx) as st:
        res = retire_source(st, source)
    write(fmt, {k: v for k, v in res.to_dict().items() if k in ("source", "format", "removed")})


@labels.command("categories")
@PROFILE
@OUT
def categories(profile: str | None, fmt: str) -> None:
    """The label taxonomy (with each category's severity under --profile)."""
    from ..taxonomy import CATEGORIES, DESCRIPTIONS, ILLICIT

    rows = [{"category": c, "illicit": c in ILLICIT, "description": DESCRIPTIONS[c]} for c in CATEGORIES]
    write(fmt, _with_severity(rows, profile))
