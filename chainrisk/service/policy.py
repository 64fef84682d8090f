"""What each role may see (no tipping-off).

``admin`` (compliance officers, investigators): the full lookup contract, evidence paths (``explain``), key and
audit management, scoring runs.

``read`` (onboarding and payment systems): the verdict and its reasons — status, score, band, categories,
exposure figures per category/direction/hop, behavioural indicator names and severities, and the run that
answered — but not label source internals: label entries carry only their category and whether they are active
(no entity name, source, version or confidence), indicator evidence (counterparties, transactions) is withheld,
evidence paths (``explain``) are refused with ``forbidden``, and the provenance omits the label-source inventory
and engine parameters. The keys of the JSON stay the same for both roles, so one client parses both.
"""

from __future__ import annotations

from typing import Any

READ_PROVENANCE = ("run_id", "profile", "created_at", "finished_at", "as_of_block", "as_of_time")


def redact(result: dict[str, Any], role: str) -> dict[str, Any]:
    """``result`` (a lookup contract dict) as ``role`` may see it. Returns a new dict for ``read``."""
    if role == "admin":
        return result
    out = dict(result)
    out["labels"] = [{"category": lab.get("category"), "active": lab.get("active")} for lab in result["labels"]]
    out["indicators"] = [
        {"indicator": i.get("indicator"), "severity": i.get("severity"), "evidence": None}
        for i in result["indicators"]
    ]
    out["evidence"] = None
    prov = result.get("provenance") or {}
    out["provenance"] = {k: prov.get(k) for k in READ_PROVENANCE}
    return out
