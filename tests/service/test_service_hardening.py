"""Issue 13: the service under attack and accident — audit rows survive a kill, slow clients cannot starve it,
unauthenticated endpoints are rate-limited, profiles are names, key names and audit text are clean, uploads
stream to disk, finished jobs are deleted, forwarded client addresses come only from trusted proxies.

The kill and slowloris tests run ``chainrisk serve`` as its own process (the slowloris one under a 1,024
file-descriptor limit), the others the in-process test server."""

from __future__ import annotations

import contextlib
import getpass
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from support import scored_store as S
from support.service import Server, error_code, free_port, scored_db

import chainrisk
from chainrisk.service.keys import create_key

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def serve_process(db: Path, *args: str, nofile: int | None = None) -> Iterator[tuple[subprocess.Popen, str]]:
    """``chainrisk serve`` as a child process on a free port; yields (process, base URL)."""
    port = free_port()

    def limits() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from chainrisk.cli import main; main()", "--db", str(db), "-q", "serve",
         "--port", str(port), *args],
        env=env, preexec_fn=limits, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"chainrisk serve exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            with contextlib.suppress(requests.RequestException):
                if requests.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scored_db(tmp_path_factory.mktemp("hard") / "svc.duckdb")


def copy_db(src: Path, dst_dir: Path) -> Path:
    dst = dst_dir / "svc.duckdb"
    dst.write_bytes(src.read_bytes())
    return dst


# -- item 6: a request is answered only after its audit row is durable -----------------------------------------


@pytest.mark.slow
def test_every_answered_request_has_its_audit_row_after_sigkill(scored, tmp_path):
    db = copy_db(scored, tmp_path)
    with chainrisk.open(db) as st:
        _, token = create_key(st, "kill-test", "read")
    answered: list[str] = []
    with serve_process(db, "--rate-limit", "0") as (proc, url):
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"

        def hammer(n: int) -> None:
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {token}"
            for _ in range(n):
                try:
                    r = s.get(f"{url}/v1/addresses/{S.SUBJECT}", timeout=10)
                except requests.RequestException:
                    return
                answered.append(r.headers["x-request-id"])

        threads = [threading.Thread(target=hammer, args=(100,)) for _ in range(4)]
        for t in threads:
            t.start()
        while len(answered) < 150:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # mid-stream: some requests are in flight
        proc.wait()
        for t in threads:
            t.join()
    assert len(answered) >= 150
    with chainrisk.open(db) as st:
        ids = {r[0] for r in st.execute("SELECT request_id FROM audit_log").fetchall()}
    lost = [x for x in answered if x not in ids]
    assert not lost, f"{len(lost)} of {len(answered)} answered requests have no audit row"


# -- item 11: slow clients (slowloris) -------------------------------------------------------------------------


@pytest.mark.slow
def test_legitimate_clients_are_served_while_1000_slow_connections_are_open(scored, tmp_path):
    need_fds = 1100 + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need_fds:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    db = copy_db(scored, tmp_path)
    with chainrisk.open(db) as st:
        _, token = create_key(st, "legit", "read")
    slow: list[socket.socket] = []
    with serve_process(db, "--rate-limit", "0", "--header-timeout", "4", nofile=1024) as (_proc, url):
        port = int(url.rsplit(":", 1)[1])
        try:
            for _ in range(1000):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET /v1/runs HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # headers never finished
                slow.append(s)
            served = 0
            for _ in range(20):
                r = requests.get(f"{url}/v1/addresses/{S.SUBJECT}", headers={"Authorization": f"Bearer {token}"},
                                 timeout=10)
                served += r.status_code == 200
            assert served == 20
            # the slow connections are closed by the header timeout (or to make room at the connection cap)
            time.sleep(5)
            closed = 0
            for s in slow:
                s.settimeout(0.5)
                try:
                    closed += s.recv(1) == b""
                except (ConnectionResetError, BrokenPipeError):
                    closed += 1
                except TimeoutError:
                    pass
            assert closed == 1000
            r = requests.get(f"{url}/v1/addresses/{S.SUBJECT}", headers={"Authorization": f"Bearer {token}"},
                             timeout=10)
            assert r.status_code == 200
        finally:
            for s in slow:
                s.close()


def test_a_body_that_stops_arriving_times_out(tmp_path):
    s = Server(scored_db(tmp_path / "svc.duckdb"), rate_limit=0, body_timeout=1.0)
    try:
        key = s.key("read")
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
            sock.sendall(b"POST /v1/screen HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 100\r\n\r\n[{\"addr")
            data = sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 408") and b"request_timeout" in data
    finally:
        s.stop()


# -- item 12: unauthenticated endpoints are rate-limited; health probes are not audited --------------------------


def test_public_endpoints_are_rate_limited_and_health_probes_not_audited(tmp_path):
    s = Server(scored_db(tmp_path / "svc.duckdb"), rate_limit=1, burst=3)
    try:
        codes = [s.get("/healthz").status_code for _ in range(6)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
        r = s.get("/openapi.json")
        assert r.status_code == 429 and error_code(r) == "rate_limited" and r.headers["Retry-After"]
        s.service.audit.flush()
        endpoints = [r[0] for r in s.service.store.execute("SELECT endpoint FROM audit_log").fetchall()]
        assert "/healthz" not in endpoints and "/readyz" not in endpoints
    finally:
        s.stop()


# -- item 9: profiles by name only; no server path or CLI hint in errors ---------------------------------------


def test_runs_take_profile_names_only(tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "bank.toml").write_text((ROOT / "chainrisk" / "profiles" / "cn.toml").read_text())
    db = scored_db(tmp_path / "svc.duckdb")
    s = Server(db, rate_limit=0, profiles_dir=str(profiles))
    try:
        admin = s.key("admin")
        for bad in ("/proc/self/environ", "/root", "../../etc/passwd", str(profiles / "bank.toml"), "cn.toml",
                    "nope"):
            r = s.post("/v1/runs", admin, json={"profile": bad})
            assert r.status_code == 422 and error_code(r) == "invalid_request", (bad, r.text)
            msg = r.json()["error"]["message"]
            assert "/proc" not in msg and "/root" not in msg and str(tmp_path) not in msg and "--" not in msg, msg
            assert "bank" in msg and "cn" in msg  # the names accepted
        r = s.post("/v1/runs", admin, json={"profile": "bank"})
        assert r.status_code == 202, r.text
        s.service.scoring.join()
        assert s.service.scoring.error is None
    finally:
        s.stop()


def test_errors_name_no_server_path_or_cli_hint(tmp_path):
    db = tmp_path / "norun.duckdb"
    with chainrisk.open(db) as st:
        S.build(st, runs=False)
    s = Server(db, rate_limit=0)
    try:
        key = s.key("read")
        r = s.get(f"/v1/addresses/{S.SUBJECT}", key)
        msg = r.json()["error"]["message"]
        assert r.status_code == 503 and str(tmp_path) not in msg and "chainrisk score" not in msg
        assert "POST /v1/runs" in msg
    finally:
        s.stop()


# -- item 10: key names and audit text -------------------------------------------------------------------------


def test_key_names_refuse_control_characters_and_audit_text_is_escaped(tmp_path):
    s = Server(scored_db(tmp_path / "svc.duckdb"), rate_limit=0)
    try:
        admin = s.key("admin")
        for name in ("evil\x00key", "red\x1b[31mkey", "two\nlines"):
            r = s.post("/v1/keys", admin, json={"name": name, "role": "read"})
            assert r.status_code == 422 and error_code(r) == "invalid_request", name
        assert s.post("/v1/keys", admin, json={"name": "合规部 onboarding (v2)"}).status_code == 201
        r = s.get("/v1/addresses/%1b%5b31mx%00y", admin)
        assert r.status_code == 422
        rid = r.headers["x-request-id"]
        s.service.audit.flush()
        (subject,) = s.service.store.execute("SELECT subject FROM audit_log WHERE request_id = ?", [rid]).fetchone()
        assert "\x1b" not in subject and "\x00" not in subject and subject == "\\x1b[31mx\\x00y"
    finally:
        s.stop()


def test_cli_keys_record_the_os_user(tmp_path, capsys):
    from chainrisk.cli import main

    db = tmp_path / "k.duckdb"
    with contextlib.suppress(SystemExit):
        main(["--db", str(db), "keys", "create", "--name", "ops", "--format", "json"])
    assert f'"created_by": "cli:{getpass.getuser()}"' in capsys.readouterr().out.replace('":"', '": "')


# -- item 13: uploads are streamed to disk ---------------------------------------------------------------------


def test_an_upload_is_on_disk_before_it_has_all_arrived(tmp_path):
    s = Server(scored_db(tmp_path / "svc.duckdb"), rate_limit=0)
    try:
        key = s.key("read")
        first = b"address\n" + (S.SUBJECT.encode() + b"\n") * 2000
        seen: list[int] = []

        def body() -> Iterator[bytes]:
            yield first
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # the server wrote the first part before the rest was sent
                sizes = [p.stat().st_size for p in s.service.jobs.folder.glob("j*.in.*")]
                if sizes and sizes[0] >= len(first):
                    seen.append(sizes[0])
                    break
                time.sleep(0.02)
            yield (S.MULE.encode() + b"\n") * 10

        r = s.post("/v1/screen/jobs", key, data=body(), headers={"Content-Type": "text/csv"})
        assert r.status_code == 202, r.text
        assert seen and seen[0] >= len(first)
    finally:
        s.stop()


# -- item 14: job retention and DELETE -------------------------------------------------------------------------


def _wait(s: Server, job_id: str, key: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        d = s.get(f"/v1/screen/jobs/{job_id}", key).json()
        if d["status"] in ("complete", "failed"):
            return d
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_jobs_are_deleted_on_request_and_after_the_retention(tmp_path):
    s = Server(scored_db(tmp_path / "svc.duckdb"), rate_limit=0, job_retention_hours=1)
    try:
        key, other = s.key("read", "a"), s.key("read", "b")
        upload = f"address\n{S.SUBJECT}\n".encode()
        job = s.post("/v1/screen/jobs", key, data=upload, headers={"Content-Type": "text/csv"}).json()["job_id"]
        assert _wait(s, job, key)["status"] == "complete"
        folder = s.service.jobs.folder
        assert list(folder.glob(f"{job}.*"))
        assert s.delete(f"/v1/screen/jobs/{job}", other).status_code == 404  # not the owner
        r = s.delete(f"/v1/screen/jobs/{job}", key)
        assert r.status_code == 200 and r.json() == {"job_id": job, "deleted": True}
        assert not list(folder.glob(f"{job}.*"))
        assert s.get(f"/v1/screen/jobs/{job}", key).status_code == 404
        assert s.get(f"/v1/screen/jobs/{job}/result", key).status_code == 404

        job2 = s.post("/v1/screen/jobs", key, data=upload, headers={"Content-Type": "text/csv"}).json()["job_id"]
        assert _wait(s, job2, key)["status"] == "complete"
        st = s.service.store
        assert s.service.jobs.purge(st, force=True) == 0  # finished just now: kept
        st.execute("UPDATE screen_jobs SET finished_at = finished_at - INTERVAL 2 HOUR WHERE job_id = ?", [job2])
        assert s.service.jobs.purge(st, force=True) == 1
        assert not list(folder.glob(f"{job2}.*"))
        assert s.get(f"/v1/screen/jobs/{job2}", key).status_code == 404
    finally:
        s.stop()


# -- also: the client behind a trusted proxy --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("trusted", [True, False])
def test_forwarded_client_only_from_a_trusted_proxy(scored, tmp_path, trusted):
    db = copy_db(scored, tmp_path)
    with chainrisk.open(db) as st:
        _, token = create_key(st, "proxy", "read")
    args = ["--rate-limit", "0", *(["--trusted-proxy", "127.0.0.1"] if trusted else [])]
    with serve_process(db, *args) as (_proc, url):
        r = requests.get(f"{url}/v1/runs", headers={"Authorization": f"Bearer {token}",
                                                   "X-Forwarded-For": "203.0.113.7"}, timeout=10)
        rid = r.headers["x-request-id"]
    with chainrisk.open(db) as st:
        (client,) = st.execute("SELECT client FROM audit_log WHERE request_id = ?", [rid]).fetchone()
    assert client == ("203.0.113.7" if trusted else "127.0.0.1")


# -- also: key expiry and rotation ------------------------------------------------------------------------------


def test_keys_expire_and_rotate(tmp_path):
    s = Server(scored_db(tmp_path / "svc.duckdb"), rate_limit=0)
    try:
        admin = s.key("admin")
        r = s.post("/v1/keys", admin, json={"name": "temp", "role": "read", "expires_in_days": 1})
        assert r.status_code == 201 and r.json()["expires_at"]
        made = r.json()
        assert s.get("/v1/runs", made["token"]).status_code == 200
        s.service.store.execute("UPDATE api_keys SET expires_at = now()::TIMESTAMP - INTERVAL 1 MINUTE"
                                " WHERE key_id = ?", [made["key_id"]])
        s.service.keys.reload()
        r = s.get("/v1/runs", made["token"])
        assert r.status_code == 401 and error_code(r) == "expired_api_key"
        assert s.post("/v1/keys", admin, json={"name": "x", "expires_in_days": 0}).status_code == 422

        key = s.post("/v1/keys", admin, json={"name": "rotating"}).json()
        r = s.post(f"/v1/keys/{key['key_id']}/rotate", admin)
        assert r.status_code == 200 and r.json()["key_id"] == key["key_id"] and r.json()["rotated_by"]
        new = r.json()["token"]
        assert new != key["token"]
        assert s.get("/v1/runs", key["token"]).status_code == 401  # the old token stops at once
        assert s.get("/v1/runs", new).status_code == 200
        assert s.post("/v1/keys/k00000000/rotate", admin).status_code == 404
        assert s.post(f"/v1/keys/{key['key_id']}/rotate", new).status_code == 403  # a read key
    finally:
        s.stop()
