"""Scoring runs: ``GET /v1/runs`` (newest first, and the one answering now) and ``POST /v1/runs`` (admin: score
inside the service, in a background thread)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...errors import NoScoringRun
from ..errors import ApiError
from ..http import State, caller, error_responses, json_body, json_response, require_admin

router = APIRouter()

RUN_BODY = {
    "required": False,
    "content": {"application/json": {"schema": {
        "type": "object", "properties": {
            "profile": {"type": "string", "default": "cn"},
            "max_hops": {"type": ["integer", "null"], "minimum": 1, "maximum": 10},
        }}}},
}
_RUN_COLUMNS = ("run_id", "status", "profile", "created_at", "finished_at", "as_of_block", "as_of_time",
                "n_addresses")


@router.get("/v1/runs", tags=["runs"], summary="Scoring runs, newest first, and the one answering now")
def get_runs(request: Request, state: State, limit: int = 20) -> Response:
    if not 1 <= limit <= 1000:
        raise ApiError("invalid_request", "limit is 1..1000")
    st = state.thread_store()
    st.fail_stale_runs()   # a run left 'running' by a killed process is reported failed, not running
    rows = st.execute(
        f"SELECT {', '.join(_RUN_COLUMNS)} FROM scoring_runs ORDER BY created_at DESC, run_id DESC LIMIT ?",
        [limit]).fetchall()
    try:
        current: str | None = st.run().run_id
    except NoScoringRun:
        current = None
    admin = caller(request).role == "admin"
    return json_response({"current": current, "scoring_in_progress": state.scoring.in_progress,
                          "last_error": state.scoring.error if admin else None,  # engine internals: admin only
                          "runs": [dict(zip(_RUN_COLUMNS, r, strict=True)) for r in rows]})


@router.post("/v1/runs", tags=["admin"], status_code=202, openapi_extra={"requestBody": RUN_BODY},
             summary="Start a scoring run inside the service (admin)", responses=error_responses(403, 409, 422))
async def post_run(request: Request, state: State) -> Response:
    require_admin(request)
    raw = await request.body()
    body = await json_body(request) if raw.strip() else {}
    if not isinstance(body, dict):
        raise ApiError("invalid_request", "the body is a JSON object {\"profile\": ..., \"max_hops\": ...}")
    profile = body.get("profile", "cn")
    hops = body.get("max_hops")
    if not isinstance(profile, str) or (hops is not None and (not isinstance(hops, int) or isinstance(hops, bool)
                                                              or not 1 <= hops <= 10)):
        raise ApiError("invalid_request", "'profile' is a profile name and 'max_hops' an integer 1..10")
    await run_in_threadpool(state.scoring.start, profile, hops, state.settings.profiles_dir)
    return json_response({"status": "started", "profile": profile, "max_hops": hops}, 202)
