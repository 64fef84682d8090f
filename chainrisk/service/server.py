"""The HTTP server under the service: uvicorn, with what it lacks against slow clients (slowloris).

uvicorn closes an idle keep-alive connection (``timeout_keep_alive``) but waits forever for the headers of a
request, and accepts connections until the process runs out of file descriptors. :class:`GuardedProtocol` (the
``http`` protocol class handed to uvicorn) adds:

* a **header timeout**: a connection whose request headers are not complete ``header_timeout`` seconds after it
  opened (or after its previous response) is closed;
* a **connection cap**: at ``max_connections`` open connections, a new one makes room by closing the oldest
  connection still waiting for its headers (a slow client), else it is closed at once; the default cap stays
  below the process's file-descriptor limit, so the store and a legitimate client always find a descriptor.

The body of a request has its own timeout in the gate (``body_timeout`` between two chunks: ``408``).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import OrderedDict
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


def default_max_connections() -> int:
    """Open connections allowed: the file-descriptor limit less room for the store, threads and logs."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 10_000
    return max(16, min(10_000, soft - 128))


class Guard:
    """The open connections of one server, oldest first, and the limits."""

    def __init__(self, header_timeout: float, max_connections: int) -> None:
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.open: OrderedDict[int, GuardedProtocol] = OrderedDict()
        self.closed_slow = 0  # connections closed for not sending their headers in time
        self.closed_at_cap = 0  # connections closed to make room (slow ones) or refused at the cap


def guarded_protocol(guard: Guard) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's ``http`` setting, bound to ``guard``."""

    class Bound(GuardedProtocol):
        pass

    Bound.guard = guard
    return Bound


class GuardedProtocol(HttpToolsProtocol):
    guard: Guard

    def connection_made(self, transport: Any) -> None:
        guard = self.guard
        self._headers_done = False
        self._header_timer: asyncio.TimerHandle | None = None
        if len(guard.open) >= guard.max_connections:
            victim = next((p for p in guard.open.values() if not p._headers_done), None)
            guard.closed_at_cap += 1
            if victim is None:
                transport.close()
                return
            victim._close_slow()
        super().connection_made(transport)
        guard.open[id(self)] = self
        self._arm()

    def _arm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self.guard.header_timeout, self._header_timeout)
        self._armed_at = time.monotonic()

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self._headers_done:
            self.guard.closed_slow += 1
            self._close_slow()

    def _close_slow(self) -> None:
        self.guard.open.pop(id(self), None)
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._headers_done = True
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._headers_done = False
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.open.pop(id(self), None)
        if getattr(self, "_header_timer", None) is not None:
            self._header_timer.cancel()  # type: ignore[union-attr]
            self._header_timer = None
        if getattr(self, "transport", None) is not None:
            super().connection_lost(exc)
