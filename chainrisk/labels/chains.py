"""Chain names as label sources write them, mapped onto chainrisk's chain registry in one place.

Label files name chains their own way: Dune Spellbook writes ``bnb`` for BNB Smart Chain (chainrisk's ``bsc``),
OFAC tags addresses with tickers (``Digital Currency Address - BSC``, ``ARB``, ``MATIC``, ``ETH``), other lists
write ``binance-smart-chain``, ``matic`` or ``arbitrum_one``. :func:`canonical_chain` maps every such name onto the
registry's name (:data:`chainrisk.chains.CHAINS`: ethereum, tron, bsc, polygon, arbitrum, optimism, base) through
:data:`CHAIN_ALIASES`; a chain the registry lacks (``avalanche_c``, ``fantom``, ``gnosis``, ...) keeps its own
name rather than being dropped: its labels are stored and answered (a lookup lists them on that chain), but no
transfers of it can be ingested.

    >>> canonical_chain("BNB"), canonical_chain("arbitrum-one"), canonical_chain("avalanche_c")
    ('bsc', 'arbitrum', 'avalanche_c')
    >>> evm_ticker_chain("MATIC")
    'polygon'
"""

from __future__ import annotations

import re

from ..chains import CHAINS
from ..errors import UsageError

#: other names of the registry's chains (lower case, ``-`` and spaces read as ``_``)
CHAIN_ALIASES: dict[str, str] = {
    "bnb": "bsc", "bnb_chain": "bsc", "bnb_smart_chain": "bsc", "binance_smart_chain": "bsc", "bep20": "bsc",
    "binance": "bsc", "bsc_mainnet": "bsc",
    "eth": "ethereum", "mainnet": "ethereum", "ethereum_mainnet": "ethereum", "erc20": "ethereum",
    "matic": "polygon", "pol": "polygon", "polygon_pos": "polygon",
    "arb": "arbitrum", "arbitrum_one": "arbitrum", "arb1": "arbitrum",
    "op": "optimism", "op_mainnet": "optimism", "optimistic_ethereum": "optimism",
    "base_mainnet": "base",
    "trx": "tron", "trc20": "tron",
}

#: EVM chains a label may name that the registry does not have (their 0x addresses are kept on that chain)
OTHER_EVM_CHAINS = frozenset({
    "avalanche_c", "fantom", "gnosis", "celo", "linea", "scroll", "zksync", "zkevm", "mantle", "blast",
    "ethereum_classic", "sonic", "unichain", "zora", "mode", "nova", "worldchain", "sei", "kaia", "berachain",
})

#: every EVM chain name a label may carry: the registry's and :data:`OTHER_EVM_CHAINS`
EVM_LABEL_CHAINS = frozenset({c.name for c in CHAINS.values() if c.address_form == "evm"}) | OTHER_EVM_CHAINS

#: ticker of a sanctions or scam list entry -> the EVM chain of its 0x address (OFAC's "Digital Currency Address -
#: BSC" is an address on BNB Smart Chain). Token tickers (USDT, USDC) name no chain: their 0x addresses go to
#: ethereum, the chain those lists meant before they tagged others.
EVM_TICKER_CHAINS: dict[str, str] = {
    "ETH": "ethereum", "BSC": "bsc", "BEP20": "bsc", "ARB": "arbitrum", "MATIC": "polygon", "POL": "polygon",
    "OP": "optimism", "BASE": "base", "ETC": "ethereum_classic", "AVAX": "avalanche_c", "FTM": "fantom",
    "XDAI": "gnosis", "GNO": "gnosis", "CELO": "celo",
}

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def canonical_chain(name: str) -> str:
    """The registry name of chain ``name`` (an alias mapped, a chain the registry lacks kept as written, lower
    case); :class:`UsageError` for text that cannot be a chain name."""
    c = re.sub(r"[\s\-]+", "_", (name or "").strip().lower())
    c = CHAIN_ALIASES.get(c, c)
    if c not in CHAINS and not _NAME.match(c):
        raise UsageError(f"{name!r} is not a chain name; chains: {', '.join(CHAINS)} (or another EVM chain's name, "
                         "e.g. avalanche_c)")
    return c


def evm_ticker_chain(ticker: str | None) -> str | None:
    """The EVM chain a list's ticker names for a 0x address, or None (no chain named: ethereum by default)."""
    return EVM_TICKER_CHAINS.get((ticker or "").strip().upper())


def in_registry(chain: str) -> bool:
    return chain in CHAINS
