"""TRON node ingestion: the real anvil node started with TRON's chain id (0x2b6653dc) behind the test proxy taught
java-tron's eth_getLogs caps and error shapes. TRON's JSON-RPC is Ethereum-shaped (addresses in logs are 20-byte
``0x`` hex without the ``41``), so this is the protocol path a java-tron ``/jsonrpc`` node takes; what differs is
checked here: chain id, base58 addresses everywhere in the store, the 5,000-block cap (-32602) and 10,000-result
cap (-32005), both shapes of Tether's blacklist events, zero-value spam and a resume after SIGKILL."""

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
from support.anvil import Anvil, anvil, available, random_address  # noqa: F401
from support.env import need
from support.rpc_proxy import RpcProxy

import chainrisk
from chainrisk.address import parse_address, tron_from_hex, tron_to_hex
from chainrisk.chains import get_chain
from chainrisk.demo.anvil import INSTALL_HINT, TRANSFER_TOPIC
from chainrisk.errors import UsageError
from chainrisk.ingest.rpc import ingest_rpc
from chainrisk.store import Store

pytestmark = pytest.mark.anvil

TRON_ID = 728126428
TRON_NULL = "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb"
CLI = [sys.executable, "-c", "from chainrisk.cli import main; main()"]


def b58(hex20: str) -> str:
    return tron_from_hex("41" + hex20[2:])


@dataclass
class TronWork:
    usdt: str  # node form (0x hex)
    usdc: str
    owner: str
    transfers: list[tuple[str, str, str, int]] = field(default_factory=list)  # base58 (token, from, to, value)
    blacklist: list[tuple[str, str, str]] = field(default_factory=list)  # base58 address, action, event
    zero_value: int = 0
    tip: int = 0


@pytest.fixture(scope="module")
def tron_node() -> Iterator[Anvil]:
    need(available(), f"anvil is not installed; {INSTALL_HINT}")
    node = Anvil.start("--gas-limit", "100000000", "--chain-id", str(TRON_ID))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def work(tron_node: Anvil) -> TronWork:
    node = tron_node
    rng = random.Random(14)
    usdt = node.deploy("TronTetherLike", ["uint256"], [10**15])
    usdc = node.deploy("CircleLike")
    owner = node.accounts[0]
    w = TronWork(usdt=usdt, usdc=usdc, owner=owner)
    sends: list[tuple[str, str, list[Any], str | None]] = []
    # a USDC mint: from the null address, which is TRON's T9yD14... in base58
    sends.append((usdc, "mint(address,uint256)", [owner, 10**13], owner))
    w.transfers.append((b58(usdc), TRON_NULL, b58(owner), 10**13))
    # Tether's blacklist events in both shapes: the address in the data and the address as topics[1]
    bl = [random_address(rng) for _ in range(4)]
    sends.append((usdt, "addBlackList(address)", [bl[0]], owner))
    sends.append((usdt, "addBlackListIndexed(address)", [bl[1]], owner))
    sends.append((usdt, "removeBlackList(address)", [bl[0]], owner))
    sends.append((usdt, "removeBlackListIndexed(address)", [bl[1]], owner))
    sends.append((usdc, "blacklist(address)", [bl[2]], owner))
    sends.append((usdt, "addBlackListIndexed(address)", [bl[3]], owner))
    w.blacklist += [(b58(bl[0]), "added", "AddedBlackList"), (b58(bl[1]), "added", "AddedBlackList"),
                    (b58(bl[0]), "removed", "RemovedBlackList"), (b58(bl[1]), "removed", "RemovedBlackList"),
                    (b58(bl[2]), "added", "Blacklisted"), (b58(bl[3]), "added", "AddedBlackList")]
    node.batch(sends, per_block=2)
    # transfers, a third of them zero-value "transferFrom spam" from look-alike senders' point of view
    recipients = [random_address(rng) for _ in range(300)]
    sends = []
    for i in range(30):
        token = usdt if i % 3 else usdc
        to = [rng.choice(recipients) for _ in range(100)]
        values = [0 if j % 3 == 0 else rng.randrange(1, 10**10) for j in range(100)]
        sends.append((token, "batchTransfer(address[],uint256[])", [to, values], owner))
        w.transfers += [(b58(token), b58(owner), b58(t), v) for t, v in zip(to, values, strict=True)]
        w.zero_value += values.count(0)
    node.batch(sends, per_block=2)
    w.tip = node.block_number()
    return w


@pytest.fixture
def st(tmp_path: Path, work: TronWork) -> Iterator[Store]:
    s = chainrisk.open(tmp_path / "tron.duckdb")
    s.ensure_token("tron", b58(work.usdt), "USDT-T", 6, "stablecoin", source="test")
    s.ensure_token("tron", b58(work.usdc), "USDC-T", 6, "stablecoin", source="test")
    yield s
    s.close()


@pytest.fixture
def proxy(tron_node: Anvil) -> Iterator[RpcProxy]:
    with RpcProxy(tron_node.url) as p:
        yield p.tron()


def run(st: Store, url: str, **kw: Any) -> Any:
    kw.setdefault("confirmations", 0)
    kw.setdefault("backoff", 0.01)
    return ingest_rpc(st, url, tokens=["USDT-T", "USDC-T"], chain="tron", **kw)


def node_set(node: Anvil, w: TronWork) -> set[tuple[Any, ...]]:
    """The node's transfers, decoded here in plain Python, addresses in base58."""
    logs = node.rpc("eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(w.tip), "address": [w.usdt, w.usdc],
                                     "topics": [TRANSFER_TOPIC]}])
    return {(lg["transactionHash"], int(lg["logIndex"], 16), b58(lg["address"]), b58("0x" + lg["topics"][1][26:]),
             b58("0x" + lg["topics"][2][26:]), int(lg["data"], 16)) for lg in logs}


def stored(st: Store) -> set[tuple[Any, ...]]:
    return {(r[0], r[1], r[2], r[3], r[4], int(r[5])) for r in st.execute(
        "SELECT tx_hash, log_index, token_address, from_address, to_address, value_exact FROM transfers_view"
        " WHERE chain = 'tron'").fetchall()}


def test_round_trip_in_base58_through_tron_caps(st: Store, proxy: RpcProxy, tron_node: Anvil,
                                                 work: TronWork) -> None:
    rep = run(st, proxy.url, to_block=work.tip)
    assert rep.chain == "tron" and rep.chain_id == TRON_ID
    assert stored(st) == node_set(tron_node, work)
    got = Counter((*tuple(r[:3]), int(r[3])) for r in st.execute(
        "SELECT token_address, from_address, to_address, value_exact FROM transfers_view").fetchall())
    assert got == Counter(work.transfers)
    # every stored address is a valid base58check TRON address; none is hex
    addrs = [a for (a,) in st.execute("SELECT address FROM addresses").fetchall()]
    assert addrs and all(parse_address(a).chain == "tron" and a.startswith("T") for a in addrs)
    assert TRON_NULL in addrs
    # zero-value spam is stored as what it is (value 0), so scoring can tell it from value
    (zeros,) = st.execute("SELECT count(*) FROM transfers WHERE value = 0").fetchone()
    assert zeros == work.zero_value
    # times were fetched from block headers (the proxy strips blockTimestamp like older java-tron)
    assert proxy.calls["eth_getBlockByNumber"] > 0
    (untimed,) = st.execute("SELECT count(*) FROM transfers WHERE block_time IS NULL").fetchone()
    assert untimed == 0
    # ranges are recorded under the base58 contracts
    contracts = {c for (c,) in st.execute("SELECT DISTINCT contract FROM ingest_ranges").fetchall()}
    assert contracts == {b58(work.usdt), b58(work.usdc)}
    # a rerun adds nothing and asks for no logs
    before = proxy.calls["eth_getLogs"]
    rep2 = run(st, proxy.url, to_block=work.tip)
    assert rep2.transfers_added == 0 and proxy.calls["eth_getLogs"] == before


def test_both_blacklist_shapes_in_base58(st: Store, proxy: RpcProxy, work: TronWork) -> None:
    rep = run(st, proxy.url, to_block=work.tip)
    got = st.execute("SELECT address, action, event FROM blacklist_events WHERE chain = 'tron'"
                     " ORDER BY block_number, log_index").fetchall()
    assert Counter(got) == Counter(work.blacklist)
    assert rep.blacklist_events_added == len(work.blacklist)


def test_range_cap_error_shape_splits(st: Store, proxy: RpcProxy, work: TronWork) -> None:
    # TRON's error shapes with caps small enough for this chain: -32602 "exceed max block range" and -32005
    proxy.tron(max_block_range=3, max_results=250)
    rep = run(st, proxy.url, to_block=work.tip, initial_range=50)
    assert rep.splits > 0
    wide = [(a, b) for a, b in proxy.spans if b - a + 1 > 3]
    assert wide and len(wide) < len(proxy.spans) / 2  # refused, then the ceiling it learnt is kept
    (n,) = st.execute("SELECT count(*) FROM transfers").fetchone()
    assert n == len(work.transfers)


def test_requests_stay_within_5000_blocks(tmp_path: Path, tron_node: Anvil, proxy: RpcProxy,
                                          work: TronWork) -> None:
    # the chain's own cap is known: 12,000 empty blocks are read in spans of at most 5,000, never refused
    snap = tron_node.snapshot()
    try:
        tron_node.mine(12_000)
        with chainrisk.open(tmp_path / "wide.duckdb") as s:
            s.ensure_token("tron", b58(work.usdt), "USDT-T", 6, "stablecoin", source="test")
            rep = ingest_rpc(s, proxy.url, tokens=["USDT-T"], chain="tron", confirmations=0,
                             from_block=work.tip + 1, initial_range=100_000, backoff=0.01)
        assert rep.blocks_done == 12_000 and rep.splits == 0
        assert proxy.spans and max(b - a + 1 for a, b in proxy.spans) == 5_000
    finally:
        tron_node.revert(snap)


def test_chain_id_mismatch_is_one_clear_error(st: Store, tron_node: Anvil, anvil: Anvil) -> None:  # noqa: F811
    with pytest.raises(UsageError, match=r"chain id 728126428 \(tron\), not ethereum \(1\); pass --chain tron"):
        ingest_rpc(st, tron_node.url, chain="ethereum", confirmations=0)
    with pytest.raises(UsageError, match=r"chain id 31337, not tron \(728126428\)"):
        ingest_rpc(st, anvil.url, chain="tron", confirmations=0)
    with pytest.raises(UsageError, match="unknown chain 'tronn'"):
        ingest_rpc(st, tron_node.url, chain="tronn")


def test_base58_round_trips_and_the_real_fixture(shared: Path) -> None:
    rng = random.Random(1)
    for _ in range(500):
        h = random_address(rng)
        t = b58(h)
        assert parse_address(t).address == t and "0x" + tron_to_hex(t)[2:] == h
        assert get_chain("tron").to_node(t) == h and get_chain("tron").from_node(h.upper().replace("0X", "0x")) == t
    assert b58("0x" + "a614f803b6fd780986a42c78ec9c7f77e6ded13c") == "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    assert b58("0x" + "0" * 40) == TRON_NULL
    fixtures = shared / "tron_usdt_fixtures"
    ev = json.loads((fixtures / "bitquery_tron_events_sample_block_78861100.json").read_text())
    tr = json.loads((fixtures / "bitquery_tron_transfers_sample_block_78861100.json").read_text())
    topics = json.loads(ev["Topics_Hash"])
    assert b58("0x" + topics[1][24:]) == tr["Transfer_Sender"]
    assert b58("0x" + topics[2][24:]) == tr["Transfer_Receiver"]


def test_cli_sigkill_then_rerun_gives_exactly_the_node_set(tmp_path: Path, proxy: RpcProxy, tron_node: Anvil,
                                                          work: TronWork) -> None:
    db = tmp_path / "cli.duckdb"
    with chainrisk.open(db) as s:
        s.ensure_token("tron", b58(work.usdt), "USDT-T", 6, "stablecoin", source="test")
        s.ensure_token("tron", b58(work.usdc), "USDC-T", 6, "stablecoin", source="test")
    args = [*CLI, "--db", str(db), "-v", "ingest", "rpc", "--chain", "tron", "--confirmations", "0",
            "--to-block", str(work.tip), "--concurrency", "1", "--commit-interval", "0", "--rpc-url", proxy.url]
    proxy.tron(max_block_range=1)
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
    with chainrisk.open(db) as s:
        partial = stored(s)
    node = node_set(tron_node, work)
    assert partial < node and partial
    proxy.reset()
    proxy.tron()
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with chainrisk.open(db) as s:
        assert stored(s) == node
        (n, distinct) = s.execute("SELECT count(*), count(DISTINCT (tx_hash, log_index)) FROM transfers").fetchone()
        assert n == distinct == len(node)


def test_default_finality_is_the_nodes_finalized_block(st: Store, proxy: RpcProxy, work: TronWork) -> None:
    # no --confirmations: TRON's 19 blocks, and never above the node's finalized (solidified) block
    proxy.finalized_lag = 7
    rep = ingest_rpc(st, proxy.url, tokens=["USDT-T", "USDC-T"], chain="tron", backoff=0.01)
    assert rep.confirmations == 19 and rep.finalized_block == work.tip - 7
    assert rep.to_block == work.tip - 19
    proxy.finalized_lag = 20
    rep = ingest_rpc(st, proxy.url, tokens=["USDT-T", "USDC-T"], chain="tron", backoff=0.01, from_block=0)
    assert rep.finalized_block == rep.to_block == work.tip - 20
    # an explicit --confirmations is the user's rule: the finalized block is not asked for
    rep = ingest_rpc(st, proxy.url, tokens=["USDT-T", "USDC-T"], chain="tron", backoff=0.01, confirmations=3)
    assert rep.finalized_block is None and rep.to_block == work.tip - 3


def test_labels_update_reads_and_confirms_tron_freezes(st: Store, proxy: RpcProxy, work: TronWork) -> None:
    from chainrisk.labels.update import update_labels

    rep = update_labels(st, bundled=False, ofac=False, rpc_url=proxy.url, chain="tron", confirmations=0,
                        to_block=work.tip)
    # the two freezes still in force (one of each issuer's style) are labels on tron, in base58, confirmed by
    # the contracts' isBlackListed / isBlacklisted read through eth_call with the 0x hex forms
    active = {(c, a) for c, a in st.execute(
        "SELECT chain, address FROM labels WHERE retired_at IS NULL AND valid_to IS NULL").fetchall()}
    open_now = {w[0] for w in work.blacklist[-2:]}
    assert {("tron", a) for a in open_now} <= active
    assert all(c == "tron" and a.startswith("T") for c, a in active)
    assert rep.freezes is not None and rep.freezes["checked"] == rep.freezes["confirmed"] == 2
