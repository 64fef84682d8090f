"""Every importer on the real files in ../shared/datasets, with the counts their PROVENANCE.md documents and the
flattened expectations they carry (OFAC's CSV and per-asset lists)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from chainrisk.errors import InputError
from chainrisk.labels import import_labels, list_labels
from chainrisk.store import Store

pytestmark = pytest.mark.shared

SDN_XML = "ofac_sdn/sdn_advanced_digital_currency_2025-11-19.xml"
SDN_FLAT = "ofac_sdn/sdn_digital_currency_addresses_2025-11-19.csv"
LISTS_2025 = "ofac_sdn/lists_2025-11-19_brave-intl"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def labels(store: Store, source: str) -> list[dict]:
    return list_labels(store, source=source, include_history=True)


def norm(address: str) -> str:
    return address.lower() if address.startswith("0x") else address


def test_ofac_xml_matches_the_flattened_csv_and_the_per_asset_lists(store: Store, shared: Path) -> None:
    [r] = import_labels(store, [shared / SDN_XML], "ofac-xml")
    flat = rows(shared / SDN_FLAT)
    assert len(flat) == 761 and r.rows_read == 761  # one per (address, party) feature
    # the flattened file holds one exact duplicate row; labels are distinct
    distinct = {tuple(x.values()) for x in flat}
    terror = {x for x in distinct if {"SDGT", "FTO"} & set(x[5].split(";"))}
    assert len(distinct) == 760 and len(terror) == 32
    # one sanctions label per distinct feature, plus terrorism_financing for SDGT/FTO parties
    assert r.labels == len(distinct) + len(terror)
    assert (r.source, r.version, r.skipped) == ("ofac-sdn", "2025-11-19", 0)
    every = labels(store, "ofac-sdn")
    assert {x["confidence"] for x in every} == {60}
    tf = {(x["address"], x["asset"], x["name"]) for x in every if x["category"] == "terrorism_financing"}
    assert tf == {(norm(x[0]), x[1], x[3]) for x in terror}
    got = [x for x in every if x["category"] == "sanctions"]
    # every (address, asset, party, programmes) of the flattened expectation, exactly
    want = {(norm(x["address"]), x["asset"], x["sdn_primary_name"], x["sdn_fixed_ref"], x["program_codes"],
             x["party_type"], x["entry_date"]) for x in flat}
    have = set()
    for x in got:
        d = json.loads(x["details"])
        have.add((x["address"], x["asset"], x["name"], d["sdn_id"], d["programs"], d["party_type"], d["party_listed"]))
    assert have == want
    # per asset: the same address sets as OFAC's per-asset lists (brave-intl, same date)
    by_asset: dict[str, set[str]] = {}
    for x in got:
        by_asset.setdefault(x["asset"], set()).add(x["address"])
    lists = {p.stem.removeprefix("sanctioned_addresses_"): {norm(a) for a in p.read_text().split()}
             for p in (shared / LISTS_2025).glob("sanctioned_addresses_*.txt")}
    assert by_asset == lists
    assert Counter(x["asset"] for x in flat) == Counter(
        {"XBT": 519, "USDT": 93, "ETH": 77, "TRX": 29, "LTC": 11, "XMR": 8, "BCH": 7, "DASH": 3, "ZEC": 3, "USDC": 2,
         "ETC": 1, "BSV": 1, "BTG": 1, "XVG": 1, "XRP": 1, "ARB": 1, "BSC": 1, "BNB": 1, "SOL": 1})
    # chains: a 0x address on the EVM chain its ticker names (ARB -> arbitrum, BSC -> bsc, ETC ->
    # ethereum_classic), else on ethereum (lower case); T... on tron (base58 kept); the rest on its asset's chain
    ticker_chain = {"ARB": "arbitrum", "BSC": "bsc", "ETC": "ethereum_classic"}
    for x in got:
        if x["address"].startswith("0x"):
            assert x["chain"] == ticker_chain.get(x["asset"], "ethereum") and x["address"] == x["address"].lower()
        elif x["asset"] in ("TRX", "USDT") and x["address"].startswith("T"):
            assert x["chain"] == "tron"
    # OFAC lists one TRON address (TUCsTq7...) under XBT: it is a valid TRON address, so it lands on tron
    assert Counter(x["chain"] for x in got if x["asset"] == "XBT") == Counter({"bitcoin": 517, "tron": 1})  # 519 rows, one exact duplicate
    usdt = Counter(x["chain"] for x in got if x["asset"] == "USDT")
    assert usdt["tron"] > 0 and usdt["ethereum"] > 0 and usdt["bitcoin"] > 0 and sum(usdt.values()) == 93
    # the same TRON addresses appear in Tether's freeze list (PROVENANCE: all 107 OFAC TRON addresses)
    tron = {x["address"] for x in got if x["chain"] == "tron"}
    tether = {t["address_tron_base58"] for t in rows(shared / "tether_usdt_blacklist/usdt_blacklist_added_events.csv")}
    assert tron <= tether
    # Sim Hyon Sop's address is listed for ETH, ARB and BSC: one label on each of the three chains
    sim = "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c"
    assert sorted((x["chain"], x["asset"]) for x in got if x["address"] == sim) == [("arbitrum", "ARB"), ("bsc", "BSC"),
                                                                              ("ethereum", "ETH")]


def test_ofac_lists_and_the_2024_snapshot_diff(store: Store, shared: Path) -> None:
    files = sorted((shared / LISTS_2025).glob("*.txt"))
    [r] = import_labels(store, files, "list", category="sanctions", source="ofac-lists", confidence=60)
    total = sum(len(p.read_text().split()) for p in files)
    assert r.rows_read == total == 758 and r.labels == 758 and r.skipped == 0
    eth24 = shared / "ofac_sdn/lists_2024-09-27_0xB10C/sanctioned_addresses_ETH.txt"
    eth25 = shared / LISTS_2025 / "sanctioned_addresses_ETH.txt"
    # a list source replaced by a newer list: the difference shows as added/removed (Tornado Cash delisted);
    # ending that many labels (>20%) needs allow_mass_removal, as a truncated list would look the same
    import_labels(store, [eth24], "list", category="sanctions", source="ofac-eth")
    with pytest.raises(InputError, match="allow-mass-removal"):
        import_labels(store, [eth25], "list", category="sanctions", source="ofac-eth")
    [r] = import_labels(store, [eth25], "list", category="sanctions", source="ofac-eth", allow_mass_removal=True)
    old = {a.lower() for a in eth24.read_text().split()}
    new = {a.lower() for a in eth25.read_text().split()}
    assert (r.added, r.removed, r.unchanged) == (len(new - old), len(old - new), len(old & new))
    assert len(old) == 152 and r.removed > 60


def test_ofac_legacy_csv(store: Store, shared: Path) -> None:
    # the shared sample is trimmed from the real file and lacks its 0x1A end marker (see test_labels_mass_removal)
    [r] = import_labels(store, [shared / "ofac_sdn/sdn_csv_legacy_sample_2022-01-31.csv"], "ofac-csv",
                        allow_missing_end_marker=True)
    # PROVENANCE: 127 embedded addresses across 11 tickers; SDN.CSV cuts long Remarks short (3 here)
    assert r.rows_read == 127
    assert r.skip_reasons == {"cut short (SDN.CSV truncates long Remarks; the advanced XML has it)": 3}
    got = [x for x in labels(store, "ofac-sdn-legacy") if x["category"] == "sanctions"]
    assert len(got) == 124
    assert len({x["asset"] for x in got}) == 11
    # the addresses it has agree with the advanced XML's for the same party (OFAC entity number)
    flat = {(norm(x["address"]), x["sdn_fixed_ref"]) for x in rows(shared / SDN_FLAT)}
    both = [(x["address"], json.loads(x["details"])["sdn_id"]) for x in got]
    assert sum(1 for b in both if b in flat) > 100
    with pytest.raises(InputError, match=r"not an SDN\.CSV row"):
        import_labels(store, [shared / SDN_FLAT], "ofac-csv", allow_missing_end_marker=True)


def test_tether_blacklist_csv(store: Store, shared: Path) -> None:
    path = shared / "tether_usdt_blacklist/usdt_blacklist_added_events.csv"
    [r] = import_labels(store, [path], "tether-csv")
    src = rows(path)
    assert r.rows_read == len(src) == 8570
    # PROVENANCE: 8,546 distinct (chain, address) pairs; one label each, valid from its latest freeze
    assert r.labels == 8546 and r.skipped == 0 and r.version == "2026-03-09"
    got = labels(store, "tether-usdt-blacklist")
    assert Counter(x["chain"] for x in got) == Counter(
        {c: len({(s["address_hex"]) for s in src if s["chain"] == c}) for c in ("ethereum", "tron")})
    assert {x["category"] for x in got} == {"blacklist"} and {x["confidence"] for x in got} == {100}
    tron = {x["address"] for x in got if x["chain"] == "tron"}
    assert tron == {s["address_tron_base58"] for s in src if s["chain"] == "tron"}
    # the null address is on the list (as in the real data)
    assert any(x["address"] == "0x" + "0" * 40 for x in got)
    # re-blacklisted addresses: valid_from is the latest freeze, the count is in details
    assert sum(json.loads(x["details"])["freezes"] - 1 for x in got) == 8570 - 8546


def test_mew_darklist_and_lightlist_refused(store: Store, shared: Path) -> None:
    path = shared / "mew_darklist/addresses-darklist.json"
    [r] = import_labels(store, [path], "mew-darklist")
    data = json.loads(path.read_text())
    assert r.rows_read == len(data) == 715
    got = labels(store, "mew-darklist")
    assert len({x["address"] for x in got}) == 652  # PROVENANCE: 652 distinct addresses (lower-cased)
    assert {x["category"] for x in got} == {"scam", "phishing"} and {x["confidence"] for x in got} == {20}
    assert all(x["valid_from"] is not None for x in got if x["address"] == "0x09750ad360fdb7a2ee23669c4503c974d86d8694")
    with pytest.raises(InputError, match="allow-list"):
        import_labels(store, [shared / "mew_darklist/addresses-lightlist.json"], "mew-darklist")


def test_scamsniffer(store: Store, shared: Path) -> None:
    d = shared / "scamsniffer"
    [r] = import_labels(store, [d / "address.json", d / "combined.json"], "scamsniffer")
    assert r.rows_read == 2530 + 3021 and r.skipped == 0
    got = labels(store, "scamsniffer")
    sites = {x["address"] for x in got if x["details"] is not None or "site" in (x["name"] or "")}
    plain = {x["address"] for x in got if x["name"] == "ScamSniffer: phishing / wallet drainer"}
    assert len(plain) == 2530 and len(sites) == 590  # PROVENANCE: 2,530 addresses; 590 distinct in combined.json
    assert {x["category"] for x in got} == {"phishing"}
    with pytest.raises(InputError, match="neither ScamSniffer"):
        import_labels(store, [shared / "mew_darklist/addresses-darklist.json"], "scamsniffer")


def test_cryptoscamdb(store: Store, shared: Path) -> None:
    from chainrisk.address import try_parse

    path = shared / "cryptoscamdb/cryptoscamdb_addresses.csv"
    [r] = import_labels(store, [path], "cryptoscamdb")
    src = rows(path)
    assert r.rows_read == len(src) == 5841
    eth = {s["address"].lower() for s in src if s["coin"] == "ETH"}
    assert len(eth) == 2984  # PROVENANCE: 2,984 distinct lower-case ETH addresses
    stored = {x["address"] for x in labels(store, "cryptoscamdb") if x["chain"] == "ethereum"}
    rejected = {s["address"].lower() for s in src if s["coin"] == "ETH" and not hasattr(try_parse(s["address"]), "chain")}
    assert eth - rejected <= stored and not (stored & rejected)
    assert 0 < r.skipped < 60 and all(k.startswith("invalid address") for k in r.skip_reasons)
    cats = Counter(x["category"] for x in labels(store, "cryptoscamdb"))
    assert set(cats) == {"scam", "phishing"}
    assert {x["chain"] for x in labels(store, "cryptoscamdb")} >= {"ethereum", "bitcoin", "ripple", "tron"}


def test_etherscan_exports(store: Store, shared: Path) -> None:
    d = shared / "etherscan_label_snapshots"
    res = import_labels(store, [d / "etherscan_account_labels_2023-06.csv", d / "etherscan_exchange_label_2022-05.csv"],
                        "etherscan")
    assert [(r.source, r.rows_read) for r in res] == [
        ("etherscan:etherscan_account_labels_2023-06", 23288), ("etherscan:etherscan_exchange_label_2022-05", 372)]
    acc = labels(store, "etherscan:etherscan_account_labels_2023-06")
    src = rows(d / "etherscan_account_labels_2023-06.csv")
    slugs = Counter(s for row in src for s in row["labels"].split(";"))
    cats = Counter(x["category"] for x in acc)
    # PROVENANCE counts: blocked 483, ofac-sanctions-lists 72, bridge 166 ...
    assert cats["blacklist"] == slugs["blocked"] == 483
    assert cats["sanctions"] == slugs["ofac-sanctions-lists"] == 72
    tornado = {row["address"] for row in src if {"tornado-cash", "ethereum-mixer", "typhoon-cash"} & set(
        row["labels"].split(";"))}
    assert {x["address"] for x in acc if x["category"] == "mixer"} == tornado
    assert len({x["address"] for x in acc}) == 23288  # every account has at least one label
    exch = labels(store, "etherscan:etherscan_exchange_label_2022-05")
    assert len(exch) == 372 and {x["category"] for x in exch} == {"exchange"}
    [t] = import_labels(store, [d / "etherscan_token_labels_2023-06.csv"], "etherscan-tokens")
    assert (t.rows_read, t.labels) == (7253, 7253)


def test_spellbook_tables(store: Store, shared: Path) -> None:
    d = shared / "spellbook_labels"
    res = {r.source.removeprefix("spellbook:"): r for r in import_labels(store, sorted(d.glob("*.csv")), "spellbook")}
    expected_rows = {"cex_evm_addresses": 4957, "cex_tron_addresses": 151, "stablecoin_contracts": 131,
                     "rwa_tokens_ethereum": 21, "rwa_tokens_arbitrum": 75, "ofac_sanctioned_ethereum_labels": 38,
                     "bridges_ethereum": 136}
    assert {k: r.rows_read for k, r in res.items()} == expected_rows
    assert res["cex_evm_addresses"].labels == 4957
    # 9 TRON rows in Spellbook are not valid base58check TRON addresses: skipped and said why
    assert res["cex_tron_addresses"].skipped == 9 and res["cex_tron_addresses"].labels == 142
    assert all("TRON" in k for k in res["cex_tron_addresses"].skip_reasons)
    # Tornado Cash names get mixer next to sanctions
    ofac = labels(store, "spellbook:ofac_sanctioned_ethereum_labels")
    tc = {x["address"] for x in ofac if (x["name"] or "").lower().startswith("tornado cash")}
    assert {x["address"] for x in ofac if x["category"] == "mixer"} == tc and len(tc) > 20
    stable = labels(store, "spellbook:stablecoin_contracts")
    # Spellbook's chain names through the one alias table: bnb is bsc; chains the registry lacks are kept
    assert Counter(x["chain"] for x in stable) == Counter({"ethereum": 35, "bsc": 21, "polygon": 17, "arbitrum": 14,
                                                           "fantom": 14, "optimism": 13, "avalanche_c": 12,
                                                           "gnosis": 5})
    bsc_usdt = [x for x in stable if x["address"] == "0x55d398326f99059ff775485246999027b3197955"]
    assert [x["chain"] for x in bsc_usdt] == ["bsc"]
    bridges = labels(store, "spellbook:bridges_ethereum")
    assert len(bridges) == 136 and {x["chain"] for x in bridges} == {"ethereum"}
    assert {x["category"] for x in bridges} == {"bridge"}
    rwa = labels(store, "spellbook:rwa_tokens_ethereum")
    buidl = [x for x in rwa if x["address"] == "0x7712c34205737192402172409a8f7ccef8aa2aec"]
    assert buidl and buidl[0]["category"] == "token_contract" and "BUIDL" in buidl[0]["name"]
    with pytest.raises(InputError, match="not a known Dune Spellbook"):
        import_labels(store, [shared / SDN_FLAT], "spellbook")


def test_address_csv_list_brings_the_newer_ofac_ethereum_addresses(store: Store, shared: Path) -> None:
    """The 2026-06 ultrasound.money list (address,name) as a new version of an Ethereum sanctions list source:
    exactly the addresses listed since 2025-11-19 are added (PROVENANCE: 16)."""
    import_labels(store, [shared / SDN_XML], "ofac-xml")
    evm_2025 = {x["address"] for x in labels(store, "ofac-sdn") if x["chain"] == "ethereum"}
    path = shared / "ofac_sdn/ultrasound_ofac_ethereum_addresses_2026-06.csv"
    [r] = import_labels(store, [path], "list", category="sanctions", source="ofac-eth-names", confidence=60)
    src = rows(path)
    assert r.rows_read == len(src) == 97 and r.skipped == 0
    newer = {x["address"] for x in labels(store, "ofac-eth-names")} - evm_2025
    assert len(newer) == 16
    assert {x["name"] for x in labels(store, "ofac-eth-names")} == {s["name"] for s in src}


def test_ofac_xml_gzip_file(store: Store, shared: Path, tmp_path: Path) -> None:
    import gzip

    gz = tmp_path / "sdn_advanced.xml.gz"
    gz.write_bytes(gzip.compress((shared / SDN_XML).read_bytes()))
    [r] = import_labels(store, [gz], "ofac-xml")
    assert (r.rows_read, r.version) == (761, "2025-11-19")
