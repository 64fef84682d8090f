"""Benchmark: node ingestion (`chainrisk ingest rpc`) against its peers on the same local anvil node.

    .venv/bin/python bench/bench_ingest_rpc.py            # 200,000 transfers, 3 runs each (ethereum-etl: 1)

Generates (once, cached with anvil --dump-state under bench/out/) a chain whose two test tokens (USDT-like and
USDC-like) emit N Transfer logs, ``--per-block`` per block. Then times, on that node and block range:

- ``bare``: a concurrent eth_getLogs download (2 threads, raw HTTP, no parsing): the node's own limit;
- ``chainrisk``: ``ingest_rpc`` into a fresh store, with block timestamps, decoded and committed;
- ``cryo``: cryo 0.3.2 ``cryo.freeze("erc20_transfers")`` (Rust; no timestamps), to Parquet;
- ``ethereum-etl``: ethereum-etl 2.4.2 ``export_token_transfers`` (no timestamps), to CSV.

cryo and ethereum-etl run from their own virtual environments under the system temp dir (created on first use
with pip; ethereum-etl pins web3 5.x and needs ``parsimonious==0.10.0`` on Python 3.11). When one cannot be
installed, the bench says so and reports the rest. Prints medians (logs/s) and the three ratios of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the shared test helpers (support.*)

import requests  # noqa: E402
from support.anvil import Anvil, deploy_tokens, random_address  # noqa: E402

import chainrisk  # noqa: E402
from chainrisk.ingest.rpc import ingest_rpc  # noqa: E402

OUT = ROOT / "bench" / "out"
VENVS = Path(tempfile.gettempdir()) / "chainrisk-bench"
TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- the chain ------------------------------------------------------------------------------------------------


def chain_state(n: int, per_block: int) -> tuple[Path, dict[str, object]]:
    """The cached anvil state file and its metadata, generating them on first use."""
    OUT.mkdir(parents=True, exist_ok=True)
    state = OUT / f"anvil-ingest-{n}-{per_block}.json"
    meta_path = state.with_suffix(".meta.json")
    if state.is_file() and meta_path.is_file():
        return state, json.loads(meta_path.read_text())
    log(f"generating a chain with {n:,} transfers ({per_block} per block); cached in {state.relative_to(ROOT)}")
    t0 = time.monotonic()
    node = Anvil.start("--gas-limit", "300000000", "--dump-state", str(state))
    try:
        usdt, usdc = deploy_tokens(node)
        owner = node.accounts[0]
        node.send(usdc, "mint(address,uint256)", [owner, 10**18])
        rng = random.Random(42)
        pool = [random_address(rng) for _ in range(20_000)]
        sends = []
        for i in range(n // per_block):
            token = usdt if i % 2 == 0 else usdc
            to = [rng.choice(pool) for _ in range(per_block)]
            values = [rng.randrange(1, 10**10) for _ in to]
            sends.append((token, "batchTransfer(address[],uint256[])", [to, values], owner))
        node.batch(sends, per_block=1)
        tip = node.block_number()
        logs = node.rpc("eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(tip), "topics": [TRANSFER]}])
        meta = {"usdt": usdt, "usdc": usdc, "tip": tip, "transfers": len(logs)}
    finally:
        node.stop()  # anvil writes the state on exit
    meta_path.write_text(json.dumps(meta))
    log(f"generated in {time.monotonic() - t0:.0f} s: {meta}")
    return state, meta


# -- contenders ---------------------------------------------------------------------------------------------


def run_bare(url: str, tip: int, step: int, threads: int = 2) -> float:
    """Download every Transfer log with ``threads`` concurrent raw eth_getLogs requests; returns seconds."""
    ranges = [(a, min(tip, a + step - 1)) for a in range(0, tip + 1, step)]
    lock = threading.Lock()
    size = [0]

    def work() -> None:
        s = requests.Session()
        while True:
            with lock:
                if not ranges:
                    return
                a, b = ranges.pop(0)
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [
                {"fromBlock": hex(a), "toBlock": hex(b), "topics": [TRANSFER]}]})
            r = s.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=300)
            with lock:
                size[0] += len(r.content)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


def run_chainrisk(url: str, meta: dict[str, object], workdir: Path, concurrency: int) -> float:
    db = workdir / "bench.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    with chainrisk.open(db) as st:
        st.ensure_token("ethereum", str(meta["usdt"]), "USDT-T", 6, "stablecoin", source="bench")
        st.ensure_token("ethereum", str(meta["usdc"]), "USDC-T", 6, "stablecoin", source="bench")
        t0 = time.perf_counter()
        rep = ingest_rpc(st, url, tokens=[str(meta["usdt"]), str(meta["usdc"])], confirmations=0,
                         to_block=int(meta["tip"]), concurrency=concurrency)  # type: ignore[call-overload]
        dt = time.perf_counter() - t0
        (n, nt) = st.execute("SELECT count(*), count(block_time) FROM transfers").fetchone()  # type: ignore[misc]
    if n != meta["transfers"] or nt != n:
        raise SystemExit(f"chainrisk stored {n} transfers ({nt} with times), expected {meta['transfers']}")
    log(f"  chainrisk: {dt:.2f} s, {rep.requests} requests, {rep.commits} commits, {rep.splits} splits")
    return dt


def ensure_venv(name: str, packages: list[list[str]], probe: str) -> Path | None:
    venv = VENVS / name
    py = venv / "bin" / "python"
    if py.is_file() and subprocess.run([str(py), "-c", probe], capture_output=True).returncode == 0:
        return py
    log(f"installing {name} (pip) ...")
    VENVS.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(venv, ignore_errors=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        for pkgs in packages:
            subprocess.run([str(py), "-m", "pip", "install", "-q", *pkgs], check=True, capture_output=True,
                           timeout=900)
        subprocess.run([str(py), "-c", probe], check=True, capture_output=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        log(f"  could not install {name}: {e}")
        return None
    return py


CRYO_SCRIPT = """
import sys, time, cryo
url, tip, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
cryo.freeze("erc20_transfers", blocks=[f"0:{tip + 1}"], rpc=url, output_dir=out, no_verbose=True)
print(time.perf_counter() - t0)
"""


def run_cryo(py: Path, url: str, tip: int, workdir: Path) -> float:
    out = workdir / "cryo"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    r = subprocess.run([str(py), "-c", CRYO_SCRIPT, url, str(tip), str(out)], capture_output=True, text=True,
                       check=True, timeout=1800)
    return float(r.stdout.strip().splitlines()[-1])


def run_etl(py: Path, url: str, tip: int, workdir: Path) -> float:
    out = workdir / "etl.csv"
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    subprocess.run([str(py.parent / "ethereumetl"), "export_token_transfers", "--start-block", "0",
                    "--end-block", str(tip), "--provider-uri", url, "--output", str(out), "--batch-size", "100",
                    "--max-workers", "2"], check=True, capture_output=True, timeout=3600)
    return time.perf_counter() - t0


# -- main ---------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transfers", type=int, default=200_000)
    ap.add_argument("--per-block", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--etl-runs", type=int, default=1, help="ethereum-etl is slow: runs of it (default 1)")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--skip", action="append", default=[], choices=["cryo", "etl"])
    args = ap.parse_args()

    state, meta = chain_state(args.transfers, args.per_block)
    total = int(meta["transfers"])  # type: ignore[call-overload]
    tip = int(meta["tip"])  # type: ignore[call-overload]
    node = Anvil.start("--gas-limit", "300000000", "--load-state", str(state))
    workdir = Path(tempfile.mkdtemp(prefix="chainrisk-bench-"))
    results: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}  # CPU seconds of the contender's own process(es), the node excluded
    node_cpu: dict[str, list[float]] = {}  # CPU seconds the node spent serving the contender

    def node_seconds() -> float:
        try:
            fields = Path(f"/proc/{node.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def timed(name: str, fn: Any, *a: Any) -> None:
        r0, c0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        n0 = node_seconds()
        secs = float(fn(*a))
        node_cpu.setdefault(name, []).append(node_seconds() - n0)
        r1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        own = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) if fn in (run_bare, run_chainrisk) else (
            c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime)
        results.setdefault(name, []).append(secs)
        cpu.setdefault(name, []).append(own)
    unavailable: dict[str, str] = {}
    cryo_crashes = 0
    try:
        assert node.block_number() >= tip, "the cached chain did not load; delete bench/out/anvil-ingest-*"
        cryo_py = None if "cryo" in args.skip else ensure_venv("cryo-venv", [["cryo==0.3.2"]], "import cryo")
        etl_py = None if "etl" in args.skip else ensure_venv(
            "etl-venv", [["ethereum-etl==2.4.2"], ["--no-deps", "parsimonious==0.10.0"], ["regex"]],
            "from ethereumetl.cli import cli")
        if "cryo" not in args.skip and cryo_py is None:
            unavailable["cryo"] = "could not be installed"
        if "etl" not in args.skip and etl_py is None:
            unavailable["ethereum-etl"] = "could not be installed"
        step = max(1, 2_500 // args.per_block)  # 2,500 logs per request, like chainrisk's target
        for i in range(args.runs):
            log(f"run {i + 1}/{args.runs}")
            timed("bare", run_bare, node.url, tip, step)
            timed("chainrisk", run_chainrisk, node.url, meta, workdir, args.concurrency)
            if cryo_py is not None:
                for _attempt in range(2):
                    try:
                        timed("cryo", run_cryo, cryo_py, node.url, tip, workdir)
                        break
                    except subprocess.CalledProcessError as e:
                        if e.returncode < 0 and _attempt == 0:  # cryo 0.3.2 occasionally dies of SIGSEGV
                            cryo_crashes += 1
                            log(f"  cryo died of signal {-e.returncode}; running it again")
                            continue
                        unavailable["cryo"] = f"failed: {e.stderr[-300:]}"
                        cryo_py = None
                        break
            if etl_py is not None and i < args.etl_runs:
                try:
                    timed("ethereum-etl", run_etl, etl_py, node.url, tip, workdir)
                except subprocess.CalledProcessError as e:
                    unavailable["ethereum-etl"] = f"failed: {e.stderr[-300:]}"
                    etl_py = None
    finally:
        node.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    rate = {k: total / statistics.median(v) for k, v in results.items() if v}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items() if v}
    print(f"node ingestion benchmark: {total:,} Transfer logs in {tip + 1:,} blocks ({args.per_block}/block), "
          f"anvil 1.7.1, {os.cpu_count()} cores; medians of {args.runs} runs (ethereum-etl: {args.etl_runs})")
    print(f"{'contender':<14} {'median s':>9} {'logs/s':>10} {'CPU s':>7} {'node s':>7}  runs (s)")
    for k in ("bare", "chainrisk", "cryo", "ethereum-etl"):
        if results.get(k):
            v = results[k]
            print(f"{k:<14} {statistics.median(v):>9.2f} {rate[k]:>10,.0f} {cpu_med[k]:>7.2f} "
                  f"{statistics.median(node_cpu[k]):>7.2f}  {', '.join(f'{x:.2f}' for x in v)}")
        elif k in unavailable:
            print(f"{k:<14} {'-':>9} {'-':>10} {'-':>7} {'-':>7}  {unavailable[k]}")
    cr = rate["chainrisk"]
    if "ethereum-etl" in rate:
        print(f"chainrisk / ethereum-etl = {cr / rate['ethereum-etl']:.1f}x   (target >= 15x)")
    if "cryo" in rate:
        print(f"chainrisk / cryo         = {cr / rate['cryo']:.2f}x   (target >= 1x)")
    print(f"bare download / chainrisk = {rate['bare'] / cr:.2f}x   (target <= 2x)")
    print("CPU s: CPU time of the contender's own process (user+sys, all threads), the node's excluded; node s: "
          "CPU time the node spent serving it; on a shared 2-core machine they compete for the same cores.")
    if cryo_crashes:
        print(f"cryo crashed (SIGSEGV) {cryo_crashes} time(s) and was run again")
    print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
