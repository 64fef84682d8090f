"""Follow mode under failure, on a real anvil node: a reorg below the stored tip is repaired and the alerts whose
evidence it removed are retracted and re-evaluated; a SIGKILLed `chainrisk serve --follow` loses no alert (alerts
and deliveries are in the store before they are sent; a restart sends what was not acknowledged by the receiver)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner
from support.env import need
from support.follow_chain import fresh_address, start_chain, wait_for
from support.receiver import Receiver
from support.service import free_port

import chainrisk
from chainrisk.cli import cli
from chainrisk.demo.anvil import INSTALL_HINT, available
from chainrisk.engine.score import score
from chainrisk.ingest.rpc import ingest_rpc
from chainrisk.monitoring import alerts as al
from chainrisk.monitoring import watch
from chainrisk.monitoring.follow import Follower, FollowSettings

pytestmark = pytest.mark.slow


def _label_mixer(st, mixer):
    st.execute("INSERT INTO labels (chain, address, category, name, source, source_version, confidence,"
               " imported_at) VALUES ('ethereum', ?, 'mixer', 'Case Osprey', 'fiu-cases', 'v1', 90,"
               " TIMESTAMP '2020-01-01')", [mixer])


def test_reorg_repaired_and_its_alerts_retracted(tmp_path):
    need(available(), f"anvil is not installed; {INSTALL_HINT}")
    st = chainrisk.open(tmp_path / "reorg.duckdb")
    chain = start_chain(st, block_time=0)     # automine only: the test decides when blocks come
    try:
        _label_mixer(st, chain.mixer)
        w1 = fresh_address(random.Random(3))
        watch.add(st, [(w1, "W-1")])
        f = Follower(st, FollowSettings(rpc_url=chain.node.url, tokens=["USDT"], confirmations=0, deliver=False))
        assert f.step()["run"] is not None                 # the first run
        chain.send(chain.mixer, w1, 5000)
        did = f.step()
        assert did["alerts"] == 3 and did["run"]
        raised = al.list_alerts(st)[0]
        assert {a["rule"] for a in raised} == {"first_activity", "verdict_change", "direct_exposure"}
        # the block with the tainted transfer is replaced by another history (the transfer never happens)
        chain.node.rpc("anvil_rollback", [1])
        chain.node.rpc("anvil_dropAllTransactions")
        chain.send(chain.payer, fresh_address(random.Random(4)), 3)
        chain.node.mine(2)
        did = f.step()
        assert did["reorg"] is not None, did
        assert did["reorg"]["deleted_transfers"] == 1 and did["reorg"]["retracted_alerts"] == 3
        assert did["run"] is not None                      # rescored at once after the repair
        after = {a["alert_id"]: a for a in al.list_alerts(st)[0]}
        assert all(after[a["alert_id"]]["state"] == "retracted" for a in raised)
        assert "reorg" in after[raised[0]["alert_id"]]["retraction"]
        # re-evaluated: the verdict went back, which is itself a change the bank is told about
        back = [a for a in after.values() if a["state"] == "open"]
        assert [a["rule"] for a in back] == ["verdict_change"] and back[0]["new_verdict"] is None
        assert st.execute("SELECT count(*) FROM reorgs").fetchone()[0] == 1
        assert f.step()["alerts"] == 0                     # and nothing more on the next cycle
    finally:
        st.close()
        chain.node.stop()


def _cli(db, *args):
    r = CliRunner().invoke(cli, ["--db", str(db), "-q", *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.stdout


def _serve(db, url, port):
    return subprocess.Popen(
        [sys.executable, "-c", "from chainrisk.cli import main; main()", "--db", str(db), "-q", "serve", "--port",
         str(port), "--follow", "--rpc-url", url, "--follow-token", "USDT", "--follow-confirmations", "1",
         "--poll", "0.2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "CHAINRISK_DB": ""})


def test_sigkill_of_the_service_loses_no_alert(tmp_path):
    need(available(), f"anvil is not installed; {INSTALL_HINT}")
    db = tmp_path / "kill.duckdb"
    rng = random.Random(9)
    w1, w2 = fresh_address(rng), fresh_address(rng)
    with chainrisk.open(db) as st:
        chain = start_chain(st)
    recv = Receiver(status=503)              # the bank's receiver is down at first
    procs: list[subprocess.Popen[str]] = []
    try:
        with chainrisk.open(db) as st:
            ingest_rpc(st, chain.node.url, tokens=["USDT"], confirmations=0)
            _label_mixer(st, chain.mixer)
            score(st, "cn")
        _cli(db, "watch", "add", w1, "--reference", "K-1")
        _cli(db, "watch", "add", w2, "--reference", "K-2")
        _cli(db, "alerts", "webhook-add", recv.url)
        port = free_port()
        procs.append(_serve(db, chain.node.url, port))
        chain.send(chain.mixer, w1, 7000)
        # the alerts are raised and their delivery fails (503): they exist only in the store now
        wait_for(lambda: len(recv.requests) >= 1, 90)
        chain.send(chain.mixer, w2, 8000)    # and more tainted funds arrive just before the crash
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(30)
        recv.status = 200
        procs.append(_serve(db, chain.node.url, port))

        def all_delivered():
            got = recv.alerts()
            refs = {(a["reference"], a["rule"]) for a in got}
            return got if {("K-1", "verdict_change"), ("K-2", "verdict_change")} <= refs else None

        delivered = wait_for(all_delivered, 120)
        procs[1].send_signal(signal.SIGTERM)
        procs[1].wait(60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(30)
        recv.stop()
        chain.node.stop()
    with chainrisk.open(db) as st:
        stored, _ = al.list_alerts(st, limit=1000)
    # every alert in the store reached the receiver; each was raised once (retries may repeat a delivery:
    # at-least-once, and the receiver deduplicates on idempotency_key)
    assert {a["idempotency_key"] for a in stored} == {a["idempotency_key"] for a in delivered}
    assert len({a["idempotency_key"] for a in stored}) == len(stored)
    assert {("K-1", "first_activity"), ("K-2", "first_activity")} <= {(a["reference"], a["rule"]) for a in stored}
    assert json.dumps(delivered).count("fiu-cases") == 0


def test_ingest_rpc_follow_from_the_cli(tmp_path):
    need(available(), f"anvil is not installed; {INSTALL_HINT}")
    db = tmp_path / "cli-follow.duckdb"
    with chainrisk.open(db) as st:
        chain = start_chain(st, block_time=0)
        _label_mixer(st, chain.mixer)
    try:
        w = fresh_address(random.Random(5))
        _cli(db, "watch", "add", w, "--reference", "CLI-1")
        chain.send(chain.mixer, w, 2500)
        out = json.loads(_cli(db, "ingest", "rpc", "--rpc-url", chain.node.url, "--token", "USDT", "--confirmations",
                              "0", "--follow", "--max-cycles", "2", "--poll", "0.1", "--format", "json"))
        assert out["runs"] == 1 and out["transfers_added"] >= 3 and out["alerts_raised"] == 3 and out["errors"] == 0
        rows = json.loads(_cli(db, "alerts", "--format", "json"))
        assert {(a["reference"], a["rule"]) for a in rows} == {
            ("CLI-1", "first_activity"), ("CLI-1", "verdict_change"), ("CLI-1", "direct_exposure")}
    finally:
        chain.node.stop()
