"""``update_labels``: refresh the live label sources in one go.

1. chainrisk's bundled registry (``datasets/labels`` and the token registry);
2. OFAC's current ``sdn_advanced.xml``, downloaded with ``requests`` (default: the official URL; any mirror can
   be given) into a temporary file and streamed through the ``ofac-xml`` importer;
3. the issuer freezes on chain: with an RPC URL, the node ingestion (:func:`chainrisk.ingest_rpc.ingest_rpc`)
   first fetches new Transfer/blacklist logs of the registered stablecoins; then the ``blacklist-events``
   importer rebuilds the ``onchain-blacklist`` source from everything ingested, and every freeze still in force
   is confirmed with a contract read of the issuer (Tether's ``isBlackListed``, Circle's ``isBlacklisted``, via
   web3 in :meth:`chainrisk.ingest.node.RpcClient.frozen`) at the last ingested block. A freeze the contract
   does not confirm (a release outside the ingested range, a state change without an event) is named in the
   report's notes; the labels stay as the events say.

Everything is fetched and parsed before the store is touched, and all sources are replaced in one transaction:
an unreachable server, an HTTP error, a timeout or a truncated download raises
(:class:`~chainrisk.errors.SourceUnavailable` / :class:`~chainrisk.errors.InputError`) and leaves every label
as it was. (Node ingestion commits its own block ranges as it goes; that is resumable raw data, not labels.)
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import InputError, RpcError, SourceUnavailable
from ..store import Store
from .importers import Options
from .importers.blacklist import import_events, open_freezes
from .importers.bundled import import_bundled
from .importers.ofac import CONFIDENCE as OFAC_CONFIDENCE
from .importers.ofac import open_maybe_compressed, parse_sdn_xml, records_from_features
from .model import ParsedSource, file_sha256
from .store import SourceResult, blacklist_events, replace_sources

log = logging.getLogger(__name__)

OFAC_URL = "https://www.treasury.gov/ofac/downloads/sanctions/1.0/sdn_advanced.xml"


@dataclass
class UpdateReport:
    results: list[SourceResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ingest: dict[str, Any] | None = None
    #: the contract-read check of the freezes in force: block, checked, confirmed, not_confirmed, unanswered
    freezes: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_dict() for r in self.results], "notes": list(self.notes), "ingest": self.ingest,
                "freezes": self.freezes}


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}"


def download(url: str, dest: Path, *, timeout: float = 60.0, session: Any = None) -> int:
    """Stream ``url`` into ``dest``; returns the byte count. Raises SourceUnavailable on HTTP errors, timeouts,
    refused connections and bodies shorter than their Content-Length."""
    import requests

    http = session or requests
    where = _host(url)
    try:
        with http.get(url, stream=True, timeout=(min(timeout, 15.0), timeout)) as resp:
            if resp.status_code != 200:
                raise SourceUnavailable(f"{where} answered HTTP {resp.status_code} for the OFAC list; "
                                        "try again later or pass another --ofac-url")
            expected = resp.headers.get("Content-Length")
            n = 0
            with dest.open("wb") as f:
                for chunk in resp.iter_content(chunk_size=1 << 20):
                    f.write(chunk)
                    n += len(chunk)
    except requests.Timeout:
        raise SourceUnavailable(f"{where} did not answer within {timeout:g} s; try again later or raise "
                                "--timeout") from None
    except requests.RequestException as e:
        kind = type(e).__name__
        raise SourceUnavailable(f"downloading the OFAC list from {where} failed ({kind}; the body may be "
                                "truncated); try again later") from None
    if expected is not None and expected.isdigit() and int(expected) != n:
        raise SourceUnavailable(f"the OFAC list from {where} was truncated ({n} of {expected} bytes); try again")
    return n


def fetch_ofac(url: str, *, timeout: float = 60.0, session: Any = None) -> ParsedSource:
    """Download and parse OFAC's advanced XML into the ``ofac-sdn`` source (nothing stored yet)."""
    with tempfile.TemporaryDirectory(prefix="chainrisk-ofac-") as tmp:
        path = Path(tmp) / "sdn_advanced.xml"
        size = download(url, path, timeout=timeout, session=session)
        log.info("downloaded %d bytes of OFAC SDN advanced XML from %s", size, _host(url))
        with open_maybe_compressed(path) as f:
            issued, features = parse_sdn_xml(f, f"the OFAC list from {_host(url)}")
        ps = ParsedSource("ofac-sdn", "ofac-xml", issued, url, file_sha256(path))
    records_from_features(ps, features, OFAC_CONFIDENCE)
    if not ps.records:
        raise InputError(f"the OFAC list from {_host(url)} has no digital-currency addresses; "
                         "is the URL right? The store is unchanged")
    return ps


def update_labels(
    store: Store, *, bundled: bool = True, ofac: bool = True, ofac_url: str = OFAC_URL, onchain: bool = True,
    rpc_url: str | None = None, tokens: Sequence[str] | None = None, from_block: int = 0,
    to_block: int | None = None, confirmations: int | None = None, timeout: float = 60.0, session: Any = None,
    progress: Callable[..., Any] | None = None, allow_mass_removal: bool = False, chain: str = "ethereum",
) -> UpdateReport:
    """Refresh the bundled registry, OFAC's SDN list and the on-chain issuer freezes; all or nothing. A refresh
    that would end more than 20% of a source's active labels (a cut download) is refused unless
    ``allow_mass_removal``. ``chain`` is the node's chain (``tron``: a java-tron ``/jsonrpc`` node; its USDT
    freezes are read and confirmed like Ethereum's, addresses in base58)."""
    report = UpdateReport()
    parsed: list[ParsedSource] = []
    if bundled:
        parsed += import_bundled([], Options(), store)
    if ofac:
        parsed.append(fetch_ofac(ofac_url, timeout=timeout, session=session))
    if onchain:
        if rpc_url:
            from ..ingest.rpc import ingest_rpc

            rep = ingest_rpc(store, rpc_url, tokens=tokens, from_block=from_block, to_block=to_block,
                             confirmations=confirmations, timeout=timeout, progress=progress, chain=chain)
            report.ingest = {k: v for k, v in vars(rep).items() if not k.startswith("_")}
        events = blacklist_events(store)
        if events:
            parsed += import_events([], Options(), store)
            ing = report.ingest
            if rpc_url and ing is not None and isinstance(ing.get("to_block"), int):
                ingested = set(ing.get("tokens") or [])
                confirm_freezes(report, rpc_url, [e for e in open_freezes(events) if e["symbol"] in ingested
                                                  and e["chain"] == ing.get("chain", "ethereum")],
                                ing["to_block"], timeout=timeout, chain=str(ing.get("chain", "ethereum")))
        else:
            report.notes.append("no issuer blacklist events in the store (give --rpc-url to fetch them from a "
                                "node); the onchain-blacklist source was left as it was")
    report.results = replace_sources(store, parsed, allow_mass_removal=allow_mass_removal)
    return report


def confirm_freezes(report: UpdateReport, rpc_url: str, freezes: list[dict[str, Any]], block: int, *,
                    timeout: float = 60.0, chain: str = "ethereum") -> None:
    """Ask each issuer contract whether the ``freezes`` (open freeze events of ``chain``) are in force at
    ``block``; fills ``report.freezes`` and adds one note per token with freezes the contract does not confirm.
    On TRON the contract and addresses are passed to the node as 0x hex and reported in base58."""
    from ..chains import get_chain
    from ..ingest.node import FREEZE_FUNCTION, RpcClient

    spec = get_chain(chain)
    todo = [e for e in freezes if e["chain"] == spec.name and e.get("event") in FREEZE_FUNCTION]
    check = {"block": block, "checked": 0, "confirmed": 0, "not_confirmed": 0, "unanswered": 0}
    report.freezes = check
    if not todo:
        return
    client = RpcClient(rpc_url, timeout=timeout)
    groups: dict[tuple[str, str, str], list[str]] = {}
    for e in todo:
        groups.setdefault((e["contract"], e["symbol"], FREEZE_FUNCTION[e["event"]]), []).append(e["address"])
    try:
        for (contract, symbol, function), addresses in sorted(groups.items()):
            try:
                answers = client.frozen(spec.to_node(contract), function, [spec.to_node(a) for a in addresses],
                                        block)
            except RpcError:
                report.notes.append(f"could not read {symbol}'s {function} at block {block:,} (the node may "
                                    f"keep no state that old); its {len(addresses):,} freezes are not confirmed")
                check["checked"] += len(addresses)
                check["unanswered"] += len(addresses)
                continue
            check["checked"] += len(addresses)
            check["confirmed"] += sum(1 for a in answers if a is True)
            check["unanswered"] += sum(1 for a in answers if a is None)
            lifted = [addr for addr, a in zip(addresses, answers, strict=True) if a is False]
            check["not_confirmed"] += len(lifted)
            if lifted:
                report.notes.append(
                    f"{len(lifted):,} of {len(addresses):,} {symbol} freezes are not confirmed by {function} at "
                    f"block {block:,} (e.g. {lifted[0]}): a release may lie outside the ingested blocks; the labels "
                    "stay as the events say")
            if any(a is None for a in answers):
                report.notes.append(f"{symbol}'s contract gave no answer to {function} for "
                                    f"{sum(1 for a in answers if a is None):,} freezes; they are not confirmed")
    finally:
        client.close()
