"""What each role may see: the one redaction step for every answer a read key gets (no tipping-off).

``admin`` (compliance officers, investigators): the full lookup contract, evidence paths (``explain``), key and
audit management, scoring runs.

``read`` (onboarding and payment systems): the verdict and its reasons — status, score, band, categories,
exposure figures per category/direction/hop, behavioural indicator names and severities, and the run that
answered, and the behaviour part ("behaves like ...": the model's score, the top features' values and
contributions: not label intelligence) — but nothing of the label intelligence behind it: label entries carry only their category and whether
they are active (no entity name, source, version or confidence), indicator evidence is withheld, evidence paths
are refused, the provenance omits the label-source inventory and engine parameters, and the ``reason`` is built
again from categories only (:func:`read_reason`): the engine's sentence names the label (``labelled scam
Operation Nightjar suspect (case 2024-118) by bank-internal-investigations``) and is never shown. The keys of the
JSON stay the same for both roles, so one client parses both.

:func:`redact` turns a full lookup answer (``LookupResult.to_dict()``) into what ``role`` may see;
:func:`read_reason_sql` is the same sentence as a SQL expression, for screening results built in the store
(tests check that the two agree).
"""

from __future__ import annotations

from typing import Any

ROLES = ("read", "admin")
READ_PROVENANCE = ("run_id", "profile", "created_at", "finished_at", "as_of_block", "as_of_time")
LABELS_CLAUSE = "; it carries labels: "   # how an unknown answer's sentence lists labels (see lookup.unknown_reason)
NO_EXPOSURE = "no exposure to risky categories"
VERDICT_AXES = ("illicit", "vc_business")
_LABELLED = "labelled "


def _read_verdict(verdict: dict[str, Any]) -> dict[str, Any]:
    """A verdict's reason as a read key sees it: an own-label sentence says the category only (the engine's says
    the label's confidence); exposure and indicator sentences are figures and names the read view shows anyway."""
    out = dict(verdict)
    reason = verdict.get("reason")
    if isinstance(reason, str) and reason.startswith(_LABELLED):
        out["reason"] = _LABELLED + str(verdict.get("top_category"))
    return out


def redact(result: dict[str, Any], role: str) -> dict[str, Any]:
    """``result`` (a lookup contract dict) as ``role`` may see it: itself for ``admin``, a new dict otherwise (any
    role that is not ``admin`` gets the read view)."""
    if role == "admin":
        return result
    out = dict(result)
    out["reason"] = read_reason(result)
    # an answer over several chains names the chain of each label and indicator (not label intelligence)
    out["labels"] = [{"category": lab.get("category"), "active": lab.get("active")}
                     | ({"chain": lab["chain"]} if "chain" in lab else {}) for lab in result["labels"]]
    out["indicators"] = [
        {"indicator": i.get("indicator"), "severity": i.get("severity"), "evidence": None}
        | ({"chain": i["chain"]} if "chain" in i else {})
        for i in result["indicators"]
    ]
    out["evidence"] = None
    # the behaviour part (model score, feature values, contributions) is not label intelligence: shown as is
    out["behaviour"] = result.get("behaviour")
    if result.get("status") == "ok" and result.get("top_category") is None and (result.get("risk_score") or 0) > 0:
        beh = result.get("behaviour") or {}
        if beh.get("sentence"):
            out["reason"] = str(beh["sentence"])
    for axis in VERDICT_AXES:
        if isinstance(result.get(axis), dict):
            out[axis] = _read_verdict(result[axis])
    if "per_chain" in result:   # each chain's answer is redacted the same way (it has no provenance of its own)
        out["per_chain"] = [{k: v for k, v in redact(p | {"provenance": None}, role).items() if k != "provenance"}
                            for p in result.get("per_chain") or []]
    if len(result.get("per_chain") or []) > 1 and result.get("status") == "ok":
        worst = next((p for p in out["per_chain"] if p.get("status") == "ok"
                      and p.get("risk_score") == result.get("risk_score")), None)
        if worst is not None:
            out["reason"] = f"worst on {worst.get('chain')}: {worst.get('reason')}"
    if "provenance" in result:
        prov = result.get("provenance") or {}
        out["provenance"] = {k: prov.get(k) for k in READ_PROVENANCE}
    return out


def read_reason(result: dict[str, Any]) -> str:
    """The reason a read key sees, from the answer's categories and hop counts only.

    ``ok``: ``labelled CATEGORY`` (the address's own label), ``exposed to CATEGORY; the nearest risky
    counterparty is a direct one`` / ``is N hops away``, or ``no exposure to risky categories``. ``unknown``: the
    sentence up to its label list (chain and run only), then the active labels' categories. ``invalid``: the
    parser's reason, which is about the caller's own input."""
    status = result.get("status")
    if status == "ok":
        return _ok_reason(result.get("top_category"), result.get("min_hops"))
    if status == "unknown":
        base = str(result.get("reason") or "").split(LABELS_CLAUSE, 1)[0]
        cats = sorted({str(lab.get("category")) for lab in result.get("labels") or [] if lab.get("active")})
        return base + (LABELS_CLAUSE + ", ".join(cats) if cats else "")
    return str(result.get("reason") or "")


def _ok_reason(top: str | None, min_hops: int | None) -> str:
    if top is None:
        return NO_EXPOSURE
    if min_hops == 0:
        return f"labelled {top}"
    if min_hops is None:
        return f"exposed to {top}"
    if min_hops == 1:
        return f"exposed to {top}; the nearest risky counterparty is a direct one"
    return f"exposed to {top}; the nearest risky counterparty is {min_hops} hops away"


def read_reason_sql(top: str, min_hops: str) -> str:
    """:func:`read_reason` of a scored (``ok``) row as a SQL expression over the columns ``top`` and ``min_hops``."""
    return (f"CASE WHEN {top} IS NULL THEN '{NO_EXPOSURE}'"
            f" WHEN {min_hops} = 0 THEN 'labelled ' || {top}"
            f" WHEN {min_hops} IS NULL THEN 'exposed to ' || {top}"
            f" WHEN {min_hops} = 1 THEN 'exposed to ' || {top} || '; the nearest risky counterparty is a direct one'"
            f" ELSE 'exposed to ' || {top} || '; the nearest risky counterparty is ' || {min_hops} || ' hops away'"
            " END")


def redact_graph(graph: dict[str, Any], role: str) -> dict[str, Any]:
    """A graph answer (:mod:`chainrisk.answers.graph`: neighbourhood or path) as ``role`` may see it: for a read
    key every node's labels keep only their category (no entity name, no source), as in :func:`redact`; edges and
    figures are transfers the read view shows anyway. ``admin`` gets ``graph`` itself."""
    if role == "admin":
        return graph
    out = dict(graph)
    out["nodes"] = [{**n, "labels": [{"category": lab.get("category")} for lab in n.get("labels") or []]}
                    for n in graph.get("nodes") or []]
    return out


# -- alerts (chainrisk.monitoring) ----------------------------------------------------------------------------

_ALERT_LABEL_KEYS = ("address", "category", "change", "at", "relation")


def _read_alert_verdict(v: dict[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(v, dict):
        return v
    out = dict(v)
    for axis in VERDICT_AXES:
        if isinstance(v.get(axis), dict):
            out[axis] = _read_verdict(v[axis])
    return out


def redact_alert(alert: dict[str, Any], role: str) -> dict[str, Any]:
    """An alert (:func:`chainrisk.monitoring.alerts.list_alerts`) as ``role`` may see it: itself for ``admin``;
    for a read key (and a webhook with the read view) the label facts behind it say only their category (no name,
    source, version or confidence: those may name a case or an investigation), verdict reasons that quote a label
    say ``labelled CATEGORY``, and the retraction note is dropped."""
    if role == "admin":
        return alert
    out = dict(alert)
    for k in ("old_verdict", "new_verdict"):
        out[k] = _read_alert_verdict(alert.get(k))
    details = dict(alert.get("details") or {})
    if isinstance(details.get("label_changes"), list):
        details["label_changes"] = [{k: lab.get(k) for k in _ALERT_LABEL_KEYS if k in lab}
                                    for lab in details["label_changes"]]
    if isinstance(details.get("label"), dict):
        details["label"] = {"category": details["label"].get("category"),
                            "imported_at": details["label"].get("imported_at")}
    out["details"] = details
    if "retraction" in out:
        out["retraction"] = "retracted" if out.get("retraction") else None
    return out
