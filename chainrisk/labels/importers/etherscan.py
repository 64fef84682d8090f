"""Etherscan label-cloud exports (Ethereum mainnet).

``etherscan``: account labels ``address,name_tag,labels`` (``;``-separated label slugs) or the exchange label
``address,nameTag``. Each mapped slug gives one label of its category (an address tagged ``binance;blocked`` is
both an exchange wallet and frozen); an address none of whose slugs maps gets one ``other`` label carrying its
name tag and slugs, so a lookup still shows what Etherscan calls it.
``etherscan-tokens``: token labels, same columns: each row is a ``token_contract``.
Confidence 50 (a trusted provider's judgement at the scrape date).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import InputError
from ..model import ParsedSource
from .common import Options, conf, finish, one_source

CONFIDENCE = 50

_EXCHANGES = ["exchange", "binance", "huobi", "htx", "bitfinex", "okx", "okex", "coinbase", "kraken", "kucoin", "bithumb", "ftx", "gemini", "crypto-com", "hot-wallet", "cold-wallet", "poloniex", "bitstamp", "deribit", "coinsquare", "bittrex", "gate-io", "bybit", "upbit", "bitget", "mexc", "bitmex", "liquid", "hitbtc", "fiat-gateway", "coinone", "korbit", "zb-com", "bitpanda", "luno", "bitflyer", "coincheck", "binance-us"]
SLUGS: dict[str, str] = {s: "exchange" for s in _EXCHANGES}
SLUGS.update({
    "blocked": "blacklist", "ofac-sanctions-lists": "sanctions", "tornado-cash": "mixer",
    "ethereum-mixer": "mixer", "typhoon-cash": "mixer", "mixer": "mixer",
    "phish-hack": "phishing", "phishing": "phishing", "heist": "hack", "exploit": "hack", "hack": "hack",
    "scam": "scam", "ponzi": "scam", "gambling": "gambling", "otc": "p2p_otc", "mining-pool": "mining",
    "bridge": "bridge", "multichain": "bridge", "wormhole": "bridge", "hop-protocol": "bridge",
    "across-protocol": "bridge", "synapse": "bridge", "connext": "bridge", "celer-network": "bridge",
    "dex": "defi", "defi": "defi", "uniswap": "defi", "sushiswap": "defi", "balancer": "defi", "bancor": "defi",
    "curve-fi": "defi", "aave": "defi", "compound": "defi", "1inch": "defi", "kyberswap": "defi",
    "yearn-finance": "defi", "lido": "defi", "dydx": "defi", "pancakeswap": "defi", "liquity": "defi",
    "convex-finance": "defi", "0x-protocol": "defi", "maker": "defi", "synthetix": "defi",
    "stablecoin": "token_contract",
})


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    from .generic import read_csv

    header, rows = read_csv(path, "Etherscan label")
    if "address" not in header or not ({"name_tag", "labels"} <= set(header) or "nameTag" in header):
        raise InputError(f"{path.name} is not an Etherscan label export (expected address,name_tag,labels or "
                         "address,nameTag); check --input-format")
    return header, rows


def import_accounts(paths: list[Path], opts: Options, store: Any = None) -> list[ParsedSource]:
    out = []
    for path in paths:
        header, rows = _rows(path)
        ps = one_source([path], opts, "etherscan", f"etherscan:{path.stem}", None)
        confidence = conf(opts, CONFIDENCE)
        exchange_file = "nameTag" in header
        for row in rows:
            ps.rows_read += 1
            name = (row.get("name_tag") or row.get("nameTag") or "").strip() or None
            address = row.get("address") or ""
            if exchange_file:
                ps.add(address, opts.category or "exchange", name or "Etherscan: exchange", confidence)
                continue
            slugs = [s.strip() for s in (row.get("labels") or "").split(";") if s.strip()]
            cats = sorted({SLUGS[s] for s in slugs if s in SLUGS})
            if opts.category:
                cats = [opts.category]
            for c in cats or ["other"]:
                ps.add(address, c, name or ", ".join(slugs) or None, confidence, details=";".join(slugs) or None)
        out.append(finish(ps, "Etherscan label"))
    return out


def import_tokens(paths: list[Path], opts: Options, store: Any = None) -> list[ParsedSource]:
    out = []
    for path in paths:
        _, rows = _rows(path)
        ps = one_source([path], opts, "etherscan-tokens", f"etherscan:{path.stem}", None)
        confidence = conf(opts, CONFIDENCE)
        for row in rows:
            ps.rows_read += 1
            ps.add(row.get("address") or "", opts.category or "token_contract",
                   (row.get("name_tag") or "").strip() or None, confidence,
                   details=(row.get("labels") or "").strip() or None)
        out.append(finish(ps, "Etherscan token label"))
    return out
