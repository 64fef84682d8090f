"""A real chainrisk service on a loopback port (uvicorn in a thread), for the service tests."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import requests
import uvicorn

import chainrisk
from chainrisk.service import Settings, create_app
from chainrisk.service.keys import create_key


class Server:
    """``chainrisk serve`` in-process: real HTTP on 127.0.0.1, a free port, stopped (audit flushed) by stop()."""

    def __init__(self, db: Path, **settings: Any) -> None:
        self.db = db
        self.app = create_app(Settings(db=str(db), **settings))
        self.service = self.app.service
        # uvicorn binds the port itself: a pre-bound socket handed over with sockets= answers ~40 ms slower
        for _attempt in range(5):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                        log_level="warning", access_log=False))
            self.thread = threading.Thread(target=self.server.run, daemon=True)
            self.thread.start()
            deadline = time.monotonic() + 15
            while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
                time.sleep(0.01)
            if self.server.started:
                break
            self.server.should_exit = True
            self.thread.join(timeout=5)
        else:
            raise RuntimeError("the test server did not start")
        self.http = requests.Session()

    def key(self, role: str = "read", name: str = "test") -> str:
        _, token = create_key(self.service.store, name, role)
        self.service.keys.reload()
        return token

    def get(self, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        return self.http.get(self.url + path, headers=_auth(token, kw.pop("headers", None)), timeout=30, **kw)

    def post(self, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        return self.http.post(self.url + path, headers=_auth(token, kw.pop("headers", None)), timeout=60, **kw)

    def delete(self, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        return self.http.delete(self.url + path, headers=_auth(token, kw.pop("headers", None)), timeout=30, **kw)

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _auth(token: str | None, headers: dict[str, str] | None) -> dict[str, str]:
    h = dict(headers or {})
    if token is not None:
        h.setdefault("Authorization", f"Bearer {token}")
    return h


def error_code(r: requests.Response) -> str:
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"], body
    return str(body["error"]["code"])


def scored_db(path: Path) -> Path:
    from support.scored_store import build

    with chainrisk.open(path) as st:
        build(st)
    return path
