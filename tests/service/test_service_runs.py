"""Scoring runs and the service: a run replaced while requests are in flight, scoring inside the service, and
``chainrisk serve`` as a real process (start, answer, stop with the audit log flushed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from support import scored_store as S
from support.service import Server, free_port, scored_db

import chainrisk


def _new_run(db: Path, run_id: str, created: str, subject_score: float) -> None:
    """Write a run the way the engine does: 'running' first, rows, then the flip to complete in one transaction."""
    with chainrisk.open(db) as st:
        st.execute(
            "INSERT INTO scoring_runs (run_id, created_at, status, profile, profile_json, params_json,"
            " label_sources_json) VALUES (?, ?, 'running', 'cn', '{}', '{}', '[]')", [run_id, created])
        with st.transaction():
            st.execute(f"INSERT INTO scores ({S.SCORE_COLS}) SELECT ?, address_id, CASE WHEN address_id ="
                       " (SELECT id FROM addresses WHERE address = ?) THEN ? ELSE score END, band, top_category,"
                       " categories, own_categories, min_hops, direct_usd, indirect_usd, volume_in_usd,"
                       " volume_out_usd, reason FROM scores WHERE run_id = ?",
                       [run_id, S.SUBJECT, subject_score, S.R_NEW])
            st.execute("INSERT INTO exposures (run_id, address_id, category, direction, hop_class, usd, share,"
                       " min_hop) SELECT ?, address_id, category, direction, hop_class, usd, share, min_hop"
                       " FROM exposures WHERE run_id = ?", [run_id, S.R_NEW])
            time.sleep(0.05)  # requests arrive while the rows are written but not committed
            st.execute("UPDATE scoring_runs SET status = 'complete', finished_at = ? WHERE run_id = ?",
                       [created, run_id])


@pytest.mark.slow
def test_run_replaced_under_load_no_errors_no_mixed_answers(tmp_path: Path) -> None:
    db = scored_db(tmp_path / "switch.duckdb")
    s = Server(db, rate_limit=0)
    key = s.key("read")
    subject_score = {S.R_NEW: 62.5}
    errors: list[str] = []
    seen: dict[str, int] = {}
    stop = threading.Event()

    def check(run_id: str, result: dict) -> None:
        if run_id not in subject_score:
            errors.append(f"unknown or incomplete run {run_id}")
        elif result["provenance"]["run_id"] != run_id:
            errors.append(f"mixed runs: {run_id} vs {result['provenance']['run_id']}")
        elif result["input"] == S.SUBJECT and result["risk_score"] != subject_score[run_id]:
            errors.append(f"run {run_id} answered {result['risk_score']}, not {subject_score[run_id]}")
        seen[run_id] = seen.get(run_id, 0) + 1

    def hammer(screen: bool) -> None:
        http = requests.Session()
        headers = {"X-API-Key": key}
        while not stop.is_set():
            try:
                if screen:
                    r = http.post(s.url + "/v1/screen", headers=headers, timeout=30,
                                  json=[{"address": a} for a in (S.SUBJECT, S.MULE, S.MIXER, S.CLEAN) * 50])
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:200]}")
                        continue
                    body = r.json()
                    for res in body["results"]:
                        check(body["run_id"], res)
                else:
                    r = http.get(f"{s.url}/v1/addresses/{S.SUBJECT}", headers=headers, timeout=30)
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:200]}")
                        continue
                    check(r.json()["provenance"]["run_id"], r.json())
            except requests.RequestException as e:
                errors.append(repr(e))

    threads = [threading.Thread(target=hammer, args=(i % 2 == 0,)) for i in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.3)
        for k in range(1, 6):
            rid = f"r-switch-{k}"
            subject_score[rid] = 10.0 + k
            _new_run(db, rid, f"2025-01-0{k} 00:00:00", 10.0 + k)
            time.sleep(0.2)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    try:
        assert errors == []
        assert seen.get(S.R_NEW, 0) > 0 and seen.get("r-switch-5", 0) > 0
        assert sum(seen.values()) > 100
        r = s.get(f"/v1/addresses/{S.SUBJECT}", key)
        assert r.json()["provenance"]["run_id"] == "r-switch-5" and r.json()["risk_score"] == 15.0
    finally:
        s.stop()


def test_scoring_run_inside_the_service(tmp_path: Path) -> None:
    s = Server(scored_db(tmp_path / "score.duckdb"), rate_limit=0)
    try:
        admin = s.key("admin")
        r = s.post("/v1/runs", admin, json={"profile": "no-such-profile"})
        assert r.status_code == 422
        r = s.post("/v1/runs", admin, json={"profile": "cn", "max_hops": 3})
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 60
        while True:
            body = s.get("/v1/runs", admin).json()
            if (body["current"] != S.R_NEW and not body["scoring_in_progress"]) or time.monotonic() > deadline:
                break
            assert s.get(f"/v1/addresses/{S.SUBJECT}", admin).status_code == 200  # serving meanwhile
            time.sleep(0.1)
        assert body["last_error"] is None and body["current"] != S.R_NEW, body
        new = body["current"]
        assert body["runs"][0]["run_id"] == new and body["runs"][0]["status"] == "complete"
        r = s.get(f"/v1/addresses/{S.MIXER}", admin)
        assert r.json()["provenance"]["run_id"] == new and r.json()["status"] == "ok"
    finally:
        s.stop()


@pytest.mark.slow
def test_chainrisk_serve_process(tmp_path: Path) -> None:
    db = scored_db(tmp_path / "proc.duckdb")
    with chainrisk.open(db) as st:
        from chainrisk.service.keys import create_key

        _, token = create_key(st, "proc", "read")
    port = free_port()
    env = {**os.environ, "CHAINRISK_DB": str(db)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from chainrisk.cli import main; main()", "serve", "--port", str(port)],
        env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "chainrisk serve did not start"
            time.sleep(0.1)
        # the store is held by the service: another process cannot open it (documented)
        other = subprocess.run([sys.executable, "-c", "from chainrisk.cli import main; main()", "status"],
                               env=env, capture_output=True, text=True, timeout=60)
        assert other.returncode == 6 and "in use" in other.stderr
        r = requests.get(f"{url}/v1/addresses/{S.SUBJECT}", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert r.status_code == 200 and r.json()["risk_band"] == "high"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully (lifespan: audit flushed), then re-raises SIGTERM as process managers expect
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "Traceback" not in err and "shutdown failed" not in err, err
    with chainrisk.open(db) as st:
        rows = st.execute("SELECT endpoint, status FROM audit_log ORDER BY requested_at").fetchall()
    assert ("/v1/addresses/{address}", 200) in rows
    assert json.dumps(rows).count("/healthz") == 0  # health probes are not audited (issue 13, item 12)
