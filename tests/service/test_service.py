"""The screening service over real HTTP on a loopback port: contract, keys and roles, errors, limits, audit, jobs.

The store is the hand-built scored store of ``scored_store.py`` (real DuckDB); the expected answers come from
:func:`chainrisk.lookup.lookup` on the same store, so the HTTP contract is checked against the library contract.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
import requests
from support import scored_store as S
from support.service import Server, error_code, scored_db

import chainrisk
from chainrisk.answers.lookup import lookup

INJECTIONS = ["' OR 1=1 --", "../../etc/passwd", "..%2F..%2Fetc", "\"; DROP TABLE scores; --", "<script>x</script>",
              "0x' UNION SELECT * FROM api_keys --", "%00", "${jndi:ldap://x}"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory):
    db = scored_db(tmp_path_factory.mktemp("svc") / "svc.duckdb")
    s = Server(db, rate_limit=0)
    s.admin = s.key("admin", "compliance")  # type: ignore[attr-defined]
    s.read = s.key("read", "onboarding")  # type: ignore[attr-defined]
    yield s
    s.stop()


def expected(srv: Server, *addresses: str) -> list[dict]:
    return [r.to_dict() for r in lookup(srv.service.store, list(addresses))]


# -- health and documents -------------------------------------------------------------------------------------


def test_health_ready_and_openapi_need_no_key(srv: Server) -> None:
    assert srv.get("/healthz").json() == {"status": "ok"}
    r = srv.get("/readyz")
    assert r.status_code == 200 and r.json()["run_id"] == S.R_NEW and r.json()["status"] == "ready"
    doc = srv.get("/openapi.json").json()
    for path in ("/v1/addresses/{address}", "/v1/screen", "/v1/screen/jobs", "/v1/screen/jobs/{job_id}",
                 "/v1/screen/jobs/{job_id}/result", "/v1/runs", "/v1/keys", "/v1/audit", "/healthz", "/readyz"):
        assert path in doc["paths"], path
    assert doc["components"]["schemas"]["Error"]["properties"]["error"]["required"] == ["code", "message"]
    assert doc["paths"]["/v1/screen"]["post"]["security"]


def test_not_ready_without_a_complete_run(tmp_path: Path) -> None:
    db = tmp_path / "norun.duckdb"
    with chainrisk.open(db) as st:
        S.build(st, runs=False)
    s = Server(db, rate_limit=0)
    try:
        key = s.key("read")
        r = s.get("/readyz")
        assert r.status_code == 503 and error_code(r) == "no_scoring_run"
        r = s.get(f"/v1/addresses/{S.SUBJECT}", key)
        assert r.status_code == 503 and error_code(r) == "no_scoring_run"
        r = s.post("/v1/screen", key, json=[{"address": S.SUBJECT}])
        assert r.status_code == 503 and error_code(r) == "no_scoring_run"
        assert s.get("/healthz").status_code == 200  # alive, just not ready
    finally:
        s.stop()


# -- the lookup contract --------------------------------------------------------------------------------------


def test_admin_lookup_is_the_library_contract(srv: Server) -> None:
    for addr in (S.SUBJECT, S.SUBJECT.upper().replace("0X", "0x"), S.MULE, S.LATE, S.LABEL_ONLY, S.TRON):
        r = srv.get(f"/v1/addresses/{addr}", srv.admin)  # type: ignore[attr-defined]
        assert r.status_code == 200, r.text
        assert r.json() == json.loads(json.dumps(expected(srv, addr)[0], default=str))
    body = srv.get(f"/v1/addresses/{S.MULE}", srv.admin).json()  # type: ignore[attr-defined]
    assert body["risk_band"] == "severe" and body["provenance"]["run_id"] == S.R_NEW
    assert body["indicators"][0]["evidence"] == {"in_usd": 10000, "out_usd": 9000, "hours": 23}


def test_read_role_sees_verdicts_not_label_internals(srv: Server) -> None:
    full = srv.get(f"/v1/addresses/{S.MIXER}", srv.admin).json()  # type: ignore[attr-defined]
    r = srv.get(f"/v1/addresses/{S.MIXER}", srv.read)  # type: ignore[attr-defined]
    assert r.status_code == 200
    red = r.json()
    assert set(red) == set(full)
    for k in ("status", "risk_score", "risk_band", "categories", "exposures", "min_hops"):
        assert red[k] == full[k]
    # the reason is rebuilt from categories: the engine's names the label and its source (issue 13, item 8)
    assert "test-labels" in full["reason"] and red["reason"] == "labelled mixer" and "test-labels" not in r.text
    assert full["labels"][0]["source"] == "test-labels" and full["labels"][0]["name"]
    assert red["labels"] == [{"category": lab["category"], "active": lab["active"]} for lab in full["labels"]]
    assert "label_sources" in full["provenance"] and "label_sources" not in red["provenance"]
    assert red["provenance"]["run_id"] == S.R_NEW
    mule = srv.get(f"/v1/addresses/{S.MULE}", srv.read).json()  # type: ignore[attr-defined]
    assert mule["indicators"] == [{"indicator": "pass_through", "severity": 40, "evidence": None}]
    assert "Tornado" not in json.dumps(red["labels"])


def test_explain_needs_admin(srv: Server) -> None:
    r = srv.get(f"/v1/addresses/{S.SUBJECT}?explain=1", srv.read)  # type: ignore[attr-defined]
    assert r.status_code == 403 and error_code(r) == "forbidden"
    r = srv.get(f"/v1/addresses/{S.SUBJECT}?explain=1", srv.admin)  # type: ignore[attr-defined]
    if r.status_code == 200:
        assert isinstance(r.json()["evidence"], list)
    else:  # the evidence module is not installed in this build
        assert r.status_code == 503 and error_code(r) == "unavailable"
    r = srv.get(f"/v1/addresses/{S.SUBJECT}?explain=maybe", srv.admin)  # type: ignore[attr-defined]
    assert r.status_code == 422 and error_code(r) == "invalid_request"


def test_invalid_address_in_path(srv: Server) -> None:
    for bad in ("0x123", "not-an-address", S.SUBJECT[:-1] + "g", "0x52908400098527886E0F7030069857D2E4169ee7"):
        r = srv.get(f"/v1/addresses/{bad}", srv.read)  # type: ignore[attr-defined]
        assert r.status_code == 422 and error_code(r) == "invalid_address", bad


# -- screening ------------------------------------------------------------------------------------------------


def test_screen_in_order_with_references_and_duplicates(srv: Server) -> None:
    items = [{"address": S.SUBJECT, "reference": "cust-1"}, {"address": "bogus", "reference": "cust-2"},
             {"address": S.SUBJECT.upper().replace("0X", "0x"), "reference": None}, {"address": S.LATE},
             {"address": S.MIXER, "reference": "cust-5"}, {"address": S.SUBJECT, "reference": "cust-6"}]
    r = srv.post("/v1/screen", srv.admin, json=items)  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["run_id"] == S.R_NEW and body["count"] == len(items)
    exp = expected(srv, *(i["address"] for i in items))
    for item, got, want in zip(items, body["results"], exp, strict=True):
        assert got["reference"] == item.get("reference")
        got = dict(got)
        got.pop("reference")
        assert got == json.loads(json.dumps(want, default=str))
    assert [x["status"] for x in body["results"]] == ["ok", "invalid", "ok", "unknown", "ok", "ok"]


def test_screen_read_role_is_redacted(srv: Server) -> None:
    r = srv.post("/v1/screen", srv.read, json=[{"address": S.MIXER, "reference": "r"}])  # type: ignore[attr-defined]
    res = r.json()["results"][0]
    assert res["labels"] == [{"category": "mixer", "active": True}]
    assert "label_sources" not in res["provenance"]


def test_screen_ten_thousand_invalid_addresses(srv: Server) -> None:
    items = [{"address": f"' OR 1=1 -- {i}", "reference": f"../{i}"} for i in range(10_000)]
    r = srv.post("/v1/screen", srv.read, json=items)  # type: ignore[attr-defined]
    assert r.status_code == 200
    res = r.json()["results"]
    assert len(res) == 10_000
    assert all(x["status"] == "invalid" and x["address"] is None for x in res)
    assert [x["reference"] for x in res[:3]] == ["../0", "../1", "../2"]


def test_screen_bad_bodies(srv: Server) -> None:
    key = srv.read  # type: ignore[attr-defined]
    cases = [
        (dict(data=b"[{", headers={"Content-Type": "application/json"}), 400, "malformed_json"),
        (dict(data=b"\xff\xfe", headers={"Content-Type": "application/json"}), 400, "malformed_json"),
        (dict(json={"address": S.SUBJECT}), 422, "invalid_request"),
        (dict(json=[S.SUBJECT]), 422, "invalid_request"),
        (dict(json=[{"address": 12}]), 422, "invalid_request"),
        (dict(json=[{"address": S.SUBJECT, "reference": 5}]), 422, "invalid_request"),
        (dict(json=[{"address": S.SUBJECT, "reference": "x" * 257}]), 422, "invalid_request"),
        (dict(json=[{"address": "0x" + "a" * 500}]), 422, "invalid_request"),
        (dict(json=[{"address": S.SUBJECT}] * 10_001), 413, "too_many_items"),
        (dict(data="address\n" + S.SUBJECT, headers={"Content-Type": "text/csv"}), 415, "unsupported_media_type"),
    ]
    for kw, status, code in cases:
        r = srv.post("/v1/screen", key, **kw)
        assert (r.status_code, error_code(r)) == (status, code), (kw.get("json", kw.get("data"))[:2], r.text[:200])
    assert srv.post("/v1/screen", key, json=[]).json() == {"run_id": S.R_NEW, "count": 0, "results": []}


def test_oversized_bodies_are_refused(srv: Server) -> None:
    big = b"[" + b" " * (srv.service.settings.max_body_bytes + 10) + b"]"
    r = srv.post("/v1/screen", srv.read, data=big, headers={"Content-Type": "application/json"})  # type: ignore[attr-defined]
    assert r.status_code == 413 and error_code(r) == "payload_too_large"

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(big.__len__() // 65536 + 1):
            yield b" " * 65536

    r = srv.post("/v1/screen", srv.read, data=chunks(), headers={"Content-Type": "application/json"})  # type: ignore[attr-defined]
    assert r.status_code == 413 and error_code(r) == "payload_too_large"
    assert srv.get("/healthz").status_code == 200


def test_injection_attempts_in_every_field(srv: Server) -> None:
    with chainrisk.open(srv.db) as st:
        before = st.execute("SELECT (SELECT count(*) FROM addresses), (SELECT count(*) FROM scores),"
                            " (SELECT count(*) FROM api_keys)").fetchone()
    admin, read = srv.admin, srv.read  # type: ignore[attr-defined]
    for bad in INJECTIONS:
        q = requests.utils.quote(bad, safe="")
        for r in (
            srv.get(f"/v1/addresses/{q}", read),
            srv.get(f"/v1/screen/jobs/{q}", read),
            srv.get(f"/v1/screen/jobs/{q}/result", read),
            srv.delete(f"/v1/keys/{q}", admin),
            srv.get(f"/v1/audit?key_id={q}", admin),
            srv.get(f"/v1/runs?limit={q}", read),
            srv.post(f"/v1/screen/jobs?address_column={q}&filename={q}", read,
                     data=f"address\n{S.SUBJECT}\n", headers={"Content-Type": "text/csv"}),
            srv.post("/v1/keys", admin, json={"name": bad, "role": bad}),
            srv.get("/v1/runs", None, headers={"Authorization": f"Bearer {bad}"}),
            srv.get("/v1/runs", None, headers={"X-API-Key": bad}),
        ):
            assert r.status_code < 500, (bad, r.request.url, r.text)
            if r.status_code >= 400:
                error_code(r)
        r = srv.post("/v1/screen", read, json=[{"address": bad, "reference": bad}])
        assert r.status_code == 200 and r.json()["results"][0]["reference"] == bad
        assert r.json()["results"][0]["status"] == "invalid"
    with chainrisk.open(srv.db) as st:
        after = st.execute("SELECT (SELECT count(*) FROM addresses), (SELECT count(*) FROM scores),"
                           " (SELECT count(*) FROM api_keys)").fetchone()
    assert after == before


def test_unknown_route_and_method(srv: Server) -> None:
    r = srv.get("/v1/nothing", srv.read)  # type: ignore[attr-defined]
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = srv.http.put(srv.url + "/v1/screen", headers={"X-API-Key": srv.read}, timeout=10)  # type: ignore[attr-defined]
    assert r.status_code == 405 and error_code(r) == "method_not_allowed"


# -- keys and roles -------------------------------------------------------------------------------------------


def test_missing_wrong_and_revoked_keys(srv: Server) -> None:
    path = f"/v1/addresses/{S.SUBJECT}"
    r = srv.get(path)
    assert r.status_code == 401 and error_code(r) == "missing_api_key"
    r = srv.get(path, "Basic abc")
    assert r.status_code == 401 and error_code(r) == "invalid_api_key"
    read = srv.read  # type: ignore[attr-defined]
    r = srv.get(path, read[:-1] + ("A" if read[-1] != "A" else "B"))
    assert r.status_code == 401 and error_code(r) == "invalid_api_key"
    r = srv.get(path, "crk_k00000000_" + read.split("_", 2)[2])
    assert r.status_code == 401 and error_code(r) == "invalid_api_key"
    r = srv.get(path, None, headers={"X-API-Key": read})
    assert r.status_code == 200
    r = srv.get(path, None, headers={"Authorization": "Bearer"})
    assert r.status_code == 401 and error_code(r) == "missing_api_key"

    made = srv.post("/v1/keys", srv.admin, json={"name": "temp", "role": "read"})  # type: ignore[attr-defined]
    assert made.status_code == 201
    token, key_id = made.json()["token"], made.json()["key_id"]
    assert srv.get(path, token).status_code == 200
    r = srv.delete(f"/v1/keys/{key_id}", srv.admin)  # type: ignore[attr-defined]
    assert r.status_code == 200 and r.json()["active"] is False
    r = srv.get(path, token)
    assert r.status_code == 401 and error_code(r) == "revoked_api_key"
    r = srv.delete("/v1/keys/k99999999", srv.admin)  # type: ignore[attr-defined]
    assert r.status_code == 404 and error_code(r) == "key_not_found"


def test_read_key_on_admin_endpoints(srv: Server) -> None:
    read = srv.read  # type: ignore[attr-defined]
    for r in (srv.get("/v1/keys", read), srv.post("/v1/keys", read, json={"name": "x"}),
              srv.delete("/v1/keys/k00000000", read), srv.get("/v1/audit", read), srv.post("/v1/runs", read, json={})):
        assert r.status_code == 403 and error_code(r) == "forbidden", r.request.url


def test_keys_are_stored_hashed_and_listed_without_secrets(srv: Server) -> None:
    r = srv.get("/v1/keys", srv.admin)  # type: ignore[attr-defined]
    assert r.status_code == 200
    listed = r.json()["keys"]
    assert {k["name"] for k in listed} >= {"compliance", "onboarding"}
    secret = srv.read.split("_", 2)[2]  # type: ignore[attr-defined]
    assert secret not in r.text
    with chainrisk.open(srv.db) as st:
        dump = st.execute("SELECT string_agg(CAST(COLUMNS(*) AS VARCHAR), '|') FROM api_keys").fetchall()
        audit = st.execute("SELECT count(*) FROM audit_log WHERE list_contains([key_id, subject, endpoint], ?)",
                           [srv.read]).fetchone()  # type: ignore[attr-defined]
    assert secret not in json.dumps(dump) and audit == (0,)


def test_keys_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from chainrisk.cli import cli

    db = str(tmp_path / "k.duckdb")
    runner = CliRunner()
    r = runner.invoke(cli, ["--db", db, "keys", "create", "--name", "ops", "--role", "admin", "--format", "json"])
    assert r.exit_code == 0, r.output
    made = json.loads(r.output)
    assert made["token"].startswith(f"crk_{made['key_id']}_") and made["role"] == "admin"
    r = runner.invoke(cli, ["--db", db, "keys", "list", "--format", "json"])
    assert [k["key_id"] for k in json.loads(r.output)] == [made["key_id"]]
    assert made["token"].split("_", 2)[2] not in r.output
    r = runner.invoke(cli, ["--db", db, "keys", "revoke", made["key_id"], "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.output)["active"] is False
    r = runner.invoke(cli, ["--db", db, "keys", "list", "--active", "--format", "json"])
    assert json.loads(r.output) == []
    r = runner.invoke(cli, ["--db", db, "keys", "revoke", "k12345678"])
    assert r.exit_code != 0
    r = runner.invoke(cli, ["--db", db, "keys", "create", "--name", "x", "--role", "root"])
    assert r.exit_code == 2


# -- rate limit -----------------------------------------------------------------------------------------------


def test_rate_limit_per_key(tmp_path: Path) -> None:
    s = Server(scored_db(tmp_path / "rl.duckdb"), rate_limit=2, burst=3)
    try:
        a, b = s.key("read", "a"), s.key("read", "b")
        codes = [s.get("/v1/runs", a).status_code for _ in range(8)]
        assert codes[:3] == [200, 200, 200] and 429 in codes
        r = s.get("/v1/runs", a)
        assert r.status_code == 429 and error_code(r) == "rate_limited"
        assert int(r.headers["Retry-After"]) >= 1
        assert s.get("/v1/runs", b).status_code == 200  # another key has its own bucket
        time.sleep(1.1)
        assert s.get("/v1/runs", a).status_code == 200  # refilled
        bad = [s.get("/v1/runs", "crk_k00000000_nope").status_code for _ in range(8)]
        assert 429 in bad  # failed authentications are throttled per client too
    finally:
        s.stop()


# -- audit ----------------------------------------------------------------------------------------------------


def test_every_request_is_audited(tmp_path: Path) -> None:
    db = scored_db(tmp_path / "audit.duckdb")
    s = Server(db, rate_limit=0, audit_interval=60)  # only the shutdown flush writes
    try:
        read, admin = s.key("read", "onb"), s.key("admin", "cco")
        read_id, admin_id = read.split("_")[1], admin.split("_")[1]
        assert s.get(f"/v1/addresses/{S.SUBJECT}", read).status_code == 200
        assert s.post("/v1/screen", read, json=[{"address": S.SUBJECT}, {"address": S.MIXER}, {"address": "x"}]).ok
        assert s.get("/v1/keys", read).status_code == 403
        assert s.get("/v1/runs").status_code == 401
        assert s.get("/healthz").status_code == 200
        r = s.get(f"/v1/audit?key_id={read_id}", admin)  # the admin view flushes first
        assert r.status_code == 200
        seen = {(e["endpoint"], e["status"]) for e in r.json()["entries"]}
        assert ("/v1/screen", 200) in seen and ("/v1/keys", 403) in seen
        assert s.get("/v1/runs", read).status_code == 200
    finally:
        s.stop()
    with chainrisk.open(db) as st:
        rows = st.execute("SELECT key_id, role, method, endpoint, subject, n_addresses, run_id, status, error_code"
                          " FROM audit_log ORDER BY requested_at, request_id").fetchall()
    by = {(r[3], r[7]): r for r in rows}
    assert by[("/v1/addresses/{address}", 200)] == (read_id, "read", "GET", "/v1/addresses/{address}", S.SUBJECT,
                                                    1, S.R_NEW, 200, None)
    assert by[("/v1/screen", 200)][5:8] == (3, S.R_NEW, 200)
    assert by[("/v1/keys", 403)][8] == "forbidden"
    assert by[("/v1/runs", 401)][:2] == (None, None) and by[("/v1/runs", 401)][8] == "missing_api_key"
    assert by[("/v1/audit", 200)][0] == admin_id
    assert ("/v1/runs", 200) in by  # made after the last flush: written by the shutdown flush
    assert ("/healthz", 200) not in by  # health probes are not audited (issue 13, item 12)
    assert all(read.split("_", 2)[2] not in json.dumps(r, default=str) for r in rows)


# -- jobs -----------------------------------------------------------------------------------------------------


def _wait_job(srv: Server, job_id: str, token: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        r = srv.get(f"/v1/screen/jobs/{job_id}", token)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("complete", "failed") or time.monotonic() > deadline:
            return r.json()
        time.sleep(0.05)


def test_screen_job_csv_roundtrip(srv: Server) -> None:
    read = srv.read  # type: ignore[attr-defined]
    rows = [("c1", S.SUBJECT), ("c2", "nonsense"), ("c3", S.MIXER), ("c4", S.SUBJECT), ("c5", S.LATE)]
    text = "customer_id,address\n" + "".join(f"{c},{a}\n" for c, a in rows)
    r = srv.post("/v1/screen/jobs?filename=declared.csv", read, data=text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["Location"] == f"/v1/screen/jobs/{job['job_id']}" and job["run_id"] == S.R_NEW
    done = _wait_job(srv, job["job_id"], read)
    assert done["status"] == "complete" and done["rows_in"] == 5, done
    r = srv.get(done["result_url"], read)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    out = list(csv.DictReader(io.StringIO(r.text)))
    assert [(o["customer_id"], o["address"]) for o in out] == rows
    assert [o["status"] for o in out] == ["ok", "invalid", "ok", "ok", "unknown"]
    want = {e["input"]: e for e in expected(srv, *(a for _, a in rows))}
    for o in out:
        if o["status"] == "ok":
            assert float(o["risk_score"]) == want[o["address"]]["risk_score"]
            assert o["run_id"] == S.R_NEW
    other = srv.key("read", "another-system")
    r = srv.get(f"/v1/screen/jobs/{job['job_id']}", other)
    assert r.status_code == 404 and error_code(r) == "job_not_found"
    r = srv.get(f"/v1/screen/jobs/{job['job_id']}/result", other)
    assert r.status_code == 404 and error_code(r) == "job_not_found"
    assert srv.get(f"/v1/screen/jobs/{job['job_id']}", srv.admin).status_code == 200  # type: ignore[attr-defined]


def test_screen_job_errors(srv: Server) -> None:
    read = srv.read  # type: ignore[attr-defined]
    r = srv.post("/v1/screen/jobs", read, data=b"", headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and error_code(r) == "invalid_request"
    r = srv.post("/v1/screen/jobs", read, json=[{"address": S.SUBJECT}])
    assert r.status_code == 415 and error_code(r) == "unsupported_media_type"
    r = srv.post("/v1/screen/jobs?address_column=wallet", read, data=f"address\n{S.SUBJECT}\n",
                 headers={"Content-Type": "text/csv"})
    assert r.status_code == 202
    failed = _wait_job(srv, r.json()["job_id"], read)
    assert failed["status"] == "failed" and "wallet" in failed["error"]
    assert str(srv.service.jobs.folder) not in failed["error"]
    r = srv.get(f"/v1/screen/jobs/{failed['job_id']}/result", read)
    assert r.status_code == 409 and error_code(r) == "job_failed"
    r = srv.get("/v1/screen/jobs/j0000000000000000", read)
    assert r.status_code == 404 and error_code(r) == "job_not_found"


def test_upload_limit(tmp_path: Path) -> None:
    s = Server(scored_db(tmp_path / "up.duckdb"), rate_limit=0, max_upload_bytes=1000)
    try:
        r = s.post("/v1/screen/jobs", s.key(), data=b"address\n" + b"x" * 2000, headers={"Content-Type": "text/csv"})
        assert r.status_code == 413 and error_code(r) == "payload_too_large"
    finally:
        s.stop()


# -- runs -----------------------------------------------------------------------------------------------------


def test_runs_listing(srv: Server) -> None:
    r = srv.get("/v1/runs", srv.read)  # type: ignore[attr-defined]
    assert r.status_code == 200
    body = r.json()
    assert body["current"] == S.R_NEW
    assert [x["run_id"] for x in body["runs"]][:3] == [S.R_RUNNING, S.R_NEW, S.R_OLD]
    assert srv.get("/v1/runs?limit=0", srv.read).status_code == 422  # type: ignore[attr-defined]


def test_read_role_answers_are_the_redacted_library_contract(srv: Server) -> None:
    from chainrisk.service.policy import redact

    values = [S.SUBJECT, S.MULE, S.MIXER, S.CLEAN, S.EXCH, S.LATE, S.LABEL_ONLY, S.TRON, "nope"]
    want = [json.loads(json.dumps(redact(e, "read"), default=str)) for e in expected(srv, *values)]
    r = srv.post("/v1/screen", srv.read, json=[{"address": v} for v in values])  # type: ignore[attr-defined]
    got = [{k: v for k, v in x.items() if k != "reference"} for x in r.json()["results"]]
    assert got == want
    assert [list(x) for x in got] == [list(w) for w in want]  # same key order as the library's to_dict
    for v, w in zip(values[:-1], want[:-1], strict=True):
        assert srv.get(f"/v1/addresses/{v}", srv.read).json() == w  # type: ignore[attr-defined]


@pytest.mark.parametrize("cache", [True, False])
def test_lookup_paths_give_the_library_contract(tmp_path: Path, cache: bool) -> None:
    """Single lookups answer from the run held in memory (when built) or from point queries: both are the
    library's contract, for both roles."""
    from chainrisk.service.policy import redact

    s = Server(scored_db(tmp_path / "paths.duckdb"), rate_limit=0, cache_max_addresses=1000 if cache else 0)
    try:
        admin, read = s.key("admin"), s.key("read")
        s.get(f"/v1/addresses/{S.SUBJECT}", read)
        deadline = time.monotonic() + 10
        while cache and s.service.cache.current is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (s.service.cache.current is not None) == cache
        values = [S.SUBJECT, S.MULE, S.MIXER, S.CLEAN, S.EXCH, S.LATE, S.LABEL_ONLY, S.TRON,
                  S.SUBJECT.upper().replace("0X", "0x")]
        want = [json.loads(json.dumps(r.to_dict(), default=str)) for r in lookup(s.service.store, values)]
        for v, w in zip(values, want, strict=True):
            got = s.get(f"/v1/addresses/{v}", admin).json()
            assert got == w and list(got) == list(w), v
            assert s.get(f"/v1/addresses/{v}", read).json() == redact(w, "read"), v
    finally:
        s.stop()


def test_job_not_ready_and_scoring_in_progress(srv: Server) -> None:
    import threading

    release = threading.Event()
    svc = srv.service
    svc.jobs._pool.submit(release.wait, 30)  # occupy the job worker: the next job stays queued
    blocker = threading.Thread(target=release.wait, args=(30,))
    blocker.start()
    saved, svc.scoring.thread = svc.scoring.thread, blocker  # a scoring run "in progress"
    try:
        r = srv.post("/v1/screen/jobs", srv.read, data=f"address\n{S.SUBJECT}\n",  # type: ignore[attr-defined]
                     headers={"Content-Type": "text/csv"})
        assert r.status_code == 202 and r.json()["status"] == "queued"
        job = r.json()["job_id"]
        r = srv.get(f"/v1/screen/jobs/{job}/result", srv.read)  # type: ignore[attr-defined]
        assert r.status_code == 409 and error_code(r) == "job_not_ready"
        r = srv.post("/v1/runs", srv.admin, json={"profile": "cn"})  # type: ignore[attr-defined]
        assert r.status_code == 409 and error_code(r) == "scoring_in_progress"
        assert srv.get("/v1/runs", srv.read).json()["scoring_in_progress"] is True  # type: ignore[attr-defined]
    finally:
        release.set()
        blocker.join()
        svc.scoring.thread = saved
    assert _wait_job(srv, job, srv.read)["status"] == "complete"  # type: ignore[attr-defined]


def test_every_error_code_is_documented() -> None:
    from chainrisk.service.errors import CODES

    doc = (Path(__file__).resolve().parents[2] / "docs" / "service.md").read_text(encoding="utf-8")
    for code, (status, _) in CODES.items():
        assert f"| {status} | `{code}` |" in doc, code
