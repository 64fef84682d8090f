"""The screening service: an ASGI app (FastAPI) over one chainrisk store.

    >>> from chainrisk.service import Settings, create_app
    >>> app = create_app(Settings(db="case.duckdb"))      # then: uvicorn.run(app, port=8080)

The service holds the store open read-write (DuckDB allows one writing process per file, and the audit log,
keys and jobs are written): other chainrisk processes cannot open the file while it serves. Scoring runs while
serving go through ``POST /v1/runs`` (admin), which scores in a background thread of the service process on its
own connection. Every request reads inside one transaction that first pins the latest *complete* scoring run, so
an answer never mixes two runs and a run being written is invisible until it flips to complete.

The modules form a tree: :mod:`.state` (everything the service holds) <- :mod:`.gate` (every request's key,
limits and audit row) and :mod:`.routes` (the endpoints, by group) <- this module, which puts them together.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ChainriskError, InputError, NoScoringRun, StoreError
from ..version import __version__
from .errors import ERROR_SCHEMA, ApiError
from .gate import PUBLIC_PATHS, Gate
from .http import json_response
from .routes import ROUTERS
from .state import ServiceState, Settings

__all__ = ["Settings", "create_app", "serve"]

log = logging.getLogger(__name__)

DESCRIPTION = ("Screen blockchain addresses against the bank's own chainrisk store. Authenticate with "
               "'Authorization: Bearer <key>' or 'X-API-Key: <key>'. Errors are "
               '{"error": {"code", "message"}} with stable codes. See docs/service.md.')


def create_app(settings: Settings) -> Gate:
    """The ASGI app: the gate in front of the endpoints. The store opens now and closes, with the audit log
    flushed, at shutdown (lifespan). ``app.service`` is the :class:`~.state.ServiceState`."""
    state = ServiceState(settings)
    api = ServiceAPI(title="chainrisk screening service", version=__version__, description=DESCRIPTION,
                     lifespan=_lifespan, docs_url=None, redoc_url=None, exception_handlers=EXCEPTION_HANDLERS)
    api.state.service = state
    for router in ROUTERS:
        api.include_router(router)
    return Gate(api, state)


def serve(app: Gate, *, host: str, port: int, threads: int) -> None:
    """Run ``app`` over HTTP until Ctrl-C or SIGTERM, answering with up to ``threads`` worker threads; at shutdown
    the lifespan closes the state (audit log flushed)."""
    import anyio
    import anyio.to_thread
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            proxy_headers=False, server_header=False)
    server = uvicorn.Server(config)

    async def main() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        await server.serve()

    anyio.run(main)


@contextlib.asynccontextmanager
async def _lifespan(api: FastAPI) -> AsyncIterator[None]:
    yield
    state: ServiceState = api.state.service
    state.close()


class ServiceAPI(FastAPI):
    """FastAPI with the service's OpenAPI additions: the shared ``Error`` schema and the two ways to send a key
    (every endpoint but the health checks needs one)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema:
            return self.openapi_schema
        schema = super().openapi()
        comps = schema.setdefault("components", {})
        comps.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        comps["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        for path, ops in schema.get("paths", {}).items():
            if path in PUBLIC_PATHS:
                continue
            for op in ops.values():
                op["security"] = [{"bearer": []}, {"apiKey": []}]
        self.openapi_schema = schema
        return schema


# -- errors: every failure is {"error": {"code", "message"}} with a stable code (see .errors) ------------------


async def _api_error(request: Request, exc: ApiError) -> Response:
    request.state.audit["error_code"] = exc.code
    return json_response(exc.body(), exc.status, exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(x) for x in first.get("loc", ()))
    return await _api_error(request, ApiError("invalid_request", f"{where}: {first.get('msg', 'invalid')}"))


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
    return await _api_error(request, ApiError(code))


async def _chainrisk_error(request: Request, exc: ChainriskError) -> Response:
    if isinstance(exc, NoScoringRun):
        return await _api_error(request, ApiError("no_scoring_run", str(exc)))
    if isinstance(exc, StoreError):
        return await _api_error(request, ApiError("store_unavailable", str(exc)))
    if isinstance(exc, InputError):
        return await _api_error(request, ApiError("invalid_request", str(exc)))
    return await _api_error(request, ApiError("unavailable", str(exc)))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    return await _api_error(request, ApiError("internal_error", "an unexpected error; request id "
                                              f"{request.state.request_id} is in the audit log"))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: _api_error,
    RequestValidationError: _validation_error,
    StarletteHTTPException: _http_error,
    ChainriskError: _chainrisk_error,
    Exception: _unexpected,
}
