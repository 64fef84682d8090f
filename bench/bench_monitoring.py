"""Monitoring benchmark: from a transfer's finality to its alert, and lookups while the service follows a node.

    python bench/bench_monitoring.py                    # the demo-sized store (scale 1.0, ~1M transfers)
    python bench/bench_monitoring.py --scale 0.1 --transfers 3

One command: builds the demo store (``run_demo``), labels an anvil account as a mixer, starts ``chainrisk serve
--follow`` (its own process) on the store against a real anvil node mining a block every second, watches fresh
addresses, and then, one at a time, sends each watched address tainted funds from the mixer. For each it
measures the time from the transfer's *finality* (the node's tip reaching its block + the confirmations) to the
alert being readable at ``GET /v1/alerts``. Meanwhile a client thread looks up demo addresses over HTTP without
pause; its latencies are reported for two phases: the baseline (the follow loop idle: no new transfers) and the
follow phase (ingesting, rescoring, swapping runs). Targets (issue 17): finality -> alert <= 30 s on the demo-sized
store; lookups during follow p99 <= 50 ms with 0 errors. Everything stops by itself.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.follow_chain import fresh_address, start_chain  # noqa: E402

import chainrisk  # noqa: E402
from chainrisk.demo.run import run_demo  # noqa: E402
from chainrisk.service.keys import create_key  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


class Looker(threading.Thread):
    """Lookups without pause over one persistent connection; records (phase, status, ms)."""

    def __init__(self, port: int, token: str, addresses: list[str]) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.addresses = port, token, addresses
        self.phase = "baseline"
        self.stop = threading.Event()
        self.rows: list[tuple[str, int, float, str | None]] = []

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        rng = random.Random(1)
        while not self.stop.is_set():
            a = rng.choice(self.addresses)
            t = time.perf_counter()
            try:
                conn.request("GET", f"/v1/addresses/{a}", headers={"Authorization": f"Bearer {self.token}"})
                r = conn.getresponse()
                body = r.read()
                status = r.status
                run = json.loads(body).get("provenance", {}).get("run_id") if status == 200 else None
            except (OSError, http.client.HTTPException):
                status, run = 0, None
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.rows.append((self.phase, status, (time.perf_counter() - t) * 1000, run))
            time.sleep(0.005)


def get(port: int, path: str, token: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    return json.loads(r.read())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="demo scale (1.0: the demo-sized store)")
    ap.add_argument("--transfers", type=int, default=3, help="tainted transfers to time, one after another")
    ap.add_argument("--confirmations", type=int, default=2)
    ap.add_argument("--baseline-s", type=float, default=15.0, help="seconds of lookups with the follow loop idle")
    ap.add_argument("--timeout-s", type=float, default=300.0, help="give up on one alert after this long")
    ap.add_argument("--keep", default=None, help="folder to keep the store in (default: a temp folder)")
    args = ap.parse_args()
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="chainrisk-bench-mon-"))
    db = tmp / "demo.duckdb"
    t0 = time.perf_counter()
    run_demo(db, scale=args.scale, lookups=False)
    build_s = time.perf_counter() - t0
    st = chainrisk.open(db)
    chain = start_chain(st, block_time=1)
    proc = None
    try:
        (n_transfers,) = st.execute("SELECT count(*) FROM transfers").fetchone()
        sample = [r[0] for r in st.execute("SELECT a.address FROM scores s JOIN addresses a ON a.id = s.address_id"
                                            " WHERE s.run_id = ? USING SAMPLE 2000 ROWS",
                                            [st.run().run_id]).fetchall()]
        st.execute("INSERT INTO labels (chain, address, category, name, source, source_version, confidence,"
                   " imported_at) VALUES ('ethereum', ?, 'mixer', 'bench mixer', 'bench', 'v1', 90, now()::TIMESTAMP)",
                   [chain.mixer])
        _, admin = create_key(st, "bench-admin", "admin")
        _, read = create_key(st, "bench-read", "read")
        rng = random.Random(17)
        watched = [fresh_address(rng) for _ in range(args.transfers)]
        from chainrisk.monitoring import watch

        watch.add(st, [(w, f"BENCH-{i}") for i, w in enumerate(watched)])
        st.close()
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-c", "from chainrisk.cli import main; main()", "--db", str(db), "-q", "serve",
             "--port", str(port), "--follow", "--rpc-url", chain.node.url, "--follow-token", "USDT",
             "--follow-confirmations", str(args.confirmations), "--poll", "0.25", "--rate-limit", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if get(port, "/v1/follow", admin).get("status", {}).get("cycles", 0) >= 1:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        # the follow loop's first cycle scores the funding transfers: wait for it to settle
        deadline = time.monotonic() + args.timeout_s
        while time.monotonic() < deadline:
            s = get(port, "/v1/follow", admin)["status"]
            if s["runs"] >= 1:
                break
            time.sleep(0.5)
        looker = Looker(port, read, sample + watched)
        looker.start()
        time.sleep(args.baseline_s)
        looker.phase = "follow"
        latencies = []
        for i, w in enumerate(watched):
            tx = chain.send(chain.mixer, w, 5000 + i)
            block = int(chain.node.rpc("eth_getTransactionReceipt", [tx])["blockNumber"], 16)
            while chain.tip() < block + args.confirmations:
                time.sleep(0.05)
            t_final = time.monotonic()
            deadline = t_final + args.timeout_s
            while time.monotonic() < deadline:
                got = get(port, "/v1/alerts?limit=1000&rule=verdict_change", admin)["alerts"]
                if any(a["address"] == w for a in got):
                    break
                time.sleep(0.1)
            else:
                raise SystemExit(f"no alert for {w} within {args.timeout_s:.0f} s of finality")
            latencies.append(time.monotonic() - t_final)
            print(f"transfer {i + 1}: finality -> alert {latencies[-1]:.1f} s", file=sys.stderr)
        looker.stop.set()
        looker.join(30)
        follow = get(port, "/v1/follow", admin)
        alerts = get(port, "/v1/alerts?limit=1000", admin)["alerts"]
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        chain.node.stop()
    phases = {}
    for ph in ("baseline", "follow"):
        rows = [r for r in looker.rows if r[0] == ph]
        ms = [r[2] for r in rows]
        phases[ph] = {"lookups": len(rows), "errors": sum(1 for r in rows if r[1] != 200),
                      "p50_ms": round(pct(ms, 50), 1), "p99_ms": round(pct(ms, 99), 1),
                      "max_ms": round(max(ms), 1) if ms else None,
                      "runs_answering": len({r[3] for r in rows if r[3]})}
    out = {
        "store": {"scale": args.scale, "transfers": n_transfers, "build_s": round(build_s, 1)},
        "finality_to_alert_s": {"each": [round(x, 1) for x in latencies], "median": round(statistics.median(latencies), 1),
                                "max": round(max(latencies), 1), "target": 30},
        "lookups": phases,
        "p99_ratio_follow_vs_baseline": round(phases["follow"]["p99_ms"] / phases["baseline"]["p99_ms"], 2)
        if phases["baseline"]["p99_ms"] else None,
        "follow": follow["status"], "alerts": len(alerts),
        "load_average": os.getloadavg(), "cpus": os.cpu_count(),
    }
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
