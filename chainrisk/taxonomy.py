"""The one label taxonomy: categories, the confidence scale, the risk bands, and addresses the system knows by
nature.

Categories (an import naming any other is an error that lists these):

======================  ======================================================================================
sanctions               on a government sanctions list (OFAC SDN, ...)
blacklist               frozen by a stablecoin issuer (USDT AddedBlackList, USDC Blacklisted)
mixer                   mixing service or pool (Tornado Cash, ...)
scam                    fraud: fake investment, Ponzi, impersonation
phishing                phishing / wallet drainer
hack                    proceeds of an exploit or theft
ransomware              ransomware operator wallets
darknet                 darknet market
terrorism_financing     terrorism financing
gambling                online gambling / casino
exchange                centralised exchange (hot, cold, deposit wallets)
p2p_otc                 OTC desk or P2P trading service
rwa_issuer              issuer or treasury of real-world-asset tokens
stablecoin_issuer       stablecoin issuer or treasury
mining                  mining pool or mining business
bridge                  cross-chain bridge
defi                    DEX pool, lending market, other DeFi contract
token_contract          a token's own contract
other                   anything else worth a note
rwa_investor            holds a registered real-world-asset token (derived from the ledger; scores its holder only)
======================  ======================================================================================

Confidence (after GraphSense's taxonomy): 100 ledger-immanent (on-chain fact, e.g. an issuer's freeze event),
60 authority data (OFAC), 50 trusted provider, 20 web crawl / community list, 10 heuristic.
"""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "sanctions", "blacklist", "mixer", "scam", "phishing", "hack", "ransomware", "darknet",
    "terrorism_financing", "gambling", "exchange", "p2p_otc", "rwa_issuer", "stablecoin_issuer", "mining",
    "bridge", "defi", "token_contract", "other", "rwa_investor",
)

DESCRIPTIONS: dict[str, str] = {
    "sanctions": "on a government sanctions list (OFAC SDN, ...)",
    "blacklist": "frozen by a stablecoin issuer (USDT AddedBlackList, USDC Blacklisted)",
    "mixer": "mixing service or pool (Tornado Cash, ...)",
    "scam": "fraud: fake investment, Ponzi, impersonation",
    "phishing": "phishing / wallet drainer",
    "hack": "proceeds of an exploit or theft",
    "ransomware": "ransomware operator wallets",
    "darknet": "darknet market",
    "terrorism_financing": "terrorism financing",
    "gambling": "online gambling / casino",
    "exchange": "centralised exchange (hot, cold, deposit wallets)",
    "p2p_otc": "OTC desk or P2P trading service",
    "rwa_issuer": "issuer or treasury of real-world-asset tokens",
    "stablecoin_issuer": "stablecoin issuer or treasury",
    "mining": "mining pool or mining business",
    "bridge": "cross-chain bridge",
    "defi": "DEX pool, lending market, other DeFi contract",
    "token_contract": "a token's own contract",
    "other": "anything else worth a note",
    "rwa_investor": "holds a registered real-world-asset token (derived from the ledger; scores its holder only)",
}

ILLICIT: frozenset[str] = frozenset({
    "sanctions", "blacklist", "mixer", "scam", "phishing", "hack", "ransomware", "darknet", "terrorism_financing",
})

#: The risk bands of a score, lowest first (a profile gives the score at which each band from "low" up starts).
BANDS: tuple[str, ...] = ("none", "low", "medium", "high", "severe")

# Involvement with virtual-currency business (the second verdict axis; the 2025 rules' "sever" side).
VC_BUSINESS: frozenset[str] = frozenset({
    "gambling", "exchange", "p2p_otc", "rwa_issuer", "stablecoin_issuer", "mining", "bridge", "defi", "rwa_investor",
})

# Outgoing exposure to these alone marks a possible victim (a payer of a fraud), not a perpetrator. An issuer's
# freeze (blacklist) names no crime, and issuers freeze mostly on law-enforcement requests about frauds: its payers
# are most plausibly victims too. Paying sanctions, mixers, ransomware, darknet or hack addresses keeps full weight.
VICTIM_CATEGORIES: frozenset[str] = frozenset({"scam", "phishing", "blacklist"})

# Labels that score their holder but are never a source of exposure (holding an RWA token taints nobody).
OWN_ONLY: frozenset[str] = frozenset({"rwa_investor"})

# Categories added after the first release: a profile that does not name them gets severity 0 for them.
LATER_CATEGORIES: frozenset[str] = frozenset({"rwa_investor"})

CONFIDENCE = {
    "ledger": 100,      # ledger-immanent: the chain itself says so
    "authority": 60,    # a government authority (OFAC)
    "trusted": 50,      # a trusted provider / issuer's own documentation
    "crawl": 20,        # web crawl, community lists
    "heuristic": 10,    # inferred by a heuristic
}

NULL_ADDRESS = "0x0000000000000000000000000000000000000000"
# The mint/burn counterparty plus the common burn address: never a counterparty that carries risk.
BURN_ADDRESSES = frozenset({NULL_ADDRESS, "0x000000000000000000000000000000000000dead"})
# Precompiled contracts 0x01..0x0a (ecrecover .. point evaluation).
PRECOMPILES = frozenset(f"0x{i:040x}" for i in range(1, 0x0B))
# TRON's null address (base58check of 0x41 followed by 20 zero bytes): TRC-20 mints and burns use it.
TRON_NULL_ADDRESS = "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb"
# Per chain, the addresses that are never a counterparty carrying risk (null/burn addresses, EVM precompiles).
# The same 20 bytes mean different things on different chains, so the engine matches (chain, address) pairs.
INERT_ADDRESSES: dict[str, frozenset[str]] = {
    # Every EVM chain of chains.py mints from and burns to the same null/dead addresses and has the same
    # precompiles at 0x01..; a label or transfer there is never an actor's.
    **{c: BURN_ADDRESSES | PRECOMPILES for c in ("ethereum", "bsc", "polygon", "arbitrum", "optimism", "base")},
    "tron": frozenset({TRON_NULL_ADDRESS}),
}


def inert_keys() -> list[str]:
    """Sorted ``'chain:address'`` keys of :data:`INERT_ADDRESSES` (for SQL: ``a.chain || ':' || a.address``)."""
    return sorted(f"{c}:{a}" for c, xs in INERT_ADDRESSES.items() for a in xs)


_CATEGORY_SET = frozenset(CATEGORIES)


def check_category(category: str) -> str:
    """The category, normalised, or an :class:`~chainrisk.errors.InputError` naming the accepted ones."""
    if category in _CATEGORY_SET:  # the common case, on every imported row
        return category
    c = category.strip().lower()
    if c not in _CATEGORY_SET:
        from .errors import InputError

        raise InputError(f"unknown label category {category!r}; accepted: {', '.join(CATEGORIES)}")
    return c
