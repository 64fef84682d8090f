"""Monitoring over HTTP: watchlists (admin), alerts (read keys see the read view), webhooks and deliveries
(admin), and the follow loop's status (admin). The service owns the store's writes while it runs, so these are
how a bank changes watchlists and acknowledges alerts without stopping it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...errors import InputError
from ...monitoring import alerts as al
from ...monitoring import delivery, watch
from ..errors import ApiError
from ..http import (
    MAX_REFERENCE,
    State,
    caller,
    error_responses,
    json_body,
    json_response,
    note,
    require_admin,
)
from ..keys import ApiKey
from ..state import ServiceState

router = APIRouter(tags=["monitoring"])

MAX_WATCH_ITEMS = 10_000

WATCH_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["addresses"], "properties": {
        "watchlist": {"type": "string", "default": "default", "minLength": 1, "maxLength": 100},
        "addresses": {"type": "array", "maxItems": MAX_WATCH_ITEMS, "items": {"oneOf": [
            {"type": "string"},
            {"type": "object", "required": ["address"], "properties": {
                "address": {"type": "string"}, "reference": {"type": ["string", "null"], "maxLength": MAX_REFERENCE}}},
        ]}}}}}}}
ACK_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["alert_ids"], "properties": {
        "alert_ids": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1000},
        "note": {"type": ["string", "null"], "maxLength": 2000}}}}}}
WEBHOOK_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["url"], "properties": {
        "url": {"type": "string"}, "view": {"type": "string", "enum": list(delivery.VIEWS), "default": "read"},
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 100, "default": 8},
        "backfill": {"type": "boolean", "default": False}}}}}}


def _invalid(e: InputError) -> ApiError:
    return ApiError("invalid_request", str(e))


async def _body(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError("invalid_request", "the body is a JSON object")
    return body


def _items(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    raw = body.get("addresses")
    if not isinstance(raw, list) or len(raw) > MAX_WATCH_ITEMS:
        raise ApiError("invalid_request", f"'addresses' is a list of at most {MAX_WATCH_ITEMS:,} addresses")
    out: list[tuple[str, str | None]] = []
    for it in raw:
        if isinstance(it, str):
            out.append((it, None))
        elif isinstance(it, dict) and isinstance(it.get("address"), str) and (
                it.get("reference") is None or isinstance(it.get("reference"), str)):
            out.append((it["address"], it.get("reference")))
        else:
            raise ApiError("invalid_request", "each address is a string or {\"address\", \"reference\"}")
    return out


async def _watch_request(request: Request) -> tuple[ApiKey, list[tuple[str, str | None]], str]:
    """An admin's watchlist change: the key, the (address, reference) items and the watchlist's name (audited)."""
    key = require_admin(request)
    body = await _body(request)
    items = _items(body)
    wl = body.get("watchlist", watch.DEFAULT_LIST)
    if not isinstance(wl, str):
        raise ApiError("invalid_request", "'watchlist' is a name")
    note(request, n_addresses=len(items), subject=wl[:100])
    return key, items, wl


@router.get("/v1/watchlist", summary="Watched addresses (admin)", responses=error_responses(403))
def get_watchlist(request: Request, state: State, watchlist: str | None = None, all: bool = False) -> Response:
    require_admin(request)
    return json_response({"entries": watch.entries(state.thread_store(), watchlist=watchlist, include_removed=all)})


@router.post("/v1/watchlist", summary="Watch addresses, each with your reference (admin)",
             openapi_extra={"requestBody": WATCH_BODY}, responses=error_responses(400, 403, 415, 422))
async def post_watchlist(request: Request, state: State) -> Response:
    key, items, wl = await _watch_request(request)

    def work() -> dict[str, Any]:
        try:
            return watch.add(state.thread_store(), items, watchlist=wl, actor=key.key_id).to_dict()
        except InputError as e:
            raise _invalid(e) from None

    return json_response(await run_in_threadpool(work))


@router.post("/v1/watchlist/remove", summary="Stop watching addresses (admin)",
             openapi_extra={"requestBody": WATCH_BODY}, responses=error_responses(400, 403, 415, 422))
async def post_watchlist_remove(request: Request, state: State) -> Response:
    key, items, wl = await _watch_request(request)

    def work() -> dict[str, Any]:
        try:
            return watch.remove(state.thread_store(), [a for a, _ in items], watchlist=wl, actor=key.key_id).to_dict()
        except InputError as e:
            raise _invalid(e) from None

    return json_response(await run_in_threadpool(work))


@router.get("/v1/alerts", summary="Alerts on watched addresses, oldest first, with cursor paging",
            responses=error_responses(422))
def get_alerts(request: Request, state: State, since: datetime | None = None, cursor: str | None = None,
               limit: int = 100, alert_state: str | None = Query(None, alias="state"),
               rule: str | None = None) -> Response:
    """``since``: alerts raised at or after this time; ``cursor``: the ``next_cursor`` of the previous page (null
    on the last page). A read key sees the read view (no label names, sources or case text)."""
    if not 1 <= limit <= 1000:
        raise ApiError("invalid_request", "limit is 1..1000")
    if since is not None and since.tzinfo is not None:
        since = since.astimezone(UTC).replace(tzinfo=None)
    cur: int | None = None
    if cursor:
        if not cursor.isdigit():
            raise ApiError("invalid_request", "cursor is the next_cursor of a previous page")
        cur = int(cursor)
    try:
        rows, nxt = al.list_alerts(state.thread_store(), since=since, cursor=cur, limit=limit, state=alert_state,
                                   rule=rule, role=caller(request).role)
    except InputError as e:
        raise _invalid(e) from None
    note(request, n_addresses=len(rows))
    return json_response({"alerts": rows, "next_cursor": str(nxt) if nxt is not None else None})


@router.post("/v1/alerts/ack", summary="Acknowledge alerts (admin)", openapi_extra={"requestBody": ACK_BODY},
             responses=error_responses(400, 403, 415, 422))
async def post_alerts_ack(request: Request, state: State) -> Response:
    key = require_admin(request)
    body = await _body(request)
    ids = body.get("alert_ids")
    if not isinstance(ids, list) or not ids or len(ids) > 1000 or not all(isinstance(i, str) for i in ids):
        raise ApiError("invalid_request", "'alert_ids' is a list of 1..1000 alert ids")
    text = body.get("note")
    if text is not None and not isinstance(text, str):
        raise ApiError("invalid_request", "'note' is a string")

    def work() -> dict[str, Any]:
        try:
            return al.acknowledge(state.thread_store(), ids, actor=key.key_id, note=text)
        except InputError as e:
            raise _invalid(e) from None

    return json_response(await run_in_threadpool(work))


@router.get("/v1/webhooks", summary="Webhook receivers, never their secrets (admin)", responses=error_responses(403))
def get_webhooks(request: Request, state: State) -> Response:
    require_admin(request)
    return json_response({"webhooks": delivery.list_webhooks(state.thread_store())})


@router.post("/v1/webhooks", status_code=201, summary="Register a webhook; its secret is shown once (admin)",
             openapi_extra={"requestBody": WEBHOOK_BODY}, responses=error_responses(400, 403, 415, 422))
async def post_webhook(request: Request, state: State) -> Response:
    key = require_admin(request)
    body = await _body(request)
    if not isinstance(body.get("url"), str):
        raise ApiError("invalid_request", "'url' is the receiver's http(s) URL")

    def work() -> dict[str, Any]:
        try:
            hook, secret = delivery.add_webhook(
                state.thread_store(), body["url"], view=str(body.get("view", "read")),
                batch_size=int(body.get("batch_size", 100)), max_attempts=int(body.get("max_attempts", 8)),
                backfill=bool(body.get("backfill", False)), actor=key.key_id)
        except (InputError, ValueError, TypeError) as e:
            raise ApiError("invalid_request", str(e)) from None
        return {**hook, "secret": secret}

    return json_response(await run_in_threadpool(work), 201)


@router.delete("/v1/webhooks/{webhook_id}", summary="Stop sending to a webhook (admin)",
               responses=error_responses(403, 422))
def delete_webhook(request: Request, state: State, webhook_id: str) -> Response:
    require_admin(request)
    try:
        return json_response(delivery.remove_webhook(state.thread_store(), webhook_id))
    except InputError as e:
        raise _invalid(e) from None


@router.get("/v1/deliveries", summary="Webhook deliveries, newest first; dead letters with status=dead (admin)",
            responses=error_responses(403, 422))
def get_deliveries(request: Request, state: State, status: str | None = None, limit: int = 100) -> Response:
    require_admin(request)
    if not 1 <= limit <= 10_000:
        raise ApiError("invalid_request", "limit is 1..10000")
    try:
        return json_response({"deliveries": delivery.list_deliveries(state.thread_store(), status=status,
                                                                     limit=limit)})
    except InputError as e:
        raise _invalid(e) from None


@router.post("/v1/deliveries/{delivery_id}/resend", summary="Send a delivery again (admin)",
             responses=error_responses(403, 422))
def post_resend(request: Request, state: State, delivery_id: str) -> Response:
    require_admin(request)
    try:
        d = delivery.resend(state.thread_store(), delivery_id)
    except InputError as e:
        raise _invalid(e) from None
    _deliver_now(state)
    return json_response(d)


def _deliver_now(state: ServiceState) -> None:
    if state.follow is None:   # the follow loop delivers by itself
        st = state.thread_store()
        delivery.enqueue(st)
        delivery.deliver_due(st)


@router.get("/v1/follow", summary="The follow loop: tip, runs, alerts, errors (admin)", responses=error_responses(403))
def get_follow(request: Request, state: State) -> Response:
    require_admin(request)
    f = state.follow
    st = state.thread_store()
    return json_response({"following": f is not None,
                          "status": f.follower.status.to_dict() if f is not None else None,
                          "alerts": al.alerts_summary(st), "last_evaluation": al.latest_evaluation(st)})


# -- label imports through the running service -------------------------------------------------------------

@router.post("/v1/labels/imports", summary="Import a label file into the running service's store (admin)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                 "schema": {"type": "string", "format": "binary"}}}}},
             responses=error_responses(403, 413, 422))
async def post_label_import(request: Request, state: State, format: str, filename: str = "labels",
                            source: str | None = None, category: str | None = None, confidence: int | None = None,
                            chain: str | None = None, version: str | None = None,
                            allow_mass_removal: bool = False) -> Response:
    """The body is the file itself (as ``chainrisk labels import FILE --input-format FORMAT`` reads it); the query
    carries the import's options. The labels change in one transaction; the follow loop rescores on its
    schedule (or start a run with ``POST /v1/runs``), and the new run's alerts say what the change did."""
    import os
    import tempfile
    from pathlib import Path

    from ...labels import import_labels
    from ...labels.importers import FORMAT_NAMES

    key = require_admin(request)
    if format not in FORMAT_NAMES:
        raise ApiError("invalid_request", f"format is one of: {', '.join(FORMAT_NAMES)}")
    if confidence is not None and not 0 <= confidence <= 100:
        raise ApiError("invalid_request", "confidence is 0..100")
    name = Path(filename).name or "labels"
    body = await request.body()
    note(request, subject=f"{format}:{name}"[:200])

    def work() -> list[dict[str, Any]]:
        with tempfile.TemporaryDirectory(prefix="chainrisk-labels-") as tmp:
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(body)
            try:
                results = import_labels(state.thread_store(), [path] if format != "bundled" else [], format,
                                        source=source, category=category, confidence=confidence, chain=chain,
                                        version=version, allow_mass_removal=allow_mass_removal)
            except InputError as e:
                raise _invalid(e) from None
        return [{**r.to_dict(), "imported_by": key.key_id} for r in results]

    return json_response({"results": await run_in_threadpool(work)})
