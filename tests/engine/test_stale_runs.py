"""A killed `score` must not leave its run `running` forever (issue 13, item 7): the run records its process (pid,
host, lease), and a run whose process is gone (on this host) or whose lease expired is marked `failed` when the
store is next opened for writing or when runs are listed. With a real subprocess killed by SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support import scored_store as S

import chainrisk
from chainrisk.engine.score import runs

CHILD = textwrap.dedent("""
    import sys, time
    import chainrisk
    st = chainrisk.open(sys.argv[1])
    def progress(msg):
        print(msg, flush=True)
        time.sleep(120)        # hold the run in 'running' until the test kills this process
    chainrisk.score(st, profile="cn", on_progress=progress)
""")


def test_killed_score_run_is_marked_failed(tmp_path: Path) -> None:
    db = tmp_path / "k.duckdb"
    with chainrisk.open(db) as st:
        S.build(st, runs=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None and child.stdout.readline().strip()   # the run row is written by now
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    with chainrisk.open(db) as st:            # opened for writing: the dead process's run is failed
        [run] = runs(st)
        assert run["status"] == "failed"
        pid, host, error = st.execute("SELECT pid, host, error FROM scoring_runs").fetchone()
        assert pid == child.pid and host == socket.gethostname()
        assert f"pid {child.pid}" in error and "no longer running" in error


def test_expired_lease_of_another_host_fails_when_listed(store) -> None:
    S.build(store)
    now = datetime.now(UTC).replace(tzinfo=None)
    store.execute("UPDATE scoring_runs SET host = 'another-host', pid = 1, lease_until = ? WHERE run_id = ?",
                  [now - timedelta(minutes=1), S.R_RUNNING])
    store.execute(
        "INSERT INTO scoring_runs (run_id, created_at, status, profile, profile_json, params_json, host, pid,"
        " lease_until, label_sources_json) VALUES ('r-live', ?, 'running', 'cn', '{}', '{}', 'another-host', 1, ?, '[]')",
        [now, now + timedelta(minutes=30)])
    status = {r["run_id"]: r["status"] for r in runs(store)}
    assert status[S.R_RUNNING] == "failed" and status["r-live"] == "running"
    (error,) = store.execute("SELECT error FROM scoring_runs WHERE run_id = ?", [S.R_RUNNING]).fetchone()
    assert "lease" in error and "another-host" in error


def test_own_process_run_is_left_alone(store) -> None:
    S.build(store)
    store.execute("UPDATE scoring_runs SET host = ?, pid = ?, lease_until = now()::TIMESTAMP + INTERVAL 1 HOUR"
                  " WHERE run_id = ?", [socket.gethostname(), os.getpid(), S.R_RUNNING])
    assert {r["run_id"]: r["status"] for r in runs(store)}[S.R_RUNNING] == "running"
