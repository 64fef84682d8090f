"""report: a self-contained HTML/Markdown evidence report; rendered in headless Chromium and checked not blank."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import scored_store as S
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
    # nothing loaded from anywhere: no scripts, no external stylesheets, images or fonts
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "@import" not in html and "url(http" not in html
    assert "HIGH RISK: score 62.5 / 100" in html
    assert "old community report" in html and "test-community" in html          # labels with their sources
    assert html.count("<svg") >= 1 and "Exposure by category in USD" in html    # the chart
    assert "mixer" in html and "9,000.00" in html                               # the exposure table
    assert S.TRANSFERS[2][0] in html                                           # transfers with tx hashes
    assert "r-new" in html and "2026-01-02 03:04 UTC" in html and "v2024-05" in html   # provenance
    if _has_evidence():
        assert "Evidence subgraph" in html and S.TRANSFERS[0][0] in html
        assert "received 9,000 USDT from Tornado Cash: USDT pool via 1 intermediary, 2024-03-02" in html
    # deterministic for the same store, run and generation time
    again = report(scored, S.SUBJECT, tmp_path / "r2.html", generated_at=WHEN).read_text(encoding="utf-8")
    assert again == html


def _has_evidence() -> bool:
    try:
        import chainrisk.engine.evidence  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def test_markdown_report(scored, tmp_path):
    md = report(scored, S.SUBJECT, tmp_path / "r.md", generated_at=WHEN).read_text(encoding="utf-8")
    assert md.startswith(f"# Evidence report: `{S.SUBJECT}` (ethereum)")
    assert "**HIGH RISK: score 62.5 / 100**" in md
    assert "| mixer | incoming | indirect | 9,000.00 | 100.0% | 2 |" in md
    assert "| scoring run | r-new |" in md
    if _has_evidence():
        assert "```mermaid" in md and S.TRANSFERS[1][0] in md


def test_unknown_address_report_says_unknown(scored, tmp_path):
    html = report(scored, S.TRON, tmp_path / "t.html", generated_at=WHEN).read_text(encoding="utf-8")
    assert "UNKNOWN: no data to judge this address (unknown is not safe)" in html


def test_errors(scored, store, tmp_path):
    with pytest.raises(InvalidAddress):
        report(scored, "0x123", tmp_path / "x.html")
    with pytest.raises(UsageError, match=r"\.html or \.md"):
        report(scored, S.SUBJECT, tmp_path / "x.pdf")
    assert not (tmp_path / "x.html").exists()


def test_no_scoring_run(store, tmp_path):
    S.build(store, runs=False)
    with pytest.raises(NoScoringRun):
        report(store, S.SUBJECT, tmp_path / "x.html")


def test_cli_exit_codes(tmp_path):
    db = tmp_path / "cli.duckdb"
    with chainrisk.open(db) as st:
        S.build(st)

    def code(*args: str) -> int:
        try:
            return int(main(["--db", str(db), "-q", "report", *args]) or 0)
        except SystemExit as e:
            return int(e.code or 0)

    assert code(S.SUBJECT, "-o", str(tmp_path / "ok.html")) == 0 and (tmp_path / "ok.html").exists()
    assert code(S.SUBJECT, "-o", str(tmp_path / "ok.md")) == 0 and (tmp_path / "ok.md").exists()
    assert code(S.SUBJECT, "-o", str(tmp_path / "bad.txt")) == 2
    assert code("0xnope", "-o", str(tmp_path / "bad.html")) == 4
    assert code(S.SUBJECT, "--run", "r-missing", "-o", str(tmp_path / "bad.html")) == 7
    assert code(S.SUBJECT) == 2     # --output is required


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
    # not blank: many distinct colours, and the verdict's orange badge is drawn near the top
    sample = {rows[y][x:x + 3] for y in range(0, len(rows), 3) for x in range(0, len(rows[y]) - 4, 3 * 5)}
    assert len(sample) > 50
    bpp = len(rows[0]) // width
    top = [rows[y][x * bpp:x * bpp + 3] for y in range(60, 260) for x in range(0, 600, 2)]
    assert any(p[0] > 200 and 60 < p[1] < 140 and p[2] < 60 for p in top), "no orange HIGH RISK badge found"
