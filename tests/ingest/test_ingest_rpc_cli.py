"""`chainrisk ingest rpc` as a user runs it: a real process against anvil, killed with SIGKILL, or meeting a
node that dies mid-run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.anvil import Anvil, Workload, anvil, chain, node_transfers, stored_transfers  # noqa: F401
from support.rpc_proxy import RpcProxy

import chainrisk
from chainrisk.errors import SourceUnavailable

pytestmark = pytest.mark.anvil

CLI = [sys.executable, "-c", "from chainrisk.cli import main; main()"]


@pytest.fixture
def db(tmp_path: Path, chain: Workload) -> Path:  # noqa: F811
    path = tmp_path / "cli.duckdb"
    with chainrisk.open(path) as s:
        s.ensure_token("ethereum", chain.usdt, "USDT-T", 6, "stablecoin", source="test")
        s.ensure_token("ethereum", chain.usdc, "USDC-T", 6, "stablecoin", source="test")
    return path


@pytest.fixture
def proxy(anvil: Anvil) -> Iterator[RpcProxy]:  # noqa: F811
    with RpcProxy(anvil.url) as p:
        yield p


def args(db: Path, w: Workload, *extra: str, verbose: bool = False) -> list[str]:
    return [*CLI, "--db", str(db), *(["-v"] if verbose else []), "ingest", "rpc", "--token", "USDT-T", "--token", "USDC-T", "--confirmations",
            "0", "--to-block", str(w.tip), *extra]


def stored(db: Path) -> set[tuple[object, ...]]:
    with chainrisk.open(db) as s:
        return stored_transfers(s)


def test_cli_json_report_and_env_url(db: Path, proxy: RpcProxy, anvil: Anvil, chain: Workload) -> None:  # noqa: F811
    # the proxy serves any path, like a provider with the API key in the path; the key must not leak
    env = dict(os.environ, ETH_RPC_URL=proxy.url + "/secret-key-in-path")
    r = subprocess.run(args(db, chain, "--format", "json"), capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["transfers_added"] == len(chain.transfers)
    assert rep["rpc_url"] == f"{proxy.url}/***"
    assert "secret-key-in-path" not in r.stdout + r.stderr
    assert stored(db) == node_transfers(anvil, [chain.usdt, chain.usdc], chain.tip)
    r2 = subprocess.run(args(db, chain), capture_output=True, text=True, env=env, timeout=120)
    assert r2.returncode == 0 and "transfers_added" in r2.stdout
    assert stored(db) == node_transfers(anvil, [chain.usdt, chain.usdc], chain.tip)


def test_cli_node_dies_mid_run_exit_5_then_rerun_completes(
    db: Path, proxy: RpcProxy, anvil: Anvil, chain: Workload,  # noqa: F811
) -> None:
    proxy.max_block_range = 1
    proxy.down_after = 10  # blocks 0-2 are deployments; let some transfer blocks commit first
    url = proxy.url + "/v3/TOPSECRET"
    # -v: debug logs (urllib3's request lines included) must not leak the key either
    r = subprocess.run(args(db, chain, "--rpc-url", url, "--max-retries", "1", "--concurrency", "1",
                            "--commit-interval", "0", verbose=True), capture_output=True, text=True, timeout=120)
    assert r.returncode == SourceUnavailable.exit_code == 5
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert len(err) == 1 and "TOPSECRET" not in r.stderr
    assert err[0].startswith(f"Error: the node at {proxy.url}/*** ")
    partial = stored(db)
    node = node_transfers(anvil, [chain.usdt, chain.usdc], chain.tip)
    assert partial < node and partial  # committed ranges kept, exactly
    proxy.reset()
    r = subprocess.run(args(db, chain, "--rpc-url", url), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert stored(db) == node


def test_cli_sigkill_mid_run_then_rerun_gives_exactly_the_node_set(
    db: Path, proxy: RpcProxy, anvil: Anvil, chain: Workload,  # noqa: F811
) -> None:
    proxy.max_block_range = 1
    proxy.delay = 0.1  # a slow node, so the kill lands mid-run
    p = subprocess.Popen(args(db, chain, "--rpc-url", proxy.url, "--concurrency", "1", "--commit-interval", "0",
                              verbose=True), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert p.stderr is not None
    deadline = time.monotonic() + 60
    for line in p.stderr:  # "INFO chainrisk.ingest.rpc: stored 1 ranges, 300 logs (900 transfers so far)"
        m = re.search(r"\((\d+) transfers so far\)", line)
        if m and int(m.group(1)) >= 600:
            break
        assert time.monotonic() < deadline
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL
    node = node_transfers(anvil, [chain.usdt, chain.usdc], chain.tip)
    partial = stored(db)
    assert partial < node and partial
    proxy.reset()
    r = subprocess.run(args(db, chain, "--rpc-url", proxy.url), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert stored(db) == node
    with chainrisk.open(db) as s:
        (n, distinct) = s.execute("SELECT count(*), count(DISTINCT (tx_hash, log_index)) FROM transfers").fetchone()
        assert n == distinct == len(node)
