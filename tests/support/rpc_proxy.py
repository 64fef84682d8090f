"""A provider-limits HTTP proxy in front of a real node, for tests.

Real providers cap ``eth_getLogs`` and fail in ways anvil never does. :class:`RpcProxy` is a small real HTTP
server on 127.0.0.1 that forwards JSON-RPC bodies to the upstream node and, as configured, answers like a
provider would:

- ``max_results``: an ``eth_getLogs`` answer with more logs becomes JSON-RPC error -32005 "query returned more
  than 10000 results" (Infura's code and wording);
- ``max_block_range``: a wider ``eth_getLogs`` range becomes error -32602 "block range too large" (Alchemy's code);
- ``faults``: a queue of one-shot faults, each consumed by the next request: ``"429"`` (with ``Retry-After``),
  ``"503"``, ``"500"``, ``"timeout"`` (answer only after ``slow_seconds``), ``"drop"`` (close the connection
  without an answer);
- ``down``: every request is dropped (a node that died); ``down_after``: go down after that many getLogs calls;
- ``strip_timestamps``: remove ``blockTimestamp`` from logs (most nodes do not send it);
- ``delay``: seconds added to every eth_getLogs answer (a slow, far-away node);
- :meth:`tron`: answer like a java-tron ``/jsonrpc`` node: ranges above 5,000 blocks are error -32602 "exceed
  max block range: 5000", answers above 10,000 logs error -32005 "exceed max result: 10000", no
  ``blockTimestamp`` in logs (older java-tron), the ``pending``/``safe`` tags are refused (-32602) and the
  ``finalized`` block is the head minus ``finalized_lag`` (19: java-tron's solidified block).

- :meth:`chain`: answer like the public endpoints of an EVM chain (:data:`CHAIN_MODES`: each chain's
  eth_getLogs caps, error codes and messages, whether logs carry ``blockTimestamp``, how far ``finalized`` lags),
  as published in the sources cited there; ``logs_disabled`` answers eth_getLogs with -32601 like BSC's own
  dataseed endpoints, ``finalized_lag`` moves the ``finalized`` tag that many blocks below the head.

It counts requests per method (``calls``) and records eth_getLogs block spans (``spans``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


@dataclass(frozen=True)
class ChainMode:
    """How a chain's public endpoints answer eth_getLogs (caps, error shapes) and the finalized tag."""

    max_block_range: int | None
    range_code: int
    range_message: str  # {n}: the cap, {span}: the span asked for
    max_results: int | None
    results_code: int
    results_message: str  # {n}: the cap, {a}/{b}: the range asked for
    timestamps: bool  # logs carry blockTimestamp
    finalized_lag: int  # the finalized tag is this many blocks below the head
    range_status: int = 200  # HTTP status of the range refusal (QuickNode: 413)


#: Per chain, the shapes of its public endpoints' eth_getLogs refusals (sources: the threads and pages cited;
#: where a cap is not published, the figure is the smallest refusal seen there, rounded down):
CHAIN_MODES: dict[str, ChainMode] = {
    # BSC: bsc-dataseed disables eth_getLogs (docs.bnbchain.org "JSON-RPC Endpoint"; see logs_disabled); providers
    # answer -32005 "query exceeds max block range" / "query returned more than 10000 results" (therpc.io BSC
    # eth_getLogs). Fast finality (BEP-126): finalized two blocks below the head. bsc geth sends no blockTimestamp.
    "bsc": ChainMode(5_000, -32005, "query exceeds max block range {n}", 10_000, -32005,
                     "query returned more than {n} results", timestamps=False, finalized_lag=2),
    # Polygon: polygon-rpc.com "eth_getLogs block range too large, range: 99991, max: 3500" (AlphaWallet issue
    # 3734), a geth-style -32000. Milestones (PIP-11): finalized a few blocks below the head.
    "polygon": ChainMode(3_500, -32000, "eth_getLogs block range too large, range: {span}, max: {n}", 10_000,
                         -32000, "query returned more than {n} results", timestamps=False, finalized_lag=16),
    # Arbitrum (Nitro, geth-based): QuickNode answers HTTP 413 with -32614 "eth_getLogs is limited to a 10,000
    # range" (OffchainLabs/arbitrum-sdk issue 609). finalized = batches in finalized L1 blocks: far below the head.
    "arbitrum": ChainMode(10_000, -32614, "eth_getLogs is limited to a {n:,} range", 10_000, -32005,
                          "query returned more than {n} results", timestamps=False, finalized_lag=40,
                          range_status=413),
    # Optimism: mainnet.optimism.io answers -32062 "Block range is too large" (ponder issue 1283, refused at 2,513
    # blocks; envio hyperindex issue 603, at 2,352 on its Sepolia twin). finalized = derived from finalized L1.
    "optimism": ChainMode(2_000, -32062, "Block range is too large", 10_000, -32005,
                          "query returned more than {n} results", timestamps=False, finalized_lag=40),
    # Base (reth-based node, base/base): -32602 "query exceeds max results 20000, retry with the range A-B"
    # (base/base issue 2421) and reth's default 100,000-block cap "query exceeds max block range 100000" (reth PR
    # 8558; defaults in circlefin/arc-node PR 383). reth sends blockTimestamp.
    "base": ChainMode(100_000, -32602, "query exceeds max block range {n}", 20_000, -32602,
                      "query exceeds max results {n}, retry with the range {a}-{b}", timestamps=True,
                      finalized_lag=40),
}


class RpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.max_results: int | None = None
        self.max_block_range: int | None = None
        self.range_message = "block range too large; you can make eth_getLogs requests with up to a {n} block range"
        self.results_message = "query returned more than 10000 results"
        self.refused_tags: set[str] = set()
        self.finalized_lag: int | None = None
        self.range_code = -32602
        self.results_code = -32005
        self.range_status = 200
        self.logs_disabled = False
        self.faults: list[str] = []
        self.down = False
        self.down_after: int | None = None
        self.strip_timestamps = False
        self.delay = 0.0
        self.slow_seconds = 3.0
        self.retry_after = "1"
        self.calls: Counter[str] = Counter()
        self.spans: list[tuple[int, int]] = []
        self.fault_times: list[tuple[str, float]] = []
        self.lock = threading.Lock()
        self._session = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                proxy._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> RpcProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tron(self, max_block_range: int = 5_000, max_results: int = 10_000) -> RpcProxy:
        """Enforce java-tron's eth_getLogs caps with its error shapes (see the module docstring)."""
        with self.lock:
            self.max_block_range, self.max_results = max_block_range, max_results
            self.range_message = "exceed max block range: {n}"
            self.results_message = f"exceed max result: {max_results}"
            self.strip_timestamps = True
            self.refused_tags = {"pending", "safe"}
            self.finalized_lag = 19
        return self

    def chain(self, name: str, max_block_range: int | None = None, max_results: int | None = None) -> RpcProxy:
        """Answer like ``name``'s public endpoints (:data:`CHAIN_MODES`); smaller caps may be given so that a
        small test chain meets them."""
        m = CHAIN_MODES[name]
        with self.lock:
            self.max_block_range = max_block_range or m.max_block_range
            self.max_results = max_results or m.max_results
            self.range_code, self.results_code, self.range_status = m.range_code, m.results_code, m.range_status
            self.range_message, self.results_message = m.range_message, m.results_message
            self.strip_timestamps = not m.timestamps
            self.finalized_lag = m.finalized_lag
        return self

    def reset(self) -> None:
        with self.lock:
            self.range_code, self.results_code, self.range_status = -32602, -32005, 200
            self.logs_disabled = False
            self.range_message = "block range too large; you can make eth_getLogs requests with up to a {n} block range"
            self.results_message = "query returned more than 10000 results"
            self.refused_tags = set()
            self.finalized_lag = None
            self.max_results = self.max_block_range = self.down_after = None
            self.faults.clear()
            self.down = self.strip_timestamps = False
            self.delay = 0.0
            self.calls.clear()
            self.spans.clear()
            self.fault_times.clear()

    # -- handling ----------------------------------------------------------------------------------------------

    def _upstream(self, body: bytes) -> Any:
        s = getattr(self._session, "s", None)
        if s is None:
            s = self._session.s = requests.Session()
        r = s.post(self.upstream, data=body, headers={"Content-Type": "application/json"}, timeout=120)
        return r.json()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length", "0")))
        req = json.loads(body)
        items = req if isinstance(req, list) else [req]
        with self.lock:
            for it in items:
                self.calls[it.get("method", "?")] += 1
            is_logs = any(it.get("method") == "eth_getLogs" for it in items)
            if is_logs and self.down_after is not None:
                self.down_after -= 1
                if self.down_after < 0:
                    self.down = True
            fault = self.faults.pop(0) if self.faults else None
            if fault:
                self.fault_times.append((fault, time.monotonic()))
            down = self.down
        if down or fault == "drop":
            self._drop(h)
            return
        if fault in ("429", "500", "503"):
            headers = {"Retry-After": self.retry_after} if fault == "429" else {}
            self._send(h, int(fault), b'{"error": "busy"}', headers)
            return
        if fault == "timeout":
            time.sleep(self.slow_seconds)
        out = [self._one(it) for it in items]
        status = 200
        if not isinstance(req, list) and isinstance(out[0], dict) and out[0].pop("_status", None):
            status = self.range_status  # QuickNode: the range refusal comes with HTTP 413
        self._send(h, status, json.dumps(out if isinstance(req, list) else out[0]).encode())

    def _one(self, it: dict[str, Any]) -> Any:
        params = it.get("params") or []
        if self.refused_tags and any(p in self.refused_tags for p in params if isinstance(p, str)):
            tag = next(p for p in params if isinstance(p, str) and p in self.refused_tags)
            return {"jsonrpc": "2.0", "id": it.get("id"), "error": {
                "code": -32602, "message": f"TAG {tag} not supported"}}
        if self.finalized_lag is not None and it.get("method") == "eth_getBlockByNumber" and params \
                and params[0] == "finalized":  # java-tron: the solidified block, ~19 blocks below the head
            head = int(self._upstream(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber",
                                                  "params": []}).encode())["result"], 16)
            it = {**it, "params": [hex(max(0, head - self.finalized_lag)), *params[1:]]}
        if it.get("method") != "eth_getLogs":
            return self._upstream(json.dumps(it).encode())
        if self.logs_disabled:  # geth's answer for a method that is not served (BSC's dataseed endpoints)
            return {"jsonrpc": "2.0", "id": it.get("id"), "error": {
                "code": -32601, "message": "the method eth_getLogs does not exist/is not available"}}
        flt = it["params"][0]
        a, b = int(flt["fromBlock"], 16), int(flt["toBlock"], 16)
        with self.lock:
            self.spans.append((a, b))
        if self.max_block_range is not None and b - a + 1 > self.max_block_range:
            return {"jsonrpc": "2.0", "id": it["id"], "_status": self.range_status != 200, "error": {
                "code": self.range_code, "message": self.range_message.format(n=self.max_block_range,
                                                                              span=b - a + 1)}}
        if self.delay:
            time.sleep(self.delay)
        resp = self._upstream(json.dumps(it).encode())
        logs = resp.get("result")
        if isinstance(logs, list):
            if self.max_results is not None and len(logs) > self.max_results:
                return {"jsonrpc": "2.0", "id": it["id"], "error": {
                    "code": self.results_code, "message": self.results_message.format(n=self.max_results, a=a, b=b),
                    "data": {"from": hex(a), "to": hex((a + b) // 2)}}}
            if self.strip_timestamps:
                for lg in logs:
                    lg.pop("blockTimestamp", None)
        return resp

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout)

    @staticmethod
    def _drop(h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)
