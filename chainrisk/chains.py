"""The chain registry: what chainrisk knows of each chain it reads (ground layer, no I/O).

One :class:`ChainSpec` per chain: its name (the ``--chain`` value and the ``chain`` column of the store), its
JSON-RPC chain id (checked against the node's ``eth_chainId``), how its addresses are written (``evm``: lower-case
``0x`` hex; ``tron``: base58check of ``0x41 ‖ 20 bytes``), its finality rule and block time, its mint/burn (null)
address, the ``eth_getLogs`` limits its nodes are known to enforce, and an explorer URL template. The tokens of a
chain are in the token registry (``chainrisk/data/tokens.csv``, column ``chain``).

TRON's JSON-RPC (java-tron ``/jsonrpc``) is Ethereum-shaped, but the addresses it returns in logs are 20-byte
``0x`` hex without the ``41`` prefix; :meth:`ChainSpec.from_node` and :meth:`ChainSpec.to_node` convert at the
edge, so the store, the engine and every answer see base58 ``T...`` addresses only.

    >>> get_chain("tron").chain_id
    728126428
    >>> get_chain("tron").from_node("0xa614f803b6fd780986a42c78ec9c7f77e6ded13c")
    'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t'
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from .address import NULL_ADDRESS, tron_from_hex, tron_to_hex
from .errors import UsageError

AddressForm = Literal["evm", "tron"]
#: chain ids of local development nodes (anvil, hardhat, ganache): an EVM chain name may be asked of them
#: (tests, the demo) with a note instead of an error.
DEV_CHAIN_IDS = frozenset({31337, 1337})


@dataclass(frozen=True)
class ChainSpec:
    """One chain. ``finality`` is ``finalized`` (the node's ``finalized`` block tag is authoritative) or
    ``confirmations`` (trust ``latest - confirmations``); ``confirmations`` is the default depth used when the
    node has no ``finalized`` tag (TRON: ~19 blocks of solidification, 2/3 of 27 super representatives)."""

    name: str
    chain_id: int
    address_form: AddressForm
    finality: Literal["finalized", "confirmations"]
    confirmations: int
    block_seconds: float
    null_address: str
    explorer_tx: str  # format with tx=<hash as stored>
    explorer_address: str  # format with address=<address as stored>
    max_block_range: int | None = None  # eth_getLogs block span its nodes refuse above
    max_results: int | None = None  # eth_getLogs results its nodes refuse above
    native_symbol: str = "ETH"

    def canonical(self, address: str) -> str:
        """The stored form of an address of this chain (lower-case hex, or TRON base58)."""
        from .address import parse_address

        a = parse_address(address)
        if (a.chain == "tron") != (self.address_form == "tron"):
            from .errors import InvalidAddress

            raise InvalidAddress(address, f"not a {self.name} address")
        return a.address

    def from_node(self, hex20: str) -> str:
        """A log's ``0x`` + 40-hex-digit address (as nodes send them) in this chain's stored form."""
        return _tron_b58(hex20.lower()) if self.address_form == "tron" else hex20.lower()

    def to_node(self, address: str) -> str:
        """The ``0x`` + 40-hex-digit form a node's ``eth_getLogs``/``eth_call`` take, of a stored address."""
        if self.address_form == "tron":
            return "0x" + tron_to_hex(address)[2:]
        return address.lower()

    def tx_url(self, tx_hash: str) -> str:
        return self.explorer_tx.format(tx=tx_hash[2:] if self.address_form == "tron" and
                                       tx_hash.startswith("0x") else tx_hash)

    def address_url(self, address: str) -> str:
        return self.explorer_address.format(address=address)


@functools.lru_cache(maxsize=1 << 20)
def _tron_b58(hex20: str) -> str:
    return tron_from_hex(hex20)


def _evm(name: str, chain_id: int, block_seconds: float, explorer: str, *, confirmations: int = 12,
         finality: Literal["finalized", "confirmations"] = "finalized", native: str = "ETH") -> ChainSpec:
    return ChainSpec(name=name, chain_id=chain_id, address_form="evm", finality=finality,
                     confirmations=confirmations, block_seconds=block_seconds, null_address=NULL_ADDRESS,
                     explorer_tx=explorer + "/tx/{tx}", explorer_address=explorer + "/address/{address}",
                     native_symbol=native)


#: The chains, by name. Sources: chainlist.org / each chain's docs for ids; java-tron's JSON-RPC docs
#: (developers.tron.network, "JSON-RPC API") for TRON's id 0x2b6653dc and its eth_getLogs caps.
CHAINS: dict[str, ChainSpec] = {c.name: c for c in (
    _evm("ethereum", 1, 12.0, "https://etherscan.io"),
    ChainSpec(name="tron", chain_id=0x2B6653DC, address_form="tron", finality="finalized", confirmations=19,
              block_seconds=3.0, null_address="T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb",
              explorer_tx="https://tronscan.org/#/transaction/{tx}",
              explorer_address="https://tronscan.org/#/address/{address}",
              max_block_range=5_000, max_results=10_000, native_symbol="TRX"),
    _evm("bsc", 56, 3.0, "https://bscscan.com", confirmations=15, native="BNB"),
    _evm("polygon", 137, 2.0, "https://polygonscan.com", confirmations=128, native="POL"),
    _evm("arbitrum", 42161, 0.25, "https://arbiscan.io"),
    _evm("optimism", 10, 2.0, "https://optimistic.etherscan.io"),
    _evm("base", 8453, 2.0, "https://basescan.org"),
)}


def get_chain(name: str) -> ChainSpec:
    """The registered chain ``name``, or a :class:`UsageError` listing the known ones."""
    spec = CHAINS.get(name.strip().lower())
    if spec is None:
        raise UsageError(f"unknown chain {name!r}; use one of: {', '.join(CHAINS)}")
    return spec


def chain_of_id(chain_id: int) -> ChainSpec | None:
    return next((c for c in CHAINS.values() if c.chain_id == chain_id), None)


def check_chain_id(spec: ChainSpec, node_chain_id: int, where: str) -> str | None:
    """Compare the node's chain id with the chain asked for: None when they match, a note when an EVM chain is
    asked of a local development node, else a :class:`UsageError` naming both."""
    if node_chain_id == spec.chain_id:
        return None
    if spec.address_form == "evm" and node_chain_id in DEV_CHAIN_IDS:
        return f"the node's chain id is {node_chain_id} (a local development node), not {spec.name} ({spec.chain_id})"
    other = chain_of_id(node_chain_id)
    named = f" ({other.name})" if other else ""
    hint = f"pass --chain {other.name}" if other else "check --rpc-url"
    raise UsageError(f"the node at {where} is chain id {node_chain_id}{named}, not {spec.name} "
                     f"({spec.chain_id}); {hint} or point --rpc-url at a {spec.name} node")
