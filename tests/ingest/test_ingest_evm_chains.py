"""The EVM chains beyond Ethereum (BSC, Polygon, Arbitrum, Optimism, Base) from a node: the real anvil node started
with each chain's id, behind the test proxy in that chain's mode (its public endpoints' eth_getLogs caps, error
codes and messages, timestamps or not, its ``finalized`` tag; :data:`support.rpc_proxy.CHAIN_MODES`). Checked per
chain: the node's chain id against ``--chain``, the finality rule (the node's ``finalized`` block by default, the
chain's confirmation depth when the node does not answer the tag), the exact round trip of every transfer
including mints and burns, an unregistered token registered with the decimals its contract reports (a BSC-like
peg with **18** decimals), and on BSC a public endpoint without ``eth_getLogs`` and a resume after SIGKILL."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.anvil import Anvil, available, node_transfers, random_address, stored_transfers
from support.env import need
from support.rpc_proxy import CHAIN_MODES, RpcProxy

import chainrisk
from chainrisk.chains import DEAD_ADDRESS, get_chain
from chainrisk.demo.anvil import INSTALL_HINT
from chainrisk.errors import RpcError, SourceUnavailable, UsageError
from chainrisk.ingest.rpc import ingest_rpc
from chainrisk.store import Store

pytestmark = pytest.mark.anvil

EVM = ["bsc", "polygon", "arbitrum", "optimism", "base"]
NULL = "0x" + "0" * 40
CLI = [sys.executable, "-c", "from chainrisk.cli import main; main()"]
TAIL = 60  # empty blocks mined after the workload, so every chain's finalized block lies above it


@dataclass
class EvmWork:
    name: str
    node: Anvil
    peg: str  # BSC-like 18-decimal peg (Binance's BSC-USD shape)
    usdc: str  # 6 decimals
    owner: str
    transfers: list[tuple[str, str, str, int]] = field(default_factory=list)  # (token, from, to, value)
    tip: int = 0  # last block with logs
    latest: int = 0


@pytest.fixture(scope="module")
def evm(request: pytest.FixtureRequest) -> Iterator[EvmWork]:
    """A node with the chain's id, the two tokens and their transfers (parametrised indirectly by chain name)."""
    name: str = request.param
    need(available(), f"anvil is not installed; {INSTALL_HINT}")
    node = Anvil.start("--gas-limit", "100000000", "--chain-id", str(get_chain(name).chain_id))
    try:
        rng = random.Random(name)
        peg, usdc = node.deploy("BscPegLike"), node.deploy("CircleLike")
        owner = node.accounts[0]
        w = EvmWork(name, node, peg, usdc, owner)
        supply = 10**9 * 10**18  # a billion pegged dollars in 18-decimal units: far above 2^64
        sends: list[tuple[str, str, list[Any], str | None]] = [
            (peg, "mint(uint256)", [supply], owner), (usdc, "mint(address,uint256)", [owner, 10**13], owner),
            (peg, "burn(uint256)", [5 * 10**18], owner), (peg, "transfer(address,uint256)", [DEAD_ADDRESS, 10**18], owner)]
        w.transfers += [(peg, NULL, owner, supply), (usdc, NULL, owner, 10**13), (peg, owner, NULL, 5 * 10**18),
                        (peg, owner, DEAD_ADDRESS, 10**18)]
        recipients = [random_address(rng) for _ in range(200)]
        for i in range(24):
            token = peg if i % 3 else usdc
            to = [rng.choice(recipients) for _ in range(100)]
            values = [rng.randrange(1, 10**24) if token == peg else rng.randrange(1, 10**9) for _ in to]
            sends.append((token, "batchTransfer(address[],uint256[])", [to, values], owner))
            w.transfers += [(token, owner, t, v) for t, v in zip(to, values, strict=True)]
        node.batch(sends, per_block=2)
        w.tip = node.block_number()
        node.mine(TAIL)
        w.latest = node.block_number()
        yield w
    finally:
        node.stop()


@pytest.fixture
def proxy(evm: EvmWork) -> Iterator[RpcProxy]:
    with RpcProxy(evm.node.url) as p:
        yield p.chain(evm.name)


@pytest.fixture
def st(tmp_path: Path) -> Iterator[Store]:
    s = chainrisk.open(tmp_path / "evm.duckdb")
    yield s
    s.close()


def chain_rows(st: Store, chain: str) -> Counter[tuple[Any, ...]]:
    return Counter((r[0], r[1], r[2], int(r[3])) for r in st.execute(
        "SELECT token_address, from_address, to_address, value_exact FROM transfers_view WHERE chain = ?",
        [chain]).fetchall())


@pytest.mark.parametrize("evm", EVM, indirect=True)
def test_round_trip_through_the_chains_caps_up_to_its_finalized_block(st: Store, proxy: RpcProxy,
                                                                      evm: EvmWork) -> None:
    spec = get_chain(evm.name)
    mode = CHAIN_MODES[evm.name]
    proxy.chain(evm.name, max_block_range=3, max_results=250)  # the chain's error shapes, caps this chain meets
    # unregistered contracts: registered with the decimals (and symbol) their contracts report
    rep = ingest_rpc(st, proxy.url, tokens=[evm.peg, evm.usdc], chain=evm.name, backoff=0.01, initial_range=50)
    assert rep.chain == evm.name and rep.chain_id == spec.chain_id and not rep.notes
    # the default ceiling is the node's finalized block (the proxy lags it like the chain's endpoints do)
    assert rep.finalized_block == rep.to_block == evm.latest - mode.finalized_lag
    assert rep.to_block >= evm.tip
    # every transfer, exactly, as the node has it and as the test sent it; mints from and burns to the null
    # address and a burn to 0x...dead are kept as transfers
    assert stored_transfers(st) == node_transfers(evm.node, [evm.peg, evm.usdc], evm.tip)
    assert chain_rows(st, evm.name) == Counter(evm.transfers)
    assert {NULL, DEAD_ADDRESS} <= set(spec.mint_burn)
    assert st.execute("SELECT DISTINCT chain FROM transfers").fetchall() == [(evm.name,)]
    assert st.execute("SELECT count(*) FROM transfers WHERE block_time IS NULL").fetchone() == (0,)
    if not mode.timestamps:  # times came from batched block headers
        assert proxy.calls["eth_getBlockByNumber"] > 0
    # refused ranges were split by the chain's own error shape, and the learnt cap was kept
    assert rep.splits > 0
    wide = [(a, b) for a, b in proxy.spans if b - a + 1 > 3]
    assert wide and len(wide) < len(proxy.spans) / 2
    # the peg's 18 decimals were read from its contract; amounts use them
    peg = st.resolve_token(evm.peg, evm.name)
    usdc = st.resolve_token(evm.usdc, evm.name)
    assert (peg.symbol, peg.decimals, usdc.decimals) == ("USDT", 18, 6)
    big = max(v for t, _, _, v in evm.transfers if t == evm.peg and v < 10**27)
    (amount,) = st.execute("SELECT amount FROM transfers_view WHERE value_exact = ?", [str(big)]).fetchone()
    assert amount == pytest.approx(big / 10**18)
    # a rerun asks the node for no logs
    before = proxy.calls["eth_getLogs"]
    again = ingest_rpc(st, proxy.url, tokens=[evm.peg, evm.usdc], chain=evm.name, backoff=0.01)
    assert again.transfers_added == 0 and proxy.calls["eth_getLogs"] == before


@pytest.mark.parametrize("evm", EVM, indirect=True)
def test_without_a_finalized_tag_the_chains_confirmation_depth_applies(st: Store, proxy: RpcProxy,
                                                                        evm: EvmWork) -> None:
    spec = get_chain(evm.name)
    proxy.refused_tags = {"finalized"}  # an old client
    rep = ingest_rpc(st, proxy.url, tokens=[evm.peg], chain=evm.name, backoff=0.01, from_block=0)
    assert rep.finalized_block is None and rep.confirmations == spec.confirmations
    assert rep.to_block == evm.latest - spec.confirmations
    assert any("does not answer the 'finalized' block tag" in n for n in rep.notes)
    (top,) = st.execute("SELECT max(block_number) FROM transfers").fetchone()
    assert top is None or top <= evm.latest - spec.confirmations
    # an explicit --confirmations is the user's own rule: the finalized tag is not asked for
    proxy.refused_tags = set()
    rep = ingest_rpc(st, proxy.url, tokens=[evm.peg], chain=evm.name, backoff=0.01, confirmations=3)
    assert rep.finalized_block is None and rep.to_block == evm.latest - 3


@pytest.mark.parametrize("evm", EVM, indirect=True)
def test_the_nodes_chain_id_must_match(st: Store, evm: EvmWork) -> None:
    spec = get_chain(evm.name)
    with pytest.raises(UsageError, match=rf"is chain id {spec.chain_id} \({evm.name}\), not ethereum \(1\); "
                                         rf"pass --chain {evm.name}"):
        ingest_rpc(st, evm.node.url, tokens=[evm.peg], chain="ethereum", confirmations=0)
    other = "polygon" if evm.name != "polygon" else "bsc"
    with pytest.raises(UsageError, match=rf"not {other} \({get_chain(other).chain_id}\); pass --chain {evm.name}"):
        ingest_rpc(st, evm.node.url, tokens=[evm.peg], chain=other, confirmations=0)
    assert st.execute("SELECT count(*) FROM transfers").fetchone() == (0,)


@pytest.mark.parametrize("evm", ["bsc"], indirect=True)
def test_a_bsc_endpoint_without_getlogs_is_one_clear_error(st: Store, proxy: RpcProxy, evm: EvmWork) -> None:
    proxy.logs_disabled = True  # BSC's own bsc-dataseed endpoints
    with pytest.raises(RpcError, match=r"does not serve eth_getLogs \(error -32601.*bsc-dataseed.*--rpc-url") as e:
        ingest_rpc(st, proxy.url + "/KEY9", tokens=[evm.peg], chain="bsc", backoff=0.01)
    assert "KEY9" not in str(e.value)
    assert proxy.calls["eth_getLogs"] == 1  # not retried: it will not change


@pytest.mark.parametrize("evm", ["arbitrum"], indirect=True)
def test_an_http_413_on_a_single_block_is_retried_then_fails(st: Store, proxy: RpcProxy, evm: EvmWork) -> None:
    # QuickNode's range refusal is HTTP 413: a one-block range that still meets it cannot be split
    proxy.chain("arbitrum", max_block_range=1)
    proxy.max_block_range = 0
    with pytest.raises(SourceUnavailable, match="HTTP 413"):
        ingest_rpc(st, proxy.url, tokens=[evm.peg], chain="arbitrum", backoff=0.01, max_retries=2,
                   initial_range=1, to_block=evm.tip)


@pytest.mark.parametrize("evm", ["bsc"], indirect=True)
def test_bsc_cli_sigkill_then_rerun_gives_exactly_the_node_set(tmp_path: Path, proxy: RpcProxy,
                                                               evm: EvmWork) -> None:
    db = tmp_path / "bsc.duckdb"
    with chainrisk.open(db) as s:
        s.ensure_token("bsc", evm.peg, "USDT-BSC", 18, "stablecoin", source="test")
        s.ensure_token("bsc", evm.usdc, "USDC-BSC", 18, "stablecoin", source="test")
    args = [*CLI, "--db", str(db), "-v", "ingest", "rpc", "--chain", "bsc", "--concurrency", "1",
            "--commit-interval", "0", "--rpc-url", proxy.url, "--format", "json"]
    proxy.chain("bsc", max_block_range=1)
    proxy.delay = 0.1
    p = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert p.stderr is not None
    deadline = time.monotonic() + 60
    for line in p.stderr:
        m = re.search(r"\((\d+) transfers so far\)", line)
        if m and int(m.group(1)) >= 300:
            break
        assert time.monotonic() < deadline
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    node = node_transfers(evm.node, [evm.peg, evm.usdc], evm.tip)
    with chainrisk.open(db) as s:
        partial = stored_transfers(s)
    assert partial and partial < node
    proxy.reset()
    proxy.chain("bsc")
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["chain"] == "bsc" and rep["chain_id"] == 56 and rep["to_block"] == evm.latest - 2
    assert rep["transfers_added"] == len(node) - len(partial)
    with chainrisk.open(db) as s:
        assert stored_transfers(s) == node
        (n, distinct) = s.execute("SELECT count(*), count(DISTINCT (tx_hash, log_index)) FROM transfers").fetchone()
        assert n == distinct == len(node)


@pytest.mark.parametrize("evm", ["bsc"], indirect=True)
def test_cli_chain_mismatch_is_one_sentence_and_exit_2(tmp_path: Path, evm: EvmWork) -> None:
    r = subprocess.run([*CLI, "--db", str(tmp_path / "m.duckdb"), "ingest", "rpc", "--chain", "polygon",
                        "--rpc-url", evm.node.url, "--token", evm.peg], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == [f"Error: the node at {evm.node.url} is chain id 56 (bsc), not polygon (137); pass --chain bsc "
                     "or point --rpc-url at a polygon node"]


def test_every_evm_chain_has_a_sourced_finality_rule() -> None:
    for name in EVM:
        spec = get_chain(name)
        assert spec.finality == "finalized" and spec.confirmations > 0 and not spec.confirmations_cap_too
        assert spec.mint_burn[0] == NULL and DEAD_ADDRESS in spec.mint_burn
        assert "finalized" in spec.finality_note and spec.block_seconds > 0
        assert spec.max_block_range is None  # caps are the endpoint's, learnt from its refusals (not pre-set)
