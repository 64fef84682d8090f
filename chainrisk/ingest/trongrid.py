"""One-address investigation without a node: an address's TRC-20 history (and its counterparties', one hop out,
bounded) from TronGrid's ``/v1/accounts/{address}/transactions/trc20``, into the store.

    >>> report = fetch_trongrid(store, "TVy95wrbDgQ8NA3XT8qKqwC6YBsFTPHtFF")   # key from TRONGRID_API_KEY

How it behaves with TronGrid:

- the API key goes in the ``TRON-PRO-API-KEY`` header (from ``TRONGRID_API_KEY``; without one TronGrid serves far
  fewer requests); it never appears in a message or a report;
- requests are spaced to at most ``rate`` per second (TronGrid's 15 req/s per key) across the whole fetch;
- HTTP 429 is retried after ``Retry-After`` (else exponential backoff with jitter); HTTP 403 is TronGrid
  suspending the key for going over its rate (30 s) or refusing it: waited out ``suspend_seconds`` and retried
  up to ``max_suspensions`` times, then one :class:`SourceUnavailable` sentence; 5xx, timeouts, dropped
  connections and **truncated or non-JSON bodies** are retried with backoff (a page is only used whole);
- pages follow ``meta.fingerprint`` (``limit`` 200 per page), at most ``max_pages`` per address;
- one hop out: the counterparties of the subject with the largest USD flows, at most ``max_counterparties`` of
  them, ``counterparty_pages`` pages each (an exchange hot wallet has millions of transfers: the bound keeps a
  case small and says so in the report).

The pages are saved as TronGrid JSON (``save_dir``, or a temp dir) and imported with
:func:`chainrisk.ingest.file.ingest_file` (``--input-format trongrid``): the same validation, content keys (no log
index in TronGrid) and idempotence as a file the investigator pulled by hand; rerunning adds nothing twice.
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from ..chains import get_chain
from ..errors import SourceUnavailable, UsageError
from ..store import Store

log = logging.getLogger(__name__)

TRONGRID_URL = "https://api.trongrid.io"
API_KEY_ENV = "TRONGRID_API_KEY"
PAGE_LIMIT = 200


@dataclass
class FetchReport:
    address: str
    chain: str
    source: str
    api_url: str
    requests: int = 0
    retries: int = 0
    suspensions: int = 0
    pages: int = 0
    records: int = 0
    addresses_fetched: list[str] = field(default_factory=list)
    counterparties_total: int = 0
    counterparties_fetched: int = 0
    truncated: list[str] = field(default_factory=list)  # addresses whose history was cut at max_pages
    rows_added: int = 0
    rows_duplicate: int = 0
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds"] = round(self.seconds, 3)
        return d


class _Limiter:
    """At most ``rate`` requests per second: each request waits for its slot."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next)
            self.next = at + self.interval
        if at > now:
            time.sleep(at - now)


class TronGridClient:
    def __init__(self, api_url: str = TRONGRID_URL, api_key: str | None = None, *, rate: float = 15.0,
                 timeout: float = 30.0, max_retries: int = 6, backoff: float = 0.5, suspend_seconds: float = 30.0,
                 max_suspensions: int = 3, session: requests.Session | None = None) -> None:
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"the TronGrid URL {api_url!r} is not an http(s) URL; pass --api-url https://HOST")
        self.api_url = api_url.rstrip("/")
        self.host = f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}"
        self.session = session or requests.Session()
        if api_key:
            self.session.headers["TRON-PRO-API-KEY"] = api_key
        self.session.headers["Accept"] = "application/json"
        self.limiter = _Limiter(rate)
        self.timeout, self.max_retries, self.backoff = timeout, max_retries, backoff
        self.suspend_seconds, self.max_suspensions = suspend_seconds, max_suspensions
        self.rng = random.Random(0)
        self.requests = self.retries = self.suspensions = 0

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """One GET answered with a whole JSON object; transient failures retried as the module says."""
        last = ""
        attempt = suspended = 0
        while True:
            self.limiter.wait()
            self.requests += 1
            wait: float | None = None
            try:
                r = self.session.get(self.api_url + path, params=params, timeout=self.timeout)
                body = r.content
            except requests.exceptions.Timeout:
                last = f"did not answer within {self.timeout:g} s"
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError):
                last = "cannot be reached or cut the answer (connection failed)"
            except requests.exceptions.RequestException as e:
                last = f"failed ({type(e).__name__})"
            else:
                if r.status_code == 200:
                    try:
                        doc = json.loads(body)
                    except ValueError:
                        last = "sent a cut or malformed JSON page"
                    else:
                        if isinstance(doc, dict) and isinstance(doc.get("data"), list):
                            return doc
                        last = "sent a page without a data list"
                elif r.status_code == 403:
                    suspended += 1
                    self.suspensions += 1
                    if suspended > self.max_suspensions:
                        raise SourceUnavailable(
                            f"TronGrid at {self.host} refused the API key {suspended} times (HTTP 403: suspended for "
                            f"going over its rate, or not valid); check {API_KEY_ENV}, wait, then rerun (pages "
                            "imported so far are kept)")
                    log.warning("TronGrid suspended the key (HTTP 403); waiting %.0f s", self.suspend_seconds)
                    time.sleep(self.suspend_seconds)
                    continue
                elif r.status_code == 429 or r.status_code >= 500:
                    last = f"answered HTTP {r.status_code}"
                    ra = r.headers.get("Retry-After")
                    if ra and ra.strip().isdigit():
                        wait = float(ra)
                elif r.status_code == 400:
                    raise SourceUnavailable(f"TronGrid at {self.host} rejected the request (HTTP 400) for {path}; "
                                            "check the address")
                else:
                    raise SourceUnavailable(f"TronGrid at {self.host} answered HTTP {r.status_code}; check --api-url")
            if attempt >= self.max_retries:
                raise SourceUnavailable(f"TronGrid at {self.host} {last} after {attempt + 1} attempts; try again "
                                        "later (pages imported so far are kept)")
            self.retries += 1
            delay = wait if wait is not None else self.rng.uniform(0, min(30.0, self.backoff * 2**attempt))
            log.debug("TronGrid %s; retry %d in %.2f s", last, attempt + 1, delay)
            time.sleep(delay)
            attempt += 1

    def trc20_history(self, address: str, max_pages: int) -> tuple[list[dict[str, Any]], bool]:
        """(records, cut): the address's TRC-20 transfers, newest first, at most ``max_pages`` pages; ``cut`` when
        more pages were left."""
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": PAGE_LIMIT, "only_confirmed": "true"}
        path = f"/v1/accounts/{quote(address)}/transactions/trc20"
        for _ in range(max_pages):
            doc = self.get(path, params)
            out.extend(x for x in doc["data"] if isinstance(x, dict))
            fp = (doc.get("meta") or {}).get("fingerprint")
            if not fp or not doc["data"]:
                return out, False
            params = {**params, "fingerprint": fp}
        return out, True


def fetch_trongrid(store: Store, address: str, *, chain: str = "tron", api_url: str = TRONGRID_URL,
                   api_key: str | None = None, hops: int = 1, max_pages: int = 50, max_counterparties: int = 25,
                   counterparty_pages: int = 5, rate: float = 15.0, save_dir: str | Path | None = None,
                   suspend_seconds: float = 30.0, backoff: float = 0.5, timeout: float = 30.0) -> FetchReport:
    """Pull ``address``'s TRC-20 history from TronGrid (and, with ``hops=1``, its largest counterparties'), and
    import it; see the module docstring. ``api_key`` defaults to ``$TRONGRID_API_KEY``."""
    spec = get_chain(chain)
    if spec.name != "tron":
        raise UsageError(f"--source trongrid serves TRON only, not {spec.name}; pass --chain tron")
    subject = spec.canonical(address)
    if hops not in (0, 1):
        raise UsageError("--hops is 0 (the address only) or 1 (and its largest counterparties)")
    if max_pages < 1 or counterparty_pages < 1 or max_counterparties < 0:
        raise UsageError("--max-pages and --counterparty-pages must be at least 1, --max-counterparties at least 0")
    from .file import ingest_file

    t0 = time.monotonic()
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
    client = TronGridClient(api_url, key, rate=rate, timeout=timeout, backoff=backoff,
                            suspend_seconds=suspend_seconds)
    rep = FetchReport(address=subject, chain="tron", source="trongrid", api_url=client.host)
    if not key:
        rep.notes.append(f"no TronGrid API key ({API_KEY_ENV}): TronGrid serves keyless requests at a much lower "
                         "rate")
    tmp = None
    if save_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="chainrisk-trongrid-")
        folder = Path(tmp.name)
    else:
        folder = Path(save_dir)
        folder.mkdir(parents=True, exist_ok=True)
    try:
        def one(addr: str, pages: int) -> list[dict[str, Any]]:
            records, cut = client.trc20_history(addr, pages)
            rep.addresses_fetched.append(addr)
            rep.records += len(records)
            if cut:
                rep.truncated.append(addr)
            if records:
                path = folder / f"trongrid-trc20-{addr}.json"
                path.write_text(json.dumps({"data": records, "success": True,
                                            "meta": {"address": addr, "source": client.host}}))
                r = ingest_file(store, path, "trongrid", chain="tron", force=True)
                rep.rows_added += r.rows_added
                rep.rows_duplicate += sum(f.rows_duplicate for f in r.files)
                rep.files.append(str(path) if save_dir is not None else path.name)
            return records

        records = one(subject, max_pages)
        if hops == 1 and max_counterparties:
            flow: dict[str, float] = defaultdict(float)
            for x in records:
                if x.get("type", "Transfer") != "Transfer":
                    continue
                other = x.get("to") if x.get("from") == subject else x.get("from")
                try:
                    dec = int((x.get("token_info") or {}).get("decimals") or 0)
                    flow[str(other)] += int(x.get("value") or 0) / 10**dec
                except (TypeError, ValueError):
                    continue
            flow.pop(subject, None)
            flow.pop(spec.null_address, None)
            rep.counterparties_total = len(flow)
            ranked = sorted(flow, key=lambda a: (-flow[a], a))[:max_counterparties]
            for addr in ranked:
                one(addr, counterparty_pages)
            rep.counterparties_fetched = len(ranked)
            if len(flow) > len(ranked):
                rep.notes.append(f"{len(flow) - len(ranked):,} of {len(flow):,} counterparties were not fetched "
                                 f"(--max-counterparties {max_counterparties}: the largest flows first)")
        if rep.truncated:
            rep.notes.append(f"{len(rep.truncated):,} address(es) have more history than the pages fetched "
                             f"(--max-pages / --counterparty-pages); the newest transfers were kept")
    finally:
        rep.requests, rep.retries, rep.suspensions = client.requests, client.retries, client.suspensions
        rep.pages = client.requests - client.retries - client.suspensions
        rep.seconds = time.monotonic() - t0
        if tmp is not None:
            tmp.cleanup()
    return rep
