"""Everything the service holds while it runs, in one object made by one call: ``ServiceState(settings)``.

The state holds the store (read-write: migrations, keys, audit and jobs are written), a connection per worker
thread, the API keys, the audit log, the rate limiter, the screening jobs, the pinned latest complete run, the
run provenances, the in-memory scores of the current run, and the scoring run started inside the service. The
gate and the routes receive it explicitly (the gate at construction, routes as a FastAPI dependency); nothing
in the service is a module-level mutable global.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import store as store_mod
from ..engine.score import score
from ..errors import ChainriskError
from ..monitoring.alerts import evaluate_pending
from ..monitoring.delivery import deliver_due, enqueue
from ..monitoring.follow import FollowSettings, FollowThread
from ..profiles import Profile, available, load_profile
from ..store import Store
from .answers import Provenances, RunCache, RunPin
from .audit import AuditLog
from .errors import ApiError
from .jobs import Jobs
from .keys import KeyRing
from .limits import RateLimiter

log = logging.getLogger(__name__)


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
    header_timeout: float = 10.0          # seconds for a connection to send a request's headers
    body_timeout: float = 30.0            # seconds between two parts of a request body
    keepalive_timeout: float = 5.0        # seconds an idle keep-alive connection stays open
    max_connections: int | None = None    # open connections (default: the fd limit less 128)
    profiles_dir: str | None = None       # POST /v1/runs: profiles by name from here (besides the bundled ones)
    job_retention_hours: float = 168.0    # screening job files and rows are deleted this long after they finish
    trusted_proxies: tuple[str, ...] = ()  # reverse proxies whose X-Forwarded-For names the client
    follow: FollowSettings | None = None  # follow a node inside the service (chainrisk.monitoring.follow)


class ServiceState:
    """The service's settings, store, keys, audit log, rate limiter, jobs, run pin, caches and scoring run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = store_mod.open(settings.db)   # migrates (incl. the service tables); holds the write lock
        try:
            made = self.store.ensure_indexes()
            if made:
                log.info("created lookup indexes: %s", ", ".join(made))
        except Exception:
            log.exception("could not create the lookup indexes; lookups will scan")
        self._local = threading.local()
        self._opened: list[Store] = []
        self._opened_lock = threading.Lock()
        self.keys = KeyRing(self.store)
        self.audit = AuditLog(self.open_store(), interval=settings.audit_interval)
        self.limiter = RateLimiter(settings.rate_limit, settings.burst)
        folder = Path(settings.jobs_dir) if settings.jobs_dir else Path(str(settings.db) + ".jobs")
        self.jobs = Jobs(self.open_store, folder, self.store, settings.job_retention_hours)
        self.pin = RunPin()
        self.provenances = Provenances()
        self.cache = LookupCache(self.open_store, settings.cache_max_addresses)
        self.scoring = Scoring(self.open_store, self.pin)
        # serve --follow: new blocks, rescoring and alerts in this process (it owns the store's writes)
        self.follow = FollowThread(self.open_store, settings.follow, on_new_run=self._new_run,
                                   may_score=lambda: not self.scoring.in_progress) if settings.follow else None

    def _new_run(self, run_id: str) -> None:
        self.pin.invalidate()
        self.cache.get(run_id)   # start holding the new run's scores in memory
    def open_store(self) -> Store:
        """A new connection to the same database (DuckDB shares one instance per process)."""
        st = store_mod.open(self.store.path)
        st.execute("SET enable_progress_bar = false").fetchall()  # a service prints no progress bars
        with self._opened_lock:
            self._opened.append(st)
        return st

    def thread_store(self) -> Store:
        """This thread's connection (opened on first use, closed with the state)."""
        st: Store | None = getattr(self._local, "store", None)
        if st is None:
            st = self._local.store = self.open_store()
        return st

    def close(self) -> None:
        """Wait for the background work, flush the audit log and close every connection."""
        if self.follow is not None:
            self.follow.stop()
        self.scoring.join()
        self.cache.join()
        self.jobs.close()
        self.audit.close()
        with self._opened_lock:
            for st in self._opened:
                with contextlib.suppress(Exception):
                    st.close()
        self.store.close()


class LookupCache:
    """The current run's scores held in memory (:class:`RunCache`), built in a background thread on demand."""

    def __init__(self, open_store: Callable[[], Store], max_addresses: int) -> None:
        self._open_store = open_store
        self.max_addresses = max_addresses
        self.current: RunCache | None = None
        self._wanted: str | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.max_addresses > 0

    def ready(self, run_id: str) -> RunCache | None:
        """The in-memory scores of ``run_id`` if built (no store access, no thread started), else None."""
        cache = self.current
        return cache if cache is not None and cache.run_id == run_id else None

    def get(self, run_id: str) -> RunCache | None:
        """The in-memory scores of ``run_id`` when built; starts building them (in the background) otherwise."""
        cache = self.ready(run_id)
        if cache is not None:
            return cache
        with self._lock:
            if not self.enabled or self._wanted == run_id:
                return None
            self._wanted = run_id
        self._thread = threading.Thread(target=self._build, args=(run_id,), name="chainrisk-cache", daemon=True)
        self._thread.start()
        return None

    def _build(self, run_id: str) -> None:
        st = self._open_store()
        try:
            (n,) = st.execute("SELECT count(*) FROM scores WHERE run_id = ?", [run_id]).fetchall()[0]
            if n > self.max_addresses:
                log.info("run %s has %s scored addresses, more than the cache limit; lookups query", run_id, n)
                return
            self.current = RunCache(st, run_id)
            log.info("run %s: %s scored addresses held in memory", run_id, n)
        except Exception:
            log.exception("could not build the in-memory scores of run %s; lookups query the store", run_id)
        finally:
            st.close()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()


PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def profile_names(profiles_dir: str | None) -> list[str]:
    """The profile names ``POST /v1/runs`` accepts: the bundled ones and the ``*.toml`` of ``profiles_dir``."""
    names = set(available())
    if profiles_dir and Path(profiles_dir).is_dir():
        names |= {p.stem for p in Path(profiles_dir).glob("*.toml") if PROFILE_NAME.fullmatch(p.stem)}
    return sorted(names)


def named_profile(name: str, profiles_dir: str | None) -> Profile:
    """The profile called ``name``: ``<profiles_dir>/<name>.toml`` first, else the bundled one. ``name`` is a
    plain name (letters, digits, ``_ . -``), never a path; errors say only the name and the names accepted."""
    names = profile_names(profiles_dir)
    if not PROFILE_NAME.fullmatch(name) or ".." in name or name not in names:
        shown = repr(name) if PROFILE_NAME.fullmatch(name) else "(a profile is a name, not a path)"
        raise ApiError("invalid_request", f"unknown profile {shown}; the profiles here are: {', '.join(names)}")
    path = Path(profiles_dir) / f"{name}.toml" if profiles_dir else None
    try:
        return load_profile(str(path) if path is not None and path.is_file() else name)
    except ChainriskError as e:
        msg = str(e)
        for p in filter(None, (str(path) if path else None, profiles_dir)):
            msg = msg.replace(p, "")
        msg = re.sub(r"(/[^\s,;:'\"]+)+", "<path>", msg).replace(", or give a .toml path", "")
        raise ApiError("invalid_request", f"profile {name!r} does not load: {msg}") from None


class Scoring:
    """At most one scoring run at a time, in a background thread of the service on its own connection."""

    def __init__(self, open_store: Callable[[], Store], pin: RunPin) -> None:
        self._open_store = open_store
        self._pin = pin
        self._lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.error: str | None = None  # the last run's failure, for GET /v1/runs (admin)

    @property
    def in_progress(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, profile: str, max_hops: int | None, profiles_dir: str | None = None) -> None:
        """Start a run under the profile named ``profile`` (bundled, or ``NAME.toml`` in ``profiles_dir``);
        ``scoring_in_progress`` while one runs, ``invalid_request`` for an unknown name or a profile that does not
        load. Never a path: the message names no server path and no CLI option."""
        with self._lock:
            if self.in_progress:
                raise ApiError("scoring_in_progress")
            prof = named_profile(profile, profiles_dir)
            self.thread = threading.Thread(target=self._work, args=(prof, max_hops), name="chainrisk-score",
                                           daemon=True)
            self.thread.start()

    def _work(self, prof: Profile, max_hops: int | None) -> None:
        st = self._open_store()
        try:
            score(st, prof, max_hops)
            self.error = None
            self._pin.invalidate()
            evaluate_pending(st)   # the watchlists' alerts of the new run, then their webhooks
            enqueue(st)
            deliver_due(st)
        except Exception as e:  # recorded in scoring_runs by score(); keep the message for /v1/runs
            log.exception("scoring run failed")
            self.error = f"{type(e).__name__}: {e}".replace(str(Path(st.path).resolve().parent), "<store folder>")

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
