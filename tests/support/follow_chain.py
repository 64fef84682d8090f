"""An anvil node producing blocks (interval mining) with a USD stablecoin at the real USDT address, for the
follow-mode tests and the monitoring benchmark: a mixer and a clean payer funded, transfers sent on demand."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from chainrisk.demo.anvil import Anvil
from chainrisk.demo.node import SLOT_DECIMALS, SLOT_OWNER, _word
from chainrisk.store import Store


@dataclass
class FollowChain:
    node: Anvil
    usdt: str
    owner: str
    mixer: str
    payer: str

    def send(self, sender: str, to: str, usd: float) -> str:
        """A USDT transfer (6 decimals); returns the tx hash once mined."""
        tx = self.node.send(self.usdt, "transfer(address,uint256)", [to, int(usd * 10**6)], sender=sender,
                            gas=200_000)
        self.node.receipt(tx)
        return tx

    def tip(self) -> int:
        return self.node.block_number()


def start_chain(store: Store, block_time: int = 1) -> FollowChain:
    """A fresh anvil node: USDT-like code at the store's registered USDT address (so transfers have a USD value),
    a funded mixer and payer, and blocks every ``block_time`` seconds (0: only when a transaction comes)."""
    usdt = store.resolve_token("USDT").contract
    node = Anvil.start("--gas-limit", "100000000", "--block-base-fee-per-gas", "0", keep_states=64)
    try:
        owner, mixer, payer = node.accounts[:3]
        code = node.rpc("eth_getCode", [node.deploy("CircleLike"), "latest"])
        node.rpc_batch([("anvil_setCode", [usdt, code]),
                        ("anvil_setStorageAt", [usdt, _word(SLOT_OWNER), _word(owner)]),
                        ("anvil_setStorageAt", [usdt, _word(SLOT_DECIMALS), _word(6)])])
        # minted to the owner (an issuer operations address in the ledger), then paid on: the issuer is a stop
        # category, so the payer's own customers are not exposed to it
        node.receipt(node.send(usdt, "mint(address,uint256)", [owner, 3 * 10**13], sender=owner, gas=200_000))
        for who in (mixer, payer):
            node.receipt(node.send(usdt, "transfer(address,uint256)", [who, 10**13], sender=owner, gas=200_000))
        if block_time > 0:       # 0: automine only (a block per transaction)
            node.rpc("evm_setIntervalMining", [int(block_time)])
    except BaseException:
        node.stop()
        raise
    return FollowChain(node, usdt, owner, mixer, payer)


def fresh_address(rng: random.Random) -> str:
    return "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(40))


def wait_for(cond, timeout: float = 60.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {getattr(cond, '__name__', 'a condition')}")
