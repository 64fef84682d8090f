"""Continuous operation: follow a node's finalized blocks, rescore, raise and deliver alerts, in ONE process.

DuckDB lets one process write a store file, so the process that follows owns every write: ``chainrisk serve
--follow`` runs :class:`Follower` in a background thread of the service (lookups keep being answered on other
connections of the same process, each pinned to one complete run), ``chainrisk ingest rpc --follow`` runs it in the
foreground without HTTP. Label imports, watchlist changes and acknowledgements go through the service's admin
endpoints (or the CLI's ``--service``) while it runs.

One cycle (:meth:`Follower.step`):

1. evaluate any complete run not yet evaluated (after a crash between a run and its alerts), and send what is due;
2. ingest new blocks up to ``latest - confirmations`` (:func:`chainrisk.ingest.rpc.ingest_rpc`: resumable; a
   reorg below the stored tip is repaired there, and the alerts whose evidence it removed are retracted here);
3. rescore when at least ``rescore_after`` transfers arrived since the current run, or when anything arrived (or a
   label source changed) and ``rescore_every`` seconds passed; the new run flips to complete in one transaction,
   so readers switch from one complete run to the next and never see half of one;
4. evaluate the new run's alerts and deliver them (webhooks).

Everything a cycle decides is read back from the store, so a process killed at any point resumes where it was:
no alert is lost (alerts and deliveries are committed before they are sent; a delivery is marked delivered only
after a 2xx) and none is duplicated (idempotency keys).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..engine.score import score
from ..errors import ChainriskError, NoScoringRun
from ..store import Store, resolve_run
from . import alerts as al
from . import delivery

log = logging.getLogger(__name__)


@dataclass
class FollowSettings:
    rpc_url: str
    chain: str = "ethereum"
    tokens: list[str] | None = None
    from_block: int = 0
    confirmations: int | None = None   # None: the chain's own rule (chains.py)
    poll_s: float = 2.0                 # seconds between cycles when nothing happened
    rescore_after: int = 1              # new transfers that trigger a rescore at once (0: schedule only)
    rescore_every_s: float = 300.0      # otherwise rescore this often when anything changed
    profile: str = "cn"
    indicators: bool = True
    deliver: bool = True
    backoff_s: float = 2.0              # first webhook retry; doubles after each failure
    timeout_s: float = 30.0             # per RPC answer


@dataclass
class FollowStatus:
    running: bool = False
    cycles: int = 0
    last_cycle_at: str | None = None
    tip_block: int | None = None
    transfers_added: int = 0
    runs: int = 0
    current_run: str | None = None
    alerts_raised: int = 0
    reorgs: int = 0
    last_error: str | None = None
    errors: int = 0
    last_score_s: float | None = None   # the last rescore with its alerts and deliveries
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Follower:
    """One follower over one store connection. ``on_new_run(run_id)`` is called after each new complete run (the
    service invalidates its run pin there); ``may_score()`` says whether scoring may start now (the service
    answers False while a run it started over HTTP is in progress)."""

    def __init__(self, store: Store, settings: FollowSettings, *, on_new_run: Callable[[str], None] | None = None,
                 may_score: Callable[[], bool] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.on_new_run = on_new_run or (lambda _run_id: None)
        self.may_score = may_score or (lambda: True)
        self.status = FollowStatus()
        self._last_score = 0.0
        self._since_score = 0    # transfers this follower added since its last run (block numbers of chains and
                                 # sources differ in scale: the store's count alone can miss them)

    # -- one cycle -------------------------------------------------------------------------------------------

    def step(self) -> dict[str, Any]:
        """One cycle; returns what it did."""
        from ..ingest.rpc import ingest_rpc

        s, st = self.settings, self.store
        did: dict[str, Any] = {"transfers_added": 0, "run": None, "alerts": 0, "reorg": None}
        t0 = time.perf_counter()
        self._alerts_and_delivery(did)
        rep = ingest_rpc(st, s.rpc_url, tokens=s.tokens, from_block=s.from_block, confirmations=s.confirmations,
                         chain=s.chain, timeout=s.timeout_s, commit_seconds=1.0)
        t1 = time.perf_counter()
        did["transfers_added"] = rep.transfers_added
        self._since_score += rep.transfers_added
        self.status.transfers_added += rep.transfers_added
        self.status.tip_block = rep.to_block
        if rep.reorg_fork_block is not None:
            retracted = al.retract_missing_evidence(st, s.chain, rep.reorg_fork_block)
            st.execute("INSERT INTO reorgs VALUES (?, ?, ?, ?, ?)", [s.chain, _now(), rep.reorg_fork_block,
                                                                     rep.reorg_deleted_transfers, retracted])
            did["reorg"] = {"fork_block": rep.reorg_fork_block, "deleted_transfers": rep.reorg_deleted_transfers,
                            "retracted_alerts": retracted}
            self.status.reorgs += 1
            log.warning("follow: reorg above block %d repaired; %d alerts retracted", rep.reorg_fork_block, retracted)
        reason = self._why_rescore(force=rep.reorg_fork_block is not None)
        t2 = time.perf_counter()
        if reason is not None and self.may_score():
            # evidence-path tables are left to the first explain of the run (prepare_reads=False): they are for
            # investigators, and building them would delay every alert
            run = score(st, s.profile, indicators=s.indicators, prepare_reads=False)
            self._last_score = time.monotonic()
            self._since_score = 0
            did["run"] = run.run_id
            did["rescore_reason"] = reason
            self.status.runs += 1
            self.status.current_run = run.run_id
            self.on_new_run(run.run_id)
            self._alerts_and_delivery(did)
        t3 = time.perf_counter()
        if did["run"] is not None:
            self.status.last_score_s = round(t3 - t2, 3)
        self.status.cycles += 1
        self.status.last_cycle_at = _now().isoformat()
        self.status.timings_s = {"ingest": round(t1 - t0, 3), "score_and_alerts": round(t3 - t2, 3)}
        return did

    def _alerts_and_delivery(self, did: dict[str, Any]) -> None:
        for ev in al.evaluate_pending(self.store):
            did["alerts"] += ev.alerts
            self.status.alerts_raised += ev.alerts
        if self.settings.deliver:
            delivery.enqueue(self.store)
            delivery.deliver_due(self.store, backoff=self.settings.backoff_s)

    def _why_rescore(self, force: bool) -> str | None:
        st, s = self.store, self.settings
        try:
            run = resolve_run(st)
        except NoScoringRun:
            (n,) = st.execute("SELECT count(*) FROM transfers").fetchone() or (0,)
            return "no run yet" if n else None
        if force:
            return "reorg repaired"
        top = -1 if run.as_of_block is None else run.as_of_block
        (new,) = st.execute("SELECT count(*) FROM transfers WHERE block_number > ?", [top]).fetchone() or (0,)
        new = max(int(new), self._since_score)
        (labels,) = st.execute("SELECT count(*) FROM label_imports WHERE imported_at > ?",
                               [run.created_at]).fetchone() or (0,)
        if s.rescore_after > 0 and new >= s.rescore_after:
            return f"{new} new transfers"
        due = time.monotonic() - self._last_score >= s.rescore_every_s
        if due and (new or labels):
            return "schedule"
        return None

    # -- the loop --------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, max_cycles: int | None = None) -> None:
        """Cycle until ``stop`` is set. A failing cycle (node unreachable, ...) is logged and retried after a
        pause; it never ends the loop. On Linux the thread lowers its own CPU priority (nice 10), so that in the
        service the threads answering lookups come first while a rescore runs."""
        self.status.running = True
        _lower_priority()
        try:
            n = 0
            while not stop.is_set() and (max_cycles is None or n < max_cycles):
                n += 1
                try:
                    did = self.step()
                    busy = did["transfers_added"] or did["run"]
                except ChainriskError as e:
                    self._failed(e)
                    busy = False
                except Exception as e:
                    log.exception("follow cycle failed")
                    self._failed(e)
                    busy = False
                if not busy:
                    stop.wait(self.settings.poll_s)
        finally:
            self.status.running = False

    def _failed(self, e: BaseException) -> None:
        self.status.errors += 1
        self.status.last_error = f"{type(e).__name__}: {e}"[:500]
        log.warning("follow: %s", self.status.last_error)


def _lower_priority() -> None:
    import contextlib
    import os

    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)   # this thread only (Linux)


class FollowThread:
    """A :class:`Follower` in a daemon thread on its own connection (the service's)."""

    def __init__(self, open_store: Callable[[], Store], settings: FollowSettings, **kw: Any) -> None:
        self.store = open_store()
        self.follower = Follower(self.store, settings, **kw)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.follower.run, args=(self.stop_event,), name="chainrisk-follow",
                                       daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
