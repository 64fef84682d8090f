"""serve --follow against a real anvil node producing blocks: watched addresses receive tainted funds, alerts
appear once (not on every cycle) and reach the webhook signed, a label update raises the right alerts, lookups
during the run swaps never fail and never mix runs; a reorg below the stored tip is repaired and the alerts it
touched are retracted."""

from __future__ import annotations

import random
import threading
import time

import pytest
from support.env import need
from support.follow_chain import fresh_address, start_chain, wait_for
from support.receiver import Receiver
from support.service import Server

import chainrisk
from chainrisk.demo.anvil import INSTALL_HINT, available
from chainrisk.engine.score import score
from chainrisk.ingest.rpc import ingest_rpc
from chainrisk.monitoring import delivery
from chainrisk.monitoring.follow import FollowSettings

pytestmark = pytest.mark.slow


@pytest.fixture
def setup(tmp_path):
    need(available(), f"anvil is not installed; {INSTALL_HINT}")
    db = tmp_path / "follow.duckdb"
    st = chainrisk.open(db)
    chain = start_chain(st)
    try:
        ingest_rpc(st, chain.node.url, tokens=["USDT"], confirmations=0)
        st.execute("INSERT INTO labels (chain, address, category, name, source, source_version, confidence,"
                   " imported_at) VALUES ('ethereum', ?, 'mixer', 'Case Osprey', 'fiu-cases', 'v1', 90,"
                   " TIMESTAMP '2020-01-01')", [chain.mixer])
        score(st, "cn")
        st.close()
        yield db, chain
    finally:
        chain.node.stop()


def _lookups(srv, token, addresses, stop, out):
    import requests

    s = requests.Session()
    i = 0
    while not stop.is_set():
        a = addresses[i % len(addresses)]
        i += 1
        t = time.perf_counter()
        r = s.get(f"{srv.url}/v1/addresses/{a}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        ms = (time.perf_counter() - t) * 1000
        run = r.json().get("provenance", {}).get("run_id") if r.status_code == 200 else None
        out.append((r.status_code, ms, run))


def test_follow_raises_alerts_once_while_lookups_never_fail(setup):
    db, chain = setup
    rng = random.Random(17)
    w1, w2 = fresh_address(rng), fresh_address(rng)
    recv = Receiver()
    follow = FollowSettings(rpc_url=chain.node.url, tokens=["USDT"], confirmations=2, poll_s=0.2,
                            rescore_after=1, rescore_every_s=1.0, backoff_s=0.1)
    srv = Server(db, follow=follow, rate_limit=0)   # the lookup client is not throttled
    stop = threading.Event()
    answers: list[tuple[int, float, str | None]] = []
    try:
        admin, read = srv.key("admin"), srv.key("read")
        secret = srv.post("/v1/webhooks", admin, json={"url": recv.url}).json()["secret"]
        srv.post("/v1/watchlist", admin, json={"addresses": [{"address": w1, "reference": "TAINTED-1"},
                                                             {"address": w2, "reference": "CLEAN-2"}]})
        looker = threading.Thread(target=_lookups, args=(srv, read, [w1, w2, chain.mixer], stop, answers))
        looker.start()
        chain.send(chain.mixer, w1, 5000)        # tainted funds
        chain.send(chain.payer, w2, 100)         # clean funds

        def alerts():
            got = srv.get("/v1/alerts", admin, params={"limit": 1000}).json()["alerts"]
            return got if {(a["reference"], a["rule"]) for a in got} >= {
                ("TAINTED-1", "first_activity"), ("TAINTED-1", "verdict_change"), ("TAINTED-1", "direct_exposure"),
                ("CLEAN-2", "first_activity")} else None

        got = wait_for(alerts, 90)
        # more blocks and more (unrelated) transfers: several rescoring cycles, and no alert is raised again
        runs_before = srv.service.follow.follower.status.runs
        for _ in range(3):
            chain.send(chain.payer, fresh_address(rng), 1)
        wait_for(lambda: srv.service.follow.follower.status.runs >= runs_before + 2, 90)
        again = srv.get("/v1/alerts", admin, params={"limit": 1000}).json()["alerts"]
        assert sorted(a["alert_id"] for a in again) == sorted(a["alert_id"] for a in got)
        clean = {a["rule"]: a["summary"] for a in again if a["reference"] == "CLEAN-2"}
        assert set(clean) == {"first_activity"}, clean
        tainted = next(a for a in again if a["rule"] == "verdict_change")
        assert tainted["evidence"][0]["from"] == chain.mixer and tainted["evidence"][0]["usd"] == 5000.0
        assert tainted["knowable_at_previous"] is False
        # a label update: the clean payer is now known as a scam -> the clean customer's counterparty alert
        st = srv.service.store
        st.execute("INSERT INTO labels (chain, address, category, name, source, source_version, confidence,"
                   " imported_at) VALUES ('ethereum', ?, 'scam', 'Case Wren', 'fiu-cases', 'v2', 80,"
                   " now()::TIMESTAMP)", [chain.payer])
        st.execute("INSERT INTO label_imports VALUES ('fiu-cases', 'generic', 'v2', 'cases.csv', NULL, 1, 2, 1,"
                   " 0, 1, 0, 0, now()::TIMESTAMP)")

        def labelled():
            got = srv.get("/v1/alerts", read, params={"limit": 1000}).json()["alerts"]
            return [a for a in got if a["reference"] == "CLEAN-2" and a["rule"] == "counterparty_labelled"]

        (cp,) = wait_for(labelled, 90)
        assert cp["details"]["counterparty"] == chain.payer and cp["details"]["label"] == {
            "category": "scam", "imported_at": cp["details"]["label"]["imported_at"]}
        # every alert reached the webhook, signed, and in the read view
        n = len(srv.get("/v1/alerts", admin, params={"limit": 1000}).json()["alerts"])
        wait_for(lambda: len(recv.alerts()) >= n, 30)
        for req in recv.requests:
            h = req["headers"]
            assert delivery.verify(secret, h[delivery.TIMESTAMP_HEADER], req["body"], h[delivery.SIGNATURE_HEADER])
        assert "Case Wren" not in str(recv.requests) and "fiu-cases" not in str(recv.requests)
        assert len({a["idempotency_key"] for a in recv.alerts()}) == n
    finally:
        stop.set()
        srv.stop()
        recv.stop()
    # lookups during the swaps: no error, every answer from one complete run
    assert answers and all(code == 200 for code, _, _ in answers), {c for c, _, _ in answers}
    assert all(run is not None for _, _, run in answers)
    assert len({run for _, _, run in answers}) >= 2      # the answers did move to newer runs
