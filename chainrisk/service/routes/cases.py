"""Cases (admin keys only): ``/v1/cases`` lists and opens them, ``/v1/cases/{case_id}`` shows one with its
history, ``POST /v1/cases/{case_id}/events`` records a note, addresses, a disposition or a customer reference
(append-only: nothing is overwritten), and ``/v1/cases/{case_id}/report`` exports the case with its evidence.
The actor recorded is the admin key's holder and id."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...answers import cases
from ...errors import ChainriskError, InputError, InvalidAddress, StoreError, UsageError
from ..errors import ApiError
from ..http import MAX_ADDRESS_TEXT, State, error_responses, json_body, json_response, note, require_admin
from ..keys import ApiKey

router = APIRouter(tags=["cases"])

_ADDRESSES = {"type": "array", "maxItems": 1000, "items": {"type": "string", "maxLength": MAX_ADDRESS_TEXT}}
CASE_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["title"], "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": cases.MAX_TEXT},
        "customer_ref": {"type": "string", "maxLength": cases.MAX_TEXT},
        "note": {"type": "string", "maxLength": cases.MAX_TEXT}, "addresses": _ADDRESSES}}}}}
EVENT_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["kind"], "properties": {
        "kind": {"type": "string", "enum": ["note", "add_addresses", "remove_address", "disposition", "customer_ref"]},
        "text": {"type": "string", "maxLength": cases.MAX_TEXT}, "addresses": _ADDRESSES,
        "address": {"type": "string", "maxLength": MAX_ADDRESS_TEXT},
        "disposition": {"type": "string", "enum": list(cases.DISPOSITIONS)}}}}}}


def _actor(key: ApiKey) -> str:
    return f"{key.name} ({key.key_id})"


def _call(fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except InvalidAddress as e:
        raise ApiError("invalid_address", f"{e.reason} (got {e.value[:MAX_ADDRESS_TEXT]!r})") from None
    except UsageError as e:
        raise ApiError("invalid_request", str(e)) from None
    except InputError as e:
        if str(e).startswith("no case"):
            raise ApiError("case_not_found", f"no case with id {str(args[1])[:64]!r}") from None
        raise ApiError("invalid_request", str(e)) from None
    except StoreError:
        raise
    except ChainriskError as e:
        raise ApiError("unavailable", str(e)) from None


def _str_list(v: Any) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ApiError("invalid_request", "'addresses' is a list of address strings")
    return v


def _opt_str(body: dict[str, Any], name: str) -> str | None:
    v = body.get(name)
    if v is not None and not isinstance(v, str):
        raise ApiError("invalid_request", f"'{name}' is a string")
    return v


@router.get("/v1/cases", summary="Cases, newest first (admin)", responses=error_responses(403))
def get_cases(request: Request, state: State) -> Response:
    require_admin(request)
    return json_response({"cases": cases.list_cases(state.thread_store())})


@router.post("/v1/cases", status_code=201, openapi_extra={"requestBody": CASE_BODY},
             summary="Open a case (admin)", responses=error_responses(400, 403, 415, 422))
async def post_case(request: Request, state: State) -> Response:
    key = require_admin(request)
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("title"), str):
        raise ApiError("invalid_request", 'the body is {"title": "...", "customer_ref": ..., "addresses": [...]}')
    addresses = _str_list(body.get("addresses"))
    c = await run_in_threadpool(_call, cases.open_case, state.thread_store(), body["title"], actor=_actor(key),
                                customer_ref=_opt_str(body, "customer_ref"), addresses=addresses,
                                note=_opt_str(body, "note"))
    note(request, subject=c.case_id, n_addresses=len(c.addresses))
    return json_response(c.to_dict(), 201)


@router.get("/v1/cases/{case_id}", summary="A case with its history (admin)", responses=error_responses(403, 404))
def get_case(request: Request, state: State, case_id: str) -> Response:
    require_admin(request)
    note(request, subject=case_id[:64])
    return json_response(_call(cases.get_case, state.thread_store(), case_id).to_dict())


@router.post("/v1/cases/{case_id}/events", status_code=201, openapi_extra={"requestBody": EVENT_BODY},
             summary="Record a note, addresses, a disposition or a customer reference (admin)",
             responses=error_responses(400, 403, 404, 415, 422))
async def post_event(request: Request, state: State, case_id: str) -> Response:
    key = require_admin(request)
    note(request, subject=case_id[:64])
    body = await json_body(request)
    if not isinstance(body, dict) or body.get("kind") not in ("note", "add_addresses", "remove_address",
                                                              "disposition", "customer_ref"):
        raise ApiError("invalid_request", "'kind' is note, add_addresses, remove_address, disposition or "
                       "customer_ref")
    st, who, kind = state.thread_store(), _actor(key), body["kind"]
    text = _opt_str(body, "text")

    def apply() -> Any:
        if kind == "note":
            return _call(cases.add_note, st, case_id, text or "", actor=who)
        if kind == "add_addresses":
            return _call(cases.add_addresses, st, case_id, _str_list(body.get("addresses")), actor=who)
        if kind == "remove_address":
            return _call(cases.remove_address, st, case_id, _opt_str(body, "address") or "", actor=who, text=text)
        if kind == "disposition":
            return _call(cases.decide, st, case_id, _opt_str(body, "disposition") or "", actor=who, text=text)
        return _call(cases.set_customer_ref, st, case_id, text or "", actor=who)

    c = await run_in_threadpool(apply)
    return json_response(c.to_dict(), 201)


@router.get("/v1/cases/{case_id}/report", summary="The case exported with its evidence (admin)",
            responses={200: {"content": {"text/html": {}, "application/pdf": {}}, "description": "the report"},
                       **error_responses(403, 404, 422, 503)})
def get_case_report(request: Request, state: State, case_id: str,
                    format: Annotated[str, Query(pattern="^(html|pdf)$")] = "html",
                    lang: Annotated[str | None, Query(max_length=16)] = None) -> Response:
    key = require_admin(request)
    note(request, subject=case_id[:64])
    st = state.thread_store()
    run_id = state.pin.get(st)
    note(request, run_id=run_id)
    with tempfile.TemporaryDirectory(prefix="chainrisk-case-") as tmp:
        out = Path(tmp) / f"case.{format}"
        _call(cases.export_case, st, case_id, out, lang=lang, run_id=run_id, analyst=_actor(key))
        data = out.read_bytes()
    media = "application/pdf" if format == "pdf" else "text/html; charset=utf-8"
    safe = case_id if cases.valid_case_id(case_id) else "case"
    return Response(data, media_type=media, headers={"Content-Disposition": f'inline; filename="{safe}.{format}"'})
