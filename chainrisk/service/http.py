"""What every route shares: the state dependency, the caller's key and role, audit notes, JSON bodies and
responses, and the documented error responses of the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.responses import Response

from .errors import CODES, ApiError
from .keys import ApiKey
from .state import ServiceState

MAX_REFERENCE = 256
MAX_ADDRESS_TEXT = 128


async def _service_state(request: Request) -> ServiceState:
    # async: resolved in the event loop, so a lookup answered there never waits for a worker thread
    state: ServiceState = request.app.state.service
    return state


State = Annotated[ServiceState, Depends(_service_state)]
"""A route parameter ``state: State`` receives the app's :class:`ServiceState` (not part of the API schema)."""


def caller(request: Request) -> ApiKey:
    """The API key the gate admitted the request with."""
    key: ApiKey = request.state.key
    return key


def require_admin(request: Request) -> ApiKey:
    key = caller(request)
    if key.role != "admin":
        raise ApiError("forbidden", "this endpoint needs an admin key")
    return key


def note(request: Request, **fields: Any) -> None:
    """Tell the gate what the request answered (subject, n_addresses, run_id) for its audit row."""
    request.state.audit.update(fields)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data, default=_default), status_code=status, media_type="application/json",
                    headers=headers)


def raw_json(body: bytes) -> Response:
    """A response of JSON already serialised."""
    return Response(body, media_type="application/json")


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    return str(o)


async def json_body(request: Request) -> Any:
    """The request body parsed as JSON: ``unsupported_media_type`` or ``malformed_json`` otherwise."""
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype not in ("application/json", ""):
        raise ApiError("unsupported_media_type", f"send JSON with 'Content-Type: application/json', not {ctype!r}")
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ApiError("malformed_json", f"the request body is not valid JSON: {e}") from None


# -- the OpenAPI document ---------------------------------------------------------------------------------------

def _codes_by_status() -> dict[int, str]:
    out: dict[int, str] = {}
    for code, (status, _sentence) in sorted(CODES.items()):
        out[status] = (out.get(status, "") + f" `{code}`").strip()
    return out


_CODES_BY_STATUS = _codes_by_status()


def error_response(status: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI response of an error status: the codes it carries and the shared ``Error`` schema."""
    return {status: {"description": _CODES_BY_STATUS.get(status, ""),
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error responses of an authenticated endpoint: 401, 429 and 500 plus ``statuses``."""
    out: dict[int | str, dict[str, Any]] = {}
    for s in (401, 429, 500, *statuses):
        out.update(error_response(s))
    return out
