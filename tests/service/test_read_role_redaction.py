"""No tipping-off (issue 13, item 8): nothing a read key gets — single lookups, batch lookups, screening jobs, the
library's read-role screening — carries a label's name, source or case text, not even inside ``reason``.

A property test: hypothesis writes label names, sources and case references into a real scored store (the reason
the engine stored for the address names them, as the engine's reasons do), and every read-role answer is searched
for them. The admin answer is checked to carry them, so the search can fail."""

from __future__ import annotations

import csv
import io
import json
import string
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support import scored_store as S
from support.service import Server, scored_db

from chainrisk.answers.redact import read_reason, redact
from chainrisk.answers.screen import screen

SCAM = S.SUBJECT      # scored in r-new; gets an active label whose name, source and case text are secret
ONLY = S.LABEL_ONLY   # a label and no activity: answered 'unknown', whose reason used to list label sources

# secrets are long enough, and mixed enough, never to occur in an answer by chance
_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_.:/#'()", min_size=10, max_size=40)
secret = _TEXT.map(str.strip).filter(lambda s: len(s) >= 10 and any(c.isdigit() for c in s)
                                     and any(c.isupper() for c in s))


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory):
    db = scored_db(tmp_path_factory.mktemp("redact") / "svc.duckdb")
    s = Server(db, rate_limit=0, cache_max_addresses=0)
    s.admin = s.key("admin", "compliance")  # type: ignore[attr-defined]
    s.read = s.key("read", "onboarding")  # type: ignore[attr-defined]
    yield s
    s.stop()


def _plant(srv: Server, name: str, source: str, case: str) -> list[str]:
    """Give SCAM and ONLY an active label named ``name (case ...)`` from ``source``, and SCAM the engine-style
    reason that names it. Returns the strings that must never reach a read key."""
    st_ = srv.service.store
    full = f"{name} (case {case})"
    st_.execute("DELETE FROM labels WHERE address IN (?, ?) AND category = 'scam'", [SCAM, ONLY])
    for addr in (SCAM, ONLY):
        st_.execute("INSERT INTO labels (chain, address, category, name, source, source_version, confidence,"
                    " valid_from, valid_to, imported_at) VALUES ('ethereum', ?, 'scam', ?, ?, 'v1', 90, NULL, NULL,"
                    " now())", [addr, full, source])
    ids = dict(st_.execute("SELECT address, id FROM addresses").fetchall())
    said = f"labelled scam {full} by {source} (confidence 90)"
    # the illicit verdict's reason too (the engine's names only the category and confidence; a label name planted
    # there must not reach a read key either)
    st_.execute("UPDATE scores SET reason = ?, own_categories = 'scam', min_hops = 0, top_category = 'scam',"
                " illicit_reason = ?, illicit_top_category = 'scam' WHERE run_id = ? AND address_id = ?",
                [said, said, S.R_NEW, ids[SCAM]])
    return [name, source, case]


def _leaks(text: str, secrets: list[str]) -> list[str]:
    forms = {s2 for s in secrets for s2 in (s, json.dumps(s)[1:-1])}
    return [s for s in forms if s in text]


def _wait_job(srv: Server, job_id: str, token: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        d = srv.get(f"/v1/screen/jobs/{job_id}", token).json()
        if d["status"] in ("complete", "failed"):
            return d
        time.sleep(0.05)
    raise AssertionError("the screening job did not finish")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=secret, source=secret, case=secret)
def test_no_label_name_source_or_case_reaches_a_read_key(srv: Server, tmp_path: Path, name, source, case) -> None:
    assume(len({name, source, case}) == 3)
    secrets = _plant(srv, name, source, case)
    read, admin = srv.read, srv.admin  # type: ignore[attr-defined]
    # the admin sees them (so a search that finds nothing means something)
    full = srv.get(f"/v1/addresses/{SCAM}", admin).text
    assert name in json.loads(full)["reason"] and source in full
    assert name in json.loads(full)["illicit"]["reason"]
    assert source in json.loads(srv.get(f"/v1/addresses/{ONLY}", admin).text)["reason"]
    answers = {
        "lookup scored": srv.get(f"/v1/addresses/{SCAM}", read).text,
        "lookup unknown": srv.get(f"/v1/addresses/{ONLY}", read).text,
        "batch": srv.post("/v1/screen", read, json=[{"address": SCAM}, {"address": ONLY}]).text,
    }
    r = srv.post("/v1/screen/jobs?filename=d.csv", read, data=f"id,address\n1,{SCAM}\n2,{ONLY}\n".encode(),
                 headers={"Content-Type": "text/csv"})
    job = _wait_job(srv, r.json()["job_id"], read)
    assert job["status"] == "complete", job
    answers["job result"] = srv.get(job["result_url"], read).text
    answers["job status"] = json.dumps(job)
    rows = screen(srv.service.store, [SCAM, ONLY], role="read").arrow().to_pylist()
    answers["library screen"] = json.dumps(rows)
    for where, text in answers.items():
        assert not _leaks(text, secrets), (where, text)
    # the read answers still say what matters: the category, in a reason
    one = json.loads(answers["lookup scored"])
    assert one["reason"] == "labelled scam" and one["risk_band"] == "high"
    assert one["illicit"]["reason"] == "labelled scam" and "confidence" not in one["illicit"]["reason"]
    assert json.loads(answers["lookup unknown"])["reason"].endswith("it carries labels: sanctions, scam")
    job_rows = list(csv.DictReader(io.StringIO(answers["job result"])))
    assert job_rows[0]["reason"] == "labelled scam" and job_rows[1]["status"] == "unknown"


def test_read_reason_is_built_from_categories_only() -> None:
    base = {"status": "ok", "reason": "labelled scam Operation Nightjar suspect (case 2024-118) by "
            "bank-internal-investigations (confidence 90)", "top_category": "scam", "min_hops": 0,
            "labels": [], "indicators": [], "provenance": {}}
    assert read_reason(base) == "labelled scam"
    assert read_reason(base | {"top_category": "mixer", "min_hops": 1}) == (
        "exposed to mixer; the nearest risky counterparty is a direct one")
    assert read_reason(base | {"top_category": "mixer", "min_hops": 3}) == (
        "exposed to mixer; the nearest risky counterparty is 3 hops away")
    assert read_reason(base | {"top_category": None, "min_hops": None}) == "no exposure to risky categories"
    unknown = {"status": "unknown", "reason": "no ethereum activity of this address is in the store; it carries "
               "labels: scam (bank-internal-investigations)", "labels": [{"category": "scam", "active": True}]}
    assert read_reason(unknown) == "no ethereum activity of this address is in the store; it carries labels: scam"
    out = redact(base, "read")
    assert out["reason"] == "labelled scam" and redact(base, "admin") is base
