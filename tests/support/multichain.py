"""A small multi-chain store built through the real import paths: one CSV export per EVM chain imported with
``ingest_file(..., chain=...)`` (tokens registered from the file's decimals, BSC's 18), labels imported from a
generic CSV whose chain column uses Spellbook's ``bnb`` for BSC, then the real scoring run.

The same EVM key (``SUBJECT``) is active on ethereum (pays an exchange: virtual-currency business), on bsc
(receives from a scammer: illicit) and on polygon (sends to a labelled bridge: cross-chain movement), and carries
a label on arbitrum, where it has no transfers."""

from __future__ import annotations

import csv
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

T0 = 1_735_689_600  # 2025-01-01T00:00:00Z

# per chain: a stablecoin contract of that chain and its decimals (BSC's Binance-Peg USDT has 18)
TOKENS = {
    "ethereum": ("0xdac17f958d2ee523a2206206994597c13d831ec7", 6, "USDT"),
    "bsc": ("0x55d398326f99059ff775485246999027b3197955", 18, "USDT"),
    "polygon": ("0xc2132d05d31c914a87c6611c10748aeb04b58e8f", 6, "USDT"),
}


def a(name: str) -> str:
    """A deterministic EVM address for a name (the same on every chain: one key)."""
    return "0x" + hashlib.sha256(name.encode()).hexdigest()[:40]


SUBJECT = a("SUBJECT")
# (chain, hours, from, to, amount)
FLOWS: list[tuple[str, float, str, str, float]] = [
    ("ethereum", 0, "FUNDER", "SUBJECT", 8_000),
    ("ethereum", 1, "SUBJECT", "EXCHANGE", 5_000),
    ("ethereum", 2, "OTHER", "EXCHANGE", 1_000),
    ("bsc", 0, "SCAM", "SUBJECT", 20_000),
    ("bsc", 1, "SUBJECT", "BSC_PEER", 15_000),
    ("bsc", 2, "SCAM", "MULE", 3_000),
    ("polygon", 0, "POLY_FUNDER", "SUBJECT", 4_000),
    ("polygon", 1, "SUBJECT", "BRIDGE", 3_500),
    ("polygon", 2, "OTHER_USER", "BRIDGE", 900),
]
LABELS: list[tuple[str, str, str, str]] = [   # (chain as the file writes it, address name, category, label)
    ("ethereum", "EXCHANGE", "exchange", "Example Exchange hot wallet"),
    ("bnb", "SCAM", "scam", "Operation Nightjar suspect"),
    ("polygon", "BRIDGE", "bridge", "Example Bridge: Polygon side"),
    ("arbitrum", "SUBJECT", "p2p_otc", "OTC desk seen on Arbitrum"),
]


def write_exports(folder: Path) -> dict[str, Path]:
    """One ``csv`` transfer export per chain (canonical column names, decimals given)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for chain, (contract, decimals, symbol) in TOKENS.items():
        p = folder / f"{chain}_transfers.csv"
        with p.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["tx_hash", "log_index", "block_number", "block_time", "token_address", "from_address",
                        "to_address", "value", "token_symbol", "token_decimals"])
            for i, (c, h, frm, to, amount) in enumerate(FLOWS):
                if c != chain:
                    continue
                w.writerow([f"0x{hashlib.sha256(f'{chain}{i}'.encode()).hexdigest()}", 0, 1_000 + int(h * 100),
                            T0 + int(h * 3600), contract, a(frm), a(to), int(Decimal(str(amount)) * 10**decimals),
                            symbol, decimals])
        out[chain] = p
    return out


def write_labels(folder: Path) -> Path:
    p = folder / "labels.csv"
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["address", "category", "label", "source", "confidence", "chain"])
        for chain, name, cat, label in LABELS:
            w.writerow([a(name), cat, label, "bank-internal-investigations", 60, chain])
    return p


def build(store: Any, folder: Path, *, score: bool = True) -> Any:
    """Import the exports and labels through the library's import paths, then score (profile cn)."""
    from chainrisk.engine.score import score as do_score
    from chainrisk.ingest.file import ingest_file
    from chainrisk.labels import import_labels

    for chain, (contract, decimals, symbol) in TOKENS.items():
        # the registry's row for the chain's USDT (bundled once the registry lists every chain; until then a
        # stablecoin pegged at 1 USD, as the registry would say)
        store.ensure_token(chain, contract, symbol, decimals, kind="stablecoin", source="test registry row")
        store.execute("UPDATE tokens SET usd_peg = 1.0 WHERE chain = ? AND contract = ? AND usd_peg IS NULL",
                      [chain, contract])
    for chain, path in write_exports(folder).items():
        ingest_file(store, path, "csv", chain=chain)
    import_labels(store, [write_labels(folder)], "csv")
    if score:
        do_score(store, "cn")
    return store
