"""Webhook delivery against a real local HTTP receiver: signed batches, retries with backoff, dead letter,
resend, at-least-once with idempotency keys; CSV/JSON export."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from support.receiver import Receiver
from support.scoring import add_transfers, addr

from chainrisk.engine.score import score
from chainrisk.monitoring import alerts as al
from chainrisk.monitoring import delivery, watch


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def _alerted_store(store, n=3):
    add_transfers(store, [("p", f"c{i}", 10, 1 + i) for i in range(n)])
    watch.add(store, [(addr(f"c{i}"), f"R{i}") for i in range(n)])
    score(store, "cn", indicators=False, prepare_reads=False)
    al.evaluate_pending(store)


def test_signed_batches_reach_the_receiver_once(store, receiver):
    hook, secret = delivery.add_webhook(store, receiver.url, batch_size=2)
    _alerted_store(store, 3)
    assert delivery.enqueue(store) == 2          # 3 alerts in batches of 2
    assert delivery.enqueue(store) == 0          # the cursor moved: nothing twice
    stats = delivery.deliver_due(store)
    assert stats.delivered == 2 and stats.failed == 0
    for req in receiver.requests:
        h = req["headers"]
        assert delivery.verify(secret, h[delivery.TIMESTAMP_HEADER], req["body"], h[delivery.SIGNATURE_HEADER])
        assert not delivery.verify("another-secret-value", h[delivery.TIMESTAMP_HEADER], req["body"],
                                   h[delivery.SIGNATURE_HEADER])
        assert h[delivery.DELIVERY_HEADER] == json.loads(req["body"])["delivery_id"]
    got = receiver.alerts()
    assert sorted(a["reference"] for a in got) == ["R0", "R1", "R2"]
    assert all(a["idempotency_key"] for a in got)
    assert delivery.deliver_due(store).sent == 0     # delivered: never sent again
    assert {d["status"] for d in delivery.list_deliveries(store)} == {"delivered"}
    # a replayed (old) timestamp is refused by the verification snippet
    req = receiver.requests[0]
    ts = req["headers"][delivery.TIMESTAMP_HEADER]
    assert not delivery.verify(secret, ts, req["body"], req["headers"][delivery.SIGNATURE_HEADER],
                               now=int(ts) + 3600)
    assert hook["view"] == "read"


def test_failing_receiver_retries_then_dead_letter_then_resend(store, receiver):
    receiver.status = 500
    delivery.add_webhook(store, receiver.url, max_attempts=3)
    _alerted_store(store, 1)
    delivery.enqueue(store)
    for _ in range(3):
        delivery.deliver_due(store, backoff=0.05)
        time.sleep(0.12)
    (d,) = delivery.list_deliveries(store)
    assert d["status"] == "dead" and d["attempts"] == 3 and d["last_status"] == 500 and d["last_error"] == "HTTP 500"
    assert len(receiver.requests) == 3
    # backoff: the attempts were spaced, and a dead delivery is not sent again by itself
    assert delivery.deliver_due(store, backoff=0.05).sent == 0
    assert delivery.list_deliveries(store, status="dead")[0]["delivery_id"] == d["delivery_id"]
    receiver.status = 200
    delivery.resend(store, d["delivery_id"])
    assert delivery.deliver_due(store).delivered == 1
    assert len(receiver.alerts()) == 1 and delivery.list_deliveries(store)[0]["status"] == "delivered"


def test_unreachable_receiver_counts_as_a_failure(store):
    r = Receiver()
    url = r.url
    r.stop()
    delivery.add_webhook(store, url, max_attempts=1)
    _alerted_store(store, 1)
    delivery.enqueue(store)
    st = delivery.deliver_due(store)
    assert st.dead == 1 and delivery.list_deliveries(store)[0]["last_error"].startswith("no answer")


def test_export_csv_and_json(store):
    _alerted_store(store, 2)
    rows = list(csv.DictReader(io.StringIO(delivery.export(store, "csv"))))
    assert [r["reference"] for r in rows] == ["R0", "R1"] and rows[0]["rule"] == "first_activity"
    assert rows[0]["evidence_tx_hashes"].startswith("0x")
    full = json.loads(delivery.export(store, "json", role="read"))
    assert len(full) == 2 and full[0]["evidence"]


def test_bad_webhook_urls_are_refused(store):
    from chainrisk.errors import InputError

    with pytest.raises(InputError, match="not an http"):
        delivery.add_webhook(store, "ftp://example/x")
