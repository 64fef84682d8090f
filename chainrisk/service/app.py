"""The screening service: an ASGI app (FastAPI) over one chainrisk store.

    >>> from chainrisk.service import Settings, create_app
    >>> app = create_app(Settings(db="case.duckdb"))      # then: uvicorn.run(app, port=8080)

The service holds the store open read-write (DuckDB allows one writing process per file, and the audit log,
keys and jobs are written): other chainrisk processes cannot open the file while it serves. Scoring runs while
serving go through ``POST /v1/runs`` (admin), which scores in a background thread of the service process on its
own connection. Every request reads inside one transaction that first pins the latest *complete* scoring run, so
an answer never mixes two runs and a run being written is invisible until it flips to complete.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import store as store_mod
from ..address import Address, try_parse
from ..errors import ChainriskError, InputError, NoScoringRun, StoreError
from .answers import Provenances, RunCache, RunPin, answer_many, answer_one
from .audit import AuditLog, query_audit
from .errors import CODES, ERROR_SCHEMA, ApiError
from .gate import Gate
from .jobs import Jobs
from .keys import ROLES, KeyRing, create_key, list_keys, revoke_key
from .limits import RateLimiter
from .policy import redact

log = logging.getLogger(__name__)

MAX_REFERENCE = 256
MAX_ADDRESS_TEXT = 128


@dataclass
class Settings:
    db: str
    rate_limit: float = 100.0            # requests per second per key (0: no limit)
    burst: int | None = None             # bucket size (default 2 x rate)
    max_items: int = 10_000              # items per POST /v1/screen
    max_body_bytes: int = 4 * 1024 * 1024
    max_upload_bytes: int = 64 * 1024 * 1024
    jobs_dir: str | None = None          # default: <db>.jobs next to the store
    audit_interval: float = 0.5
    cache_max_addresses: int = 5_000_000  # hold the current run's scores in memory up to this size (0: never)


class Service:
    """Everything the endpoints share: stores per thread, keys, audit, limits, jobs, in-process scoring."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = store_mod.open(settings.db)   # migrates (incl. the service tables); holds the write lock
        try:
            from ..answers.lookup import ensure_indexes

            made = ensure_indexes(self.store)
            if made:
                log.info("created lookup indexes: %s", ", ".join(made))
        except Exception:
            log.exception("could not create the lookup indexes; lookups will scan")
        self._local = threading.local()
        self._opened: list[Any] = []
        self._opened_lock = threading.Lock()
        self.keys = KeyRing(self.store)
        self.audit = AuditLog(self.open_store(), interval=settings.audit_interval)
        self.limiter = RateLimiter(settings.rate_limit, settings.burst)
        folder = Path(settings.jobs_dir) if settings.jobs_dir else Path(str(settings.db) + ".jobs")
        self.jobs = Jobs(self.open_store, folder, self.store)
        self._scoring: threading.Thread | None = None
        self.scoring_error: str | None = None
        self.pin = RunPin()
        self.provenances = Provenances()
        self._cache: RunCache | None = None
        self._cache_wanted: str | None = None
        self._cache_thread: threading.Thread | None = None

    def cache_for(self, run_id: str) -> RunCache | None:
        """The in-memory scores of ``run_id`` when built; starts building them (in the background) otherwise."""
        cache = self._cache
        if cache is not None and cache.run_id == run_id:
            return cache
        with self._opened_lock:
            if self.settings.cache_max_addresses <= 0 or self._cache_wanted == run_id:
                return None
            self._cache_wanted = run_id

        def build() -> None:
            st = self.open_store()
            try:
                (n,) = st.execute("SELECT count(*) FROM scores WHERE run_id = ?", [run_id]).fetchall()[0]
                if n > self.settings.cache_max_addresses:
                    log.info("run %s has %s scored addresses, more than the cache limit; lookups query", run_id, n)
                    return
                self._cache = RunCache(st, run_id)
                log.info("run %s: %s scored addresses held in memory", run_id, n)
            except Exception:
                log.exception("could not build the in-memory scores of run %s; lookups query the store", run_id)
            finally:
                st.close()

        self._cache_thread = threading.Thread(target=build, name="chainrisk-cache", daemon=True)
        self._cache_thread.start()
        return None

    def open_store(self) -> Any:
        """A new connection to the same database (DuckDB shares one instance per process)."""
        st = store_mod.open(self.store.path)
        st.execute("SET enable_progress_bar = false").fetchall()  # a service prints no progress bars
        with self._opened_lock:
            self._opened.append(st)
        return st

    def thread_store(self) -> Any:
        st = getattr(self._local, "store", None)
        if st is None:
            st = self._local.store = self.open_store()
        return st

    def start_scoring(self, profile: str, max_hops: int | None) -> None:
        with self._opened_lock:
            if self._scoring is not None and self._scoring.is_alive():
                raise ApiError("scoring_in_progress")
            try:
                from ..engine.score import score
            except ModuleNotFoundError as e:
                if e.name != "chainrisk.engine.score":
                    raise
                raise ApiError("unavailable", "scoring is not installed in this chainrisk") from None
            from ..profiles import load_profile

            try:
                prof = load_profile(profile)
            except ChainriskError as e:
                raise ApiError("invalid_request", str(e)) from None

            def work() -> None:
                st = self.open_store()
                try:
                    score(st, prof, max_hops)
                    self.scoring_error = None
                    self.pin.invalidate()
                except Exception as e:  # recorded in scoring_runs by score(); keep the message for /v1/runs
                    log.exception("scoring run failed")
                    self.scoring_error = f"{type(e).__name__}: {e}"

            self._scoring = threading.Thread(target=work, name="chainrisk-score", daemon=True)
            self._scoring.start()

    def close(self) -> None:
        if self._scoring is not None:
            self._scoring.join()
        if self._cache_thread is not None:
            self._cache_thread.join()
        self.jobs.close()
        self.audit.close()
        with self._opened_lock:
            for st in self._opened:
                with contextlib.suppress(Exception):
                    st.close()
        self.store.close()


# -- helpers ----------------------------------------------------------------------------------------------------


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data, default=_default), status_code=status, media_type="application/json",
                    headers=headers)


def _raw(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    return str(o)


def _key(request: Request) -> Any:
    return request.state.key


def _require(request: Request, role: str) -> Any:
    key = _key(request)
    if role == "admin" and key.role != "admin":
        raise ApiError("forbidden", "this endpoint needs an admin key")
    return key


def _audit(request: Request, **kw: Any) -> None:
    request.state.audit.update(kw)


def _err(status: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"description": CODES_BY_STATUS.get(status, ""),
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}


CODES_BY_STATUS: dict[int, str] = {}
for _code, (_status, _msg) in sorted(CODES.items()):
    CODES_BY_STATUS[_status] = (CODES_BY_STATUS.get(_status, "") + f" `{_code}`").strip()


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for s in (401, 429, 500, *statuses):
        out.update(_err(s))
    return out


SCREEN_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "array", "maxItems": 10_000,
        "items": {"type": "object", "required": ["address"], "properties": {
            "address": {"type": "string", "maxLength": MAX_ADDRESS_TEXT},
            "reference": {"type": ["string", "null"], "maxLength": MAX_REFERENCE},
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
KEY_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "role": {"type": "string", "enum": list(ROLES), "default": "read"},
        }}}},
}
RUN_BODY = {
    "required": False,
    "content": {"application/json": {"schema": {
        "type": "object", "properties": {
            "profile": {"type": "string", "default": "cn"},
            "max_hops": {"type": ["integer", "null"], "minimum": 1, "maximum": 10},
        }}}},
}


async def _json_body(request: Request) -> Any:
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype not in ("application/json", ""):
        raise ApiError("unsupported_media_type", f"send JSON with 'Content-Type: application/json', not {ctype!r}")
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ApiError("malformed_json", f"the request body is not valid JSON: {e}") from None


# -- the app ----------------------------------------------------------------------------------------------------


def create_app(settings: Settings) -> FastAPI:
    """The ASGI app. The store opens at start-up (lifespan) and closes, with the audit log flushed, at shutdown."""
    holder: dict[str, Service] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        svc = holder.get("svc")
        if svc is not None:
            svc.close()

    app = FastAPI(
        title="chainrisk screening service", version=_version(), lifespan=lifespan,
        docs_url=None, redoc_url=None,
        description=("Screen blockchain addresses against the bank's own chainrisk store. Authenticate with "
                     "'Authorization: Bearer <key>' or 'X-API-Key: <key>'. Errors are "
                     '{"error": {"code", "message"}} with stable codes. See docs/service.md.'),
    )
    svc = Service(settings)
    holder["svc"] = svc
    app.state.service = svc

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        request.state.audit["error_code"] = exc.code
        return _json(exc.body(), exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return await api_error(request, ApiError("invalid_request", f"{where}: {first.get('msg', 'invalid')}"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
        return await api_error(request, ApiError(code))

    @app.exception_handler(ChainriskError)
    async def chainrisk_error(request: Request, exc: ChainriskError) -> Response:
        if isinstance(exc, NoScoringRun):
            return await api_error(request, ApiError("no_scoring_run", str(exc)))
        if isinstance(exc, StoreError):
            return await api_error(request, ApiError("store_unavailable", str(exc)))
        if isinstance(exc, InputError):
            return await api_error(request, ApiError("invalid_request", str(exc)))
        return await api_error(request, ApiError("unavailable", str(exc)))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
        return await api_error(request, ApiError("internal_error", "an unexpected error; request id "
                                                 f"{request.state.request_id} is in the audit log"))

    # -- health -------------------------------------------------------------------------------------------------

    @app.get("/healthz", tags=["health"], summary="The process is up and the store answers")
    def healthz() -> Response:
        try:
            svc.thread_store().execute("SELECT 1").fetchall()
        except Exception as e:
            raise ApiError("store_unavailable", f"the store does not answer: {e}") from None
        return _json({"status": "ok"})

    @app.get("/readyz", tags=["health"], summary="Ready when a complete scoring run exists",
             responses=_err(503))
    def readyz() -> Response:
        from ..answers.lookup import resolve_run

        run = resolve_run(svc.thread_store())
        cache = svc.cache_for(run.run_id)
        state = "off" if svc.settings.cache_max_addresses <= 0 else ("ready" if cache is not None else "building")
        return _json({"status": "ready", "run_id": run.run_id, "as_of_block": run.as_of_block,
                      "as_of_time": run.as_of_time, "lookup_cache": state})

    # -- lookup and screening -----------------------------------------------------------------------------------

    @app.get("/v1/addresses/{address}", tags=["screening"], summary="Look up one address (lookup contract)",
             responses=_errors(403, 422, 503))
    async def get_address(request: Request, address: str, explain: bool = False) -> Response:
        key = _key(request)
        _audit(request, subject=address[:MAX_ADDRESS_TEXT], n_addresses=1)
        if explain and key.role != "admin":
            raise ApiError("forbidden", "evidence paths (explain) need an admin key (no tipping-off policy)")
        parsed = try_parse(address)
        if not isinstance(parsed, Address):
            raise ApiError("invalid_address", f"{parsed.reason} (got {address[:MAX_ADDRESS_TEXT]!r})")
        _audit(request, subject=parsed.address)
        if not explain:
            # fast path, in the event loop: the pinned run is fresh, held in memory, and this address needs no
            # query (no labels, exposures or indicators); everything else goes to a worker thread
            run_id = svc.pin.peek()
            cache = svc._cache
            if run_id is not None and cache is not None and cache.run_id == run_id:
                body = cache.answer_inline(parsed, address, key.role == "admin", svc.provenances)
                if body is not None:
                    _audit(request, run_id=run_id)
                    return _raw(body)
        return await run_in_threadpool(_lookup, request, key, address, parsed, explain)

    def _lookup(request: Request, key: Any, address: str, parsed: Address, explain: bool) -> Response:
        st = svc.thread_store()
        run_id = svc.pin.get(st)
        _audit(request, run_id=run_id)
        if not explain:
            admin = key.role == "admin"
            cache = svc.cache_for(run_id)
            body = cache.answer(st, parsed, address, admin, svc.provenances) if cache is not None else None
            if body is None:  # not scored in the run (unknown), or the cache is not built yet
                body = answer_one(st, parsed, address, admin, svc.provenances, run_id)
            return _raw(body)
        from ..answers.lookup import explain_paths, lookup_one

        try:
            found = lookup_one(st, address, svc.provenances.provenance(st, run_id))
            if found.status == "ok":
                # evidence paths of a complete run are immutable; the module caches them in its own transaction
                found.evidence = explain_paths(st, parsed.address, run_id)
        except ChainriskError as e:
            if isinstance(e, StoreError):
                raise
            raise ApiError("unavailable", str(e)) from None
        return _json(redact(found.to_dict(), key.role))

    @app.post("/v1/screen", tags=["screening"], openapi_extra={"requestBody": SCREEN_BODY},
              summary="Screen up to 10,000 addresses; one result per item, in order",
              responses=_errors(400, 413, 415, 422, 503))
    async def screen(request: Request) -> Response:
        key = _key(request)
        body = await _json_body(request)
        if not isinstance(body, list):
            raise ApiError("invalid_request", "the body is a JSON array of {\"address\": ..., \"reference\": ...}")
        if len(body) > settings.max_items:
            raise ApiError("too_many_items", f"{len(body):,} items; at most {settings.max_items:,} per request, "
                           "use POST /v1/screen/jobs for larger files")
        values: list[str] = []
        refs: list[Any] = []
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
            values.append(item["address"])
            refs.append(ref)
        _audit(request, n_addresses=len(values))
        def work() -> tuple[list[bytes], str]:
            return answer_many(svc.thread_store(), values, key.role == "admin", svc.provenances)

        answers, run_id = await run_in_threadpool(work)
        _audit(request, run_id=run_id)
        parts = [b'{"reference":' + orjson.dumps(ref) + b"," + a[1:] for ref, a in zip(refs, answers, strict=True)]
        return _raw(b'{"run_id":' + orjson.dumps(run_id) + b',"count":' + str(len(parts)).encode()
                    + b',"results":[' + b",".join(parts) + b"]}")

    @app.post("/v1/screen/jobs", tags=["screening"], status_code=202, openapi_extra={"requestBody": JOB_BODY},
              summary="Upload a file (CSV, XLSX, JSONL, list) to screen in the background; returns a job id",
              responses=_errors(413, 415, 422, 503))
    async def submit_job(request: Request, address_column: str = "address", filename: str | None = None) -> Response:
        key = _key(request)
        ctype = request.headers.get("content-type", "text/csv").split(";")[0].strip().lower()
        if ctype not in UPLOAD_TYPES:
            raise ApiError("unsupported_media_type", "send the file as the body with 'Content-Type: text/csv' "
                           "(or application/octet-stream)")
        if not 0 < len(address_column) <= 200:
            raise ApiError("invalid_request", "address_column is 1 to 200 characters")
        data = await request.body()

        def submit() -> dict[str, Any]:
            from ..answers.lookup import resolve_run

            st = svc.thread_store()
            run = resolve_run(st)  # fail now (503 no_scoring_run) rather than in the background; pins the run
            return svc.jobs.submit(st, key, data, filename, address_column, run.run_id)

        job = await run_in_threadpool(submit)
        _audit(request, subject=job["job_id"], run_id=job["run_id"])
        return _json(job, 202, {"Location": f"/v1/screen/jobs/{job['job_id']}"})

    @app.get("/v1/screen/jobs/{job_id}", tags=["screening"], summary="A screening job's status",
             responses=_errors(404))
    def job_status(request: Request, job_id: str) -> Response:
        _audit(request, subject=job_id[:64])
        return _json(svc.jobs.get(svc.thread_store(), job_id, _key(request)))

    @app.get("/v1/screen/jobs/{job_id}/result", tags=["screening"], summary="Download a finished job's CSV",
             responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **_errors(404, 409)})
    def job_result(request: Request, job_id: str) -> Response:
        _audit(request, subject=job_id[:64])
        key = _key(request)
        st = svc.thread_store()
        path, job = svc.jobs.result_path(st, job_id, key)
        _audit(request, run_id=job["run_id"], n_addresses=job["rows_out"] or 0)
        return FileResponse(path, media_type="text/csv", filename=f"chainrisk-{job_id}.csv")

    # -- runs -----------------------------------------------------------------------------------------------------

    @app.get("/v1/runs", tags=["runs"], summary="Scoring runs, newest first, and the one answering now")
    def get_runs(request: Request, limit: int = 20) -> Response:
        if not 1 <= limit <= 1000:
            raise ApiError("invalid_request", "limit is 1..1000")
        st = svc.thread_store()
        st.fail_stale_runs()   # a run left 'running' by a killed process is reported failed, not running
        rows = st.execute(
            "SELECT run_id, status, profile, created_at, finished_at, as_of_block, as_of_time, n_addresses"
            " FROM scoring_runs ORDER BY created_at DESC, run_id DESC LIMIT ?", [limit]).fetchall()
        cols = ("run_id", "status", "profile", "created_at", "finished_at", "as_of_block", "as_of_time",
                "n_addresses")
        from ..answers.lookup import resolve_run

        try:
            current: str | None = resolve_run(st).run_id
        except NoScoringRun:
            current = None
        scoring = svc._scoring is not None and svc._scoring.is_alive()
        last_error = svc.scoring_error if _key(request).role == "admin" else None  # engine internals: admin only
        return _json({"current": current, "scoring_in_progress": scoring, "last_error": last_error,
                      "runs": [dict(zip(cols, r, strict=True)) for r in rows]})

    @app.post("/v1/runs", tags=["admin"], status_code=202, openapi_extra={"requestBody": RUN_BODY},
              summary="Start a scoring run inside the service (admin)", responses=_errors(403, 409, 422))
    async def post_run(request: Request) -> Response:
        _require(request, "admin")
        raw = await request.body()
        body = await _json_body(request) if raw.strip() else {}
        if not isinstance(body, dict):
            raise ApiError("invalid_request", "the body is a JSON object {\"profile\": ..., \"max_hops\": ...}")
        profile = body.get("profile", "cn")
        hops = body.get("max_hops")
        if not isinstance(profile, str) or (hops is not None and (not isinstance(hops, int) or isinstance(hops, bool)
                                                                  or not 1 <= hops <= 10)):
            raise ApiError("invalid_request", "'profile' is a profile name and 'max_hops' an integer 1..10")
        await run_in_threadpool(svc.start_scoring, profile, hops)
        return _json({"status": "started", "profile": profile, "max_hops": hops}, 202)

    # -- keys and audit (admin) -------------------------------------------------------------------------------

    @app.get("/v1/keys", tags=["admin"], summary="API keys (never their secrets)", responses=_errors(403))
    def get_keys(request: Request) -> Response:
        _require(request, "admin")
        return _json({"keys": [k.to_dict() for k in list_keys(svc.thread_store())]})

    @app.post("/v1/keys", tags=["admin"], status_code=201, openapi_extra={"requestBody": KEY_BODY},
              summary="Create a key; the token is shown once", responses=_errors(400, 403, 415, 422))
    async def post_key(request: Request) -> Response:
        admin = _require(request, "admin")
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise ApiError("invalid_request", "the body is {\"name\": \"...\", \"role\": \"read\"|\"admin\"}")
        role = body.get("role", "read")
        if role not in ROLES:
            raise ApiError("invalid_request", f"role is one of: {', '.join(ROLES)}")

        def make() -> tuple[Any, str]:
            try:
                return create_key(svc.thread_store(), body["name"], role, created_by=admin.key_id)
            except InputError as e:
                raise ApiError("invalid_request", str(e)) from None

        key, token = await run_in_threadpool(make)
        svc.keys.reload()
        _audit(request, subject=key.key_id)
        return _json({**key.to_dict(), "token": token}, 201)

    @app.delete("/v1/keys/{key_id}", tags=["admin"], summary="Revoke a key (immediately)",
                responses=_errors(403, 404))
    def delete_key(request: Request, key_id: str) -> Response:
        admin = _require(request, "admin")
        _audit(request, subject=key_id[:64])
        try:
            key = revoke_key(svc.thread_store(), key_id, revoked_by=admin.key_id)
        except InputError:
            raise ApiError("key_not_found", f"no API key with id {key_id[:64]!r}") from None
        svc.keys.reload()
        return _json(key.to_dict())

    @app.get("/v1/audit", tags=["admin"], summary="The audit log, newest first", responses=_errors(403, 422))
    def get_audit(request: Request, key_id: str | None = None, since: datetime | None = None,
                  limit: int = 100) -> Response:
        _require(request, "admin")
        if not 1 <= limit <= 10_000:
            raise ApiError("invalid_request", "limit is 1..10000")
        if since is not None and since.tzinfo is not None:
            since = since.astimezone(UTC).replace(tzinfo=None)
        svc.audit.flush()
        return _json({"entries": query_audit(svc.thread_store(), key_id=key_id, since=since, limit=limit)})

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        comps = schema.setdefault("components", {})
        comps.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        comps["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        for path, ops in schema.get("paths", {}).items():
            if path in ("/healthz", "/readyz"):
                continue
            for op in ops.values():
                op["security"] = [{"bearer": []}, {"apiKey": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    return Gate(app, svc)  # type: ignore[return-value]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chainrisk")
    except PackageNotFoundError:
        return "0.0.0+local"
