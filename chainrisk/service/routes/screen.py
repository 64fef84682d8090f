"""Screening: ``POST /v1/screen`` (up to ``max_items`` addresses answered at once) and screening jobs
(``POST /v1/screen/jobs`` uploads a file screened in the background; its status and its result CSV)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from ..answers import answer_many
from ..errors import ApiError
from ..http import (
    MAX_ADDRESS_TEXT,
    MAX_REFERENCE,
    State,
    caller,
    error_responses,
    json_body,
    json_response,
    note,
    raw_json,
)

router = APIRouter(tags=["screening"])

SCREEN_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "array", "maxItems": 10_000,
        "items": {"type": "object", "required": ["address"], "properties": {
            "address": {"type": "string", "maxLength": MAX_ADDRESS_TEXT},
            "reference": {"type": ["string", "null"], "maxLength": MAX_REFERENCE},
            "chain": {"type": ["string", "null"], "maxLength": 40},
        }},
    }}},
}
UPLOAD_TYPES = ("text/csv", "text/plain", "application/octet-stream", "application/x-ndjson",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
JOB_BODY = {
    "required": True,
    "content": {"text/csv": {"schema": {"type": "string"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}


@router.post("/v1/screen", openapi_extra={"requestBody": SCREEN_BODY},
             summary="Screen up to 10,000 addresses; one result per item, in order",
             responses=error_responses(400, 413, 415, 422, 503))
async def screen(request: Request, state: State) -> Response:
    key = caller(request)
    values, refs, chains = _screen_items(await json_body(request), state.settings.max_items)
    note(request, n_addresses=len(values))

    def work() -> tuple[list[bytes], str]:
        st = state.thread_store()
        answers, run_id = answer_many(st, values, key.role == "admin", state.provenances)
        return _multi_chain_answers(st, values, chains, answers, run_id, key.role, state), run_id

    answers, run_id = await run_in_threadpool(work)
    note(request, run_id=run_id)
    parts = [b'{"reference":' + orjson.dumps(ref) + b"," + a[1:] for ref, a in zip(refs, answers, strict=True)]
    return raw_json(b'{"run_id":' + orjson.dumps(run_id) + b',"count":' + str(len(parts)).encode()
                    + b',"results":[' + b",".join(parts) + b"]}")


def _multi_chain_answers(st: Any, values: list[str], chains: list[str | None], answers: list[bytes], run_id: str,
                         role: str, state: Any) -> list[bytes]:
    """The batch answers, with the library's answer (:func:`chainrisk.answers.lookup.lookup_one`, redacted for
    ``role``) in place of the single-chain one for each EVM address the store has on a chain other than ethereum
    (combined over its chains) and for each item that names a ``chain``."""
    from ...address import Address, try_parse
    from ...answers.lookup import lookup_one
    from ..policy import redact

    parsed = [try_parse(v) for v in values]
    evm = [p.address for p in parsed if isinstance(p, Address) and p.chain != "tron"]
    if not evm and not any(chains):
        return answers
    other: set[str] = set()
    if evm:
        other = {r[0] for r in st.execute(
            "SELECT DISTINCT address FROM (SELECT address, chain FROM addresses WHERE address IN (SELECT unnest($a))"
            " UNION ALL SELECT address, chain FROM labels WHERE address IN (SELECT unnest($a))) WHERE chain <> 'ethereum'",
            {"a": sorted(set(evm))}).fetchall()}
    if not other and not any(chains):
        return answers
    prov = state.provenances.provenance(st, run_id)
    out = list(answers)
    for i, (v, p, c) in enumerate(zip(values, parsed, chains, strict=True)):
        if isinstance(p, Address) and (c is not None or p.address in other):
            res = lookup_one(st, v, prov, chain=c)
            out[i] = orjson.dumps(redact(res.to_dict(), role), default=str)
    return out


def _screen_items(body: Any, max_items: int) -> tuple[list[str], list[str | None], list[str | None]]:
    """The addresses, references and chains of a ``POST /v1/screen`` body, or ``invalid_request``/
    ``too_many_items`` naming the first bad item."""
    if not isinstance(body, list):
        raise ApiError("invalid_request", "the body is a JSON array of {\"address\": ..., \"reference\": ...}")
    if len(body) > max_items:
        raise ApiError("too_many_items", f"{len(body):,} items; at most {max_items:,} per request, "
                       "use POST /v1/screen/jobs for larger files")
    from ...answers.lookup import check_chain
    from ...errors import UsageError

    values: list[str] = []
    refs: list[str | None] = []
    chains: list[str | None] = []
    for i, item in enumerate(body):
        if not isinstance(item, dict) or not isinstance(item.get("address"), str):
            raise ApiError("invalid_request", f"item {i}: an object with a string 'address' is expected")
        ref = item.get("reference")
        if ref is not None and not isinstance(ref, str):
            raise ApiError("invalid_request", f"item {i}: 'reference' is a string or null")
        if ref is not None and len(ref) > MAX_REFERENCE:
            raise ApiError("invalid_request", f"item {i}: 'reference' is longer than {MAX_REFERENCE}")
        if len(item["address"]) > MAX_ADDRESS_TEXT:
            raise ApiError("invalid_request", f"item {i}: 'address' is longer than {MAX_ADDRESS_TEXT}")
        chain = item.get("chain")
        if chain is not None:
            if not isinstance(chain, str):
                raise ApiError("invalid_request", f"item {i}: 'chain' is a string or null")
            try:
                chain = check_chain(chain)
            except UsageError as e:
                raise ApiError("invalid_request", f"item {i}: {e}") from None
        values.append(item["address"])
        refs.append(ref)
        chains.append(chain)
    return values, refs, chains


@router.post("/v1/screen/jobs", status_code=202, openapi_extra={"requestBody": JOB_BODY},
             summary="Upload a file (CSV, XLSX, JSONL, list) to screen in the background; returns a job id",
             responses=error_responses(413, 415, 422, 503))
async def submit_job(request: Request, state: State, address_column: str = "address",
                     filename: str | None = None) -> Response:
    key = caller(request)
    ctype = request.headers.get("content-type", "text/csv").split(";")[0].strip().lower()
    if ctype not in UPLOAD_TYPES:
        raise ApiError("unsupported_media_type", "send the file as the body with 'Content-Type: text/csv' "
                       "(or application/octet-stream)")
    if not 0 < len(address_column) <= 200:
        raise ApiError("invalid_request", "address_column is 1 to 200 characters")
    job_id, src = state.jobs.upload_path(filename)
    try:
        with src.open("wb") as f:  # streamed to disk in the request's chunks: never the whole upload in memory
            async for chunk in request.stream():
                f.write(chunk)

        def submit() -> dict[str, Any]:
            st = state.thread_store()
            run = st.run()  # fail now (503 no_scoring_run) rather than in the background; pins the run
            return state.jobs.submit(st, key, job_id, src, filename, address_column, run.run_id)

        job = await run_in_threadpool(submit)
    except BaseException:
        src.unlink(missing_ok=True)
        raise
    note(request, subject=job["job_id"], run_id=job["run_id"])
    return json_response(job, 202, {"Location": f"/v1/screen/jobs/{job['job_id']}"})


@router.get("/v1/screen/jobs/{job_id}", summary="A screening job's status", responses=error_responses(404))
def job_status(request: Request, state: State, job_id: str) -> Response:
    note(request, subject=job_id[:64])
    return json_response(state.jobs.get(state.thread_store(), job_id, caller(request)))


@router.get("/v1/screen/jobs/{job_id}/result", summary="Download a finished job's CSV",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **error_responses(404, 409)})
def job_result(request: Request, state: State, job_id: str) -> Response:
    note(request, subject=job_id[:64])
    path, job = state.jobs.result_path(state.thread_store(), job_id, caller(request))
    note(request, run_id=job["run_id"], n_addresses=job["rows_out"] or 0)
    return FileResponse(path, media_type="text/csv", filename=f"chainrisk-{job_id}.csv")


@router.delete("/v1/screen/jobs/{job_id}", summary="Delete a finished job's result and record now",
               responses=error_responses(404, 409))
def delete_job(request: Request, state: State, job_id: str) -> Response:
    note(request, subject=job_id[:64])
    return json_response(state.jobs.delete(state.thread_store(), job_id, caller(request)))
