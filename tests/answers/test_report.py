"""report: a self-contained HTML/Markdown evidence report; rendered in headless Chromium and checked not blank."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
from support import scored_store as S
from support.browser import BOXES_JS, browser, overflow
from support.env import need

import chainrisk
from chainrisk.answers.report import report
from chainrisk.cli import main
from chainrisk.errors import InvalidAddress, NoScoringRun, UsageError

WHEN = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium") or "",
                             shutil.which("google-chrome") or "") if p and Path(p).exists()), None)


@pytest.fixture
def scored(store):
    S.build(store)
    return store


def test_html_is_self_contained_and_complete(scored, tmp_path):
    out = report(scored, S.SUBJECT, tmp_path / "r.html", generated_at=WHEN)
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    # nothing loaded from anywhere: no scripts, no external stylesheets, images or fonts; links only to follow
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"""src\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "@import" not in html and "url(http" not in html
    assert set(re.findall(r'href="(https?://[^/"]+)/', html)) == {"https://etherscan.io"}
    assert f'href="https://etherscan.io/tx/{S.TRANSFERS[2][0]}"' in html            # tx hashes link the explorer
    assert f'href="https://etherscan.io/address/{S.SUBJECT}"' in html
    # the action and both verdicts come first, before the case and the why
    action = html.index("sever service and report a suspicious transaction")
    assert action < html.index("Links to illegal activity") < html.index(">Why<") < html.index(">Exposure<")
    assert "Virtual-currency business" in html and "62.5" in html and "31.3" in html
    assert "old community report" in html and "test-community" in html          # labels with their sources
    assert html.count("<svg") >= 1 and "Exposure by category in USD" in html    # the chart
    assert "9,000.00" in html                                                   # the exposure table
    assert S.TRANSFERS[2][0] in html                                           # transfers with tx hashes
    assert "r-new" in html and "2026-01-02 03:04 UTC" in html and "v2024-05" in html   # provenance
    # scalable drawings: a viewBox, no fixed pixel width on any svg
    assert not re.search(r"<svg[^>]*\swidth=\"\d", html)
    assert all("viewBox" in tag for tag in re.findall(r"<svg[^>]*>", html))
    # top counterparties: the mule (in) and the exchange (out), with the exchange's label and band
    cp = html[html.index(">Top counterparties<"):html.index(">Evidence paths<")]
    assert S.MULE in cp and S.EXCH in cp and S.CLEAN in cp and "Example Exchange hot wallet" in cp
    assert cp.index(S.MULE) < cp.index(S.CLEAN) < cp.index(S.EXCH)             # by USD, largest first
    if _has_evidence():
        assert "Evidence subgraph" in html and S.TRANSFERS[0][0] in html
        sentence = "received 9,000 USDT from Tornado Cash: USDT pool via 1 intermediary, 2024-03-02"
        assert sentence in html
        # "Why" summarises; it does not repeat the evidence paths
        why = html[html.index(">Why<"):html.index(">Labels of this address<")]
        assert "received 9,000 USD from mixer via 1 intermediary (100.0% of incoming)" in why
        assert sentence not in why and "Tornado" not in why
    # deterministic for the same store, run and generation time
    again = report(scored, S.SUBJECT, tmp_path / "r2.html", generated_at=WHEN).read_text(encoding="utf-8")
    assert again == html


def test_case_fields_and_disposition(scored, tmp_path):
    html = report(scored, S.SUBJECT, tmp_path / "c.html", generated_at=WHEN, customer_ref="C-2026-0042",
                  note="salary <b>not</b> plausible", disposition="reported", analyst="Li Wei").read_text()
    head = html[:html.index(">Why<")]
    assert "C-2026-0042" in head and "Li Wei" in head
    assert "reported (suspicious transaction report filed)" in head
    assert "salary &lt;b&gt;not&lt;/b&gt; plausible" in head                  # escaped, never markup
    assert "Signed off by" in head
    with pytest.raises(UsageError, match="disposition"):
        report(scored, S.SUBJECT, tmp_path / "d.html", disposition="closed")


def test_indicators_are_sentences_with_figures(scored, tmp_path):
    with scored.transaction():
        (aid,) = scored.execute("SELECT id FROM addresses WHERE address = ?", [S.SUBJECT]).fetchone()
        scored.execute("DELETE FROM indicators WHERE run_id = ? AND address_id = ?", [S.R_NEW, aid])
        scored.execute(
            "INSERT INTO indicators (run_id, address_id, indicator, severity, evidence) VALUES (?, ?, ?, ?, ?)",
            [S.R_NEW, aid, "pass_through", 45, json.dumps({
                "inflow_usd": 26465.87, "inflows": 3, "senders": 2, "outflow_usd": 26000.0, "outflows": 2,
                "forwarded_within_window_usd": 25000.0, "window_hours": 24, "forwarded_share": 0.9446,
                "residual_usd": 465.87, "median_hold_minutes": 12.5})])
    for lang, want in (("en", "Pass-through (layering hop): 26,466 USD came in from 2 senders and 94.5% of it "
                               "left within 24 hours; 466 USD stayed. severity 45"),
                       ("zh-CN", "过渡地址（分层转移）：从 2 个地址转入 26,466 美元，其中 94.5% 在 24 小时内转出")):
        html = report(scored, S.SUBJECT, tmp_path / f"i-{lang}.html", lang=lang).read_text()
        assert want in html
        assert "{&#x27;" not in html and "inflow_usd" not in html                 # never the raw dict


def _has_evidence() -> bool:
    try:
        import chainrisk.engine.evidence  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def test_markdown_report(scored, tmp_path):
    md = report(scored, S.SUBJECT, tmp_path / "r.md", generated_at=WHEN).read_text(encoding="utf-8")
    assert md.startswith(f"# Evidence report: `{S.SUBJECT}` (ethereum)")
    assert "**Action: sever service and report a suspicious transaction**" in md
    assert "| mixer | incoming | indirect | 9,000.00 | 100.0% | 2 |" in md
    assert "| Scoring run | r-new |" in md
    assert "<a " not in md                                                       # links as text in Markdown
    if _has_evidence():
        assert "```mermaid" in md and S.TRANSFERS[1][0] in md


def test_unknown_address_report_says_nothing_is_known(scored, tmp_path):
    for lang, must in (("en", ("UNKNOWN: nothing is known about this address", "This is not a clean bill of health")),
                       ("zh-CN", ("未知：没有关于该地址的任何数据", "这并不代表该地址无风险"))):
        html = report(scored, S.TRON, tmp_path / f"t-{lang}.html", generated_at=WHEN, lang=lang).read_text()
        assert all(m in html for m in must)
        # nothing that reads as clean: no "why" list, no "no exposure", no "none" reasons
        assert ">Why<" not in html and "No exposure" not in html and "<li>none</li>" not in html
        assert "no risk found" not in html and "未发现风险" not in html
        assert "https://tronscan.org/#/address/" + S.TRON in html


def test_chinese_report(scored, tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRISK_LANG", "zh-CN")       # the environment chooses the language ...
    html = report(scored, S.SUBJECT, tmp_path / "zh.html", generated_at=WHEN,
                  disposition="sever").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    for word in ("链上地址风险证据报告", "断开服务并上报可疑交易", "涉嫌违法犯罪活动", "虚拟货币相关业务", "高风险",
                 "中风险", "混币器", "交易所", "经 1 个中间地址从混币器收到 9,000 美元（占流入的 100.0%）",
                 "处置决定", "断开服务", "主要交易对手", "数据来源"):
        assert word in html, word
    for english in ("Evidence report", "Links to illegal activity", "high risk", ">Why<", "incoming"):
        assert english not in html, english
    # ... an explicit lang wins over it
    assert "Evidence report" in report(scored, S.SUBJECT, tmp_path / "en.html", lang="en").read_text()
    monkeypatch.setenv("CHAINRISK_LANG", "klingon")
    with pytest.raises(UsageError, match="unknown language"):
        report(scored, S.SUBJECT, tmp_path / "x.html")


def test_errors(scored, store, tmp_path, monkeypatch):
    with pytest.raises(InvalidAddress):
        report(scored, "0x123", tmp_path / "x.html")
    with pytest.raises(UsageError, match=r"\.html, \.md or \.pdf"):
        report(scored, S.SUBJECT, tmp_path / "x.txt")
    assert not (tmp_path / "x.html").exists()
    # a PDF without Chromium: one sentence saying how to get it, and no file
    monkeypatch.setenv("CHAINRISK_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(UsageError, match="apt-get install chromium"):
        report(scored, S.SUBJECT, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_no_scoring_run(store, tmp_path):
    S.build(store, runs=False)
    with pytest.raises(NoScoringRun):
        report(store, S.SUBJECT, tmp_path / "x.html")


def test_cli_exit_codes(tmp_path, monkeypatch, capsys):
    db = tmp_path / "cli.duckdb"
    with chainrisk.open(db) as st:
        S.build(st)

    def code(*args: str) -> int:
        try:
            return int(main(["--db", str(db), "-q", *args]) or 0)
        except SystemExit as e:
            return int(e.code or 0)

    assert code("report", S.SUBJECT, "-o", str(tmp_path / "ok.html")) == 0 and (tmp_path / "ok.html").exists()
    assert code("report", S.SUBJECT, "-o", str(tmp_path / "ok.md")) == 0 and (tmp_path / "ok.md").exists()
    assert code("report", S.SUBJECT, "-o", str(tmp_path / "bad.txt")) == 2
    assert code("report", "0xnope", "-o", str(tmp_path / "bad.html")) == 4
    assert code("report", S.SUBJECT, "--run", "r-missing", "-o", str(tmp_path / "bad.html")) == 7
    assert code("report", S.SUBJECT) == 2     # --output is required
    assert code("report", S.SUBJECT, "--disposition", "closed", "-o", str(tmp_path / "bad.html")) == 2
    # the case options and the language reach the file; the error line speaks the language too
    assert code("report", S.SUBJECT, "--lang", "zh-CN", "--customer-ref", "客户-7", "--note", "资金来源不明",
                "--disposition", "reported", "-o", str(tmp_path / "zh.html")) == 0
    zh = (tmp_path / "zh.html").read_text(encoding="utf-8")
    assert "客户-7" in zh and "资金来源不明" in zh and "已上报可疑交易" in zh
    capsys.readouterr()
    monkeypatch.setenv("CHAINRISK_CHROMIUM", str(tmp_path / "none"))
    assert code("--lang", "zh-CN", "report", S.SUBJECT, "-o", str(tmp_path / "x.pdf")) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误：生成 PDF 需要无头 Chromium") and "apt-get install chromium" in err


# -- rendering -------------------------------------------------------------------------------------------------


def png_pixels(path: Path, max_rows: int = 400) -> tuple[int, int, list[bytes]]:
    """Decode the first ``max_rows`` rows of an 8-bit RGB/RGBA non-interlaced PNG (Chromium's screenshots)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = bpp = 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(min(height, max_rows)):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


@pytest.mark.slow
def test_html_renders_in_headless_chromium(scored, tmp_path):
    need(CHROMIUM, "headless Chromium is not installed (apt-get install chromium); .ci/run installs it")
    out = report(scored, S.SUBJECT, tmp_path / "report.html", generated_at=WHEN)
    png = tmp_path / "report.png"
    proc = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1200,1600",
         out.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert png.exists() and png.stat().st_size > 10_000, proc.stderr[-2000:]
    width, height, rows = png_pixels(png)
    assert (width, height) == (1200, 1600)
    # not blank: many distinct colours, and the action's red badge is drawn near the top
    sample = {rows[y][x:x + 3] for y in range(0, len(rows), 3) for x in range(0, len(rows[y]) - 4, 3 * 5)}
    assert len(sample) > 50
    bpp = len(rows[0]) // width
    top = [rows[y][x * bpp:x * bpp + 3] for y in range(60, 260) for x in range(0, 600, 2)]
    assert any(p[0] > 150 and p[1] < 60 and p[2] < 60 for p in top), "no red action badge found"


def _clipped(page) -> list[str]:
    """Elements of the report (table cells, drawing parts) that reach past the window's right edge."""
    inner = page.evaluate("() => window.innerWidth")
    boxes = page.evaluate(BOXES_JS, "svg text, svg rect, table, h1, h2, p, .decision, .head div")
    return [f"{tag} {text!r} right={right:.0f} > {inner}" for tag, text, _l, _t, right, _b in boxes if right > inner + 0.5]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_report_fits_any_width_and_print(scored, tmp_path, lang):
    out = report(scored, S.SUBJECT, tmp_path / "r.html", generated_at=WHEN, lang=lang, customer_ref="C-1")
    with browser() as b:
        for width in (1280, 1920, 800):
            page = b.new_page(viewport={"width": width, "height": 1000})
            page.goto(out.resolve().as_uri())
            size = overflow(page)
            assert size["scroll"] <= size["inner"], (width, size)
            assert _clipped(page) == [], width
            graph = page.query_selector("svg.graph")
            assert graph is not None and graph.bounding_box()["width"] > 300
            if width in (1280, 1920):
                shot = tmp_path / f"report-{lang}-{width}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 20_000
            page.close()
        # print: an A4 page less its margins is about 700 CSS px wide
        page = b.new_page(viewport={"width": 700, "height": 1000})
        page.emulate_media(media="print")
        page.goto(out.resolve().as_uri())
        assert overflow(page)["scroll"] <= 700
        assert _clipped(page) == []


@pytest.mark.slow
def test_pdf_through_headless_chromium(scored, tmp_path):
    need(CHROMIUM, "headless Chromium is not installed (apt-get install chromium); .ci/run installs it")
    pypdf = pytest.importorskip("pypdf")
    out = report(scored, S.SUBJECT, tmp_path / "case.pdf", generated_at=WHEN, lang="zh-CN",
                 customer_ref="C-2026-0042", disposition="reported")
    assert out.read_bytes()[:5] == b"%PDF-"
    pdf = pypdf.PdfReader(str(out))
    assert 1 <= len(pdf.pages) <= 4
    box = pdf.pages[0].mediabox
    assert abs(float(box.width) - 595.3) < 2 and abs(float(box.height) - 841.9) < 2     # A4 portrait
    text = "".join(p.extract_text() for p in pdf.pages)
    flat = re.sub(r"\s+", "", text)
    for word in ("链上地址风险证据报告", "断开服务并上报可疑交易", "已上报可疑交易", "C-2026-0042", "混币器", "r-new"):
        assert word in flat, word
    assert S.SUBJECT in flat
    # an unknown address prints its plain statement too
    unk = report(scored, S.TRON, tmp_path / "unknown.pdf", lang="en")
    text = re.sub(r"\s+", " ", "".join(p.extract_text() for p in pypdf.PdfReader(str(unk)).pages))
    assert "nothing is known about this address" in text and "not a clean bill of health" in text


def test_every_indicator_has_a_sentence():
    from chainrisk.answers.report import indicator_sentence
    from chainrisk.engine.indicators import INDICATORS

    fwd = {"category": "mixer", "events": 2, "forwarded_usd": 11309.42, "hop": 2, "taint_usd": 9870.3,
           "window_s": 86400}
    assert indicator_sentence("forwarding", 50, fwd, "en") == (
        "Forwarding: received 9,870 USD traced to mixer (2 hops away) and sent 11,309 USD on within 24 hours. "
        "severity 50")
    for name in (*INDICATORS, "forwarding"):
        for lang in ("en", "zh-CN"):
            text = indicator_sentence(name, 40, {}, lang)
            assert "(severity 40)" not in text and "（严重程度 40）" not in text, (name, lang)   # not the fallback
    assert indicator_sentence("new_one", 40, {"x": 1}, "en") == "new one (severity 40)"


def test_deep_evidence_graph_turns_vertical_and_bundles_parallel_transfers():
    """Nine hop layers would be far wider than a page: the drawing turns top to bottom; three parallel transfers
    between the same two addresses are one arrow with one label (count, total, dates)."""
    from chainrisk.answers.lookup import LookupResult
    from chainrisk.answers.report import subgraph_svg
    from chainrisk.store.runs import Provenance

    def hop(i: int, a: str, b: str, amount: float = 100.0, day: int = 1) -> dict:
        return {"tx_hash": f"0x{i:064x}", "log_index": 0, "block_number": i, "time": f"2024-03-{day:02d}T00:00:00Z",
                "token": "USDT", "amount": amount, "usd": amount, "from_address": a, "to_address": b,
                "from_labels": [], "to_labels": []}

    x = "0x" + "ab" * 20
    ins = ["0x" + f"{i:02x}" * 20 for i in range(1, 5)]
    outs = ["0x" + f"{i:02x}" * 20 for i in range(5, 9)]
    chain_in = [*ins, x]
    chain_out = [x, *outs]
    evidence = [
        {"direction": "in", "category": "mixer", "transfers": [hop(i, a, b) for i, (a, b) in
                                                                 enumerate(pairwise(chain_in), 1)]},
        {"direction": "out", "category": "exchange", "transfers": [hop(10 + i, a, b) for i, (a, b) in
                                                                     enumerate(pairwise(chain_out), 1)]},
        {"direction": "in", "category": "mixer", "transfers": [hop(20, ins[3], x, 50.0, 2),
                                                               hop(21, ins[3], x, 25.0, 3)]},
    ]
    prov = Provenance(run_id="r", profile="cn", created_at=None, finished_at=None, as_of_block=1, as_of_time=None,
                      label_sources=[], params={}, profile_settings={})
    r = LookupResult(input=x, status="ok", address=x, chain="ethereum", reason="", provenance=prov,
                     evidence=evidence)
    svg = subgraph_svg(r)
    w, h = (float(v) for v in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())
    assert h > w and w < 900, (w, h)                                   # top to bottom, narrower than a page
    assert svg.count("<line") == 8                                      # 8 hops: the parallel ones are one arrow
    assert "175 USDT · 3 transfers" in svg and "2024-03-01 – 2024-03-03" in svg
