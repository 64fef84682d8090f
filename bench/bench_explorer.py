"""The investigator's workspace on the demo store: the graph API, the explorer's first paint, the report.

    python bench/bench_explorer.py                         # builds the demo store once (bench/out/demo, ~90 s)
    python bench/bench_explorer.py --db chainrisk-demo.duckdb --screenshots docs

Targets (issue 16, on the 2-core machine): the explorer's first paint of a 200-node neighbourhood <= 1 s; the
neighbourhood endpoint p50 <= 50 ms; a report for one address <= 1 s as HTML and <= 3 s as PDF.

What is measured, all on a copy of the demo store (the service writes its keys and audit rows into it):
* ``neighbourhood`` / ``transfers`` / ``path``: the HTTP endpoints of a running service (uvicorn on loopback, one
  client), medians over ``--repeat`` calls on several addresses; the baseline in the same run is the library call
  (``chainrisk.answers.graph``) without HTTP;
* ``first paint``: headless Chromium (Playwright over the system Chromium) loads ``/ui/``, searches the address
  with the most counterparties (100 per direction: 200 nodes) and the page reports the time from the search to the
  drawn graph (fetch + layout + render), median of ``--repeat`` searches;
* ``report``: ``chainrisk.report`` to HTML and to PDF (headless Chromium) for a demo scam address, median of 3;
  the baseline is ``lookup --explain`` of the same address (the evidence the report is built on).

``--screenshots DIR`` also writes the explorer (a scam case expanded, with an edge's transfers open; 1,280 px
English and 1,920 px Chinese) and the Chinese report as PNGs into DIR. The figures go to stdout and to
``bench/out/explorer.json`` with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

import chainrisk  # noqa: E402


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def ms(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"p50_ms": round(statistics.median(xs) * 1000, 1), "p95_ms": round(xs[int(0.95 * (len(xs) - 1))] * 1000, 1),
            "n": len(xs)}


def demo_store(path: Path | None) -> Path:
    if path is not None:
        return path
    db = OUT / "demo" / "demo.duckdb"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        print(f"building the demo store {db} (about 90 s) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "chainrisk.cli", "-q", "demo", "--db", str(db), "--out",
                        str(db.parent / "files")], check=True, stdout=subprocess.DEVNULL)
    return db


def pick(st: Any) -> dict[str, str]:
    """A demo scam case (an unlabelled address whose illicit verdict is severe for scam, with a few sources and
    destinations) and the address with the most counterparties among moderately busy ones (a 200-node view)."""
    run = st.run().run_id
    scam = st.execute(
        """
        WITH c AS (SELECT e.dst AS a, count(DISTINCT e.src) AS n_in FROM evidence_in e GROUP BY 1),
             d AS (SELECT e.src AS a, count(DISTINCT e.dst) AS n_out FROM evidence_out e GROUP BY 1)
        SELECT ad.address FROM scores s JOIN addresses ad ON ad.id = s.address_id
        JOIN c ON c.a = s.address_id JOIN d ON d.a = s.address_id
        WHERE s.run_id = ? AND s.illicit_band = 'severe' AND s.illicit_top_category = 'scam'
          AND s.own_categories IS NULL AND c.n_in BETWEEN 4 AND 12 AND d.n_out BETWEEN 2 AND 6
        ORDER BY s.illicit_score DESC, ad.address LIMIT 1
        """, [run]).fetchone()
    big = st.execute(
        """
        WITH c AS (SELECT e.dst AS a, count(DISTINCT e.src) AS n FROM evidence_in e GROUP BY 1),
             d AS (SELECT e.src AS a, count(DISTINCT e.dst) AS n FROM evidence_out e GROUP BY 1)
        SELECT ad.address, c.n, d.n FROM c JOIN d ON c.a = d.a JOIN addresses ad ON ad.id = c.a
        WHERE c.n >= 100 AND d.n >= 100 ORDER BY c.n + d.n, ad.address LIMIT 1
        """).fetchone()
    busy = [a for (a,) in st.execute(
        """SELECT ad.address FROM (SELECT dst AS a, count(*) n FROM evidence_in GROUP BY 1) c
           JOIN addresses ad ON ad.id = c.a WHERE c.n BETWEEN 20 AND 400 ORDER BY hash(ad.address) LIMIT 8"""
    ).fetchall()]
    if scam is None or big is None:
        raise SystemExit("the store has no suitable scam case or 200-node address; run on the demo store")
    return {"scam": scam[0], "big": big[0], "big_in": big[1], "big_out": big[2], "busy": busy}


class Service:
    def __init__(self, db: Path) -> None:
        import uvicorn

        from chainrisk.service import Settings, create_app
        from chainrisk.service.keys import create_key

        with chainrisk.open(db) as st:
            _, self.admin = create_key(st, "bench-investigator", "admin")
        self.app = create_app(Settings(db=str(db), rate_limit=0))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def bench_api(svc: Service, picks: dict[str, Any], repeat: int) -> dict[str, Any]:
    import requests

    from chainrisk.answers import graph

    h = {"Authorization": f"Bearer {svc.admin}"}
    sess = requests.Session()
    out: dict[str, Any] = {}
    addrs = [picks["scam"], picks["big"], *picks["busy"]]
    for a in addrs:   # warm-up (the lookup cache, DuckDB's buffers)
        sess.get(f"{svc.url}/v1/graph/neighbourhood/{a}", headers=h, timeout=60)
    times: list[float] = []
    for _ in range(repeat):
        for a in addrs:
            t = time.perf_counter()
            r = sess.get(f"{svc.url}/v1/graph/neighbourhood/{a}?limit=25", headers=h, timeout=60)
            times.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
    out["neighbourhood_http"] = ms(times)
    times = []
    for _ in range(max(3, repeat // 3)):
        t = time.perf_counter()
        r = sess.get(f"{svc.url}/v1/graph/neighbourhood/{picks['big']}?limit=100", headers=h, timeout=60)
        times.append(time.perf_counter() - t)
    out["neighbourhood_http_200_nodes"] = ms(times) | {"nodes": len(r.json()["nodes"])}
    st = svc.app.service.thread_store()
    times = []
    for _ in range(repeat):
        for a in addrs:
            t = time.perf_counter()
            graph.neighbourhood(st, a, limit=25)
            times.append(time.perf_counter() - t)
    out["neighbourhood_library (baseline)"] = ms(times)
    g = sess.get(f"{svc.url}/v1/graph/neighbourhood/{picks['scam']}", headers=h, timeout=60).json()
    e = g["edges"][0]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        sess.get(f"{svc.url}/v1/graph/transfers", params={"from": e["from"], "to": e["to"]}, headers=h, timeout=60)
        times.append(time.perf_counter() - t)
    out["transfers_http"] = ms(times)
    src = next(n["address"] for n in g["nodes"] if n["role"] == "source")
    dst = next(n["address"] for n in g["nodes"] if n["role"] == "destination")
    g2 = sess.get(f"{svc.url}/v1/graph/neighbourhood/{dst}", headers=h, timeout=60).json()
    far = next((n["address"] for n in g2["nodes"] if n["role"] == "destination" and n["address"] != picks["scam"]),
               picks["busy"][0])   # source -> scam case -> destination -> far: 3 hops when it exists
    times = []
    for _ in range(max(3, repeat // 3)):
        t = time.perf_counter()
        p = sess.get(f"{svc.url}/v1/graph/path", params={"from": src, "to": far, "max_hops": 4},
                     headers=h, timeout=60).json()
        times.append(time.perf_counter() - t)
    out["path_http"] = ms(times) | {"found": p["found"], "hops": p["hops"]}
    return out


def bench_ui(svc: Service, picks: dict[str, Any], repeat: int, shots: Path | None) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    out: dict[str, Any] = {}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu", "--hide-scrollbars"])

        def page_at(width: int, lang: str) -> Any:
            page = b.new_context(viewport={"width": width, "height": 820 if width < 1900 else 1000},
                                 bypass_csp=True).new_page()
            page.goto(f"{svc.url}/ui/?lang={lang}")
            page.wait_for_function("window.chainriskExplorer && window.chainriskExplorer.loaded === true")
            page.fill("#apikey", svc.admin)
            page.dispatch_event("#apikey", "change")
            return page

        def search(page: Any, address: str) -> dict[str, Any]:
            page.evaluate("window.chainriskExplorer.ready = false")
            page.fill("#address", address)
            t = time.perf_counter()
            page.click("#search")
            page.wait_for_function("window.chainriskExplorer.ready === true", timeout=60_000)
            wall = time.perf_counter() - t
            timings: dict[str, Any] = page.evaluate("window.chainriskExplorer.timings")
            return timings | {"wall_ms": round(wall * 1000, 1)}

        page = page_at(1280, "en")
        search(page, picks["big"])   # warm-up
        runs = [search(page, picks["big"]) for _ in range(repeat)]
        out["first_paint_200_nodes"] = {
            "nodes": runs[-1]["nodes"], "p50_ms": round(statistics.median(r["total_ms"] for r in runs), 1),
            "fetch_p50_ms": round(statistics.median(r["fetch_ms"] for r in runs), 1),
            "draw_p50_ms": round(statistics.median(r["draw_ms"] for r in runs), 1),
            "wall_p50_ms": round(statistics.median(r["wall_ms"] for r in runs), 1), "n": len(runs)}
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            for width, lang, name in ((1280, "en", "explorer-1280.png"), (1920, "zh-CN", "explorer-1920-zh.png")):
                pg = page_at(width, lang)
                search(pg, picks["scam"])
                src = pg.evaluate("window.chainriskExplorer.cy.nodes().filter(n => n.data('info') && "
                                  "n.data('info').role === 'source').map(n => n.id())[0]")
                for action, arg in (("node", src), ("edge", None)):
                    if action == "node":
                        pos = pg.evaluate("(id) => { const p = window.chainriskExplorer.cy.getElementById(id)"
                                          ".renderedPosition(); const b = document.getElementById('graph')"
                                          ".getBoundingClientRect(); return [b.left + p.x, b.top + p.y]; }", arg)
                    else:
                        pos = pg.evaluate("() => { const e = window.chainriskExplorer.cy.edges().filter(e => "
                                          "e.data('info') && e.target().hasClass('subject'))[0]; const p = "
                                          "e.renderedMidpoint(); const b = document.getElementById('graph')"
                                          ".getBoundingClientRect(); return [b.left + p.x, b.top + p.y]; }")
                    pg.evaluate("window.chainriskExplorer.ready = false")
                    pg.mouse.click(*pos)
                    pg.wait_for_function("window.chainriskExplorer.ready === true", timeout=60_000)
                pg.screenshot(path=str(shots / name))
                small_png(shots / name)
        b.close()
    return out


def bench_report(db: Path, picks: dict[str, Any], shots: Path | None) -> dict[str, Any]:
    from chainrisk.answers.lookup import lookup
    from chainrisk.answers.report import report

    out: dict[str, Any] = {}
    tmp = OUT / "explorer-reports"
    tmp.mkdir(parents=True, exist_ok=True)
    with chainrisk.open(db) as st:
        lookup(st, [picks["scam"]], explain=True)   # warm-up: the evidence tables are built
        for name, fn in (("lookup_explain (baseline)", lambda i: lookup(st, [picks["scam"]], explain=True)),
                         ("report_html", lambda i: report(st, picks["scam"], tmp / f"r{i}.html", lang="zh-CN")),
                         ("report_pdf", lambda i: report(st, picks["scam"], tmp / f"r{i}.pdf", lang="zh-CN",
                                                         customer_ref="DEMO-001", disposition="reported"))):
            times = []
            for i in range(3):
                t = time.perf_counter()
                fn(i)
                times.append(time.perf_counter() - t)
            out[name] = {"median_s": round(statistics.median(times), 3), "n": len(times)}
        if shots is not None:
            from playwright.sync_api import sync_playwright

            html = report(st, picks["scam"], tmp / "shot.html", lang="zh-CN", customer_ref="DEMO-001",
                          disposition="reported", note="资金来自多名诈骗受害人，转出至交易所", analyst="分析员 李伟")
            exe = shutil.which("chromium") or shutil.which("chromium-browser")
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu",
                                                                 "--hide-scrollbars"])
                pg = b.new_page(viewport={"width": 1280, "height": 1500})
                pg.goto(html.resolve().as_uri())
                pg.screenshot(path=str(shots / "report-zh-1280.png"))
                b.close()
            small_png(shots / "report-zh-1280.png")
    out["report_pdf_pages"] = _pages(tmp / "r0.pdf")
    return out


def small_png(path: Path, colours: int = 96) -> None:
    """Shrink a screenshot for docs/: a palette of ``colours`` (pillow, when installed), optimised."""
    try:
        from PIL import Image
    except ModuleNotFoundError:
        return
    with Image.open(path) as im:
        im.convert("RGB").quantize(colors=colours, dither=Image.Dither.NONE).save(path, optimize=True)


def _pages(pdf: Path) -> int | None:
    try:
        import pypdf
    except ModuleNotFoundError:
        return None
    return len(pypdf.PdfReader(str(pdf)).pages)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, help="a scored demo store (default: build one in bench/out/demo)")
    ap.add_argument("--repeat", type=int, default=15, help="calls per address / searches")
    ap.add_argument("--screenshots", type=Path, help="write the explorer and report screenshots into this folder")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    src = demo_store(args.db)
    db = OUT / "explorer.duckdb"
    shutil.copyfile(src, db)
    with chainrisk.open(db) as st:
        st.ensure_indexes()
        picks = pick(st)
    figures: dict[str, Any] = {"load_before": load(), "scam_case": picks["scam"], "big": picks["big"],
                               "big_counterparties": [picks["big_in"], picks["big_out"]]}
    figures["report"] = bench_report(db, picks, args.screenshots)
    svc = Service(db)
    try:
        figures["api"] = bench_api(svc, picks, args.repeat)
        figures["ui"] = bench_ui(svc, picks, max(3, args.repeat // 3), args.screenshots)
    finally:
        svc.stop()
    figures["load_after"] = load()
    (OUT / "explorer.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))
    fp = figures["ui"]["first_paint_200_nodes"]
    nb = figures["api"]["neighbourhood_http"]
    rep = figures["report"]
    print(f"\nfirst paint of {fp['nodes']} nodes: {fp['p50_ms']} ms (target <= 1000); neighbourhood p50 "
          f"{nb['p50_ms']} ms (target <= 50); report HTML {rep['report_html']['median_s']} s (<= 1), PDF "
          f"{rep['report_pdf']['median_s']} s (<= 3); load {figures['load_before']} -> {figures['load_after']}")


if __name__ == "__main__":
    main()
