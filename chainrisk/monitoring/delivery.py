"""Delivery of alerts: batched, signed webhooks with retries and a dead-letter state; CSV/JSON export.

At-least-once: new alerts are first put into *deliveries* (one per webhook and batch, in the store, in the same
transaction that advances the webhook's cursor), then sent; a delivery is marked ``delivered`` only after the
receiver answered 2xx. A process killed in between sends the same delivery again (same ``delivery_id``, same
alerts with the same ``idempotency_key``): receivers deduplicate on those.

Each request is ``POST <url>`` with a JSON body ``{"delivery_id", "webhook_id", "sent_at", "alerts": [...]}`` (the
alerts as the webhook's ``view`` may see them: ``read`` by default, through :func:`chainrisk.answers.redact.redact_alert`)
and the headers

* ``X-Chainrisk-Delivery``: the delivery id (also ``Idempotency-Key``);
* ``X-Chainrisk-Timestamp``: seconds since the epoch when this attempt was signed;
* ``X-Chainrisk-Signature``: ``v1=`` + hex HMAC-SHA256 with the webhook's secret over
  ``<timestamp>.<raw body bytes>`` (:func:`sign`; a receiver recomputes it and rejects old timestamps).

A failed attempt (no answer, a timeout, any status but 2xx) is retried after ``backoff * 2^(attempts-1)``
seconds (at most an hour, with jitter); after ``max_attempts`` failures the delivery is ``dead``: listed by
``chainrisk alerts deliveries --status dead`` and ``GET /v1/deliveries``, and sent again by ``resend``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import random
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ..errors import InputError
from ..store import Store
from .alerts import list_alerts, list_alerts_by_ids

log = logging.getLogger(__name__)

VIEWS = ("read", "admin")
STATUSES = ("pending", "delivered", "dead")
SIGNATURE_HEADER = "X-Chainrisk-Signature"
TIMESTAMP_HEADER = "X-Chainrisk-Timestamp"
DELIVERY_HEADER = "X-Chainrisk-Delivery"
MAX_BACKOFF_S = 3600.0
#: one enqueuer and one sender at a time in a process (the service's scoring thread and its follow loop)
_ENQUEUING = threading.Lock()
_SENDING = threading.Lock()
WEBHOOK_COLUMNS = ("webhook_id", "url", "view", "batch_size", "max_attempts", "cursor_seq", "created_at",
                   "created_by", "removed_at")
DELIVERY_COLUMNS = ("delivery_id", "webhook_id", "created_at", "first_seq", "last_seq", "alert_ids", "status",
                    "attempts", "next_attempt_at", "last_attempt_at", "last_status", "last_error", "delivered_at")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Chainrisk-Signature`` value: ``v1=`` + hex HMAC-SHA256(secret, timestamp + "." + body)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance_s: float = 300.0,
           now: float | None = None) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent (replays are refused)."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


# -- webhooks ----------------------------------------------------------------------------------------------

def add_webhook(store: Store, url: str, *, secret: str | None = None, view: str = "read", batch_size: int = 100,
                max_attempts: int = 8, backfill: bool = False, actor: str = "cli") -> tuple[dict[str, Any], str]:
    """Register a receiver; returns it and its signing secret (shown once by the CLI). Alerts raised from now on
    are sent to it (``backfill``: also every alert already raised)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"the webhook URL {url[:200]!r} is not an http(s) URL")
    if view not in VIEWS:
        raise InputError(f"view is one of: {', '.join(VIEWS)}")
    if not 1 <= batch_size <= 1000 or not 1 <= max_attempts <= 100:
        raise InputError("batch size is 1..1000 and max attempts 1..100")
    secret = secret or "whsec_" + secrets.token_urlsafe(32)
    if len(secret) < 16:
        raise InputError("a webhook secret has at least 16 characters")
    wid = "wh" + secrets.token_hex(5)
    (top,) = store.execute("SELECT coalesce(max(seq), 0) FROM alerts").fetchone() or (0,)
    store.execute("INSERT INTO webhooks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                  [wid, url, secret, view, batch_size, max_attempts, 0 if backfill else int(top), _now(), actor])
    return get_webhook(store, wid), secret


def get_webhook(store: Store, webhook_id: str) -> dict[str, Any]:
    rows = store.execute(f"SELECT {', '.join(WEBHOOK_COLUMNS)} FROM webhooks WHERE webhook_id = ?",
                         [webhook_id]).fetchall()
    if not rows:
        raise InputError(f"no webhook {webhook_id!r}")
    return dict(zip(WEBHOOK_COLUMNS, rows[0], strict=True))


def list_webhooks(store: Store, include_removed: bool = False) -> list[dict[str, Any]]:
    where = "" if include_removed else " WHERE removed_at IS NULL"
    return [dict(zip(WEBHOOK_COLUMNS, r, strict=True)) for r in store.execute(
        f"SELECT {', '.join(WEBHOOK_COLUMNS)} FROM webhooks{where} ORDER BY created_at").fetchall()]


def remove_webhook(store: Store, webhook_id: str) -> dict[str, Any]:
    get_webhook(store, webhook_id)
    store.execute("UPDATE webhooks SET removed_at = ? WHERE webhook_id = ? AND removed_at IS NULL",
                  [_now(), webhook_id])
    return get_webhook(store, webhook_id)


# -- deliveries --------------------------------------------------------------------------------------------

def enqueue(store: Store) -> int:
    """Put the alerts each webhook has not had yet into deliveries (batches of its ``batch_size``), advancing its
    cursor in the same transaction. Returns the deliveries made."""
    with _ENQUEUING:
        return _enqueue(store)


def _enqueue(store: Store) -> int:
    made = 0
    for hook in list_webhooks(store):
        with store.transaction():
            rows = store.execute("SELECT seq, alert_id FROM alerts WHERE seq > ? ORDER BY seq",
                                 [hook["cursor_seq"]]).fetchall()
            if not rows:
                continue
            now = _now()
            size = int(hook["batch_size"])
            for i in range(0, len(rows), size):
                batch = rows[i:i + size]
                store.execute(
                    "INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, NULL, NULL, NULL, NULL)",
                    ["d" + secrets.token_hex(8), hook["webhook_id"], now, batch[0][0], batch[-1][0],
                     json.dumps([r[1] for r in batch]), now])
                made += 1
            store.execute("UPDATE webhooks SET cursor_seq = ? WHERE webhook_id = ?", [rows[-1][0], hook["webhook_id"]])
    return made


@dataclass
class DeliveryStats:
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def deliver_due(store: Store, *, timeout: float = 10.0, backoff: float = 2.0, limit: int = 100) -> DeliveryStats:
    """Send the pending deliveries whose time has come (oldest first); record each attempt."""
    with _SENDING:
        return _deliver_due(store, timeout=timeout, backoff=backoff, limit=limit)


def _deliver_due(store: Store, *, timeout: float, backoff: float, limit: int) -> DeliveryStats:
    stats = DeliveryStats()
    now = _now()
    due = store.execute(
        "SELECT d.delivery_id, d.webhook_id, d.alert_ids, d.attempts, w.url, w.secret, w.view, w.max_attempts"
        " FROM deliveries d JOIN webhooks w ON w.webhook_id = d.webhook_id"
        " WHERE d.status = 'pending' AND w.removed_at IS NULL AND d.next_attempt_at <= ?"
        " ORDER BY d.created_at, d.first_seq LIMIT ?", [now, limit]).fetchall()
    for did, wid, ids, attempts, url, secret, view, max_attempts in due:
        alerts = list_alerts_by_ids(store, json.loads(ids), role=view)
        body = json.dumps({"delivery_id": did, "webhook_id": wid, "sent_at": _now().isoformat() + "Z",
                           "alerts": alerts}, default=str, sort_keys=True).encode()
        status, error = post(url, secret, did, body, timeout=timeout)
        stats.sent += 1
        attempts += 1
        at = _now()
        if status is not None and 200 <= status < 300:
            stats.delivered += 1
            store.execute("UPDATE deliveries SET status = 'delivered', attempts = ?, last_attempt_at = ?,"
                          " last_status = ?, last_error = NULL, delivered_at = ? WHERE delivery_id = ?",
                          [attempts, at, status, at, did])
            continue
        stats.failed += 1
        dead = attempts >= max_attempts
        stats.dead += dead
        wait = min(MAX_BACKOFF_S, backoff * 2 ** (attempts - 1)) * random.uniform(0.8, 1.2)
        store.execute("UPDATE deliveries SET status = ?, attempts = ?, last_attempt_at = ?, last_status = ?,"
                      " last_error = ?, next_attempt_at = ? WHERE delivery_id = ?",
                      ["dead" if dead else "pending", attempts, at, status, error, None if dead else
                       at + timedelta(seconds=wait), did])
        log.warning("webhook %s: delivery %s failed (attempt %d of %d): %s%s", wid, did, attempts, max_attempts,
                    error, "; dead-lettered" if dead else "")
    return stats


def post(url: str, secret: str, delivery_id: str, body: bytes, *, timeout: float = 10.0) -> tuple[int | None, str | None]:
    """One signed POST; (HTTP status or None, error sentence or None)."""
    ts = str(int(time.time()))
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "chainrisk-webhooks",
        DELIVERY_HEADER: delivery_id, "Idempotency-Key": delivery_id, TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: sign(secret, ts, body)})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read(1024)
            return int(resp.status), None
    except urllib.error.HTTPError as e:
        return int(e.code), f"HTTP {e.code}"
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        reason = getattr(e, "reason", e)
        return None, f"no answer: {type(reason).__name__}: {reason}"[:300]


def list_deliveries(store: Store, *, status: str | None = None, webhook_id: str | None = None,
                    limit: int = 100) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise InputError(f"unknown status {status!r}; statuses: {', '.join(STATUSES)}")
    where: list[str] = ["true"]
    params: list[Any] = []
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if webhook_id is not None:
        where.append("webhook_id = ?")
        params.append(webhook_id)
    rows = store.execute(f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM deliveries WHERE {' AND '.join(where)}"
                         " ORDER BY created_at DESC, first_seq DESC LIMIT ?", [*params, limit]).fetchall()
    out = []
    for r in rows:
        d = dict(zip(DELIVERY_COLUMNS, r, strict=True))
        d["alert_ids"] = json.loads(d["alert_ids"])
        out.append(d)
    return out


def resend(store: Store, delivery_id: str) -> dict[str, Any]:
    """Send a delivery again (a dead one, or one already delivered): pending now, attempts counted afresh."""
    rows = store.execute("UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?,"
                         " delivered_at = NULL WHERE delivery_id = ? RETURNING delivery_id",
                         [_now(), delivery_id]).fetchall()
    if not rows:
        raise InputError(f"no delivery {delivery_id!r}")
    return list_deliveries_by_id(store, delivery_id)


def list_deliveries_by_id(store: Store, delivery_id: str) -> dict[str, Any]:
    got = [d for d in list_deliveries(store, limit=100_000) if d["delivery_id"] == delivery_id]
    if not got:
        raise InputError(f"no delivery {delivery_id!r}")
    return got[0]


# -- export --------------------------------------------------------------------------------------------------

EXPORT_COLUMNS = ("alert_id", "seq", "created_at", "state", "rule", "watchlist", "reference", "chain", "address",
                  "summary", "old_illicit_band", "new_illicit_band", "old_vc_business_band", "new_vc_business_band",
                  "old_action", "new_action", "knowable_at_previous", "knowable_since", "run_id", "previous_run_id",
                  "evidence_tx_hashes", "idempotency_key")


def flat(alert: dict[str, Any]) -> dict[str, Any]:
    """One alert as a flat row (CSV export)."""
    o, n = alert.get("old_verdict") or {}, alert.get("new_verdict") or {}
    row = {k: alert.get(k) for k in EXPORT_COLUMNS}
    row.update({
        "old_illicit_band": (o.get("illicit") or {}).get("band"), "new_illicit_band": (n.get("illicit") or {}).get("band"),
        "old_vc_business_band": (o.get("vc_business") or {}).get("band"),
        "new_vc_business_band": (n.get("vc_business") or {}).get("band"),
        "old_action": o.get("action"), "new_action": n.get("action"),
        "evidence_tx_hashes": ";".join(dict.fromkeys(e["tx_hash"] for e in alert.get("evidence") or [])),
    })
    return row


def export(store: Store, fmt: str, *, since: datetime | None = None, role: str = "admin",
           state: str | None = None) -> str:
    """Every alert (since ``since``) as CSV (flat rows) or JSON (the full alerts), as ``role`` may see them."""
    alerts: list[dict[str, Any]] = []
    cursor = None
    while True:
        page, cursor = list_alerts(store, since=since, cursor=cursor, limit=1000, role=role, state=state)
        alerts += page
        if cursor is None:
            break
    if fmt == "json":
        return json.dumps(alerts, indent=2, default=str) + "\n"
    if fmt != "csv":
        raise InputError("export formats: csv, json")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(EXPORT_COLUMNS))
    w.writeheader()
    w.writerows(flat(a) for a in alerts)
    return buf.getvalue()
