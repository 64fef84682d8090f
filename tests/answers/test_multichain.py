"""One address, many chains (issue 15): a real DuckDB store built through ``ingest_file(..., chain=...)`` and
``import_labels`` (tests/support/multichain.py), answered per chain and combined by lookup, the CLI, screening
(with and without a chain column), the HTTP service, and the read role's redaction of the new fields."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import multichain as M

import chainrisk
from chainrisk.answers.lookup import lookup
from chainrisk.answers.redact import redact
from chainrisk.answers.screen import screen
from chainrisk.cli import cli
from chainrisk.errors import UsageError

SECRETS = ("bank-internal-investigations", "Nightjar", "Example Exchange", "Example Bridge", "OTC desk")


@pytest.fixture(scope="module")
def mc_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("multichain")
    path = folder / "mc.duckdb"
    with chainrisk.open(path) as st:
        M.build(st, folder)
    return path


@pytest.fixture
def mc(mc_db: Path):
    st = chainrisk.open(mc_db, read_only=True)
    yield st
    st.close()


def test_the_store_holds_three_chains_and_bnb_labels_on_bsc(mc) -> None:
    chains = dict(mc.execute("SELECT chain, count(*) FROM addresses GROUP BY ALL").fetchall())
    assert set(chains) == {"ethereum", "bsc", "polygon"}
    assert mc.execute("SELECT chain FROM labels WHERE address = ?", [M.a("SCAM")]).fetchall() == [("bsc",)]
    # BSC's USDT has 18 decimals: 20,000 USDT arrived as 20,000, not 2e16
    (amount,) = mc.execute("SELECT max(amount) FROM transfers WHERE chain = 'bsc'").fetchone()
    assert amount == pytest.approx(20_000)


def test_lookup_answers_each_chain_and_combines_worst_per_axis(mc) -> None:
    [r] = lookup(mc, M.SUBJECT.upper().replace("0X", "0x"))
    assert r.status == "ok" and r.chain == "evm" and r.chains == ["ethereum", "bsc", "polygon", "arbitrum"]
    per = {p.chain: p for p in r.per_chain}
    assert [p.chain for p in r.per_chain] == r.chains
    assert (per["bsc"].illicit.top_category, per["ethereum"].vc_business.top_category) == ("scam", "exchange")
    assert per["arbitrum"].status == "unknown" and [lab.category for lab in per["arbitrum"].labels] == ["p2p_otc"]
    # the worst per axis, each with the chain it came from; the action follows from the two (cn: both)
    assert (r.illicit.band, r.illicit.chain) == (per["bsc"].illicit.band, "bsc")
    assert (r.vc_business.band, r.vc_business.chain) == (per["ethereum"].vc_business.band, "ethereum")
    assert per["bsc"].action == "report" and per["ethereum"].action == "sever"
    assert r.action == "sever_and_report"
    assert r.risk_score == max(p.risk_score for p in r.per_chain if p.risk_score is not None)
    # every exposure carries its chain; the bridge exposure is on polygon
    assert {(e.category, e.chain) for e in r.exposures} >= {("scam", "bsc"), ("exchange", "ethereum"),
                                                             ("bridge", "polygon")}
    d = r.to_dict()
    assert all(e["chain"] for e in d["exposures"]) and all(lab["chain"] for lab in d["labels"])
    assert d["illicit"]["chain"] == "bsc" and d["chains"] == r.chains and len(d["per_chain"]) == 4
    assert all("provenance" not in p and "per_chain" not in p for p in d["per_chain"])
    assert r.direct_usd == pytest.approx(sum(p.direct_usd or 0 for p in r.per_chain))
    why = " | ".join(r.reasons())
    assert "on bsc" in why and "cross-chain movement" in why and "not traced" in why


def test_chain_narrows_and_accepts_aliases(mc) -> None:
    [bsc] = lookup(mc, M.SUBJECT, chain="bnb")
    assert (bsc.chain, bsc.chains, bsc.per_chain) == ("bsc", ["bsc"], [])
    assert bsc.illicit.top_category == "scam" and bsc.vc_business.band == "none"
    assert "chain" not in bsc.to_dict()["illicit"]            # a single-chain answer keeps the old shape
    [eth] = lookup(mc, M.SUBJECT, chain="ethereum")
    assert eth.chain == "ethereum" and {e.category for e in eth.exposures} == {"exchange"}
    [none] = lookup(mc, M.SUBJECT, chain="base")
    assert none.status == "unknown" and "no base activity" in none.reason
    [tron] = lookup(mc, M.SUBJECT, chain="tron")
    assert tron.status == "invalid" and "cannot be on chain tron" in tron.reason
    with pytest.raises(UsageError):
        lookup(mc, M.SUBJECT, chain="not a chain!")
    # an address only on bsc is answered on bsc without --chain (not 'no ethereum activity')
    [scam] = lookup(mc, M.a("SCAM"))
    assert (scam.status, scam.chain, scam.per_chain) == ("ok", "bsc", [])


def test_explain_names_the_chain_of_every_path_and_hop(mc_db: Path) -> None:
    with chainrisk.open(mc_db) as st:   # the first explanation builds the evidence tables
        [r] = lookup(st, M.SUBJECT, explain=True)
    assert r.evidence
    chains = {p["chain"] for p in r.evidence}
    assert chains == {"ethereum", "bsc", "polygon"}
    for p in r.evidence:
        assert p["transfers"] and all(h["chain"] == p["chain"] for h in p["transfers"])


def test_cli_lookup_table_json_and_chain_option(mc_db: Path) -> None:
    run = CliRunner()
    out = run.invoke(cli, ["--db", str(mc_db), "lookup", M.SUBJECT])
    assert out.exit_code == 0, out.output
    assert "combined over 4 chains: ethereum, bsc, polygon, arbitrum" in out.output
    assert "Per chain:" in out.output and "cross-chain bridge" in out.output
    js = run.invoke(cli, ["--db", str(mc_db), "lookup", M.SUBJECT, "--chain", "polygon", "--format", "json"])
    [doc] = json.loads(js.output)
    assert doc["chain"] == "polygon" and doc["top_category"] == "bridge" and doc["per_chain"] == []
    zh = run.invoke(cli, ["--db", str(mc_db), "lookup", M.SUBJECT, "--lang", "zh-CN"])
    assert "各链结果" in zh.output and "综合 4 条链" in zh.output
    assert _exit(["--db", str(mc_db), "-q", "lookup", M.SUBJECT, "--chain", "??"]) == 2


def _exit(args: list[str]) -> int:
    from chainrisk.cli import main

    with pytest.raises(SystemExit) as e:
        rv = main(args)
        raise SystemExit(rv or 0)
    return int(e.value.code or 0)


def test_read_role_redaction_of_the_multichain_answer(mc) -> None:
    [r] = lookup(mc, M.SUBJECT)
    full = json.dumps(r.to_dict(), default=str)
    assert all(s in full for s in ("bank-internal-investigations", "OTC desk"))   # the search can fail
    red = redact(r.to_dict(), "read")
    text = json.dumps(red, default=str)
    assert not [s for s in SECRETS if s in text]
    assert red["labels"] == [{"category": "p2p_otc", "active": True, "chain": "arbitrum"}]
    assert [p["chain"] for p in red["per_chain"]] == r.chains
    assert red["per_chain"][3]["labels"] == [{"category": "p2p_otc", "active": True}]
    assert red["reason"].startswith("worst on bsc: exposed to scam")
    assert red["illicit"]["chain"] == "bsc" and "provenance" not in red["per_chain"][0]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_screen_without_chain_column_combines(mc, tmp_path: Path) -> None:
    src = tmp_path / "declared.csv"
    src.write_text(f"customer,address\nc1,{M.SUBJECT}\nc2,{M.a('SCAM')}\nc3,{M.a('NOBODY')}\nc4,{M.SUBJECT}\n",
                   encoding="utf-8")
    res = screen(mc, src, output=tmp_path / "out.csv")
    rows = _rows(tmp_path / "out.csv")
    assert [r["customer"] for r in rows] == ["c1", "c2", "c3", "c4"]
    c1, c2, c3, c4 = rows
    assert (c1["chain"], c1["chains"], c1["risk_band"], c1["action"]) == (
        "evm", "ethereum;bsc;polygon", "high", "sever_and_report")
    assert c1["illicit_band"] == "high" and c1["vc_business_band"] == "high"
    assert c1["reason"].startswith("worst on bsc: ")
    assert set(c1["categories"].split(";")) == {"scam", "exchange", "bridge"}
    assert (c2["chain"], c2["chains"], c2["status"]) == ("bsc", "bsc", "ok")
    assert (c3["status"], c3["chain"], c3["chains"]) == ("unknown", "ethereum", "")
    assert c4["duplicate_of_row"] == "1"
    assert res.report["counts"]["input_rows"] == 4 and res.report["input"]["chain_column"] is None


def test_screen_with_chain_column(mc, tmp_path: Path) -> None:
    src = tmp_path / "declared.csv"
    src.write_text("customer,address,chain\n"
                   f"c1,{M.SUBJECT},bnb\nc2,{M.SUBJECT},\nc3,{M.SUBJECT},Polygon\nc4,{M.SUBJECT},tron\n"
                   f"c5,{M.SUBJECT},solana!\nc6,{M.SUBJECT},arbitrum\nc7,{M.SUBJECT},bsc\n"
                   "c8,TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,bsc\n", encoding="utf-8")
    res = screen(mc, src, output=tmp_path / "out.csv", role="read")
    rows = {r["customer"]: r for r in _rows(tmp_path / "out.csv")}
    assert len(rows) == 8 and rows["c1"]["input_chain"] == "bnb"     # the bank's column is kept, renamed
    assert (rows["c1"]["chain"], rows["c1"]["illicit_band"], rows["c1"]["action"]) == ("bsc", "high", "report")
    assert rows["c2"]["chain"] == "evm" and rows["c2"]["action"] == "sever_and_report"
    assert (rows["c3"]["chain"], rows["c3"]["top_category"]) == ("polygon", "bridge")
    assert rows["c4"]["status"] == "invalid" and "cannot be on chain tron" in rows["c4"]["reason"]
    assert rows["c5"]["status"] == "invalid" and "unknown chain" in rows["c5"]["reason"]
    assert rows["c6"]["status"] == "unknown" and rows["c6"]["chain"] == "arbitrum"
    # (address, chain) pairs are what duplicates are counted on: bnb and bsc are one chain
    assert rows["c7"]["duplicate_of_row"] == "1" and rows["c3"]["duplicate_of_row"] == ""
    assert rows["c8"]["status"] == "invalid"
    assert res.report["input"]["chain_column"] == "chain"
    assert res.report["counts"]["status"] == {"ok": 4, "unknown": 1, "invalid": 3}
    text = (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert not [s for s in SECRETS if s in text]     # the read role's reasons: categories only


def test_screen_cli_chain_column_option(mc_db: Path, tmp_path: Path) -> None:
    src = tmp_path / "declared.csv"
    src.write_text(f"address,net\n{M.SUBJECT},bnb\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["-q", "--db", str(mc_db), "screen", str(src), "--chain-column", "net"])
    assert out.exit_code == 0, out.output
    [row] = list(csv.DictReader(out.output.splitlines()))
    assert (row["chain"], row["chains"]) == ("bsc", "bsc")
    assert _exit(["-q", "--db", str(mc_db), "screen", str(src), "--chain-column", "nope"]) == 2


def test_service_answers_per_chain_and_redacts(mc_db: Path) -> None:
    from support.service import Server

    srv = Server(mc_db, rate_limit=0)
    try:
        admin, read = srv.key("admin", "compliance"), srv.key("read", "onboarding")
        doc = srv.get(f"/v1/addresses/{M.SUBJECT}", admin).json()
        assert doc["chain"] == "evm" and doc["chains"] == ["ethereum", "bsc", "polygon", "arbitrum"]
        assert doc["action"] == "sever_and_report" and "bank-internal-investigations" in json.dumps(doc)
        narrowed = srv.get(f"/v1/addresses/{M.SUBJECT}?chain=bnb", admin).json()
        assert narrowed["chain"] == "bsc" and narrowed["per_chain"] == []
        r = srv.get(f"/v1/addresses/{M.SUBJECT}", read).json()
        assert r["chain"] == "evm" and not [s for s in SECRETS if s in json.dumps(r)]
        assert r["per_chain"][3]["labels"] == [{"category": "p2p_otc", "active": True}]
        batch = srv.post("/v1/screen", read, json=[{"address": M.SUBJECT}, {"address": M.SUBJECT, "chain": "bsc"},
                                                   {"address": M.a("SCAM")}]).json()["results"]
        assert [b["chain"] for b in batch] == ["evm", "bsc", "bsc"]
        assert batch[0]["illicit"] == r["illicit"] and batch[0]["action"] == r["action"]
        assert not [s for s in SECRETS if s in json.dumps(batch)]
        bad = srv.get(f"/v1/addresses/{M.SUBJECT}?chain=%3F%3F", read)
        assert bad.status_code == 422
    finally:
        srv.stop()


def test_report_has_a_per_chain_section_and_chain_links(mc_db: Path, tmp_path: Path) -> None:
    from chainrisk.answers.report import report

    with chainrisk.open(mc_db) as st:
        md = tmp_path / "r.md"
        report(st, M.SUBJECT, md)
        text = md.read_text(encoding="utf-8")
        assert "## Per chain" in text and "| bsc | high risk | 72 |" in text
        assert "(on bsc)" in text and "does not trace the other side" in text
        assert "| polygon |" in text     # transfers and labels name their chain
        zh = tmp_path / "r.html"
        report(st, M.SUBJECT, zh, lang="zh-CN")
        html_text = zh.read_text(encoding="utf-8")
        assert "各链判定" in html_text and "（bsc 链）" in html_text and "跨链桥另一侧" in html_text
        # each transfer links to its own chain's explorer
        assert "https://bscscan.com/tx/" in html_text and "https://polygonscan.com/address/" in html_text


def test_graph_draws_an_address_only_on_bsc_on_bsc(mc) -> None:
    from chainrisk.answers.graph import neighbourhood

    g = neighbourhood(mc, M.a("MULE"))
    assert g["nodes"] and any(n.get("address") == M.a("SCAM") for n in g["nodes"])
