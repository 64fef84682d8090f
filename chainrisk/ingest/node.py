"""The Ethereum JSON-RPC client: the only module that talks HTTP to a node, and the only importer of web3.

Built for bulk ``eth_getLogs``: raw JSON bodies posted over one keep-alive ``requests.Session`` per thread and
parsed with ``orjson`` (no per-log formatting), batched requests for block headers, and one retry policy:

- HTTP 429 (honouring ``Retry-After``), HTTP 5xx/408, connection errors and timeouts are retried with
  exponential backoff and full jitter, up to ``max_retries`` times; after that :class:`SourceUnavailable`
  says, in one sentence with the URL masked, that the node stays down;
- for ``eth_getLogs``, "too many results"/"response too large"/"block range too large" answers and timeouts
  raise :class:`RangeTooLarge` (the caller splits the block range). They are recognised by JSON-RPC error code
  and HTTP status only (:data:`SPLIT_CODES`, HTTP 413), never by message text. A single-block request cannot
  be split, so there these answers are retried like a rate limit (Infura uses -32005 for both).

URLs carry API keys: :func:`mask_url` keeps scheme, host and port only, and every message uses it.

web3 is used where its ABI machinery is the right tool: :meth:`RpcClient.web3` is a ``Web3`` whose requests go
through this client (same retries, same masked errors), for contract
reads (an issuer's ``isBlackListed``/``isBlacklisted`` to confirm a freeze: :meth:`RpcClient.frozen`, ERC-20
``decimals``/``symbol``) and ABI encoding (:data:`ISSUER_ABI`, the demo's and tests' contracts). It is imported
lazily (importing it takes a second or two). The ``eth_getLogs`` hot path stays raw on purpose: web3 turns every
log into formatted ``AttributeDict`` objects, about 10x slower than the column-wise decoding of
:mod:`chainrisk.ingest.rpc_store` (figures in docs/ingest-rpc.md).
"""

from __future__ import annotations

import functools
import io
import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
import pyarrow as pa
import pyarrow.json as pajson
import requests
import urllib3

from ..errors import RpcError, SourceUnavailable, UsageError

if TYPE_CHECKING:
    from web3 import Web3

log = logging.getLogger(__name__)

#: JSON-RPC error codes providers use for "query returned more than N results", "response size exceeded"
#: or "block range too large" on eth_getLogs: -32005 (Infura, Erigon "limit exceeded", BSC providers "query
#: exceeds max block range"), -32602 (Alchemy "log response size exceeded"/invalid range, reth "query exceeds
#: max results 20000", Infura's range cap), -32614 (QuickNode range limit, with HTTP 413), -32062 (Ankr,
#: the public OP Stack endpoints "Block range is too large"), -32701 (Chainstack), -32000 (geth/bor/nethermind
#: generic server error: polygon-rpc.com "eth_getLogs block range too large, range: N, max: 3500", the
#: 10,000-log and timeout limits), -32600 (Alchemy "You can make eth_getLogs requests with up to a 500 block
#: range", other gateways' "block range too high"). The per-chain shapes are in docs/ingest-rpc.md.
SPLIT_CODES = frozenset({-32005, -32602, -32614, -32062, -32701, -32000, -32600})
#: "method not found / not available": the node does not serve eth_getLogs at all (BSC's own public dataseed
#: endpoints disable it, docs.bnbchain.org "JSON-RPC Endpoint").
NO_METHOD_CODES = frozenset({-32601})
#: JSON-RPC error codes that mean "slow down / try again": rate limits and transient internal errors.
RETRY_CODES = frozenset({-32005, -32603, -32016, -32090, -32098, 429})
#: HTTP statuses retried with backoff.
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})


def _fn(name: str, inputs: Sequence[tuple[str, str]], outputs: Sequence[str]) -> dict[str, Any]:
    return {"type": "function", "name": name, "stateMutability": "view",
            "inputs": [{"name": n, "type": t} for n, t in inputs],
            "outputs": [{"name": "", "type": t} for t in outputs]}


def _event(name: str, inputs: Sequence[tuple[str, str, bool]]) -> dict[str, Any]:
    return {"type": "event", "name": name, "anonymous": False,
            "inputs": [{"name": n, "type": t, "indexed": i} for n, t, i in inputs]}


#: The ERC-20 reads chainrisk makes and the Transfer event (the ingestion's topics are checked against it).
ERC20_ABI = [
    _fn("decimals", [], ["uint8"]), _fn("symbol", [], ["string"]),
    _event("Transfer", [("from", "address", True), ("to", "address", True), ("value", "uint256", False)]),
]
#: The issuers' freeze functions and events, as the real contracts declare them: Tether (USDT) emits
#: ``AddedBlackList``/``RemovedBlackList`` with the address in the data and answers ``isBlackListed``; Circle's
#: FiatToken (USDC) emits ``Blacklisted``/``UnBlacklisted`` with the address indexed and answers ``isBlacklisted``.
ISSUER_ABI = [
    _fn("isBlackListed", [("_maker", "address")], ["bool"]),
    _fn("isBlacklisted", [("_account", "address")], ["bool"]),
    _event("AddedBlackList", [("_user", "address", False)]),
    _event("RemovedBlackList", [("_user", "address", False)]),
    _event("Blacklisted", [("_account", "address", True)]),
    _event("UnBlacklisted", [("_account", "address", True)]),
]
#: the freeze check of each blacklist event style: the events an issuer emits -> the function answering it.
FREEZE_FUNCTION = {"AddedBlackList": "isBlackListed", "RemovedBlackList": "isBlackListed",
                   "Blacklisted": "isBlacklisted", "UnBlacklisted": "isBlacklisted"}


def mask_url(url: str) -> str:
    """``https://eth-mainnet.example.com/v2/SECRET?key=1`` -> ``https://eth-mainnet.example.com/***``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    hidden = "/***" if (parts.path not in ("", "/") or parts.query or parts.username or parts.fragment) else ""
    return f"{parts.scheme}://{host}{port}{hidden}"


class _Redact(logging.Filter):
    """Hides URL paths and queries (API keys) in urllib3's debug log lines."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            msg = record.getMessage()
            if any(x in msg for x in self.secrets):
                for x in self.secrets:
                    msg = msg.replace(x, "/***")
                record.msg, record.args = msg, None
        return True


_REDACT = _Redact()
logging.getLogger("urllib3.connectionpool").addFilter(_REDACT)


def _redact_in_http_logs(url: str) -> None:
    parts = urlsplit(url)
    for secret in (parts.path + ("?" + parts.query if parts.query else ""), parts.path, parts.query):
        if secret and secret != "/":
            _REDACT.secrets.add(secret)


class RangeTooLarge(Exception):
    """The node refused or could not finish an eth_getLogs range; split it and try the halves."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RpcStats:
    requests: int = 0
    retries: int = 0
    splits: int = 0
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **kw: int) -> None:
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)


class RpcClient:
    """A JSON-RPC client over HTTP(S). Thread-safe: each thread gets its own keep-alive session."""

    def __init__(
        self, url: str, *, timeout: float = 60.0, max_retries: int = 6, backoff: float = 0.5,
        backoff_cap: float = 30.0, seed: int | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"the RPC URL {mask_url(url)} is not an http(s) URL; pass --rpc-url http(s)://HOST...")
        self.url = url
        self.masked = mask_url(url)
        _redact_in_http_logs(url)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.stats = RpcStats()
        self._local = threading.local()
        self._rng = random.Random(seed)
        self._ids = 0
        self._id_lock = threading.Lock()

    # -- transport -------------------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        s: requests.Session | None = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers.update({"Content-Type": "application/json", "Accept-Encoding": "gzip"})
            self._local.session = s
        return s

    def close(self) -> None:
        s = getattr(self._local, "session", None)
        if s is not None:
            s.close()

    def _next_id(self) -> int:
        with self._id_lock:
            self._ids += 1
            return self._ids

    def _delay(self, attempt: int) -> float:
        return self._rng.uniform(0, min(self.backoff_cap, self.backoff * 2**attempt))

    def _post(self, body: bytes, *, split: bool = False, raw: bool = False) -> Any:
        """POST a JSON-RPC body, retrying transient failures; returns the parsed JSON response (or, with
        ``raw``, the response bytes)."""
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.stats.add(retries=1)
            wait: float | None = None
            try:
                self.stats.add(requests=1)
                # stream=True + one raw read: requests' .content would read a big answer in 10 KiB pieces
                r = self._session().post(self.url, data=body, timeout=self.timeout, stream=raw)
                content: bytes = r.raw.read(decode_content=True) if raw and r.status_code == 200 else r.content
            except (requests.exceptions.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError):
                last = "cannot be reached (connect timeout)"
            except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError):
                if split:
                    raise RangeTooLarge("timeout") from None
                last = f"did not answer within {self.timeout:g} s"
            except (requests.exceptions.ConnectionError, urllib3.exceptions.ProtocolError,
                    urllib3.exceptions.NewConnectionError):
                last = "cannot be reached (connection failed)"
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as e:
                last = f"failed ({type(e).__name__})"
            else:
                status = r.status_code
                if status == 200:
                    self.stats.add(bytes=len(content))
                    if raw:
                        return content
                    try:
                        return orjson.loads(content)
                    except orjson.JSONDecodeError:
                        last = "answered with a body that is not JSON"
                elif status == 413 and split:
                    raise RangeTooLarge("HTTP 413")  # QuickNode answers its range cap so (-32614 in the body)
                elif status == 413:
                    last = "answered HTTP 413 (response too large) for a single block"
                elif status in RETRY_STATUS:
                    last = f"answered HTTP {status}"
                    if status in (429, 503):
                        wait = _retry_after(r.headers.get("Retry-After"))
                elif status in (401, 403):
                    raise SourceUnavailable(
                        f"the node at {self.masked} refused the request (HTTP {status}); check the API key in "
                        "--rpc-url / ETH_RPC_URL"
                    )
                else:
                    raise SourceUnavailable(
                        f"the node at {self.masked} answered HTTP {status}; check --rpc-url / ETH_RPC_URL"
                    )
            if attempt < self.max_retries:
                delay = self._delay(attempt) if wait is None else min(wait, max(self.backoff_cap, 1.0) * 4)
                log.debug("node %s %s; retry %d in %.2f s", self.masked, last, attempt + 1, delay)
                time.sleep(delay)
        raise SourceUnavailable(
            f"the node at {self.masked} {last} after {self.max_retries + 1} attempts; check that it is running "
            "and reachable, then rerun to resume"
        )

    def _body(self, method: str, params: Sequence[Any]) -> bytes:
        return orjson.dumps({"jsonrpc": "2.0", "id": self._next_id(), "method": method, "params": list(params)})

    # -- calls -----------------------------------------------------------------------------------------------

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One JSON-RPC call; transient errors are retried, other JSON-RPC errors raise :class:`RpcError`."""
        body = self._body(method, params)
        for attempt in range(self.max_retries + 1):
            resp = self._post(body)
            err = resp.get("error") if isinstance(resp, dict) else None
            if err is None:
                if not isinstance(resp, dict) or "result" not in resp:
                    raise RpcError(f"the node at {self.masked} sent a malformed answer to {method}")
                return resp["result"]
            code = _code(err)
            if code in RETRY_CODES and attempt < self.max_retries:
                self.stats.add(retries=1)
                time.sleep(self._delay(attempt))
                continue
            raise RpcError(f"the node at {self.masked} rejected {method} (error {code}); check the node and "
                           "its API plan", code=code, data=err.get("data") if isinstance(err, dict) else None)
        raise AssertionError("unreachable")

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several calls in one JSON-RPC batch request; results in the order of ``calls``."""
        if not calls:
            return []
        first = self._next_id()
        with self._id_lock:
            self._ids += len(calls)
        payload = orjson.dumps([{"jsonrpc": "2.0", "id": first + i, "method": m, "params": list(p)}
                                for i, (m, p) in enumerate(calls)])
        for attempt in range(self.max_retries + 1):
            resp = self._post(payload)
            if isinstance(resp, dict) and "error" in resp:  # some nodes answer a whole batch with one error
                items = [resp]
            elif isinstance(resp, list):
                items = resp
            else:
                raise RpcError(f"the node at {self.masked} sent a malformed batch answer")
            by_id = {it.get("id"): it for it in items if isinstance(it, dict)}
            errors = [it["error"] for it in items if isinstance(it, dict) and it.get("error") is not None]
            if errors:
                code = _code(errors[0])
                if code in RETRY_CODES and attempt < self.max_retries:
                    self.stats.add(retries=1)
                    time.sleep(self._delay(attempt))
                    continue
                raise RpcError(f"the node at {self.masked} rejected a batch of {calls[0][0]} (error {code}); "
                               "check the node and its API plan", code=code)
            try:
                return [by_id[first + i]["result"] for i in range(len(calls))]
            except KeyError:
                raise RpcError(f"the node at {self.masked} left requests of a batch unanswered") from None
        raise AssertionError("unreachable")

    def get_logs(self, addresses: Sequence[str], topics: Sequence[Any], from_block: int, to_block: int) -> list[Any]:
        """Raw log objects (dicts of hex strings, as the node sent them) of ``addresses`` in a block range.

        Raises :class:`RangeTooLarge` when the node refuses the range as too large or times out on it (only
        for ranges of more than one block)."""
        single = from_block == to_block
        body = self._body("eth_getLogs", [{"fromBlock": hex(from_block), "toBlock": hex(to_block),
                                           "address": list(addresses), "topics": list(topics)}])
        for attempt in range(self.max_retries + 1):
            resp = self._post(body, split=not single)
            err = resp.get("error") if isinstance(resp, dict) else None
            if err is None:
                result = resp.get("result") if isinstance(resp, dict) else None
                if not isinstance(result, list):
                    raise RpcError(f"the node at {self.masked} sent a malformed eth_getLogs answer")
                return result
            self._on_logs_error(err, attempt, from_block, to_block)
        raise AssertionError("unreachable")

    def _on_logs_error(self, err: Any, attempt: int, from_block: int, to_block: int) -> None:
        """Classify an ``eth_getLogs`` error by its code: raise :class:`RangeTooLarge` to split the range, return
        (after a backoff) to retry, or raise :class:`RpcError` when it is final."""
        single = from_block == to_block
        code = _code(err)
        if code in NO_METHOD_CODES:
            raise RpcError(f"the node at {self.masked} does not serve eth_getLogs (error {code}: method not "
                           "available); some public endpoints (BSC's bsc-dataseed) disable it: point --rpc-url at "
                           "your own node or a provider that serves logs", code=code)
        if code in SPLIT_CODES and not single:
            raise RangeTooLarge(f"error {code}")
        if (code in RETRY_CODES or code in SPLIT_CODES) and attempt < self.max_retries:
            self.stats.add(retries=1)
            time.sleep(self._delay(attempt))
            return
        raise RpcError(f"the node at {self.masked} rejected eth_getLogs for block {from_block}"
                       f"{'' if single else f'-{to_block}'} (error {code}); check the node and its API plan",
                       code=code)

    def get_logs_raw(self, addresses: Sequence[str], topics: Sequence[Any], from_block: int,
                     to_block: int) -> tuple[bytes, int]:
        """The successful ``eth_getLogs`` answer as bytes, not yet parsed, and its number of logs.

        Errors are classified here (small answers are parsed with ``orjson``: an error answer is never large),
        so the caller can split or retry at once and leave the parsing of big answers to another thread."""
        single = from_block == to_block
        body = self._body("eth_getLogs", [{"fromBlock": hex(from_block), "toBlock": hex(to_block),
                                           "address": list(addresses), "topics": list(topics)}])
        for attempt in range(self.max_retries + 1):
            content: bytes = self._post(body, split=not single, raw=True)
            err = None
            if len(content) < 65536:
                try:
                    resp = orjson.loads(content)
                except orjson.JSONDecodeError:
                    raise RpcError(f"the node at {self.masked} sent a malformed eth_getLogs answer") from None
                if not isinstance(resp, dict) or (resp.get("error") is None
                                                  and not isinstance(resp.get("result"), list)):
                    raise RpcError(f"the node at {self.masked} sent a malformed eth_getLogs answer")
                err = resp.get("error")
            if err is None:
                return content, content.count(b'"logIndex"')
            self._on_logs_error(err, attempt, from_block, to_block)
        raise AssertionError("unreachable")

    def parse_logs(self, content: bytes) -> pa.Table:
        """An ``eth_getLogs`` answer from :meth:`get_logs_raw` as an Arrow table (columns :data:`LOG_FIELDS`),
        parsed by Arrow's JSON reader straight into columns (no Python object per log); ``orjson`` is the
        fallback for answers Arrow cannot read."""
        table, err = _parse_logs(content)
        if table is None or err is not None:
            raise RpcError(f"the node at {self.masked} sent a malformed eth_getLogs answer")
        return table

    def get_logs_arrow(self, addresses: Sequence[str], topics: Sequence[Any], from_block: int,
                       to_block: int) -> pa.Table:
        """Like :meth:`get_logs`, as an Arrow table of the raw hex strings (columns :data:`LOG_FIELDS`)."""
        return self.parse_logs(self.get_logs_raw(addresses, topics, from_block, to_block)[0])

    # -- conveniences ----------------------------------------------------------------------------------------

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def chain_id(self) -> int:
        # raw, not web3's eth.chain_id: importing web3 takes 1-2 s, and a run of registered tokens needs no ABI
        value = self.call("eth_chainId")
        try:
            return int(value, 16) if isinstance(value, str) else int(value)
        except (TypeError, ValueError):
            raise RpcError(f"the node at {self.masked} sent a malformed eth_chainId answer") from None

    def finalized_block(self) -> int | None:
        """The number of the node's ``finalized`` block (it will not be reorganised; what that means per chain is in
        :mod:`chainrisk.chains`), or None when the node does not know the tag (a pre-merge chain, an old client:
        an error answer or no block)."""
        try:
            blk = self.call("eth_getBlockByNumber", ["finalized", False])
        except RpcError:
            return None
        number = blk.get("number") if isinstance(blk, dict) else None
        try:
            return int(number, 16) if isinstance(number, str) else None
        except ValueError:
            return None

    def block_headers(self, numbers: Sequence[int], batch_size: int = 200) -> dict[int, tuple[str, int]]:
        """``{number: (hash, timestamp)}`` of blocks, fetched with batched ``eth_getBlockByNumber``."""
        out: dict[int, tuple[str, int]] = {}
        nums = list(numbers)
        for i in range(0, len(nums), batch_size):
            chunk = nums[i : i + batch_size]
            results = self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in chunk])
            for n, blk in zip(chunk, results, strict=True):
                if blk is None:
                    raise RpcError(f"the node at {self.masked} does not have block {n}; it may be syncing or "
                                   "pruned, or the chain was rolled back")
                out[n] = (blk["hash"], int(blk["timestamp"], 16))
        return out

    def erc20_decimals(self, contract: str) -> int:
        # read as uint256: some tokens declare decimals() as uint256; anything above 77 is not an ERC-20 value
        raw = self._read(contract, "decimals", [])
        if raw is None:
            raise RpcError(f"the contract {contract} has no decimals() at the node {self.masked}; is it an "
                           "ERC-20 token on this chain?")
        value = int.from_bytes(raw[:32], "big")
        if value > 77:
            raise RpcError(f"the contract {contract} reports {value} decimals, which is not an ERC-20 value")
        return value

    def erc20_symbol(self, contract: str) -> str | None:
        try:
            raw = self._read(contract, "symbol", [])
        except RpcError:
            return None
        if raw is None:
            return None
        if len(raw) == 32:  # bytes32 symbols (MKR-style)
            return raw.rstrip(b"\0").decode("utf-8", "replace") or None
        try:
            (sym,) = self.web3().codec.decode(["string"], raw)
        except Exception:  # eth_abi's decoding errors of non-standard tokens have no common public base
            return None
        return str(sym) or None

    def frozen(self, contract: str, function: str, addresses: Sequence[str], block: int | str = "latest",
               batch_size: int = 200) -> list[bool | None]:
        """Whether the issuer contract says each address is frozen now (``function``: ``isBlackListed`` for
        Tether, ``isBlacklisted`` for Circle; see :data:`FREEZE_FUNCTION`), read with batched ``eth_call`` at
        ``block``. None for an address the contract gave no answer for (no such function, a revert)."""
        if function not in ("isBlackListed", "isBlacklisted"):
            raise UsageError(f"{function} is not an issuer freeze function (isBlackListed or isBlacklisted)")
        w3 = self.web3()
        issuer = w3.eth.contract(address=w3.to_checksum_address(contract), abi=ISSUER_ABI)
        tag = hex(block) if isinstance(block, int) else block
        calls = [("eth_call", [{"to": issuer.address, "data": issuer.encode_abi(function, [w3.to_checksum_address(a)])},
                               tag]) for a in addresses]
        out: list[bool | None] = []
        for i in range(0, len(calls), batch_size):
            for res in self.batch(calls[i:i + batch_size]):
                raw = bytes.fromhex(res[2:]) if isinstance(res, str) and res.startswith("0x") else b""
                out.append(bool(w3.codec.decode(["bool"], raw[:32])[0]) if len(raw) >= 32 else None)
        return out

    def _read(self, contract: str, function: str, args: Sequence[Any]) -> bytes | None:
        """The raw answer of a view function of :data:`ERC20_ABI` at the latest block (None when empty)."""
        w3 = self.web3()
        token = w3.eth.contract(address=w3.to_checksum_address(contract), abi=ERC20_ABI)
        out = self.call("eth_call", [{"to": token.address, "data": token.encode_abi(function, list(args))},
                                     "latest"])
        raw = bytes.fromhex(out[2:]) if isinstance(out, str) and out.startswith("0x") else b""
        return raw if len(raw) >= 32 else None

    def web3(self) -> Web3:
        """A ``Web3`` whose requests go through this client (its retries and masked errors); one per client."""
        w3: Web3 | None = getattr(self, "_web3", None)
        if w3 is None:
            from web3 import Web3

            w3 = self._web3 = Web3(_provider_class()(self), middleware=[])
        return w3


@functools.cache
def _provider_class() -> type:
    """The web3 provider class, built on first use (web3 is imported lazily)."""
    from web3.providers.base import JSONBaseProvider

    class ClientProvider(JSONBaseProvider):
        """A web3 provider that sends through an :class:`RpcClient` (JSON-RPC errors raise :class:`RpcError`)."""

        def __init__(self, client: RpcClient) -> None:
            super().__init__()
            self.client = client

        def make_request(self, method: Any, params: Any) -> Any:
            return {"jsonrpc": "2.0", "id": 0, "result": self.client.call(str(method), list(params))}

        def make_batch_request(self, requests: Any) -> Any:
            results = self.client.batch([(str(m), list(p)) for m, p in requests])
            return [{"jsonrpc": "2.0", "id": i, "result": r} for i, r in enumerate(results)]

        def is_connected(self, show_traceback: bool = False) -> bool:
            return True

    return ClientProvider


def _code(err: Any) -> int | None:
    if isinstance(err, dict):
        c = err.get("code")
        return c if isinstance(c, int) else None
    return None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


LOG_FIELDS = ["address", "topics", "data", "blockNumber", "blockHash", "blockTimestamp", "transactionHash",
              "logIndex", "removed"]
_LOG_STRUCT = pa.struct([
    ("address", pa.string()), ("topics", pa.list_(pa.string())), ("data", pa.string()),
    ("blockNumber", pa.string()), ("blockHash", pa.string()), ("blockTimestamp", pa.string()),
    ("transactionHash", pa.string()), ("logIndex", pa.string()), ("removed", pa.bool_()),
])
_RESPONSE_SCHEMA = pa.schema([("result", pa.list_(_LOG_STRUCT)),
                              ("error", pa.struct([("code", pa.int64()), ("message", pa.string())]))])
_PARSE = pajson.ParseOptions(explicit_schema=_RESPONSE_SCHEMA, unexpected_field_behavior="ignore")


def logs_table(logs: list[dict[str, Any]]) -> pa.Table:
    """An Arrow table (columns :data:`LOG_FIELDS`) of log objects already parsed to Python."""
    return pa.Table.from_pylist([{k: lg.get(k) for k in LOG_FIELDS} for lg in logs],
                                schema=pa.schema(list(_LOG_STRUCT)))


def _parse_logs(content: bytes) -> tuple[pa.Table | None, Any]:
    """(logs table, None) or (None, the JSON-RPC error object) of an eth_getLogs answer."""
    if b"\n" not in content.strip():  # Arrow reads one JSON object per line
        try:
            t = pajson.read_json(io.BytesIO(content), read_options=pajson.ReadOptions(
                block_size=len(content) + 64, use_threads=False), parse_options=_PARSE)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            t = None
        if t is not None and t.num_rows == 1:
            err = t.column("error")[0]
            if err.is_valid:
                return None, err.as_py()
            res = t.column("result").combine_chunks()
            if res.null_count == 0:
                return pa.Table.from_struct_array(res.flatten()), None
    try:
        resp = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(resp, dict):
        return None, None
    if resp.get("error") is not None:
        return None, resp["error"]
    result = resp.get("result")
    return (logs_table(result), None) if isinstance(result, list) else (None, None)
