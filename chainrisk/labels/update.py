"""``update_labels``: refresh the live label sources in one go.

1. chainrisk's bundled registry (``datasets/labels`` and the token registry);
2. OFAC's current ``sdn_advanced.xml``, downloaded with ``requests`` (default: the official URL; any mirror can
   be given) into a temporary file and streamed through the ``ofac-xml`` importer;
3. the issuer freezes on chain: with an RPC URL, the node ingestion (:func:`chainrisk.ingest_rpc.ingest_rpc`)
   first fetches new Transfer/blacklist logs of the registered stablecoins; then the ``blacklist-events``
   importer rebuilds the ``onchain-blacklist`` source from everything ingested.

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

from ..errors import InputError, SourceUnavailable
from ..store import Store
from .importers import Options
from .importers.blacklist import import_events
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

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_dict() for r in self.results], "notes": list(self.notes), "ingest": self.ingest}


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
    to_block: int | None = None, confirmations: int = 12, timeout: float = 60.0, session: Any = None,
    progress: Callable[..., Any] | None = None, allow_mass_removal: bool = False,
) -> UpdateReport:
    """Refresh the bundled registry, OFAC's SDN list and the on-chain issuer freezes; all or nothing. A refresh
    that would end more than 20% of a source's active labels (a cut download) is refused unless
    ``allow_mass_removal``."""
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
                             confirmations=confirmations, timeout=timeout, progress=progress)
            report.ingest = {k: v for k, v in vars(rep).items() if not k.startswith("_")}
        if blacklist_events(store):
            parsed += import_events([], Options(), store)
        else:
            report.notes.append("no issuer blacklist events in the store (give --rpc-url to fetch them from a "
                                "node); the onchain-blacklist source was left as it was")
    report.results = replace_sources(store, parsed, allow_mass_removal=allow_mass_removal)
    return report
