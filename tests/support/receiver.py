"""A real webhook receiver on a loopback port (http.server in a thread), for the delivery tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Records every request (headers, raw body); answers ``status`` (settable while it runs)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.lock:
                    outer.requests.append({"headers": dict(self.headers.items()), "body": body,
                                           "status": outer.status})
                    status = outer.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self, only_ok: bool = True) -> list[dict[str, Any]]:
        with self.lock:
            reqs = list(self.requests)
        return [a for r in reqs if not only_ok or 200 <= r["status"] < 300 for a in json.loads(r["body"])["alerts"]]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
