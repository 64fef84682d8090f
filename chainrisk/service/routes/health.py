"""``/healthz`` (the process is up and the store answers) and ``/readyz`` (a complete scoring run exists)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ..errors import ApiError, public_message
from ..http import State, error_response, json_response

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up and the store answers")
def healthz(state: State) -> Response:
    try:
        state.thread_store().execute("SELECT 1").fetchall()
    except Exception as e:
        raise ApiError("store_unavailable", public_message(f"the store does not answer: {e}")) from None
    return json_response({"status": "ok"})


@router.get("/readyz", summary="Ready when a complete scoring run exists", responses=error_response(503))
def readyz(state: State) -> Response:
    run = state.thread_store().run()
    cache = state.cache.get(run.run_id)
    status = "off" if not state.cache.enabled else ("ready" if cache is not None else "building")
    return json_response({"status": "ready", "run_id": run.run_id, "as_of_block": run.as_of_block,
                          "as_of_time": run.as_of_time, "lookup_cache": status})
