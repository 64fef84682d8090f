"""Administration (admin keys only): API keys (``/v1/keys``) and the audit log (``GET /v1/audit``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...errors import InputError
from ..audit import query_audit
from ..errors import ApiError
from ..http import State, error_responses, json_body, json_response, note, require_admin
from ..keys import ROLES, ApiKey, create_key, list_keys, revoke_key, rotate_key

router = APIRouter(tags=["admin"])

KEY_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "role": {"type": "string", "enum": list(ROLES), "default": "read"},
            "expires_in_days": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 3650},
        }}}},
}


@router.get("/v1/keys", summary="API keys (never their secrets)", responses=error_responses(403))
def get_keys(request: Request, state: State) -> Response:
    require_admin(request)
    return json_response({"keys": [k.to_dict() for k in list_keys(state.thread_store())]})


@router.post("/v1/keys", status_code=201, openapi_extra={"requestBody": KEY_BODY},
             summary="Create a key; the token is shown once", responses=error_responses(400, 403, 415, 422))
async def post_key(request: Request, state: State) -> Response:
    admin = require_admin(request)
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise ApiError("invalid_request", "the body is {\"name\": \"...\", \"role\": \"read\"|\"admin\"}")
    role = body.get("role", "read")
    if role not in ROLES:
        raise ApiError("invalid_request", f"role is one of: {', '.join(ROLES)}")
    days = body.get("expires_in_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= 3650):
        raise ApiError("invalid_request", "expires_in_days is a number of days, more than 0 and at most 3650")
    expires = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=days) if days is not None else None

    def make() -> tuple[ApiKey, str]:
        try:
            return create_key(state.thread_store(), body["name"], role, created_by=admin.key_id, expires_at=expires)
        except InputError as e:
            raise ApiError("invalid_request", str(e)) from None

    key, token = await run_in_threadpool(make)
    state.keys.reload()
    note(request, subject=key.key_id)
    return json_response({**key.to_dict(), "token": token}, 201)


@router.delete("/v1/keys/{key_id}", summary="Revoke a key (immediately)", responses=error_responses(403, 404))
def delete_key(request: Request, state: State, key_id: str) -> Response:
    admin = require_admin(request)
    note(request, subject=key_id[:64])
    try:
        key = revoke_key(state.thread_store(), key_id, revoked_by=admin.key_id)
    except InputError:
        raise ApiError("key_not_found", f"no API key with id {key_id[:64]!r}") from None
    state.keys.reload()
    return json_response(key.to_dict())


@router.post("/v1/keys/{key_id}/rotate", summary="A new token for a key (same id); the old token stops at once",
             responses=error_responses(403, 404, 422))
def post_rotate(request: Request, state: State, key_id: str) -> Response:
    admin = require_admin(request)
    note(request, subject=key_id[:64])
    try:
        key, token = rotate_key(state.thread_store(), key_id, rotated_by=admin.key_id)
    except InputError as e:
        if "no API key" in str(e):
            raise ApiError("key_not_found", f"no API key with id {key_id[:64]!r}") from None
        raise ApiError("invalid_request", str(e)) from None
    state.keys.reload()
    return json_response({**key.to_dict(), "token": token})


@router.get("/v1/audit", summary="The audit log, newest first", responses=error_responses(403, 422))
def get_audit(request: Request, state: State, key_id: str | None = None, since: datetime | None = None,
              limit: int = 100) -> Response:
    require_admin(request)
    if not 1 <= limit <= 10_000:
        raise ApiError("invalid_request", "limit is 1..10000")
    if since is not None and since.tzinfo is not None:
        since = since.astimezone(UTC).replace(tzinfo=None)
    state.audit.flush()
    return json_response({"entries": query_audit(state.thread_store(), key_id=key_id, since=since, limit=limit)})
