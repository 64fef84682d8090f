"""Screening jobs: an uploaded file (CSV, XLSX, JSONL or one address per line) is screened in a background
thread with :func:`chainrisk.screen.screen`; its result is a CSV to download.

The output has one row per input row, in input order: the bank's columns, then the verdict columns of
:data:`chainrisk.answers.screen.RESULT_COLUMNS` (read-role safe: no label sources). A whole job is answered by one scoring
run, pinned when the job is accepted. Jobs survive a restart; a job that was running when the service stopped
is marked failed. The upload is streamed to a file in the jobs folder (never held in memory) and deleted once
screened (it carries customer columns). A finished job (its result CSV, report and row) is deleted
``retention_hours`` after it finished, or at once by its owner or an admin (``DELETE /v1/screen/jobs/{id}``).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ApiError, public_message

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
    def __init__(self, open_store: Any, folder: Path, store: Store, retention_hours: float = 168.0) -> None:
        self._open_store = open_store
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.retention = timedelta(hours=retention_hours)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chainrisk-job")
        self._purged_at = 0.0
        self._purge_lock = threading.Lock()
        store.execute("UPDATE screen_jobs SET status = 'failed', finished_at = ?, error = ?"
                      " WHERE status IN ('queued', 'running')",
                      [_now(), "the service stopped before the job finished; submit it again"])
        self.purge(store, force=True)
        for stray in self.folder.glob("j*.in.*"):  # uploads of a service that stopped mid-upload
            stray.unlink(missing_ok=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def upload_path(self, filename: str | None) -> tuple[str, Path]:
        """A new job id and the file its upload is streamed to."""
        ext = (filename or "").rsplit(".", 1)[-1].lower() if filename and "." in filename else "csv"
        job_id = "j" + secrets.token_hex(8)
        return job_id, self.folder / f"{job_id}.in{SUFFIXES.get(ext, '.csv')}"

    def files(self, job_id: str) -> list[Path]:
        return [self.folder / f"{job_id}.out.csv", self.folder / f"{job_id}.report.json",
                *self.folder.glob(f"{job_id}.in.*")]

    def purge(self, store: Store, *, force: bool = False) -> int:
        """Delete the jobs that finished more than the retention ago (files and rows); at most once a minute
        unless ``force``. Returns how many were deleted."""
        with self._purge_lock:
            if not force and time.monotonic() - self._purged_at < 60:
                return 0
            self._purged_at = time.monotonic()
        old = [r[0] for r in store.execute(
            "SELECT job_id FROM screen_jobs WHERE finished_at IS NOT NULL AND finished_at < ?",
            [_now() - self.retention]).fetchall()]
        for job_id in old:
            self._delete(store, job_id)
        if old:
            log.info("deleted %d screening jobs older than the retention", len(old))
        return len(old)

    def _delete(self, store: Store, job_id: str) -> None:
        for f in self.files(job_id):
            f.unlink(missing_ok=True)
        store.execute("DELETE FROM screen_jobs WHERE job_id = ?", [job_id])

    def delete(self, store: Store, job_id: str, key: ApiKey) -> dict[str, Any]:
        """Delete a finished job now (its result, report and row); ``job_not_ready`` while it runs."""
        d = self.get(store, job_id, key)
        if d["status"] in ("queued", "running"):
            raise ApiError("job_not_ready", f"screening job {job_id} is {d['status']}; delete it once it finished")
        self._delete(store, job_id)
        return {"job_id": job_id, "deleted": True}

    def submit(self, store: Store, key: ApiKey, job_id: str, src: Path, filename: str | None,
               address_column: str, run_id: str) -> dict[str, Any]:
        """Queue the job whose upload was streamed to ``src`` (see :meth:`upload_path`)."""
        self.purge(store)
        with src.open("rb") as f:
            head = f.read(65536)
        if not head.strip():
            src.unlink(missing_ok=True)
            raise ApiError("invalid_request", "the upload is empty; send a file with an address column")
        store.execute("INSERT INTO screen_jobs (job_id, key_id, created_at, status, filename, run_id)"
                      " VALUES (?, ?, ?, 'queued', ?, ?)",
                      [job_id, key.key_id, _now(), (filename or "")[:200] or None, run_id])
        self._pool.submit(self._run, job_id, src, address_column, run_id, key.role)
        return self.get(store, job_id, key)

    def get(self, store: Store, job_id: str, key: ApiKey) -> dict[str, Any]:
        self.purge(store)
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
            msg = public_message(msg.replace(str(self.folder) + "/", "").replace(str(self.folder), ""))
            store.execute("UPDATE screen_jobs SET status = 'failed', finished_at = ?, error = ? WHERE job_id = ?",
                          [_now(), msg, job_id])
        finally:
            src.unlink(missing_ok=True)
            store.close()
