"""Load test of ``chainrisk serve`` on loopback: single-address lookups and batch screening, bounded in time and
request count, against a synthetic store of scored addresses (``synth_scored_store.py``).

    python bench/bench_service.py                       # 1M scored addresses, ~1 minute in all
    python bench/bench_service.py --addresses 200000 --duration 5

Targets (issue 7, on the 2-core machine): >= 500 lookups/s with p99 <= 50 ms, and >= 50,000 addresses/s through
POST /v1/screen, with zero errors. The baseline in the same run is the library without HTTP (``lookup_one`` per
address and ``chainrisk.answers.screen`` of the same 10,000 in memory), so the ratios compare the HTTP path with the
library calls a script would make.
With ``--switch-run``, an admin starts a real scoring run inside the service during a second lookup phase: every
answer must come from one complete run (no errors, no mixed answers).

The service runs as its own process (``chainrisk serve``); the load comes from this process over persistent
HTTP/1.1 connections (http.client, one per client thread). Everything stops by itself.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import orjson  # noqa: E402

import chainrisk  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc), to state per-request cost independent of load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def prepare(db: Path, n: int) -> list[str]:
    if not db.exists():
        from synth_scored_store import build

        print(f"building a synthetic store of {n:,} scored addresses in {db} ...", file=sys.stderr)
        info = build(db, n)
        print(f"  built in {info['build_s']} s (+ indexes {info['index_s']} s)", file=sys.stderr)
    with chainrisk.open(db) as st:
        known = [r[0] for r in st.execute("SELECT address FROM addresses USING SAMPLE 20000 (reservoir, 7)").fetchall()]
    return known


def baseline(db: Path, sample: list[str], batch: int) -> dict[str, float]:
    """The library without HTTP: ``lookup_one`` per address, and ``chainrisk.answers.screen`` of a batch in memory."""
    from chainrisk.answers.lookup import ensure_indexes, lookup_one, resolve_run
    from chainrisk.answers.screen import screen

    with chainrisk.open(db) as st:
        ensure_indexes(st)
        run = resolve_run(st)
        for a in sample[:20]:
            lookup_one(st, a, run)
        lat = []
        for a in sample[:300]:
            t = time.perf_counter()
            lookup_one(st, a, run)
            lat.append(time.perf_counter() - t)
        items = (sample * (batch // len(sample) + 1))[:batch]
        times = []
        for _ in range(3):
            t = time.perf_counter()
            res = screen(st, items)
            times.append(time.perf_counter() - t)
        assert res.report["input"]["rows"] == batch
    return {"lookup_ms_median": statistics.median(lat) * 1000, "lookups_per_s_1thread": 1 / statistics.median(lat),
            "screen_addresses_per_s": batch / statistics.median(times)}


class Client:
    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"X-API-Key": token}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):  # an idle keep-alive connection may have been closed by the server: retry once
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    break
        return 0, b""


def lookup_phase(port: int, token: str, addresses: list[str], clients: int, duration: float, max_requests: int,
                 check_runs: set[str] | None = None) -> dict:
    lat: list[float] = []
    errors: list[str] = []
    runs_seen: dict[str, int] = {}
    lock = threading.Lock()
    count = [0]
    stop_at = time.monotonic() + duration

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        c = Client(port, token)
        while time.monotonic() < stop_at:
            with lock:
                if count[0] >= max_requests:
                    return
                count[0] += 1
            a = rng.choice(addresses)
            t = time.perf_counter()
            status, body = c.request("GET", f"/v1/addresses/{a}")
            dt = time.perf_counter() - t
            with lock:
                lat.append(dt)
                if status != 200:
                    errors.append(f"{status} {body[:120]!r}")
                elif check_runs is not None:
                    rid = orjson.loads(body)["provenance"]["run_id"]
                    runs_seen[rid] = runs_seen.get(rid, 0) + 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"requests": len(lat), "seconds": round(wall, 2), "per_s": round(len(lat) / wall, 1),
            "p50_ms": round(pct(lat, 50) * 1000, 2), "p99_ms": round(pct(lat, 99) * 1000, 2),
            "max_ms": round(max(lat) * 1000, 2) if lat else None, "errors": len(errors),
            "first_errors": errors[:3], "runs_seen": runs_seen}


def screen_phase(port: int, token: str, addresses: list[str], clients: int, requests_total: int,
                 batch: int) -> dict:
    rng = random.Random(11)
    bodies = []
    for k in range(4):
        items = [{"address": rng.choice(addresses), "reference": f"c{k}-{i}"} for i in range(batch)]
        bodies.append(json.dumps(items).encode())
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    left = [requests_total]

    def worker(i: int) -> None:
        c = Client(port, token)
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            t = time.perf_counter()
            status, body = c.request("POST", "/v1/screen", bodies[i % len(bodies)])
            dt = time.perf_counter() - t
            ok = status == 200 and orjson.loads(body)["count"] == batch
            with lock:
                lat.append(dt)
                if not ok:
                    errors.append(f"{status} {body[:120]!r}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"requests": len(lat), "batch": batch, "seconds": round(wall, 2),
            "addresses_per_s": round(len(lat) * batch / wall), "p50_ms": round(pct(lat, 50) * 1000, 1),
            "p99_ms": round(pct(lat, 99) * 1000, 1), "errors": len(errors), "first_errors": errors[:3]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="store to use (built here when missing; default: a temporary folder)")
    ap.add_argument("--addresses", type=int, default=1_000_000, help="scored addresses in a new synthetic store")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of lookup load")
    ap.add_argument("--max-requests", type=int, default=20_000, help="cap on lookup requests")
    ap.add_argument("--clients", type=int, default=8, help="concurrent lookup connections")
    ap.add_argument("--screen-requests", type=int, default=30, help="POST /v1/screen requests of --batch items")
    ap.add_argument("--screen-clients", type=int, default=2)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--switch-run", action="store_true",
                    help="then start a real scoring run in the service during a second lookup phase")
    args = ap.parse_args()

    tmp = None
    if args.db:
        db = Path(args.db)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="chainrisk-bench-")
        db = Path(tmp.name) / "bench.duckdb"
    known = prepare(db, args.addresses)
    rng = random.Random(5)
    unknown = ["0x" + "".join(rng.choice("0123456789abcdef") for _ in range(40)) for _ in range(2000)]
    mix = known + unknown  # ~90% known, ~10% never seen (status unknown)

    print("baseline (library, no HTTP) ...", file=sys.stderr)
    base = baseline(db, known, args.batch)
    from chainrisk.service.keys import create_key

    with chainrisk.open(db) as st:
        _, token = create_key(st, "bench", "read")
        _, admin = create_key(st, "bench-admin", "admin")

    port = free_port()
    env = {**os.environ, "CHAINRISK_DB": str(db)}
    proc = subprocess.Popen([sys.executable, "-c", "from chainrisk.cli import main; main()", "-q", "serve",
                             "--port", str(port), "--rate-limit", "0"], env=env)
    results: dict = {"machine": {"cpus": os.cpu_count(), "load_avg_1m_at_start": round(os.getloadavg()[0], 2)},
                     "baseline_library": {k: round(v, 2) for k, v in base.items()}}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if Client(port, token).request("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("chainrisk serve did not become ready")
            time.sleep(0.2)
        t_cache = time.monotonic()
        while json.loads(Client(port, token).request("GET", "/readyz")[1]).get("lookup_cache") == "building":
            if time.monotonic() - t_cache > 300:
                raise SystemExit("the lookup cache was not built within 5 minutes")
            time.sleep(0.2)
        results["lookup_cache_ready_s"] = round(time.monotonic() - t_cache, 1)
        print("warm-up ...", file=sys.stderr)
        results["warmup_requests"] = lookup_phase(port, token, mix, args.clients, 1.0, 500)["requests"]
        print(f"lookups: {args.clients} connections, {args.duration} s or {args.max_requests:,} requests ...",
              file=sys.stderr)
        c0 = cpu_seconds(proc.pid)
        results["lookups"] = lookup_phase(port, token, mix, args.clients, args.duration, args.max_requests)
        cpu = cpu_seconds(proc.pid) - c0
        results["lookups"]["server_cpu_ms_per_request"] = round(cpu * 1000 / max(1, results["lookups"]["requests"]), 2)
        print(f"screening: {args.screen_requests} x {args.batch:,} addresses, {args.screen_clients} connections ...",
              file=sys.stderr)
        c0 = cpu_seconds(proc.pid)
        results["screen"] = screen_phase(port, token, mix, args.screen_clients, args.screen_requests, args.batch)
        cpu = cpu_seconds(proc.pid) - c0
        results["screen"]["server_cpu_s_per_10k_addresses"] = round(
            cpu / max(1, results["screen"]["requests"] * args.batch) * 10_000, 3)
        if args.switch_run:
            print("lookups while a scoring run is written inside the service ...", file=sys.stderr)
            c = Client(port, admin)
            before = json.loads(c.request("GET", "/v1/runs")[1])["current"]
            status, body = c.request("POST", "/v1/runs", json.dumps({"profile": "cn"}).encode())
            assert status == 202, body
            phase = []
            while True:
                phase.append(lookup_phase(port, token, mix, args.clients, 5.0, 10**9, check_runs=set()))
                runs = json.loads(c.request("GET", "/v1/runs")[1])
                if not runs["scoring_in_progress"]:
                    break
            after = runs["current"]
            seen: dict[str, int] = {}
            for p in phase:
                for k, v in p["runs_seen"].items():
                    seen[k] = seen.get(k, 0) + v
            results["switch_run"] = {
                "before": before, "after": after, "scoring_error": runs["last_error"], "runs_seen": seen,
                "requests": sum(p["requests"] for p in phase), "errors": sum(p["errors"] for p in phase),
                "p99_ms_worst_phase": max(p["p99_ms"] for p in phase),
                "only_complete_runs": set(seen) <= {before, after},
            }
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    with chainrisk.open(db) as st:
        (audited,) = st.execute("SELECT count(*) FROM audit_log WHERE key_id = ? AND endpoint IN"
                                " ('/v1/addresses/{address}', '/v1/screen')", [token.split("_")[1]]).fetchall()[0]
    made = results["lookups"]["requests"] + results["screen"]["requests"] + results["warmup_requests"]
    made += results.get("switch_run", {}).get("requests", 0)
    results["audit_rows_with_key"] = audited
    lk, sc = results["lookups"], results["screen"]
    results["verdict"] = {
        "lookups_per_s >= 500": lk["per_s"] >= 500, "lookup_p99_ms <= 50": lk["p99_ms"] <= 50,
        "screen_addresses_per_s >= 50000": sc["addresses_per_s"] >= 50_000,
        "zero_errors": lk["errors"] == 0 and sc["errors"] == 0, "every_request_audited": audited == made,
        "http_vs_library_lookups": round(lk["per_s"] / base["lookups_per_s_1thread"], 2),
        "http_vs_library_screen": round(sc["addresses_per_s"] / base["screen_addresses_per_s"], 2),
    }
    results["machine"]["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    # what the measured CPU cost per request would allow if the service had the machine's cores to itself
    cores = os.cpu_count() or 1
    results["capacity_if_cores_were_idle"] = {
        "lookups_per_s": round(cores * 1000 / max(lk["server_cpu_ms_per_request"], 1e-9)),
        "screen_addresses_per_s": round(cores * 10_000 / max(sc["server_cpu_s_per_10k_addresses"], 1e-9)),
        "note": "upper bound from server CPU time per request x cores; the GIL and the load generator (which "
                "shares the cores) keep real figures below it",
    }
    print(json.dumps(results, indent=2, default=str))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
