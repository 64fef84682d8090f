"""What importers produce: label records, skipped rows, and one parsed source version.

An importer reads files and returns :class:`ParsedSource` objects; it never touches the store. The store side
(:mod:`chainrisk.labels.store`) replaces each source's previous version with the parsed one atomically.
Addresses are canonicalised here, once (:func:`canonical`): EVM lower-case hex, TRON base58check, other chains
verbatim with their asset.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..address import parse_address
from ..errors import InputError, InvalidAddress, UsageError
from ..taxonomy import check_category
from .chains import EVM_LABEL_CHAINS, canonical_chain, evm_ticker_chain

# EVM chains whose addresses are 0x hex (a label may name any of them; names are mapped by .chains).
EVM_CHAINS = EVM_LABEL_CHAINS

# Ticker (OFAC "Digital Currency Address - XXX", CryptoScamDB coin, TagPack currency) -> chain name for addresses
# that are neither EVM nor TRON. An EVM (0x) address goes to the chain its ticker names
# (:data:`chainrisk.labels.chains.EVM_TICKER_CHAINS`: BSC -> bsc, ARB -> arbitrum, MATIC -> polygon, ...), else to
# 'ethereum'; TRON (T...) to 'tron'; the ticker is kept in the label's ``asset``.
ASSET_CHAINS = {
    "XBT": "bitcoin", "BTC": "bitcoin", "LTC": "litecoin", "XMR": "monero", "BCH": "bitcoin_cash",
    "ZEC": "zcash", "DASH": "dash", "BTG": "bitcoin_gold", "BSV": "bitcoin_sv", "XVG": "verge",
    "XRP": "ripple", "BNB": "bnb_beacon", "SOL": "solana", "TRX": "tron", "ETH": "ethereum",
    "ETC": "ethereum_classic", "ARB": "arbitrum", "BSC": "bsc", "MATIC": "polygon", "USDC": "ethereum",
    "USDT": "bitcoin",  # non-EVM/TRON USDT is Omni
    "DOGE": "dogecoin", "NEO": "neo", "ADA": "cardano", "DOT": "polkadot", "ZIL": "zilliqa", "XLM": "stellar",
    "VET": "vechain", "WAVES": "waves", "EOS": "eos",
}

_OTHER_CHAIN_ADDRESS = re.compile(r"^[0-9A-Za-z:_\-.]{8,128}$")


def canonical(address: str, chain: str | None = None, asset: str | None = None) -> tuple[str, str]:
    """``(chain, address)`` in canonical form, or :class:`InvalidAddress`.

    With no ``chain``: EVM and TRON addresses are recognised; anything else needs an ``asset`` whose chain is
    known (kept verbatim, e.g. a Bitcoin address). A named EVM chain keeps its name (a BNB-chain contract is not
    an Ethereum contract); ``tron`` requires a TRON address. Chain names go through
    :func:`chainrisk.labels.chains.canonical_chain` (``bnb`` -> ``bsc``); with no chain, a 0x address listed
    under a chain's ticker (OFAC's ``BSC``, ``ARB``, ``MATIC``) lands on that chain.
    """
    text = (address or "").strip()
    try:
        c = canonical_chain(chain) if chain and chain.strip() else None
    except UsageError:
        raise InvalidAddress(address, f"{chain!r} is not a chain name") from None
    if c is None and text[:2] in ("0x", "0X"):
        c = evm_ticker_chain(asset)
    if c is None or c in EVM_CHAINS or c == "tron" or text[:2] in ("0x", "0X"):
        try:
            a = parse_address(text)
        except InvalidAddress:
            if c is None and asset and text and not text.startswith(("0x", "0X", "T")):
                c = ASSET_CHAINS.get(asset.upper(), asset.lower())
            else:
                raise
        else:
            if c is None:
                return a.chain, a.address
            if (c == "tron") != (a.chain == "tron"):
                raise InvalidAddress(address, f"not a {c} address")
            return c, a.address
    if not _OTHER_CHAIN_ADDRESS.match(text):
        raise InvalidAddress(address, f"not a plausible {c} address")
    return c, text


@dataclass(slots=True)
class Record:
    """One label as an importer read it (address already canonical)."""

    chain: str
    address: str
    category: str
    name: str | None
    source: str
    confidence: int
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    asset: str | None = None
    details: str | None = None


@dataclass
class ParsedSource:
    """One version of one source, ready to replace the stored one."""

    source: str
    format: str
    version: str | None
    origin: str
    sha256: str | None = None
    records: list[Record] = field(default_factory=list)
    rows_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)   # reason -> count
    skipped_examples: dict[str, str] = field(default_factory=dict)  # reason -> first offending value

    def skip(self, reason: str, value: Any) -> None:
        self.skipped[reason] += 1
        self.skipped_examples.setdefault(reason, str(value)[:80])

    def add(
        self, address: str, category: str, name: str | None, confidence: int, *, chain: str | None = None,
        asset: str | None = None, valid_from: datetime | None = None, valid_to: datetime | None = None,
        details: str | None = None, source: str | None = None,
    ) -> Record | None:
        """Canonicalise and append one label; a bad address is counted in :attr:`skipped` (returns None)."""
        try:
            c, a = canonical(address, chain, asset)
        except InvalidAddress as e:
            self.skip(f"invalid address ({e.reason})", address)
            return None
        rec = Record(c, a, check_category(category), (name or "").strip() or None, source or self.source,
                     check_confidence(confidence), valid_from, valid_to, asset, details)
        self.records.append(rec)
        return rec

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def check_confidence(value: Any) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise InputError(f"confidence {value!r} is not an integer; give 0..100 (100 ledger, 60 authority, "
                         "50 trusted provider, 20 web crawl, 10 heuristic)") from None
    if not 0 <= n <= 100:
        raise InputError(f"confidence {n} is out of range; give 0..100")
    return n


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def read_text(path: Path, what: str) -> str:
    """The file's text (UTF-8, BOM stripped) or an InputError naming it."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path.name}: no such file; check the path") from None
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not UTF-8 text, so it is not a {what} file; check --input-format") from None
    except OSError as e:
        raise InputError(f"cannot read {path.name}: {e.strerror}") from None


def parse_time(value: str | None) -> datetime | None:
    """A UTC timestamp from the date/time spellings label sources use ('2026-03-09 22:45:21.000 UTC',
    '2020-11-17', '7/14/18', ISO 8601); None for empty. Raises ValueError when unreadable."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    text = text.removesuffix(" UTC").removesuffix("Z").replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%m/%d/%y", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"unreadable date {value!r}") from None
    return dt.replace(tzinfo=None)
