"""Labels carry their chain (issue 15): one alias table for chain names (bnb -> bsc), chains the registry lacks
kept, Tether's freezes on each chain where the registry has Tether's USDT, and linked labels: a label of an
externally owned address offered on its other EVM chains, never for a contract, never when unknown (a real anvil
node answers eth_getCode / eth_getTransactionCount)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from support.anvil import anvil  # noqa: F401

import chainrisk
from chainrisk.answers.lookup import lookup
from chainrisk.engine.score import score
from chainrisk.errors import UsageError
from chainrisk.ingest.file import ingest_file
from chainrisk.labels import import_labels, link_labels, list_labels
from chainrisk.labels.chains import canonical_chain, evm_ticker_chain
from chainrisk.labels.links import LINK_SOURCE


def test_alias_table() -> None:
    assert [canonical_chain(c) for c in ("bnb", "BNB", "binance-smart-chain", "matic", "Arbitrum One", "eth",
                                         "avalanche_c", "fantom", "gnosis", "bsc")] == [
        "bsc", "bsc", "bsc", "polygon", "arbitrum", "ethereum", "avalanche_c", "fantom", "gnosis", "bsc"]
    assert (evm_ticker_chain("BSC"), evm_ticker_chain("arb"), evm_ticker_chain("USDT")) == ("bsc", "arbitrum", None)
    with pytest.raises(UsageError):
        canonical_chain("not a chain!")


def test_generic_csv_chain_column_uses_the_alias_table_and_keeps_other_chains(store, tmp_path: Path) -> None:
    p = tmp_path / "l.csv"
    p.write_text("address,category,label,source,chain\n"
                 "0x1111111111111111111111111111111111111111,scam,a,s,bnb\n"
                 "0x2222222222222222222222222222222222222222,scam,b,s,avalanche_c\n"
                 "0x3333333333333333333333333333333333333333,scam,c,s,BSC\n"
                 "0x4444444444444444444444444444444444444444,scam,d,s,what?chain\n", encoding="utf-8")
    [r] = import_labels(store, [p], "csv")
    got = {x["address"][:4]: x["chain"] for x in list_labels(store)}
    assert got == {"0x11": "bsc", "0x22": "avalanche_c", "0x33": "bsc"}
    assert r.skipped == 1 and any("not a chain name" in k for k in r.skip_reasons)


def _tether(store, tmp_path: Path, rows: list[tuple[str, str]]) -> object:
    p = tmp_path / "usdt.csv"
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["chain", "address_hex", "address_tron_base58", "blacklisted_at_utc"])
        for chain, addr in rows:
            w.writerow([chain, addr, "", "2024-01-02 03:04:05"])
    [r] = import_labels(store, [p], "tether-csv")
    return r


def test_tether_freezes_on_each_chain_where_the_registry_has_tethers_usdt(store, tmp_path: Path) -> None:
    a, b = "0x" + "a1" * 20, "0x" + "b2" * 20
    registry = {t.chain: t.contract for t in store.tokens() if t.symbol == "USDT" and (t.issuer or "") == "Tether"}
    assert registry.get("polygon") == "0xc2132d05d31c914a87c6611c10748aeb04b58e8f"   # the bundled registry's row
    r = _tether(store, tmp_path, [("ethereum", a), ("polygon", b), ("bnb", b), ("fantom", a)])
    # BSC's Binance-Peg USDT is not Tether's and fantom is not in the registry: both skipped with the reason
    assert r.labels == 2 and r.skipped == 2
    assert any("no USDT on this chain" in k for k in r.skip_reasons)
    got = sorted((x["chain"], x["address"]) for x in list_labels(store, source="tether-usdt-blacklist"))
    assert got == [("ethereum", a), ("polygon", b)]
    details = {x["chain"]: json.loads(x["details"]) for x in list_labels(store, source="tether-usdt-blacklist")}
    assert details["polygon"]["contract"] == "0xc2132d05d31c914a87c6611c10748aeb04b58e8f"


def _transfers(path: Path, chain: str, token: str, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["tx_hash", "log_index", "block_number", "block_time", "token_address", "from_address",
                    "to_address", "value", "token_decimals"])
        for i, (frm, to) in enumerate(rows):
            w.writerow([f"0x{chain[:2].encode().hex()}{i:060x}", 0, 100 + i, 1_735_689_600 + 60 * i, token, frm, to,
                        1_000 * 10**6, 6])
    return path


def test_linked_labels_only_for_known_externally_owned_addresses(anvil, tmp_path: Path) -> None:  # noqa: F811
    node = anvil
    eoa = node.accounts[5]
    # the account sends a transaction: nonce 1, no code: externally owned
    node.rpc("eth_sendTransaction", [{"from": eoa, "to": node.accounts[6], "value": "0x1"}])
    node.mine_if_manual()
    contract = "0x" + "c0" * 20
    node.rpc("anvil_setCode", [contract, "0x6000"])           # code at the node: a contract
    fresh = "0x" + "f1" * 20                                    # no code, never sent anything: unknown
    token_like = "0x" + "d0" * 20                               # a contract by the store's evidence (its label)
    peer = "0x" + "99" * 20
    db = tmp_path / "link.duckdb"
    with chainrisk.open(db) as st:
        usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7"
        polygon_token = "0xc2132d05d31c914a87c6611c10748aeb04b58e8f"
        ingest_file(st, _transfers(tmp_path / "e.csv", "ethereum", usdt,
                                   [(eoa, peer), (contract, peer), (fresh, peer), (token_like, peer)]),
                    "csv", chain="ethereum")
        ingest_file(st, _transfers(tmp_path / "p.csv", "polygon", polygon_token,
                                   [(peer, eoa), (peer, contract), (peer, fresh), (peer, token_like)]),
                    "csv", chain="polygon")
        lab = tmp_path / "labels.csv"
        lab.write_text("address,category,label,source,confidence,chain\n"
                       f"{eoa},sanctions,SDN person,ofac-test,60,ethereum\n"
                       f"{contract},sanctions,SDN contract,ofac-test,60,ethereum\n"
                       f"{fresh},sanctions,SDN fresh,ofac-test,60,ethereum\n"
                       f"{token_like},scam,scam token,ofac-test,60,ethereum\n"
                       f"{token_like},defi,a pool,ofac-test,50,ethereum\n", encoding="utf-8")
        import_labels(st, [lab], "csv")
        # without a node nothing is known to be externally owned: nothing linked, and the report says why
        rep = link_labels(st)
        assert (rep.linked, rep.eoa, rep.contract, rep.unknown) == (0, 0, 1, 3)
        assert "give a node with --rpc-url" in rep.notes[0]
        rep = link_labels(st, rpc_url=node.url, chain="ethereum")
        assert (rep.eoa, rep.contract, rep.unknown, rep.linked) == (1, 2, 1, 1)
        linked = list_labels(st, source=LINK_SOURCE)
        assert [(x["chain"], x["address"], x["category"], x["confidence"]) for x in linked] == [
            ("polygon", eoa, "sanctions", 30)]
        d = json.loads(linked[0]["details"])
        assert d["linked_from"] == "ethereum" and d["source"] == "ofac-test" and "transactions sent" in d[
            "externally_owned"]
        assert "linked from ethereum" in linked[0]["name"]
        # the linked label counts on polygon in the next scoring run, and lookups show it there
        score(st, "cn")
        [r] = lookup(st, eoa, chain="polygon")
        assert r.status == "ok" and "sanctions" in r.own_categories
        assert [lab.source for lab in r.labels] == [LINK_SOURCE]
        [c] = lookup(st, contract, chain="polygon")
        assert "sanctions" not in c.own_categories and not c.labels
        # rerun: the source is rebuilt, nothing duplicated
        rep = link_labels(st, rpc_url=node.url, chain="ethereum")
        assert rep.linked == 1 and rep.result is not None and rep.result.added == 0
