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
    """One chain. ``finality`` is ``finalized`` (the node's ``finalized`` block tag is authoritative: nothing above
    it is stored by default) or ``confirmations`` (trust ``latest - confirmations``); ``confirmations`` is the
    fallback depth used when the node does not answer the ``finalized`` tag (TRON: ~19 blocks of solidification,
    2/3 of 27 super representatives). ``confirmations_cap_too``: the fallback depth caps even when the node has a
    finalized block (TRON, whose solidified block and 19-block rule are two views of the same thing).
    ``mint_burn``: the addresses mints come from and burns go to on this chain (the null address for every
    ERC-20/TRC-20; the conventional ``0x…dead`` burn address on EVM chains); ``finality_note`` says what
    ``finalized`` means there and where that is documented."""

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
    mint_burn: tuple[str, ...] = ()
    confirmations_cap_too: bool = False
    finality_note: str = ""

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


#: The conventional EVM burn address (tokens sent there are out of circulation; BEP-20 burns on BSC use it most).
DEAD_ADDRESS = "0x000000000000000000000000000000000000dead"


def _evm(name: str, chain_id: int, block_seconds: float, explorer: str, *, confirmations: int,
         finality_note: str, native: str = "ETH") -> ChainSpec:
    return ChainSpec(name=name, chain_id=chain_id, address_form="evm", finality="finalized",
                     confirmations=confirmations, block_seconds=block_seconds, null_address=NULL_ADDRESS,
                     explorer_tx=explorer + "/tx/{tx}", explorer_address=explorer + "/address/{address}",
                     native_symbol=native, mint_burn=(NULL_ADDRESS, DEAD_ADDRESS), finality_note=finality_note)


#: The chains, by name. Ids: chainlist.org and each chain's docs; java-tron's JSON-RPC docs (developers.tron.network,
#: "JSON-RPC API") for TRON's id 0x2b6653dc and its eth_getLogs caps. Every EVM chain here answers the ``finalized``
#: block tag on current clients, so that is the default ceiling; ``confirmations`` is the fallback for a node that
#: does not (an old client), sized from the chain's own finality documents (cited per row). Block times are the
#: targets at the time of writing (BSC halved its block time twice in 2025: Lorentz 1.5 s, Maxwell 0.75 s); they
#: are only used for estimates, never for correctness.
CHAINS: dict[str, ChainSpec] = {c.name: c for c in (
    _evm("ethereum", 1, 12.0, "https://etherscan.io", confirmations=12, finality_note=(
        "finalized = the last Casper FFG finalized checkpoint, 2 epochs (64-95 blocks, ~13 min) behind the head "
        "(ethereum.org, 'Proof-of-stake: finality'); geth/reth/nethermind answer the tag since the Merge")),
    ChainSpec(name="tron", chain_id=0x2B6653DC, address_form="tron", finality="finalized", confirmations=19,
              block_seconds=3.0, null_address="T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb",
              explorer_tx="https://tronscan.org/#/transaction/{tx}",
              explorer_address="https://tronscan.org/#/address/{address}",
              max_block_range=5_000, max_results=10_000, native_symbol="TRX",
              mint_burn=("T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb",), confirmations_cap_too=True,
              finality_note=("finalized = the solidified block, confirmed by 2/3 of the 27 super representatives "
                             "(~19 blocks; java-tron JSON-RPC docs)")),
    _evm("bsc", 56, 0.75, "https://bscscan.com", confirmations=88, native="BNB", finality_note=(
        "finalized = fast finality (BEP-126): block n is final once n+1 and n+2 carry the validators' BLS vote "
        "attestations, ~2 blocks; without it (an old client, or votes missing) finality is probabilistic: more "
        "than half of the 21 validators must each seal their turn of 8 blocks on top, 11 x 8 = 88 blocks "
        "(docs.bnbchain.org, BSC API list, 'Finality API')")),
    _evm("polygon", 137, 2.0, "https://polygonscan.com", confirmations=512, native="POL", finality_note=(
        "finalized = the last milestone voted by Heimdall validators (PIP-11, deterministic finality, a few "
        "seconds); before milestones only a checkpoint on Ethereum made a block final, and Bor blocks were "
        "probabilistic up to the last checkpointed one, ~512 blocks (PIP-11) - the fallback depth")),
    _evm("arbitrum", 42161, 0.25, "https://arbiscan.io", confirmations=12_000, finality_note=(
        "finalized = the last L2 block whose sequencer batch is in a finalized Ethereum block (Nitro v2.0.10 "
        "release notes; docs.arbitrum.io 'Finality and chain reorganizations'), minutes behind the head; a "
        "node without the tag falls back to 12,000 blocks (~50 min at 0.25 s: batches post every few minutes, "
        "Ethereum finalizes ~13 min later)")),
    _evm("optimism", 10, 2.0, "https://optimistic.etherscan.io", confirmations=1_000, finality_note=(
        "finalized = the last L2 block derived only from finalized Ethereum blocks (OP Stack spec: unsafe / "
        "safe / finalized), ~20-30 min behind the head; fallback 1,000 blocks (~33 min)")),
    _evm("base", 8453, 2.0, "https://basescan.org", confirmations=1_000, finality_note=(
        "an OP Stack chain: finalized = derived from finalized Ethereum blocks only (as optimism); fallback "
        "1,000 blocks (~33 min)")),
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
