"""`chainrisk fetch ADDRESS --chain tron --source trongrid` against a local HTTP server that serves TronGrid-shaped
pages (``/v1/accounts/{a}/transactions/trc20`` with ``meta.fingerprint`` paging), 429s with Retry-After, key
suspensions (HTTP 403), truncated bodies and dropped connections."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import chainrisk
from chainrisk.address import tron_from_hex
from chainrisk.errors import SourceUnavailable, UsageError
from chainrisk.ingest.trongrid import fetch_trongrid
from chainrisk.store import Store

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


def t(name: str) -> str:
    return tron_from_hex("41" + hashlib.sha256(name.encode()).hexdigest()[:40])


def rec(i: int, frm: str, to: str, usdt: float, typ: str = "Transfer") -> dict[str, Any]:
    return {"transaction_id": hashlib.sha256(f"tx{i}".encode()).hexdigest(),
            "token_info": {"symbol": "USDT", "address": USDT, "decimals": 6, "name": "Tether USD"},
            "block_timestamp": 1_750_000_000_000 + i * 3000, "from": frm, "to": to, "type": typ,
            "value": str(round(usdt * 10**6))}


class FakeTronGrid:
    """Histories per address, served newest first in pages of ``limit`` with a fingerprint."""

    def __init__(self, histories: dict[str, list[dict[str, Any]]]) -> None:
        self.histories = histories
        self.faults: list[str] = []   # "429", "403", "truncate", "drop", "500"
        self.times: list[float] = []
        self.keys: list[str | None] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()
        fake = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.times.append(time.monotonic())
            self.keys.append(h.headers.get("TRON-PRO-API-KEY"))
            fault = self.faults.pop(0) if self.faults else None
        u = urlsplit(h.path)
        self.paths.append(u.path)
        if fault == "drop":
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "429":
            return self.send(h, 429, b'{"Error": "too many requests"}', {"Retry-After": "0"})
        if fault == "403":
            return self.send(h, 403, b'{"Error": "request rate exceeded the allowed_rps(15), and the query '
                                     b'server is suspended for 30s"}')
        if fault == "500":
            return self.send(h, 500, b"{}")
        parts = u.path.strip("/").split("/")
        if len(parts) != 5 or parts[:2] != ["v1", "accounts"] or parts[3:] != ["transactions", "trc20"]:
            return self.send(h, 404, b'{"Error": "not found"}')
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        hist = self.histories.get(parts[2], [])
        start = int(q.get("fingerprint", "0"))
        limit = int(q.get("limit", "20"))
        page = hist[start:start + limit]
        meta: dict[str, Any] = {"at": 1_760_000_000_000, "page_size": len(page)}
        if start + limit < len(hist):
            meta["fingerprint"] = str(start + limit)
            meta["links"] = {"next": f"{self.url}{u.path}?fingerprint={start + limit}"}
        body = json.dumps({"data": page, "success": True, "meta": meta}).encode()
        if fault == "truncate":  # the body is cut: Content-Length says less than a whole JSON document
            body = body[: len(body) // 2]
        self.send(h, 200, body)

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)


SUBJECT, SCAM, SHOP, BIG = t("SUBJECT"), t("SCAM"), t("SHOP"), t("BIG")


def histories() -> dict[str, list[dict[str, Any]]]:
    subject = [rec(i, SCAM, SUBJECT, 100 + i) for i in range(450)]            # 3 pages of 200
    subject += [rec(1000, SUBJECT, SHOP, 50), rec(1001, SUBJECT, BIG, 20_000), rec(1002, SUBJECT, SHOP, 0,
                                                                                  typ="Approval")]
    scam = [rec(i, SCAM, SUBJECT, 100 + i) for i in range(450)] + [rec(2000 + i, t(f"V{i}"), SCAM, 10)
                                                                   for i in range(300)]
    return {SUBJECT: subject[::-1], SCAM: scam[::-1], SHOP: [rec(1000, SUBJECT, SHOP, 50)],
            BIG: [rec(1001, SUBJECT, BIG, 20_000)]}


@pytest.fixture
def grid() -> Iterator[FakeTronGrid]:
    g = FakeTronGrid(histories())
    yield g
    g.close()


def stored(st: Store) -> set[tuple[str, str, str]]:
    return {(r[0], r[1], r[2]) for r in st.execute(
        "SELECT tx_hash, from_address, to_address FROM transfers_view WHERE chain = 'tron'").fetchall()}


def test_history_and_one_hop_bounded(store: Store, grid: FakeTronGrid, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRONGRID_API_KEY", "k-secret")
    rep = fetch_trongrid(store, SUBJECT, api_url=grid.url, max_counterparties=2, counterparty_pages=2,
                         backoff=0.01)
    # the subject's 452 transfers (the Approval is not one) and the counterparties': the two largest flows first
    assert rep.counterparties_total == 3 and rep.counterparties_fetched == 2
    assert rep.addresses_fetched == [SUBJECT, SCAM, BIG]  # SCAM ~146,000, BIG 20,000; SHOP (50) left out
    assert SCAM in rep.truncated  # 750 transfers, 2 pages of 200 fetched
    got = stored(store)
    assert len({x for x in got if SUBJECT in x[1:]}) == 452
    # SCAM's two newest pages: its 300 victims' payments and 100 transfers to SUBJECT already stored (one row each)
    assert len(got) == 452 + 300 and rep.rows_duplicate == 100 + 1
    assert all(k == "k-secret" for k in grid.keys)
    assert "k-secret" not in json.dumps(rep.to_dict())
    # a rerun adds nothing twice (the same records meet their content keys)
    again = fetch_trongrid(store, SUBJECT, api_url=grid.url, max_counterparties=2, counterparty_pages=2)
    assert again.rows_added == 0 and stored(store) == got


def test_rate_is_honoured(store: Store, grid: FakeTronGrid) -> None:
    fetch_trongrid(store, SUBJECT, api_url=grid.url, hops=0, rate=2)
    gaps = [b - a for a, b in zip(grid.times, grid.times[1:], strict=False)]
    # requests leave 0.5 s apart; their arrival here may jitter by a connection set-up
    assert len(grid.times) == 3 and min(gaps) >= 0.4 and grid.times[-1] - grid.times[0] >= 0.9


def test_429_truncated_dropped_and_suspended_are_retried(store: Store, grid: FakeTronGrid) -> None:
    grid.faults = ["429", "truncate", "drop", "403", "500"]
    rep = fetch_trongrid(store, SUBJECT, api_url=grid.url, hops=0, backoff=0.01, suspend_seconds=0.05)
    assert rep.suspensions == 1 and rep.retries == 4
    assert len(stored(store)) == 452


def test_a_key_suspended_for_good_is_one_sentence(store: Store, grid: FakeTronGrid) -> None:
    grid.faults = ["403"] * 10
    with pytest.raises(SourceUnavailable, match=r"refused the API key 4 times \(HTTP 403"):
        fetch_trongrid(store, SUBJECT, api_url=grid.url, hops=0, suspend_seconds=0.01)


def test_bad_arguments(store: Store, grid: FakeTronGrid) -> None:
    with pytest.raises(UsageError, match="TRON only"):
        fetch_trongrid(store, SUBJECT, chain="ethereum", api_url=grid.url)
    with pytest.raises(chainrisk.errors.InvalidAddress):
        fetch_trongrid(store, "0x" + "ab" * 20, api_url=grid.url)


def test_cli_fetch_then_lookup(tmp_path: Path, grid: FakeTronGrid) -> None:
    db = tmp_path / "case.duckdb"
    cli = [sys.executable, "-c", "from chainrisk.cli import main; main()", "--db", str(db)]
    r = subprocess.run([*cli, "fetch", SUBJECT, "--chain", "tron", "--source", "trongrid", "--api-url", grid.url,
                        "--hops", "0", "--format", "json", "--save-dir", str(tmp_path / "pages")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["rows_added"] == 452 and out["address"] == SUBJECT
    assert (tmp_path / "pages" / f"trongrid-trc20-{SUBJECT}.json").is_file()
