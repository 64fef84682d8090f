"""The graph explorer in real headless Chromium (Playwright over the system Chromium): load /ui, search an
address, expand a node with a real click, open an edge's transfers, at 1,280 and 1,920 px, in English and Chinese,
and nothing clipped (every node's box inside the graph's box, the graph inside the window)."""

from __future__ import annotations

from typing import Any

import pytest
from support import scored_store as S
from support.browser import browser, overflow
from support.service import Server, scored_db

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory):
    db = scored_db(tmp_path_factory.mktemp("ui") / "ui.duckdb")
    s = Server(db, rate_limit=0)
    s.admin = s.key("admin", "investigator")  # type: ignore[attr-defined]
    s.read = s.key("read", "onboarding")  # type: ignore[attr-defined]
    yield s
    s.stop()


def wait_ready(page: Any) -> None:
    page.wait_for_function("window.chainriskExplorer && window.chainriskExplorer.ready === true", timeout=30_000)


def open_explorer(b: Any, srv: Server, width: int, lang: str, token: str) -> Any:
    # bypass_csp: Playwright's own waiting helpers evaluate strings, which the page's CSP forbids (rightly)
    page = b.new_context(viewport={"width": width, "height": 900}, bypass_csp=True).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{srv.url}/ui/?lang={lang}")
    page.wait_for_function("window.chainriskExplorer && window.chainriskExplorer.loaded === true")
    page.fill("#apikey", token)
    page.dispatch_event("#apikey", "change")
    page.errors = errors
    return page


def search(page: Any, address: str) -> None:
    page.evaluate("window.chainriskExplorer.ready = false")
    page.fill("#address", address)
    page.click("#search")
    wait_ready(page)


def node_ids(page: Any) -> set[str]:
    return set(page.evaluate("window.chainriskExplorer.cy.nodes().map(n => n.id())"))


def clipped(page: Any) -> list[str]:
    """Nodes whose rendered box reaches outside the graph's box, and a graph box outside the window."""
    got: list[str] = page.evaluate("""() => {
      const cy = window.chainriskExplorer.cy, box = document.getElementById('graph').getBoundingClientRect();
      const out = [];
      if (box.right > window.innerWidth + 0.5 || box.bottom > window.innerHeight + 0.5 || box.width < 300)
        out.push('graph ' + JSON.stringify(box));
      cy.nodes().forEach(n => { const b = n.renderedBoundingBox({includeLabels: true});
        if (b.x1 < -0.5 || b.y1 < -0.5 || b.x2 > box.width + 0.5 || b.y2 > box.height + 0.5)
          out.push(n.id() + ' ' + JSON.stringify(b)); });
      return out; }""")
    return got


def click_node(page: Any, node_id: str) -> None:
    x, y = page.evaluate("""(id) => { const p = window.chainriskExplorer.cy.getElementById(id).renderedPosition();
      const b = document.getElementById('graph').getBoundingClientRect(); return [b.left + p.x, b.top + p.y]; }""",
                         node_id)
    page.evaluate("window.chainriskExplorer.ready = false")
    page.mouse.click(x, y)
    wait_ready(page)


def click_edge(page: Any, edge_id: str) -> None:
    x, y = page.evaluate("""(id) => { const p = window.chainriskExplorer.cy.getElementById(id).renderedMidpoint();
      const b = document.getElementById('graph').getBoundingClientRect(); return [b.left + p.x, b.top + p.y]; }""",
                         edge_id)
    page.evaluate("window.chainriskExplorer.ready = false")
    page.mouse.click(x, y)
    wait_ready(page)


@pytest.mark.parametrize(("width", "lang"), [(1280, "en"), (1920, "zh-CN")])
def test_search_expand_and_transfers(srv: Server, tmp_path, width: int, lang: str) -> None:
    with browser() as b:
        page = open_explorer(b, srv, width, lang, srv.admin)
        search(page, S.SUBJECT)
        assert node_ids(page) == {S.SUBJECT, S.MULE, S.CLEAN, S.EXCH}
        verdict = page.inner_text("#verdict")
        assert S.SUBJECT in verdict
        if lang == "en":
            assert "sever service and report a suspicious transaction" in verdict
            assert "Links to illegal activity" in verdict and "high risk" in verdict
        else:
            assert "断开服务并上报可疑交易" in verdict and "涉嫌违法犯罪活动" in verdict and "高风险" in verdict
            assert page.inner_text("#search") == "查询"
        # laid out by flow: the source left of the address, the destinations right of it
        x = page.evaluate("Object.fromEntries(window.chainriskExplorer.cy.nodes().map(n => [n.id(), n.position('x')]))")
        assert x[S.MULE] < x[S.SUBJECT] < x[S.CLEAN] and x[S.SUBJECT] < x[S.EXCH]
        assert clipped(page) == [] and overflow(page)["scroll"] <= width
        page.screenshot(path=str(tmp_path / f"explorer-{width}-search.png"))

        # expand the mule with a real click: its source, the mixer, appears further left
        click_node(page, S.MULE)
        assert S.MIXER in node_ids(page)
        x = page.evaluate("Object.fromEntries(window.chainriskExplorer.cy.nodes().map(n => [n.id(), n.position('x')]))")
        assert x[S.MIXER] < x[S.MULE]
        assert S.MULE in page.inner_text("#verdict")
        assert clipped(page) == []

        # the transfers behind the edge mule -> subject, with the tx hash linked to the explorer
        click_edge(page, f"{S.MULE}>{S.SUBJECT}")
        link = page.query_selector(f'#transfers a[href="https://etherscan.io/tx/{S.TRANSFERS[1][0]}"]')
        assert link is not None and link.inner_text() == S.TRANSFERS[1][0]
        assert "9,000" in page.inner_text("#transfers")
        assert clipped(page) == [] and overflow(page)["scroll"] <= width
        shot = tmp_path / f"explorer-{width}.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 20_000
        assert page.errors == []


def test_read_key_and_bad_input_in_the_browser(srv: Server) -> None:
    with browser() as b:
        page = open_explorer(b, srv, 1280, "en", srv.read)
        search(page, S.SUBJECT)
        labels = page.evaluate("window.chainriskExplorer.cy.nodes().map(n => n.data('label')).join(' ')")
        assert "Example Exchange" not in labels and "exchange" in labels       # categories only for a read key
        search(page, "0xnope")
        assert "invalid_address" in page.inner_text("#status")
        page.fill("#apikey", "wrong")
        page.dispatch_event("#apikey", "change")
        search(page, S.SUBJECT)
        assert "invalid_api_key" in page.inner_text("#status")
        # a path from the subject's source to its destination
        page.fill("#apikey", srv.admin)
        page.dispatch_event("#apikey", "change")
        search(page, S.MIXER)
        page.fill("#path-to", S.EXCH)
        page.click("#path")
        page.wait_for_function("document.getElementById('status').innerText.includes('3 hops')")
        assert page.evaluate("window.chainriskExplorer.cy.edges('.path').length") == 3
        assert clipped(page) == []


def test_the_chinese_pdf_report_from_the_explorer(srv: Server) -> None:
    """The verdict panel's report button: the admin gets the PDF of the address (printed by the server's Chromium);
    a read key is refused."""
    from support.browser import need_chromium

    need_chromium()
    pypdf = pytest.importorskip("pypdf")
    with browser() as b:
        page = open_explorer(b, srv, 1280, "zh-CN", srv.admin)
        search(page, S.SUBJECT)
        with page.expect_popup(timeout=60_000) as popup:
            page.click("#report-pdf")
        assert popup.value.url.startswith("blob:")
    r = srv.get(f"/v1/reports/{S.SUBJECT}?format=pdf&lang=zh-CN&disposition=reported", srv.admin)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content[:5] == b"%PDF-"
    import io
    import re

    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(r.content)).pages))
    assert "链上地址风险证据报告" in text and "已上报可疑交易" in text and S.SUBJECT in text
    assert srv.get(f"/v1/reports/{S.SUBJECT}?format=pdf", srv.read).status_code == 403
