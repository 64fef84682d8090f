"""The bundled token registry (``chainrisk/data/tokens.csv``) against published sources (a dev-time check).

Addresses are cross-checked against Dune Spellbook's stablecoin list (``../shared/datasets/spellbook_labels``),
decimals against the published token lists that ``npm ci`` installs (package.json devDependencies: Uniswap's and
SushiSwap's default lists, the Optimism Superchain list, LI.FI's data types, the Aave address book), Spellbook's
RWA token lists and Etherscan's ``tokenDecimal`` as recorded in the phishing dev export. The registry never
guesses decimals: a row no published list covers must be named below with the source its decimals come from.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support.env import need

import chainrisk
from chainrisk.chains import get_chain
from chainrisk.data import TOKENS_CSV

ROOT = Path(__file__).resolve().parents[2]
CHAIN_IDS = {1: "ethereum", 56: "bsc", 137: "polygon", 42161: "arbitrum", 10: "optimism", 8453: "base"}
SPELLBOOK_CHAINS = {"ethereum": "ethereum", "bnb": "bsc", "polygon": "polygon", "arbitrum": "arbitrum",
                    "optimism": "optimism", "base": "base"}
# Rows no published list reachable here covers, with where their decimals come from instead.
UNLISTED = {
    ("ethereum", "0xdb25f211ab05b1c97d595516f45794528a807ad8"): "EURS: the verified contract source, decimals() = 2",
    ("tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"): "TRON USDT: the issuer's page (the npm lists are EVM only)",
    ("tron", "TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8"): "TRON USDC: the issuer's page (the npm lists are EVM only)",
}
# Spellbook stablecoin sections (2023) and the registry symbols they correspond to.
FAMILIES = {"Tether USD": {"USDT"}, "USD Coin": {"USDC", "USDC.e"}, "MarkerDAO DAI": {"DAI"},
            "Binance USD": {"BUSD"}, "TrueUSD": {"TUSD"}, "FRAX": {"FRAX"}, "Liquity USD": {"LUSD"},
            "sUSD": {"sUSD"}, "Gemini Dollar": {"GUSD"}, "Pax Dollar": {"USDP"}}
# Spellbook entries of those families the registry leaves out, and why (no published decimals found here).
NOT_REGISTERED = {
    ("bsc", "0x14016e85a25aeb13065688cafb43044c2ef86784"): "TUSD on BSC: no published list gives its decimals",
    ("arbitrum", "0x4d15a3a2286d883af0aa1b3f21367843fac63e07"): "TUSD on Arbitrum: no published list gives decimals",
    ("polygon", "0x9c9e5fd8bbc25984b178fdce6117defa39d2db39"): "BUSD on Polygon (Binance-Peg, wound down)",
    ("optimism", "0x9c9e5fd8bbc25984b178fdce6117defa39d2db39"): "BUSD on Optimism (Binance-Peg, wound down)",
    ("arbitrum", "0x17fc002b466eec40dae837fc4be5c67993ddbd6f"): "FRAX on Arbitrum: two contracts listed, not chosen",
    ("polygon", "0x23001f892c0c82b79303edc9b9033cd190bb21c7"): "LUSD on Polygon: no published decimals found here",
}
EUR = re.compile(r"^(EUR|agEUR|flrEUR|EUTBL)", re.I)


def registry() -> list[dict[str, str]]:
    with TOKENS_CSV.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_row_is_well_formed_and_sourced():
    rows = registry()
    seen: set[tuple[str, str]] = set()
    for r in rows:
        spec = get_chain(r["chain"]) if r["chain"] in ("ethereum", "tron") else None
        key = (r["chain"], r["contract"])
        assert key not in seen, key
        seen.add(key)
        if r["chain"] != "tron":
            assert re.fullmatch(r"0x[0-9a-f]{40}", r["contract"]), r
        elif spec is not None:
            assert spec.canonical(r["contract"]) == r["contract"]
        assert r["decimals"].isdigit() and 0 <= int(r["decimals"]) <= 77, r
        assert r["kind"] in ("stablecoin", "rwa", "other") and r["symbol"] and r["source"], r
        # a peg is a fact or absent: 1.0 for USD tokens, never a guessed rate for EUR or NAV-priced tokens
        assert r["usd_peg"] in ("", "1.0"), r
        if EUR.match(r["symbol"]) or "EUR" in r["name"].upper().split():
            assert r["usd_peg"] == "", f"{r['symbol']} on {r['chain']} is not a USD token: no usd_peg"
    chains = {r["chain"] for r in rows}
    assert {"ethereum", "tron", "bsc", "polygon", "arbitrum", "optimism", "base"} <= chains
    by = {(r["chain"], r["symbol"]): r for r in rows}
    for chain in ("ethereum", "bsc", "polygon", "arbitrum", "optimism", "base"):
        assert (chain, "USDC") in by, chain
    for chain in ("ethereum", "bsc", "polygon", "arbitrum", "optimism"):
        assert (chain, "USDT") in by, chain
    # BSC's Binance-Peg USDT and USDC have 18 decimals, not 6
    assert by[("bsc", "USDT")]["decimals"] == by[("bsc", "USDC")]["decimals"] == "18"
    for chain, sym in (("polygon", "USDC.e"), ("arbitrum", "USDC.e"), ("optimism", "USDC.e"), ("base", "USDbC")):
        assert by[(chain, sym)]["decimals"] == "6"
    # the stablecoins of a real Ethereum export
    eth = {r["symbol"] for r in rows if r["chain"] == "ethereum"}
    assert {"sUSD", "TUSD_OLD", "SAI", "BUSD", "LUSD", "GUSD", "USDP", "FRAX", "EURC", "EURS", "RLUSD", "USD1", "GHO",
            "crvUSD", "USDS", "PYUSD", "USDe", "USDtb"} <= eth


def _published_decimals(shared: Path) -> dict[tuple[str, str], set[tuple[int, str]]]:
    node = shutil.which("node")
    need(node and (ROOT / "node_modules" / "@uniswap" / "default-token-list").is_dir(),
         "node and the npm token lists (npm ci) are needed for the registry cross-check")
    assert node is not None
    out = subprocess.run([node, str(ROOT / "tests" / "support" / "token_lists.js")], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    pub: dict[tuple[str, str], set[tuple[int, str]]] = {}
    for line in out.splitlines():
        x = json.loads(line)
        if x["chainId"] in CHAIN_IDS:
            pub.setdefault((CHAIN_IDS[x["chainId"]], x["address"].lower()), set()).add((x["decimals"], x["list"]))
    sb = shared / "spellbook_labels"
    with (sb / "rwa_tokens_ethereum.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            pub.setdefault(("ethereum", r["contract_address"].lower()), set()).add((int(r["decimals"]), "spellbook"))
    with (sb / "rwa_tokens_arbitrum.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            pub.setdefault(("arbitrum", r["token_address"].lower()), set()).add((int(r["decimals"]), "spellbook"))
    with (shared / "stablecoin_transfers_phishing_dev" / "stablecoin_transfers.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            pub.setdefault(("ethereum", r["token_address"]), set()).add((int(r["token_decimals"]), "etherscan"))
    return pub


def test_decimals_agree_with_published_token_lists(shared):
    pub = _published_decimals(shared)
    unchecked, wrong = [], []
    for r in registry():
        key = (r["chain"], r["contract"])
        found = pub.get(key)
        if not found:
            if key not in UNLISTED:
                unchecked.append(f"{r['chain']} {r['symbol']} {r['contract']}")
            continue
        assert key not in UNLISTED, f"{key} is in a published list now: drop it from UNLISTED"
        if {d for d, _ in found} != {int(r["decimals"])}:
            wrong.append(f"{r['chain']} {r['symbol']}: registry {r['decimals']}, published {sorted(found)}")
    assert not wrong, wrong
    assert not unchecked, f"rows no published list covers (add the source or name it in UNLISTED): {unchecked}"


def test_addresses_agree_with_spellbook_stablecoins(shared):
    by_key = {(r["chain"], r["contract"]): r for r in registry()}
    family = ""
    missing, mismatched = [], []
    with (shared / "spellbook_labels" / "stablecoin_contracts.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            if not r["section_comment"].startswith(", ("):  # the parser left some comments as the next tuple
                family = r["section_comment"].strip()
            chain = SPELLBOOK_CHAINS.get(r["blockchain"])
            if chain is None:
                continue
            key = (chain, r["address"].lower())
            reg = by_key.get(key)
            if family in FAMILIES:
                if reg is None and key not in NOT_REGISTERED:
                    missing.append(f"{chain} {family} {key[1]}")
                elif reg is not None and reg["symbol"] not in FAMILIES[family]:
                    mismatched.append(f"{chain} {key[1]}: registry {reg['symbol']}, Spellbook {family}")
            elif reg is not None and reg["kind"] != "stablecoin":
                mismatched.append(f"{chain} {key[1]}: Spellbook lists a stablecoin, registry kind {reg['kind']}")
    assert not missing, missing
    assert not mismatched, mismatched


def test_an_older_store_gets_the_new_bundled_tokens_and_unknown_decimals_are_filled(tmp_path):
    path = tmp_path / "old.duckdb"
    with chainrisk.open(path) as st:
        susd = st.resolve_token("sUSD")
        # as an older chainrisk left it: sUSD seen in a BigQuery file (no decimals), BSC unknown
        st.execute("DELETE FROM tokens WHERE chain = 'bsc' OR id = ?", [susd.id])
        st.execute("INSERT INTO tokens VALUES (?, 'ethereum', ?, 'sUSD?', NULL, NULL, 'other', NULL, NULL, 'seen')",
                   [susd.id, susd.contract])
        st.execute("INSERT INTO addresses VALUES (1, 'ethereum', '0x' || repeat('1', 40)),"
                   " (2, 'ethereum', '0x' || repeat('2', 40))")
        st.execute("INSERT INTO transfers VALUES ('ethereum', '0x' || repeat('a', 64), 0, 5, NULL, ?, 1, 2,"
                   " 2500000000000000000, NULL, NULL, 'file:bigquery')", [susd.id])
        assert st.execute("SELECT amount_usd FROM transfers_view").fetchone() == (None,)
    with chainrisk.open(path) as st:
        tok = st.resolve_token("sUSD")
        assert (tok.id, tok.decimals, tok.kind, tok.usd_peg) == (susd.id, 18, "stablecoin", 1.0)
        assert st.resolve_token("USDT", chain="bsc").decimals == 18
        assert st.execute("SELECT amount, amount_usd FROM transfers_view").fetchone() == (2.5, 2.5)


@pytest.mark.parametrize("symbol", ["EURC", "EURS"])
def test_eur_stablecoins_are_never_priced_in_usd(store, symbol):
    assert store.resolve_token(symbol).usd_peg is None
