"""The gate every request passes: request id, API key, role, rate limit, body size and time limits, audit.

A pure ASGI middleware (no per-request task or body copy). Endpoints report what they answered (addresses,
scoring run, subject) into ``scope["state"]["audit"]``; the gate records the request's audit row when the response
starts and holds the response until the row is committed (a crash never loses the row of an answered request).
Health probes (``/healthz``, ``/readyz``) are not audited; every endpoint that needs no key is rate-limited per
client address.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from .audit import AuditEntry, clean
from .errors import ApiError
from .state import ServiceState

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/ui"})
PUBLIC_PREFIXES = ("/ui/",)   # the explorer's static files: no data (the page calls the API with a key)
NOT_AUDITED = frozenset({"/healthz", "/readyz"})  # health probes: rate-limited, but no audit row each
AUDIT_WAIT = 30.0  # seconds a response waits for its audit row at most (then it is sent and the wait logged)
UPLOAD_PATHS = frozenset({"/v1/screen/jobs", "/v1/labels/imports"})


def error_response_parts(err: ApiError, request_id: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = orjson.dumps(err.body())
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"x-request-id", request_id.encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in err.headers.items()]
    return err.status, headers, body


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


class Gate:
    """The ASGI app the server runs: admits each request, then hands it to ``app`` (the endpoints).

    ``service`` is the state the gate checks keys and limits against and records audit rows in."""

    def __init__(self, app: Any, service: ServiceState) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        svc = self.service
        t0 = time.perf_counter()
        at = datetime.now(UTC).replace(tzinfo=None)
        request_id = secrets.token_hex(8)
        audit: dict[str, Any] = {"n_addresses": 0, "run_id": None, "subject": None, "error_code": None}
        state = scope.setdefault("state", {})
        state["audit"] = audit
        state["request_id"] = request_id
        state["key"] = None
        client = scope.get("client")
        client_s = clean(f"{client[0]}", 64) if client else None
        status_holder = [500]
        audited = [scope["path"] in NOT_AUDITED]

        def entry() -> AuditEntry:
            key = state.get("key")
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or scope["path"]
            return AuditEntry(
                request_id=request_id, requested_at=at, key_id=key.key_id if key else None,
                role=key.role if key else None, client=client_s, method=clean(scope["method"], 16) or "",
                endpoint=clean(endpoint) or "",
                subject=clean(str(audit["subject"])) if audit["subject"] is not None else None,
                n_addresses=int(audit["n_addresses"]), run_id=audit["run_id"], status=status_holder[0],
                error_code=audit["error_code"], duration_ms=round((time.perf_counter() - t0) * 1000, 3),
            )

        async def commit() -> None:
            """Record the audit row and wait until it is committed."""
            if audited[0]:
                return
            audited[0] = True
            loop = asyncio.get_running_loop()
            done = loop.create_future()

            def resolve() -> None:
                if not done.done():
                    done.set_result(None)

            def committed() -> None:
                loop.call_soon_threadsafe(resolve)

            svc.audit.record(entry(), committed)
            try:
                await asyncio.wait_for(done, AUDIT_WAIT)
            except TimeoutError:
                log.error("request %s answered without its audit row committed after %s s", request_id, AUDIT_WAIT)

        async def send_wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
                await commit()
            await send(message)

        try:
            try:
                self._admit(scope, state, client_s)
            except ApiError as err:
                audit["error_code"] = err.code
                status, headers, body = error_response_parts(err, request_id)
                status_holder[0] = status
                await commit()
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            upload = scope["path"] in UPLOAD_PATHS
            limit = svc.settings.max_upload_bytes if upload else svc.settings.max_body_bytes
            await self.app(scope, _limited(receive, limit, svc.settings.body_timeout), send_wrapped)
        finally:
            if not audited[0]:  # no response was started (the client went away, or a crash in the app)
                audited[0] = True
                svc.audit.record(entry())

    def _admit(self, scope: dict[str, Any], state: dict[str, Any], client: str | None) -> None:
        svc = self.service
        cl = _header(scope, b"content-length")
        if cl is not None:
            limit = svc.settings.max_upload_bytes if scope["path"] in UPLOAD_PATHS else svc.settings.max_body_bytes
            if not cl.isdigit():
                raise ApiError("invalid_request", "the Content-Length header is not a number")
            if int(cl) > limit:
                raise ApiError("payload_too_large", f"the request body is {int(cl):,} bytes; at most {limit:,} "
                               "are accepted here")
        if scope["path"] in PUBLIC_PATHS or scope["path"].startswith(PUBLIC_PREFIXES):
            self._throttle("public:" + (client or "?"))
            return
        token = None
        auth = _header(scope, b"authorization")
        if auth:
            scheme, _, value = auth.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                token = value.strip()
        if token is None:
            token = (_header(scope, b"x-api-key") or "").strip() or None
        if token is None:
            self._throttle("client:" + (client or "?"))
            raise ApiError("missing_api_key", "no API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        verdict, key = svc.keys.verify(token)
        if verdict == "invalid":
            self._throttle("client:" + (client or "?"))
            raise ApiError("invalid_api_key", "the API key is not known; check it was copied whole, or ask an "
                           "administrator for a new one")
        assert key is not None
        if verdict == "revoked":
            self._throttle("client:" + (client or "?"))
            raise ApiError("revoked_api_key", f"the API key {key.key_id} was revoked; ask an administrator for a "
                           "new one")
        if verdict == "expired":
            self._throttle("client:" + (client or "?"))
            raise ApiError("expired_api_key", f"the API key {key.key_id} expired; ask an administrator to rotate "
                           "it or for a new one")
        state["key"] = key
        self._throttle("key:" + key.key_id)

    def _throttle(self, who: str) -> None:
        wait = self.service.limiter.take(who)
        if wait:
            raise ApiError("rate_limited", f"too many requests; retry in {wait} s",
                           headers={"Retry-After": str(wait)})


def _limited(receive: Any, limit: int, timeout: float) -> Any:
    seen = 0

    async def wrapped() -> dict[str, Any]:
        nonlocal seen
        try:
            message: dict[str, Any] = await asyncio.wait_for(receive(), timeout)
        except TimeoutError:
            raise ApiError("request_timeout", f"no part of the request body arrived for {timeout:g} s") from None
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise ApiError("payload_too_large", f"the request body is larger than the {limit:,} bytes "
                               "accepted here")
        return message

    return wrapped
