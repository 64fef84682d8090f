"""Alerts: after each complete scoring run, what changed for the watched addresses since the previous run.

The previous run of a run N is the latest complete run of the same profile that finished before N (never a
point-in-time run). The rules come from the profile's ``[alerts]`` section (:class:`chainrisk.profiles.Alerts`):

* ``first_activity``: the watched address has transfers in N and had none in P (once per watch entry);
* ``verdict_change``: its illicit band, vc_business band or action differs between P and N;
* ``label_change``: the same, when no new transfer of the address explains it and a label of a category involved
  was added or ended between the two runs;
* ``direct_exposure``: its direct exposure to a category of ``direct_exposure_categories`` (default: the illicit
  axis) in one direction reached ``direct_exposure_usd`` in N and was below it in P;
* ``counterparty_labelled``: a direct counterparty got a label (of a category with severity > 0 in the profile)
  that the store did not know at P.

Each alert keeps the old and new verdict, the rule, the evidence transfers, both run ids, and whether the risk
was knowable at the previous screening (``knowable_at_previous``: every fact behind it was in the store's view
when P ran; ``knowable_since``: when the last of them arrived). Alerts are append-only; the idempotency key (rule,
watch entry, what, runs) makes a rerun of the evaluation add nothing. Acknowledging or retracting appends an
``alert_events`` row. A read view (:func:`chainrisk.answers.redact.redact_alert`) carries no label names,
sources or case text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..answers.redact import redact_alert
from ..errors import InputError, NoScoringRun
from ..profiles import Alerts, Axes
from ..store import Provenance, Store, resolve_run
from ..store.runs import CURRENT, LATEST
from ..taxonomy import CATEGORIES

log = logging.getLogger(__name__)

RULES = ("first_activity", "verdict_change", "label_change", "direct_exposure", "counterparty_labelled")
STATES = ("open", "acknowledged", "retracted")
EVIDENCE_LIMIT = 20
#: one evaluation at a time in a process (the service's scoring thread and its follow loop may both finish runs);
#: across processes the store's single writer rules
_EVALUATING = threading.Lock()
_SCORE_COLS = ("score", "band", "illicit_score", "illicit_band", "illicit_reason", "illicit_top_category",
               "illicit_confidence", "vc_score", "vc_band", "vc_reason", "vc_top_category", "action", "categories",
               "direct_usd", "volume_in_usd", "volume_out_usd")
NO_VERDICT: dict[str, Any] = {"status": "not_scored", "illicit": {"band": "none", "score": None}, "vc_business": {"band": "none",
              "score": None}, "action": "none"}
ALERT_COLUMNS = ("seq", "alert_id", "idempotency_key", "created_at", "rule", "watch_id", "watchlist", "reference",
                 "chain", "address", "run_id", "previous_run_id", "old_verdict", "new_verdict", "summary", "details",
                 "evidence", "knowable_since", "knowable_at_previous")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Evaluation:
    """What evaluating one run did."""

    run_id: str
    previous_run_id: str | None
    watched: int = 0
    alerts: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    already: int = 0     # alerts the evaluation found again (kept once: idempotency keys)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- runs ------------------------------------------------------------------------------------------------------

def previous_run(store: Store, run: Provenance) -> Provenance | None:
    """The run ``run`` is compared with: the latest complete (not point-in-time) run of the same profile that
    finished before it."""
    rows = store.execute(
        f"SELECT run_id FROM scoring_runs WHERE {CURRENT} AND profile = ? AND run_id <> ?"
        f" AND finished_at <= ? ORDER BY {LATEST} LIMIT 1", [run.profile, run.run_id, run.finished_at]).fetchall()
    return resolve_run(store, rows[0][0]) if rows else None


def pending_runs(store: Store) -> list[str]:
    """Complete (not point-in-time) runs not yet evaluated, oldest first."""
    return [r[0] for r in store.execute(
        f"SELECT run_id FROM scoring_runs WHERE {CURRENT} AND run_id NOT IN (SELECT run_id FROM alert_evaluations)"
        " ORDER BY finished_at, created_at, run_id").fetchall()]


def evaluate_pending(store: Store) -> list[Evaluation]:
    """Evaluate every complete run that has not been (after a crash between a run and its alerts, or runs made
    through the Python API); oldest first. Returns what each evaluation did."""
    with _EVALUATING:
        return [_evaluate_run(store, run_id) for run_id in pending_runs(store)]


def _alert_rules(run: Provenance) -> tuple[Alerts, Axes, dict[str, int]]:
    prof = run.profile_settings or {}
    a = dict(prof.get("alerts") or {})
    a["direct_exposure_categories"] = tuple(a.get("direct_exposure_categories") or ())
    known = {k: v for k, v in a.items() if k in Alerts.__dataclass_fields__}
    ax = prof.get("axes") or {}
    axes = Axes(**{k: tuple(v) for k, v in ax.items() if k in Axes.__dataclass_fields__})
    return Alerts(**known), axes, dict(prof.get("severity") or {})


# -- verdicts ------------------------------------------------------------------------------------------------

def _verdict(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None or row.get("band") is None:
        return None
    return {
        "status": "ok",
        "illicit": {"band": row["illicit_band"], "score": _r(row["illicit_score"]),
                    "top_category": row["illicit_top_category"], "confidence": row["illicit_confidence"],
                    "reason": row["illicit_reason"]},
        "vc_business": {"band": row["vc_band"], "score": _r(row["vc_score"]),
                        "top_category": row["vc_top_category"], "reason": row["vc_reason"]},
        "action": row["action"], "risk_band": row["band"], "risk_score": _r(row["score"]),
        "categories": [c for c in (row["categories"] or "").split(";") if c],
        "direct_usd": _r(row["direct_usd"]),
        "volume_usd": _r((row["volume_in_usd"] or 0) + (row["volume_out_usd"] or 0)),
    }


def _r(v: Any) -> float | None:
    return None if v is None else round(float(v), 2)


def _axes_of(v: dict[str, Any] | None) -> dict[str, str]:
    v = v or NO_VERDICT
    return {"illicit": v["illicit"]["band"] or "none", "vc_business": v["vc_business"]["band"] or "none",
            "action": v["action"] or "none"}


# -- evidence ------------------------------------------------------------------------------------------------

_TRANSFER = ("SELECT t.chain, t.tx_hash, t.log_index, t.block_number, t.block_time, k.symbol,"
             " fa.address, ta.address, t.amount, t.amount * k.usd_peg AS usd"
             " FROM transfers t JOIN tokens k ON k.id = t.token_id"
             " JOIN addresses fa ON fa.id = t.from_id JOIN addresses ta ON ta.id = t.to_id")


def _transfers(store: Store, where: str, params: list[Any], order: str, limit: int = EVIDENCE_LIMIT) -> list[dict[str, Any]]:
    rows = store.execute(f"{_TRANSFER} WHERE {where} ORDER BY {order} LIMIT {int(limit)}", params).fetchall()
    return [{"chain": r[0], "tx_hash": r[1], "log_index": r[2], "block_number": r[3],
             "block_time": r[4].isoformat() if r[4] else None, "token": r[5], "from": r[6], "to": r[7],
             "amount": r[8], "usd": _r(r[9])} for r in rows]


def _max_time(ev: list[dict[str, Any]]) -> datetime | None:
    times = [datetime.fromisoformat(e["block_time"]) for e in ev if e.get("block_time")]
    return max(times) if times else None


# -- evaluation ----------------------------------------------------------------------------------------------

def evaluate_run(store: Store, run_id: str) -> Evaluation:
    """Raise the alerts of the complete run ``run_id`` (idempotent: alerts found again are not added again) and
    record the evaluation."""
    with _EVALUATING:
        return _evaluate_run(store, run_id)


def _evaluate_run(store: Store, run_id: str) -> Evaluation:
    run = resolve_run(store, run_id)
    if (run.params or {}).get("point_in_time"):
        raise InputError(f"run {run_id} is a point-in-time run; alerts compare current runs only")
    prev = previous_run(store, run)
    rules, axes, severity = _alert_rules(run)
    ev = Evaluation(run.run_id, prev.run_id if prev else None)
    cols = ", ".join(f"n.{c} AS n_{c}" for c in _SCORE_COLS) + ", " + ", ".join(f"p.{c} AS p_{c}" for c in _SCORE_COLS)
    cur = store.execute(
        f"""SELECT w.watch_id, w.watchlist, w.reference, w.chain, w.address, a.id AS address_id, {cols}
        FROM watchlist w LEFT JOIN addresses a ON a.chain = w.chain AND a.address = w.address
        LEFT JOIN scores n ON n.address_id = a.id AND n.run_id = ?
        LEFT JOIN scores p ON p.address_id = a.id AND p.run_id = ?
        WHERE w.removed_at IS NULL AND w.added_at <= ?
        ORDER BY w.added_at, w.rowid""", [run.run_id, prev.run_id if prev else None, run.finished_at])
    names = [d[0] for d in cur.description]
    watched = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    ev.watched = len(watched)
    labels_moved = prev is not None and bool(store.execute(
        "SELECT count(*) FROM labels WHERE imported_at > $lo AND imported_at <= $hi"
        " OR coalesce(retired_at, valid_to) > $lo AND coalesce(retired_at, valid_to) <= $hi",
        {"lo": prev.created_at, "hi": run.created_at}).fetchone()[0])   # type: ignore[index]
    found: list[dict[str, Any]] = []
    for w in watched:
        n = _verdict({c: w[f"n_{c}"] for c in _SCORE_COLS})
        p = _verdict({c: w[f"p_{c}"] for c in _SCORE_COLS})
        ctx = _Ctx(store, run, prev, w, n, p, rules, axes, severity, labels_moved)
        found += ctx.alerts()
    added = _insert(store, found, run, prev, ev)
    ev.alerts = added
    store.execute("INSERT INTO alert_evaluations VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                  [run.run_id, ev.previous_run_id, _now(), ev.watched, ev.alerts])
    if added:
        log.info("run %s: %d alerts for %d watched addresses", run.run_id, added, ev.watched)
    return ev


@dataclass
class _Ctx:
    store: Store
    run: Provenance
    prev: Provenance | None
    w: dict[str, Any]
    n: dict[str, Any] | None
    p: dict[str, Any] | None
    rules: Alerts
    axes: Axes
    severity: dict[str, int]
    labels_moved: bool = True    # a label was added or ended between the two runs (else two rules have nothing)

    @property
    def aid(self) -> int | None:
        v = self.w["address_id"]
        return None if v is None else int(v)

    def alert(self, rule: str, what: str, summary: str, details: dict[str, Any], evidence: list[dict[str, Any]],
              knowable_since: datetime | None, knowable: bool | None, with_runs: bool = True) -> dict[str, Any]:
        w = self.w
        runs = f"|{self.prev.run_id if self.prev else '-'}|{self.run.run_id}" if with_runs else ""
        key = f"{rule}|{w['watch_id']}|{what}{runs}"
        return {"idempotency_key": key, "alert_id": "al" + hashlib.sha256(key.encode()).hexdigest()[:16],
                "rule": rule, "watch_id": w["watch_id"], "watchlist": w["watchlist"], "reference": w["reference"],
                "chain": w["chain"], "address": w["address"], "run_id": self.run.run_id,
                "previous_run_id": self.prev.run_id if self.prev else None, "old_verdict": self.p,
                "new_verdict": self.n, "summary": summary, "details": details, "evidence": evidence,
                "knowable_since": knowable_since, "knowable_at_previous": knowable}

    def _prev_block(self) -> int:
        return -1 if self.prev is None or self.prev.as_of_block is None else int(self.prev.as_of_block)

    def _new_block(self) -> int:
        return 2**62 if self.run.as_of_block is None else int(self.run.as_of_block)

    def _touching(self) -> str:
        return "(t.from_id = ? OR t.to_id = ?)"

    def alerts(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.aid is None:
            return out
        n_active = self.n is not None and (self.n["volume_usd"] or 0) > 0
        p_active = self.p is not None and (self.p["volume_usd"] or 0) > 0
        if self.rules.first_activity and n_active and not p_active:
            out.append(self._first_activity())
        if self.rules.verdict_change or self.rules.label_change:
            out += self._verdict_change()
        if self.rules.direct_exposure_usd > 0:
            out += self._direct_exposure()
        if self.rules.counterparty_labelled and self.prev is not None and self.labels_moved:
            out += self._counterparty_labelled()
        return out

    def _first_activity(self) -> dict[str, Any]:
        ev = _transfers(self.store, f"{self._touching()} AND t.block_number <= ?", [self.aid, self.aid,
                        self._new_block()], "t.block_number, t.log_index")
        first = ev[0] if ev else {}
        return self.alert(
            "first_activity", "", "first activity of the watched address" + (
                f" in block {first['block_number']}" if first else ""),
            {"first_block": first.get("block_number"), "first_time": first.get("block_time")}, ev,
            _max_time(ev[:1]), False if self.prev is not None else None, with_runs=False)

    def _verdict_change(self) -> list[dict[str, Any]]:
        old, new = _axes_of(self.p), _axes_of(self.n)
        changes = [{"axis": k, "old": old[k], "new": new[k]} for k in ("illicit", "vc_business", "action")
                   if old[k] != new[k]]
        if not changes:
            return []
        aid = self.aid
        new_tx = _transfers(self.store, f"{self._touching()} AND t.block_number > ? AND t.block_number <= ?",
                            [aid, aid, self._prev_block(), self._new_block()], "usd DESC NULLS LAST, t.block_number")
        vol_changed = (self.p or {}).get("volume_usd") != (self.n or {}).get("volume_usd")
        labels = self._label_changes()
        if self.prev is not None and not new_tx and not vol_changed and labels:
            rule = "label_change"
            if not self.rules.label_change:
                return []
        else:
            rule = "verdict_change"
            if not self.rules.verdict_change:
                return []
        evidence = new_tx or self._direct_labelled_transfers({c["category"] for c in labels} or self._categories())
        if self.prev is None:
            knowable: bool | None = None
            since = _max_time(evidence)
        elif new_tx or vol_changed:
            knowable, since = False, _max_time(new_tx) or self.prev.finished_at
        elif labels:
            knowable = False
            since = max(datetime.fromisoformat(lab["at"]) for lab in labels)
        else:    # no new transfer, no label change: the facts were in the store (another engine or profile)
            knowable, since = True, self.prev.as_of_time
        summary = "; ".join(f"{c['axis']} {c['old']} -> {c['new']}" for c in changes)
        summary += " (a label was added or ended)" if rule == "label_change" else (
            f" after {len(new_tx)} new transfer(s)" if new_tx else "")
        return [self.alert(rule, "verdict", summary,
                           {"changes": changes, "new_transfers": len(new_tx), "label_changes": labels},
                           evidence, since, knowable)]

    def _categories(self) -> set[str]:
        cats = set((self.n or {}).get("categories") or []) | set((self.p or {}).get("categories") or [])
        for v in (self.n, self.p):
            if v:
                cats |= {v["illicit"].get("top_category"), v["vc_business"].get("top_category")} - {None}
        return cats

    def _label_changes(self) -> list[dict[str, Any]]:
        """Labels added or ended between the previous run and this one, of a category involved in the address's
        verdicts; its own and its direct counterparties' first."""
        if self.prev is None or not self.labels_moved:
            return []
        cats = sorted(self._categories())
        if not cats:
            return []
        lo, hi = self.prev.created_at, self.run.created_at
        rows = self.store.execute(
            """
            WITH cp AS (SELECT DISTINCT CASE WHEN t.from_id = $aid THEN t.to_id ELSE t.from_id END AS id
                        FROM transfers t WHERE t.from_id = $aid OR t.to_id = $aid),
            ch AS (
                SELECT l.*, 'added' AS change, l.imported_at AS at FROM labels l
                WHERE l.imported_at > $lo AND l.imported_at <= $hi AND list_contains($cats, l.category)
                UNION ALL
                SELECT l.*, 'ended', coalesce(l.retired_at, l.valid_to) FROM labels l
                WHERE coalesce(l.retired_at, l.valid_to) > $lo AND coalesce(l.retired_at, l.valid_to) <= $hi
                  AND l.imported_at <= $lo AND list_contains($cats, l.category))
            SELECT ch.address, ch.category, ch.change, ch.at, ch.name, ch.source, ch.confidence,
                   CASE WHEN a.id = $aid THEN 0 WHEN a.id IN (SELECT id FROM cp) THEN 1 ELSE 2 END AS near
            FROM ch LEFT JOIN addresses a ON a.chain = ch.chain AND a.address = ch.address
            ORDER BY near, ch.at DESC, ch.address LIMIT 20
            """, {"aid": self.aid, "lo": lo, "hi": hi, "cats": cats}).fetchall()
        return [{"address": r[0], "category": r[1], "change": r[2], "at": r[3].isoformat(), "name": r[4],
                 "source": r[5], "confidence": r[6], "relation": ("self", "direct counterparty", "elsewhere")[r[7]]}
                for r in rows]

    def _labelled_ids_sql(self) -> str:
        # counterparties with a category: active labels as the run saw them, and the run's inferred labels
        return ("SELECT a.id, l.category, l.imported_at FROM labels l JOIN addresses a"
                " ON a.chain = l.chain AND a.address = l.address WHERE l.imported_at <= $hi"
                " AND coalesce(l.retired_at, l.valid_to, TIMESTAMP '9999-12-31') > $hi"
                " UNION ALL SELECT address_id, category, NULL FROM inferred_labels WHERE run_id = $run")

    def _direct_labelled_transfers(self, cats: set[str]) -> list[dict[str, Any]]:
        if not cats:
            return []
        rows = self.store.execute(
            f"""WITH lab AS ({self._labelled_ids_sql()})
            SELECT t.tx_hash, t.log_index FROM transfers t
            WHERE (t.from_id = $aid AND t.to_id IN (SELECT id FROM lab WHERE list_contains($cats, category))
                OR t.to_id = $aid AND t.from_id IN (SELECT id FROM lab WHERE list_contains($cats, category)))
              AND t.block_number <= $top""",
            {"aid": self.aid, "cats": sorted(cats), "hi": self.run.created_at, "run": self.run.run_id,
             "top": self._new_block()}).fetchall()
        if not rows:
            return []
        keys = [f"{h}:{i}" for h, i in rows]
        return _transfers(self.store, "list_contains(?, t.tx_hash || ':' || t.log_index) AND (t.from_id = ? OR"
                          " t.to_id = ?)", [keys, self.aid, self.aid], "t.block_number DESC, usd DESC NULLS LAST")

    def _direct_exposure(self) -> list[dict[str, Any]]:
        cats = self.rules.direct_exposure_categories or self.axes.illicit
        thr = self.rules.direct_exposure_usd
        rows = self.store.execute(
            """SELECT n.category, n.direction, n.usd, coalesce(p.usd, 0) FROM
               (SELECT category, direction, sum(usd) AS usd FROM exposures WHERE run_id = $new AND address_id = $aid
                AND hop_class = 'direct' AND list_contains($cats, category) GROUP BY ALL) n
               LEFT JOIN (SELECT category, direction, sum(usd) AS usd FROM exposures WHERE run_id = $old
                AND address_id = $aid AND hop_class = 'direct' GROUP BY ALL) p
               ON p.category = n.category AND p.direction = n.direction
               WHERE n.usd >= $thr AND coalesce(p.usd, 0) < $thr ORDER BY n.usd DESC""",
            {"new": self.run.run_id, "old": self.prev.run_id if self.prev else None, "aid": self.aid,
             "cats": list(cats), "thr": thr}).fetchall()
        out = []
        for cat, direction, usd, before in rows:
            ev = [e for e in self._direct_labelled_transfers({cat})
                  if (e["to"] if direction == "in" else e["from"]) == self.w["address"]]
            fresh = [e for e in ev if e["block_number"] > self._prev_block()]
            knowable = None if self.prev is None else not fresh
            out.append(self.alert(
                "direct_exposure", f"{cat}:{direction}",
                f"direct exposure to {cat} ({'incoming' if direction == 'in' else 'outgoing'}) reached "
                f"{usd:,.2f} USD (threshold {thr:,.0f}; before {before:,.2f})",
                {"category": cat, "direction": direction, "usd": _r(usd), "previous_usd": _r(before),
                 "threshold_usd": thr}, ev, _max_time(fresh or ev), knowable))
        return out

    def _counterparty_labelled(self) -> list[dict[str, Any]]:
        assert self.prev is not None
        risky = [c for c in CATEGORIES if self.severity.get(c, 0) > 0]
        lo, hi = self.prev.created_at, self.run.created_at
        rows = self.store.execute(
            """WITH cp AS (SELECT DISTINCT CASE WHEN t.from_id = $aid THEN t.to_id ELSE t.from_id END AS id
                           FROM transfers t WHERE (t.from_id = $aid OR t.to_id = $aid) AND t.block_number <= $top)
            SELECT a.address, a.id, l.category, l.name, l.source, l.confidence, l.imported_at
            FROM cp JOIN addresses a ON a.id = cp.id
            JOIN labels l ON l.chain = a.chain AND l.address = a.address
            WHERE l.imported_at > $lo AND l.imported_at <= $hi AND list_contains($risky, l.category)
              AND coalesce(l.retired_at, l.valid_to, TIMESTAMP '9999-12-31') > $hi AND a.id <> $aid
              AND NOT EXISTS (SELECT 1 FROM labels o WHERE o.chain = l.chain AND o.address = l.address
                              AND o.category = l.category AND o.imported_at <= $lo
                              AND coalesce(o.retired_at, o.valid_to, TIMESTAMP '9999-12-31') > $lo)
            ORDER BY l.imported_at, a.address, l.category, l.source""",
            {"aid": self.aid, "lo": lo, "hi": hi, "risky": risky, "top": self._new_block()}).fetchall()
        out = []
        seen = set()
        for address, cid, cat, name, source, conf, imported in rows:
            if (address, cat) in seen:
                continue
            seen.add((address, cat))
            ev = _transfers(self.store, "(t.from_id = ? AND t.to_id = ? OR t.from_id = ? AND t.to_id = ?)"
                            " AND t.block_number <= ?", [self.aid, cid, cid, self.aid, self._new_block()],
                            "t.block_number DESC")
            out.append(self.alert(
                "counterparty_labelled", f"{address}:{cat}", f"a direct counterparty is now labelled {cat}",
                {"counterparty": address, "label": {"category": cat, "name": name, "source": source,
                                                    "confidence": conf, "imported_at": imported.isoformat()}},
                ev, imported, False))
        return out


def _insert(store: Store, found: list[dict[str, Any]], run: Provenance, prev: Provenance | None,
            ev: Evaluation) -> int:
    if not found:
        return 0
    with store.transaction():
        keys = [a["idempotency_key"] for a in found]
        have = {r[0] for r in store.execute("SELECT idempotency_key FROM alerts WHERE list_contains(?, idempotency_key)",
                                            [keys]).fetchall()}
        new = []
        for a in found:
            if a["idempotency_key"] in have:
                ev.already += 1
                continue
            have.add(a["idempotency_key"])
            new.append(a)
        (top,) = store.execute("SELECT coalesce(max(seq), 0) FROM alerts").fetchone() or (0,)
        now = _now()
        rows = []
        for i, a in enumerate(new, start=1):
            ev.by_rule[a["rule"]] = ev.by_rule.get(a["rule"], 0) + 1
            rows.append([int(top) + i, a["alert_id"], a["idempotency_key"], now, a["rule"], a["watch_id"],
                         a["watchlist"], a["reference"], a["chain"], a["address"], a["run_id"], a["previous_run_id"],
                         _dumps(a["old_verdict"]), _dumps(a["new_verdict"]), a["summary"], _dumps(a["details"]),
                         _dumps(a["evidence"]), a["knowable_since"], a["knowable_at_previous"]])
        if rows:
            store.executemany(f"INSERT INTO alerts ({', '.join(ALERT_COLUMNS)}) VALUES "
                              f"({', '.join('?' * len(ALERT_COLUMNS))})", rows)
    return len(new)


def _dumps(v: Any) -> str | None:
    return None if v is None else json.dumps(v, default=str, sort_keys=True)


# -- reading, acknowledging, retracting ------------------------------------------------------------------------

def _state_sql() -> str:
    return ("(SELECT e.kind FROM alert_events e WHERE e.alert_id = x.alert_id ORDER BY e.event_at DESC,"
            " e.kind = 'retracted' DESC LIMIT 1)")


def list_alerts(store: Store, *, since: datetime | None = None, cursor: int | None = None, limit: int = 100,
                state: str | None = None, role: str = "admin", rule: str | None = None,
                address: str | None = None, ids: list[str] | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Alerts in the order they were raised (``seq``), after ``cursor`` and created at or after ``since``;
    returns (alerts as ``role`` may see them, the next cursor or None when no more). ``state``: open |
    acknowledged | retracted."""
    if state is not None and state not in STATES:
        raise InputError(f"unknown state {state!r}; states: {', '.join(STATES)}")
    if rule is not None and rule not in RULES:
        raise InputError(f"unknown rule {rule!r}; rules: {', '.join(RULES)}")
    where: list[str] = ["true"]
    params: list[Any] = []
    if since is not None:
        where.append("x.created_at >= ?")
        params.append(since)
    if cursor is not None:
        where.append("x.seq > ?")
        params.append(int(cursor))
    if rule is not None:
        where.append("x.rule = ?")
        params.append(rule)
    if address is not None:
        where.append("x.address = ?")
        params.append(address)
    if ids is not None:
        where.append("list_contains(?, x.alert_id)")
        params.append(list(ids))
    state_sql = f"coalesce({_state_sql()}, 'open')"
    if state is not None:
        where.append(f"{state_sql} = ?")
        params.append(state)
    cols = ", ".join(f"x.{c}" for c in ALERT_COLUMNS)
    rows = store.execute(
        f"SELECT {cols}, {state_sql} AS state,"
        " (SELECT max(event_at) FROM alert_events e WHERE e.alert_id = x.alert_id AND e.kind = 'acknowledged'),"
        " (SELECT arg_max(actor, event_at) FROM alert_events e WHERE e.alert_id = x.alert_id AND e.kind = 'acknowledged'),"
        " (SELECT arg_max(note, event_at) FROM alert_events e WHERE e.alert_id = x.alert_id AND e.kind = 'retracted')"
        f" FROM alerts x WHERE {' AND '.join(where)} ORDER BY x.seq LIMIT ?", [*params, int(limit) + 1]).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    out = [redact_alert(_row_dict(r), role) for r in rows]
    return out, (int(rows[-1][0]) if more and rows else None)


def _row_dict(r: tuple[Any, ...]) -> dict[str, Any]:
    d = dict(zip(ALERT_COLUMNS, r[:len(ALERT_COLUMNS)], strict=True))
    for k in ("old_verdict", "new_verdict", "details", "evidence"):
        d[k] = json.loads(d[k]) if d[k] else None
    for k in ("created_at", "knowable_since"):
        d[k] = d[k].isoformat() if d[k] else None
    extra = r[len(ALERT_COLUMNS):]
    d["state"] = extra[0]
    d["acknowledged_at"] = extra[1].isoformat() if extra[1] else None
    d["acknowledged_by"] = extra[2]
    d["retraction"] = extra[3]
    return d


def get_alert(store: Store, alert_id: str, role: str = "admin") -> dict[str, Any]:
    got = list_alerts_by_ids(store, [alert_id], role)
    if not got:
        raise InputError(f"no alert {alert_id!r}")
    return got[0]


def list_alerts_by_ids(store: Store, alert_ids: list[str], role: str = "admin") -> list[dict[str, Any]]:
    got, _ = list_alerts(store, ids=list(alert_ids), limit=max(1, len(alert_ids)), role=role)
    return got


def acknowledge(store: Store, alert_ids: list[str], *, actor: str = "cli", note: str | None = None) -> dict[str, Any]:
    """Acknowledge alerts (an appended event; acknowledging twice adds nothing). Unknown ids raise."""
    known = {r[0] for r in store.execute("SELECT alert_id FROM alerts WHERE list_contains(?, alert_id)",
                                         [alert_ids]).fetchall()}
    missing = [a for a in alert_ids if a not in known]
    if missing:
        raise InputError(f"no alert {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    done = {r[0] for r in store.execute(
        "SELECT DISTINCT alert_id FROM alert_events WHERE kind = 'acknowledged' AND list_contains(?, alert_id)",
        [alert_ids]).fetchall()}
    now = _now()
    todo = [a for a in dict.fromkeys(alert_ids) if a not in done]
    if todo:
        store.executemany("INSERT INTO alert_events VALUES (?, ?, 'acknowledged', ?, ?)",
                          [[a, now, actor, note] for a in todo])
    return {"acknowledged": len(todo), "already": len(set(alert_ids)) - len(todo)}


def retract_missing_evidence(store: Store, chain: str, fork_block: int, *, actor: str = "reorg") -> int:
    """After a reorg at ``fork_block`` was repaired (transfers above it deleted and read again): retract the open
    alerts whose evidence names a transfer above the fork that is no longer in the store. Returns how many."""
    rows = store.execute(
        "SELECT alert_id, evidence FROM alerts x WHERE x.chain = ? AND NOT EXISTS (SELECT 1 FROM alert_events e"
        " WHERE e.alert_id = x.alert_id AND e.kind = 'retracted')", [chain]).fetchall()
    gone = []
    for alert_id, evidence in rows:
        ev = [e for e in json.loads(evidence or "[]") if (e.get("block_number") or -1) > fork_block]
        if not ev:
            continue
        keys = [f"{e['tx_hash']}:{e['log_index']}" for e in ev]
        (have,) = store.execute(
            "SELECT count(*) FROM transfers WHERE chain = ? AND block_number > ? AND"
            " list_contains(?, tx_hash || ':' || log_index)", [chain, fork_block, keys]).fetchone() or (0,)
        if int(have) < len(set(keys)):
            gone.append(alert_id)
    if gone:
        now = _now()
        store.executemany("INSERT INTO alert_events VALUES (?, ?, 'retracted', ?, ?)",
                          [[a, now, actor, f"a reorg above block {fork_block} removed transfers of its evidence;"
                            " the next run re-evaluates the address"] for a in gone])
    return len(gone)


def alerts_summary(store: Store) -> dict[str, Any]:
    """Counts for a status line."""
    try:
        rows = store.execute(f"SELECT coalesce({_state_sql()}, 'open'), count(*) FROM alerts x GROUP BY 1").fetchall()
    except Exception:
        return {}
    return {s: int(n) for s, n in rows}


def latest_evaluation(store: Store) -> dict[str, Any] | None:
    try:
        rows = store.execute("SELECT run_id, previous_run_id, evaluated_at, watched, alerts FROM alert_evaluations"
                             " ORDER BY evaluated_at DESC LIMIT 1").fetchall()
    except NoScoringRun:
        return None
    if not rows:
        return None
    r = rows[0]
    return {"run_id": r[0], "previous_run_id": r[1], "evaluated_at": r[2].isoformat(), "watched": r[3], "alerts": r[4]}
