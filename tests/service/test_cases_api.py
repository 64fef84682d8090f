"""Cases over HTTP: admin keys only, append-only, the actor is the key's holder, exported with the evidence."""

from __future__ import annotations

import pytest
from support import scored_store as S
from support.service import Server, error_code, scored_db


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory):
    db = scored_db(tmp_path_factory.mktemp("cases") / "cases.duckdb")
    s = Server(db, rate_limit=0)
    s.admin = s.key("admin", "li.wei")  # type: ignore[attr-defined]
    s.read = s.key("read", "onboarding")  # type: ignore[attr-defined]
    yield s
    s.stop()


def test_case_lifecycle(srv: Server) -> None:
    r = srv.post("/v1/cases", srv.admin, json={"title": "Mule ring", "customer_ref": "C-7",
                                               "addresses": [S.SUBJECT, S.MULE]})
    assert r.status_code == 201, r.text
    c = r.json()
    cid = c["case_id"]
    assert c["created_by"].startswith("li.wei (k") and len(c["addresses"]) == 2
    for body in ({"kind": "note", "text": "customer called"},
                 {"kind": "remove_address", "address": S.MULE, "text": "a mule"},
                 {"kind": "disposition", "disposition": "reported", "text": "STR filed"},
                 {"kind": "customer_ref", "text": "C-7b"}):
        r = srv.post(f"/v1/cases/{cid}/events", srv.admin, json=body)
        assert r.status_code == 201, (body, r.text)
    c = srv.get(f"/v1/cases/{cid}", srv.admin).json()
    assert c["disposition"] == "reported" and c["customer_ref"] == "C-7b"
    assert [a["address"] for a in c["addresses"]] == [S.SUBJECT]
    assert len(c["history"]) == 8 and [h["event_id"] for h in c["history"]] == sorted(h["event_id"] for h in c["history"])
    assert srv.get("/v1/cases", srv.admin).json()["cases"][0]["case_id"] == cid
    r = srv.get(f"/v1/cases/{cid}/report?lang=zh-CN", srv.admin)
    assert r.status_code == 200 and "案件报告" in r.text and "已上报可疑交易" in r.text and "混币器" in r.text


def test_cases_are_for_admins_and_errors_are_structured(srv: Server) -> None:
    assert error_code(srv.get("/v1/cases", srv.read)) == "forbidden"
    assert error_code(srv.post("/v1/cases", srv.read, json={"title": "x"})) == "forbidden"
    assert srv.get("/v1/cases").status_code == 401
    r = srv.get("/v1/cases/case-00000000", srv.admin)
    assert r.status_code == 404 and error_code(r) == "case_not_found"
    r = srv.post("/v1/cases/case-00000000/events", srv.admin, json={"kind": "note", "text": "x"})
    assert r.status_code == 404 and error_code(r) == "case_not_found"
    assert error_code(srv.post("/v1/cases", srv.admin, json={"title": "x", "addresses": ["0xnope"]})) == \
        "invalid_address"
    cid = srv.post("/v1/cases", srv.admin, json={"title": "x"}).json()["case_id"]
    for body in ({"kind": "delete"}, {"kind": "disposition", "disposition": "closed"}, {"kind": "note", "text": ""},
                 {"kind": "add_addresses", "addresses": "0x1"}):
        r = srv.post(f"/v1/cases/{cid}/events", srv.admin, json=body)
        assert r.status_code == 422 and error_code(r) == "invalid_request", body
    doc = srv.get("/openapi.json").json()
    assert {"/v1/cases", "/v1/cases/{case_id}", "/v1/cases/{case_id}/events", "/v1/cases/{case_id}/report"} <= \
        set(doc["paths"])
