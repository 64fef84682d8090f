"""Monitoring endpoints on a real service over HTTP: watchlist (admin), a run started over HTTP raises alerts,
GET /v1/alerts with since and cursor paging, the read view, acknowledgement, webhooks and deliveries."""

from __future__ import annotations

import time

import pytest
from support.receiver import Receiver
from support.scoring import add_transfers, addr
from support.service import Server, error_code

import chainrisk


@pytest.fixture
def server(tmp_path):
    db = tmp_path / "svc.duckdb"
    with chainrisk.open(db) as st:
        add_transfers(st, [("mixer", f"c{i}", 2000 + i, 10 + i) for i in range(5)])
        st.execute("INSERT INTO labels (chain, address, category, name, source, source_version, confidence,"
                   " imported_at) VALUES ('ethereum', ?, 'mixer', 'Case Heron (SAR 2025-7)', 'fiu-cases', 'v1', 90,"
                   " TIMESTAMP '2020-01-01')", [addr("mixer")])
        chainrisk.score(st, "cn")
    srv = Server(db)
    yield srv
    srv.stop()


def _wait_run(srv, admin, before):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = srv.get("/v1/runs", admin).json()
        if body["current"] != before and not body["scoring_in_progress"]:
            return body["current"]
        time.sleep(0.2)
    raise AssertionError("the run did not finish")


def test_watch_run_alerts_paging_read_view_ack_webhook(server):
    admin, read = server.key("admin"), server.key("read")
    recv = Receiver()
    try:
        r = server.post("/v1/webhooks", admin, json={"url": recv.url, "batch_size": 10})
        assert r.status_code == 201 and r.json()["secret"].startswith("whsec_")
        items = [{"address": addr(f"c{i}"), "reference": f"K-{i}"} for i in range(5)] + ["garbage"]
        r = server.post("/v1/watchlist", admin, json={"watchlist": "kyc", "addresses": items})
        assert r.status_code == 200 and r.json()["added"] == 5 and r.json()["invalid"] == 1
        assert error_code(server.post("/v1/watchlist", read, json={"addresses": []})) == "forbidden"
        assert len(server.get("/v1/watchlist", admin).json()["entries"]) == 5
        # new funds reach two watched addresses that had none (written through the service's own connection:
        # the service process owns the store)
        add_transfers(server.service.store, [("mixer", "n1", 3000, 50), ("mixer", "n2", 4000, 51)])
        server.post("/v1/watchlist", admin, json={"addresses": [{"address": addr("n1"), "reference": "N-1"},
                                                                {"address": addr("n2"), "reference": "N-2"}]})
        before = server.get("/v1/runs", admin).json()["current"]
        assert server.post("/v1/runs", admin, json={"profile": "cn"}).status_code == 202
        _wait_run(server, admin, before)
        # cursor paging over everything raised
        seen, cursor = [], None
        while True:
            page = server.get("/v1/alerts", admin, params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
            seen += page["alerts"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        # the customers c0..c4 had the same activity and verdict in the previous run: nothing is news for them;
        # n1 and n2 received funds from the mixer: first activity, verdict change, direct exposure each
        assert sorted((a["reference"], a["rule"]) for a in seen) == sorted(
            (r, rule) for r in ("N-1", "N-2") for rule in ("first_activity", "verdict_change", "direct_exposure"))
        assert len({a["alert_id"] for a in seen}) == len(seen)
        # since: nothing raised in the future
        assert server.get("/v1/alerts", admin, params={"since": "2999-01-01T00:00:00Z"}).json()["alerts"] == []
        text = server.get("/v1/alerts", read).text
        assert "Case Heron" not in text and "fiu-cases" not in text and "N-1" in text
        ids = [a["alert_id"] for a in seen]
        assert server.post("/v1/alerts/ack", admin, json={"alert_ids": ids}).json()["acknowledged"] == len(ids)
        assert server.get("/v1/alerts", admin, params={"state": "open"}).json()["alerts"] == []
        assert error_code(server.post("/v1/alerts/ack", admin, json={"alert_ids": ["al-nope"]})) == "invalid_request"
        # the run's alerts went to the webhook (read view), signed
        deadline = time.monotonic() + 10
        while len(recv.alerts()) < len(seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sorted(a["alert_id"] for a in recv.alerts()) == sorted(ids)
        assert "fiu-cases" not in str(recv.requests)
        assert {d["status"] for d in server.get("/v1/deliveries", admin).json()["deliveries"]} == {"delivered"}
        assert server.get("/v1/follow", admin).json()["following"] is False
    finally:
        recv.stop()


def test_label_import_through_the_running_service_raises_the_right_alerts(server, tmp_path):
    from click.testing import CliRunner

    from chainrisk.cli import cli

    admin, read = server.key("admin"), server.key("read")
    # c0 paid a shop that is now known to be a scam; the import goes through the service (it owns the store)
    add_transfers(server.service.store, [("c0", "shop", 150, 60)])
    server.post("/v1/runs", admin, json={})
    _wait_run(server, admin, None)
    server.post("/v1/watchlist", admin, json={"addresses": [{"address": addr("c0"), "reference": "K-0"}]})
    lst = tmp_path / "scam_list.txt"
    lst.write_text(addr("shop") + "\n")
    r = CliRunner().invoke(cli, ["labels", "import", str(lst), "--input-format", "list", "--category", "scam",
                                 "--source", "fiu-scam-list", "--service", server.url, "--key", admin,
                                 "--format", "json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert '"added": 1' in r.output
    assert error_code(server.post("/v1/labels/imports?format=list&category=scam", read, data=b"x")) == "forbidden"
    before = server.get("/v1/runs", admin).json()["current"]
    server.post("/v1/runs", admin, json={})
    _wait_run(server, admin, before)
    got = server.get("/v1/alerts", read, params={"limit": 1000}).json()["alerts"]
    rules = {a["rule"] for a in got if a["reference"] == "K-0"}
    assert "counterparty_labelled" in rules, rules
    assert "fiu-scam-list" not in str(got)
    admin_view = server.get("/v1/alerts", admin, params={"rule": "counterparty_labelled"}).json()["alerts"]
    assert admin_view[0]["details"]["label"]["source"] == "fiu-scam-list"
