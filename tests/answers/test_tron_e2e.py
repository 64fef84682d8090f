"""TRON end to end: a tronetl file -> the store (base58) -> labels on tron -> the real engine -> lookup, explain,
screen and report, with the TRON-specific pitfalls: the null address T9yD14... (mints and burns) is inert, zero-value
and dust transfers from a scammer (address poisoning) carry no taint, and a TRON exchange's deposit addresses are
recognised by their sweeps. A mixed Ethereum + TRON screening file keeps one row per input."""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

import chainrisk.engine.score as score_mod
from chainrisk.address import tron_from_hex
from chainrisk.answers.lookup import BANDS, lookup
from chainrisk.answers.screen import screen
from chainrisk.ingest.file import ingest_file
from chainrisk.store import Store

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
NULL = "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb"
T0 = int(datetime(2025, 6, 1, tzinfo=UTC).timestamp())


def t(name: str) -> str:
    return NULL if name == "NULL" else tron_from_hex("41" + hashlib.sha256(name.encode()).hexdigest()[:40])


# (hours, from, to, USDT)
FLOWS = [
    (0, "NULL", "ISSUER_RX", 1_000_000),       # a mint
    (1, "ISSUER_RX", "SCAM", 50_000),          # the scammer is funded by an issuer payout
    (2, "SCAM", "NULL", 1_000),                # a burn by the scammer: taint must not reach the null address ...
    (3, "NULL", "MINTED", 20_000),             # ... nor whoever gets a later mint
    (4, "SCAM", "MULE", 30_000),
    (5, "MULE", "SUBJECT", 29_000),
    (6, "SCAM", "POISONED", 0),                # zero-value transferFrom spam
    (6.1, "SCAM", "DUSTED", 0.000001),         # dust from a look-alike
    (7, "POISONED", "OTHER", 5_000),           # the poisoned address's own, unrelated flow
    (7, "FUNDER", "POISONED", 6_000),
    (7, "FUNDER", "DUSTED", 6_000),
    # a TRON exchange: customers pay their deposit addresses, which sweep to the labelled hot wallet
    (8, "CUST1", "DEP1", 2_000), (8.2, "DEP1", "HOT", 2_000),
    (9, "CUST2", "DEP1", 3_000), (9.1, "DEP1", "HOT", 3_000),
    (8, "CUST3", "DEP2", 4_000), (8.3, "DEP2", "HOT", 4_000),
    (10, "CUST4", "DEP2", 1_500), (10.2, "DEP2", "HOT", 1_500),
    (11, "HOT", "WITHDRAWER", 10_000),
]


@pytest.fixture
def tron_scored(store: Store, tmp_path: Path) -> Store:
    path = tmp_path / "token_transfers.csv"
    blocks = tmp_path / "blocks.csv"
    with path.open("w", newline="") as f, blocks.open("w", newline="") as fb:
        w, wb = csv.writer(f), csv.writer(fb)
        w.writerow(["token_address", "from_address", "to_address", "value", "transaction_hash", "log_index",
                    "block_number"])
        wb.writerow(["number", "timestamp"])
        for i, (h, a, b, usdt) in enumerate(FLOWS):
            blk = 70_000_000 + int(h * 1200)
            w.writerow([USDT, t(a), t(b), round(usdt * 10**6), f"{i + 1:064x}", 0, blk])
            wb.writerow([blk, T0 + int(h * 3600)])
    rep = ingest_file(store, path, "tronetl", chain="tron", blocks_file=blocks)
    assert rep.files[0].rows_added == len(FLOWS)
    for name, cat in (("SCAM", "scam"), ("HOT", "exchange")):
        store.execute(
            "INSERT INTO labels (chain, address, category, name, source, source_version, confidence, imported_at)"
            " VALUES ('tron', ?, ?, ?, 'test', '1', 60, now()::TIMESTAMP)", [t(name), cat, f"{name} (test)"])
    score_mod.score(store, "cn")
    return store


def test_tron_verdicts_and_base58_evidence(tron_scored: Store, tmp_path: Path) -> None:
    st = tron_scored
    mule, subject = lookup(st, [t("MULE"), t("SUBJECT")])
    assert mule.chain == subject.chain == "tron" and mule.address == t("MULE")
    assert ("scam", "in", "direct", 1) in [(e.category, e.direction, e.hop_class, e.min_hop) for e in mule.exposures]
    assert ("scam", "in", "indirect", 2) in [
        (e.category, e.direction, e.hop_class, e.min_hop) for e in subject.exposures]
    assert BANDS.index(mule.illicit.band or "none") >= BANDS.index(subject.illicit.band or "none") > 0
    [r] = lookup(st, t("SUBJECT"), explain=True)
    scam = [p for p in r.evidence or [] if p["category"] == "scam"]
    assert scam, r.evidence
    hops = scam[0]["transfers"]
    assert [h["tx_hash"] for h in hops] == [f"0x{5:064x}", f"0x{6:064x}"]
    assert scam[0]["address"] == t("SUBJECT") and scam[0]["counterparty"] == t("SCAM")
    on_path = [h[k] for h in hops for k in ("from_address", "to_address")]
    assert on_path == [t("SCAM"), t("MULE"), t("MULE"), t("SUBJECT")]  # base58 on the path, never hex
    from chainrisk.answers.report import report

    html = report(st, t("SUBJECT"), tmp_path / "r.html").read_text(encoding="utf-8")
    assert t("SUBJECT") in html and t("MULE") in html


def test_null_address_zero_value_and_dust_carry_no_taint(tron_scored: Store) -> None:
    rows = {r.address: r for r in lookup(tron_scored, [NULL, t("MINTED"), t("POISONED"), t("DUSTED"),
                                                       t("OTHER")])}
    for name in ("MINTED", "POISONED", "DUSTED", "OTHER"):
        r = rows[t(name)]
        assert "scam" not in {e.category for e in r.exposures}, (name, r.exposures)
        assert (r.illicit.band or "none") == "none", (name, r.illicit)
    null = rows[NULL]
    assert "scam" not in {e.category for e in null.exposures}


def test_tron_deposit_addresses_are_recognised_by_their_sweeps(tron_scored: Store) -> None:
    got = {a for (a,) in tron_scored.execute(
        "SELECT a.address FROM inferred_labels i JOIN addresses a ON a.id = i.address_id"
        " WHERE i.method = 'deposit_sweep'").fetchall()}
    assert {t("DEP1"), t("DEP2")} <= got
    assert t("CUST1") not in got and t("HOT") not in got


def test_mixed_ethereum_and_tron_screening(tron_scored: Store) -> None:
    typo = t("SUBJECT")[:-1] + ("z" if t("SUBJECT")[-1] != "z" else "y")
    addrs = [t("MULE"), "0x" + "ab" * 20, t("SUBJECT").lower(), t("SUBJECT"), "41" + "00" * 20, "junk", typo,
             f"  {t('DEP1')} "]
    rows = screen(tron_scored, addrs).arrow().to_pylist()
    assert len(rows) == len(addrs)
    assert [r["status"] for r in rows] == ["ok", "unknown", "invalid", "ok", "ok", "invalid", "invalid", "ok"]
    assert "checksum" in (rows[6]["reason"] or "") and rows[7]["address_normalized"] == t("DEP1")
    assert rows[4]["address_normalized"] == NULL and rows[0]["chain"] == "tron"


def test_service_answers_tron_addresses_in_base58(tron_scored: Store) -> None:
    from support.service import Server

    from chainrisk.address import tron_to_hex

    db = Path(tron_scored.path)
    expected = [r.to_dict() for r in lookup(tron_scored, [t("MULE")])]
    tron_scored.close()
    s = Server(db, rate_limit=0)
    try:
        admin = s.key("admin", "compliance")
        r = s.get(f"/v1/addresses/{t('MULE')}", admin)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["address"] == t("MULE") and body["chain"] == "tron"
        assert body["risk_band"] == expected[0]["risk_band"] and body["exposures"] == expected[0]["exposures"]
        # the 41-hex spelling of the same address is the same answer, in base58
        hex41 = tron_to_hex(t("MULE"))
        r2 = s.get(f"/v1/addresses/{hex41}", admin)
        assert r2.status_code == 200 and r2.json()["address"] == t("MULE")
    finally:
        s.stop()
