"""Screening jobs: an uploaded file (CSV, XLSX, JSONL or one address per line) is screened in a background
thread with :func:`chainrisk.screen.screen`; its result is a CSV to download.

The output has one row per input row, in input order: the bank's columns, then the verdict columns of
:data:`chainrisk.answers.screen.RESULT_COLUMNS` (read-role safe: no label sources). A whole job is answered by one scoring
run, pinned when the job is accepted. Jobs survive a restart; a job that was running when the service stopped
is marked failed. The uploaded file is deleted once screened (it carries customer columns).
"""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ApiError

if TYPE_CHECKING:
    from ..store import Store
    from .keys import ApiKey

log = logging.getLogger(__name__)

_JOB_COLUMNS = ("job_id", "key_id", "created_at", "finished_at", "status", "filename", "rows_in", "rows_out",
                "run_id", "error")
SUFFIXES = {"csv": ".csv", "txt": ".txt", "jsonl": ".jsonl", "json": ".json", "xlsx": ".xlsx", "parquet": ".parquet"}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Jobs:
    def __init__(self, open_store: Any, folder: Path, store: Store) -> None:
        self._open_store = open_store
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chainrisk-job")
        store.execute("UPDATE screen_jobs SET status = 'failed', finished_at = ?, error = ?"
                      " WHERE status IN ('queued', 'running')",
                      [_now(), "the service stopped before the job finished; submit it again"])

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, store: Store, key: ApiKey, data: bytes, filename: str | None, address_column: str,
               run_id: str) -> dict[str, Any]:
        if not data.strip():
            raise ApiError("invalid_request", "the upload is empty; send a file with an address column")
        ext = (filename or "").rsplit(".", 1)[-1].lower() if filename and "." in filename else "csv"
        suffix = SUFFIXES.get(ext, ".csv")
        job_id = "j" + secrets.token_hex(8)
        src = self.folder / f"{job_id}.in{suffix}"
        src.write_bytes(data)
        store.execute("INSERT INTO screen_jobs (job_id, key_id, created_at, status, filename, run_id)"
                      " VALUES (?, ?, ?, 'queued', ?, ?)",
                      [job_id, key.key_id, _now(), (filename or "")[:200] or None, run_id])
        self._pool.submit(self._run, job_id, src, address_column, run_id, key.role)
        return self.get(store, job_id, key)

    def get(self, store: Store, job_id: str, key: ApiKey) -> dict[str, Any]:
        row = store.execute(f"SELECT {', '.join(_JOB_COLUMNS)} FROM screen_jobs WHERE job_id = ?", [job_id]).fetchone()
        if row is None or (key.role != "admin" and row[1] != key.key_id):
            raise ApiError("job_not_found", f"no screening job {job_id[:64]!r} for this key")
        d = dict(zip(_JOB_COLUMNS, row, strict=True))
        for k in ("created_at", "finished_at"):
            d[k] = d[k].isoformat() if d[k] else None
        d["result_url"] = f"/v1/screen/jobs/{job_id}/result" if d["status"] == "complete" else None
        return d

    def result_path(self, store: Store, job_id: str, key: ApiKey) -> tuple[Path, dict[str, Any]]:
        d = self.get(store, job_id, key)
        if d["status"] == "failed":
            raise ApiError("job_failed", f"screening job {job_id} failed: {d['error']}")
        if d["status"] != "complete":
            raise ApiError("job_not_ready", f"screening job {job_id} is {d['status']}; poll its status")
        return self.folder / f"{job_id}.out.csv", d

    def _run(self, job_id: str, src: Path, address_column: str, run_id: str, role: str) -> None:
        from ..answers.screen import screen
        from ..errors import ChainriskError

        dst = self.folder / f"{job_id}.out.csv"
        store = self._open_store()
        try:
            store.execute("UPDATE screen_jobs SET status = 'running' WHERE job_id = ?", [job_id])
            res = screen(store, src, address_column=address_column, run_id=run_id, output=dst, role=role,
                         report_path=self.folder / f"{job_id}.report.json")
            counts = res.report["counts"]
            store.execute("UPDATE screen_jobs SET status = 'complete', finished_at = ?, rows_in = ?, rows_out = ?"
                          " WHERE job_id = ?",
                          [_now(), res.report["input"]["rows"], counts.get("output_rows"), job_id])
        except Exception as e:
            log.warning("screening job %s failed: %s", job_id, e)
            dst.unlink(missing_ok=True)
            msg = str(e) if isinstance(e, ChainriskError) else f"internal error ({type(e).__name__})"
            msg = msg.replace(str(self.folder) + "/", "").replace(str(self.folder), "")  # no server paths
            store.execute("UPDATE screen_jobs SET status = 'failed', finished_at = ?, error = ? WHERE job_id = ?",
                          [_now(), msg, job_id])
        finally:
            src.unlink(missing_ok=True)
            store.close()
