"""The graph explorer's API: a neighbourhood (``GET /v1/graph/neighbourhood/{address}``), the transfers behind an
edge (``GET /v1/graph/transfers``) and a money path between two addresses (``GET /v1/graph/path``), with limits;
and the filing report of an address (``GET /v1/reports/{address}``, admin). Read keys get the read view of every
node (label categories only: :func:`chainrisk.answers.redact.redact_graph`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ...answers import graph
from ...answers.redact import redact_graph
from ...errors import ChainriskError, InvalidAddress, StoreError, UsageError
from ..errors import ApiError
from ..http import MAX_ADDRESS_TEXT, State, caller, error_responses, json_response, note, require_admin

router = APIRouter(tags=["graph"])

Since = Annotated[datetime | None, Query(description="Only transfers at or after this time (ISO 8601, UTC).")]
Until = Annotated[datetime | None, Query(description="Only transfers before this time (ISO 8601, UTC).")]
Token = Annotated[str | None, Query(max_length=64, description="Only this token (symbol such as USDT, or contract).")]
MinUsd = Annotated[float | None, Query(ge=0, description="Only transfers of at least this many USD.")]


def _call(fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except InvalidAddress as e:
        raise ApiError("invalid_address", f"{e.reason} (got {e.value[:MAX_ADDRESS_TEXT]!r})") from None
    except UsageError as e:
        raise ApiError("invalid_request", str(e)) from None
    except StoreError:
        raise
    except ChainriskError as e:
        raise ApiError("unavailable", str(e)) from None


@router.get("/v1/graph/neighbourhood/{address}", summary="Counterparties of an address, by flow",
            responses=error_responses(422, 503))
def get_neighbourhood(request: Request, state: State, address: str,
                      limit: Annotated[int, Query(ge=1, le=graph.MAX_LIMIT,
                                                  description="Counterparties per direction; the rest are folded.")] = 25,
                      since: Since = None, until: Until = None, token: Token = None,
                      min_usd: MinUsd = None) -> Response:
    """Sources of funds (``direction: in``) and destinations (``out``) of the address, the ``limit`` largest by USD
    per direction with the rest folded into a summary, each node with its bands, action, top category and
    labels (read keys: categories only)."""
    key = caller(request)
    note(request, subject=address[:MAX_ADDRESS_TEXT], n_addresses=1)
    st = state.thread_store()
    run_id = state.pin.get(st)
    note(request, run_id=run_id)
    g = _call(graph.neighbourhood, st, address, run_id=run_id, limit=limit, since=since, until=until, token=token,
              min_usd=min_usd)
    return json_response(redact_graph(g, key.role))


@router.get("/v1/graph/transfers", summary="The transfers behind one edge", responses=error_responses(422, 503))
def get_transfers(request: Request, state: State,
                  from_: Annotated[str, Query(alias="from", max_length=MAX_ADDRESS_TEXT)],
                  to: Annotated[str, Query(max_length=MAX_ADDRESS_TEXT)],
                  limit: Annotated[int, Query(ge=1, le=graph.MAX_TRANSFERS)] = 100,
                  since: Since = None, until: Until = None, token: Token = None, min_usd: MinUsd = None) -> Response:
    """Transfers from ``from`` to ``to``, newest first: tx hash (with a block-explorer link), time, token, amount,
    USD; ``total`` counts them all."""
    note(request, subject=from_[:MAX_ADDRESS_TEXT], n_addresses=2)
    st = state.thread_store()
    return json_response(_call(graph.edge_transfers, st, from_, to, since=since, until=until, token=token,
                               min_usd=min_usd, limit=limit))


@router.get("/v1/graph/path", summary="A money path from one address to another", responses=error_responses(422, 503))
def get_path(request: Request, state: State,
             from_: Annotated[str, Query(alias="from", max_length=MAX_ADDRESS_TEXT)],
             to: Annotated[str, Query(max_length=MAX_ADDRESS_TEXT)],
             max_hops: Annotated[int, Query(ge=1, le=graph.MAX_PATH_HOPS)] = 4) -> Response:
    """A shortest chain of transfers in which ``from`` sends and ``to`` receives, within ``max_hops`` hops
    (services and hubs are never crossed); ``found: false`` when there is none."""
    key = caller(request)
    note(request, subject=from_[:MAX_ADDRESS_TEXT], n_addresses=2)
    st = state.thread_store()
    run_id = state.pin.get(st)
    note(request, run_id=run_id)
    return json_response(redact_graph(_call(graph.find_path, st, from_, to, run_id=run_id, max_hops=max_hops),
                                      key.role))


@router.get("/v1/reports/{address}", tags=["admin"], summary="The filing report of an address (admin)",
            responses={200: {"content": {"text/html": {}, "application/pdf": {}}, "description": "the report"},
                       **error_responses(403, 422, 503)})
def get_report(request: Request, state: State, address: str,
               format: Annotated[str, Query(pattern="^(html|pdf)$")] = "html",
               lang: Annotated[str | None, Query(max_length=16)] = None,
               customer_ref: Annotated[str | None, Query(max_length=200)] = None,
               note_text: Annotated[str | None, Query(alias="note", max_length=4000)] = None,
               disposition: Annotated[str | None, Query(pattern="^(cleared|monitor|sever|reported)$")] = None
               ) -> Response:
    """The evidence report (HTML, or PDF printed by the server's headless Chromium) in ``lang`` (en|zh-CN)."""
    import tempfile
    from pathlib import Path

    from ...answers.report import report

    admin = require_admin(request)
    note(request, subject=address[:MAX_ADDRESS_TEXT], n_addresses=1)
    st = state.thread_store()
    run_id = state.pin.get(st)
    note(request, run_id=run_id)
    with tempfile.TemporaryDirectory(prefix="chainrisk-report-") as tmp:
        out = Path(tmp) / f"report.{format}"
        _call(report, st, address, out, run_id=run_id, lang=lang, customer_ref=customer_ref, note=note_text,
              disposition=disposition, analyst=admin.name)
        body = out.read_bytes()
    media = "application/pdf" if format == "pdf" else "text/html; charset=utf-8"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'inline; filename="chainrisk-report-{re.sub(r"[^0-9A-Za-z]", "", address)[:64]}.{format}"'})
