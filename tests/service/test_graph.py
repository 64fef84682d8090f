"""The explorer's API over a real service: neighbourhood by flow with limits and filters, the transfers behind an
edge, a money path, the report endpoint, the static explorer, and the read view (no label names or sources)."""

from __future__ import annotations

import pytest
from support import scored_store as S
from support.service import Server, error_code, scored_db


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory):
    db = scored_db(tmp_path_factory.mktemp("graph") / "graph.duckdb")
    s = Server(db, rate_limit=0)
    s.admin = s.key("admin", "investigator")  # type: ignore[attr-defined]
    s.read = s.key("read", "onboarding")  # type: ignore[attr-defined]
    yield s
    s.stop()


def _nodes(g: dict) -> dict[str, dict]:
    return {n["address"]: n for n in g["nodes"]}


def test_neighbourhood_by_flow(srv: Server) -> None:
    r = srv.get(f"/v1/graph/neighbourhood/{S.SUBJECT}", srv.admin)
    assert r.status_code == 200, r.text
    g = r.json()
    assert g["run_id"] == S.R_NEW and g["address"] == S.SUBJECT
    nodes = _nodes(g)
    assert nodes[S.SUBJECT]["role"] == "subject" and nodes[S.SUBJECT]["action"] == "sever_and_report"
    assert nodes[S.SUBJECT]["illicit_band"] == "high" and nodes[S.SUBJECT]["vc_business_band"] == "medium"
    assert nodes[S.MULE]["role"] == "source" and nodes[S.CLEAN]["role"] == "destination"
    assert nodes[S.EXCH]["role"] == "destination" and nodes[S.EXCH]["risk_band"] == "high"
    # the admin sees the label's name and source
    assert nodes[S.EXCH]["labels"] == [{"category": "exchange", "name": "Example Exchange hot wallet",
                                        "source": "test-labels"}]
    edges = {(e["from"], e["to"]): e for e in g["edges"]}
    assert edges[(S.MULE, S.SUBJECT)]["usd"] == 9000.0 and edges[(S.MULE, S.SUBJECT)]["direction"] == "in"
    assert edges[(S.SUBJECT, S.EXCH)]["transfers"] == 1 and edges[(S.SUBJECT, S.EXCH)]["first_block"] == 103
    assert nodes[S.SUBJECT]["explorer_url"] == f"https://etherscan.io/address/{S.SUBJECT}"
    assert g["folded"] == {"in": None, "out": None}


def test_read_key_sees_categories_only(srv: Server) -> None:
    g = srv.get(f"/v1/graph/neighbourhood/{S.SUBJECT}", srv.read).json()
    assert _nodes(g)[S.EXCH]["labels"] == [{"category": "exchange"}]
    assert "Example Exchange" not in str(g) and "test-labels" not in str(g)
    p = srv.get(f"/v1/graph/path?from={S.MIXER}&to={S.EXCH}", srv.read).json()
    assert p["found"] and "Tornado" not in str(p) and "test-labels" not in str(p)


def test_limits_fold_and_filters(srv: Server) -> None:
    g = srv.get(f"/v1/graph/neighbourhood/{S.SUBJECT}?limit=1", srv.admin).json()
    assert {n["address"] for n in g["nodes"]} == {S.SUBJECT, S.MULE, S.CLEAN}     # the largest per direction
    assert g["folded"]["out"] == {"counterparties": 1, "usd": 500.0, "transfers": 1}
    g = srv.get(f"/v1/graph/neighbourhood/{S.SUBJECT}?min_usd=1000", srv.admin).json()
    assert S.EXCH not in _nodes(g) and S.CLEAN in _nodes(g)
    g = srv.get(f"/v1/graph/neighbourhood/{S.SUBJECT}?since=2024-03-03T00:00:00", srv.admin).json()
    assert set(_nodes(g)) == {S.SUBJECT, S.CLEAN, S.EXCH}
    g = srv.get(f"/v1/graph/neighbourhood/{S.SUBJECT}?until=2024-03-03T00:00:00", srv.admin).json()
    assert set(_nodes(g)) == {S.SUBJECT, S.MULE}
    assert len(srv.get(f"/v1/graph/neighbourhood/{S.SUBJECT}?token=USDC", srv.admin).json()["nodes"]) == 1
    assert len(srv.get(f"/v1/graph/neighbourhood/{S.SUBJECT}?token=usdt", srv.admin).json()["nodes"]) == 4
    for bad in ("limit=0", "limit=101", "min_usd=-1", "since=yesterday"):
        r = srv.get(f"/v1/graph/neighbourhood/{S.SUBJECT}?{bad}", srv.admin)
        assert r.status_code == 422 and error_code(r) == "invalid_request", bad
    r = srv.get("/v1/graph/neighbourhood/0xnope", srv.admin)
    assert r.status_code == 422 and error_code(r) == "invalid_address"
    assert srv.get(f"/v1/graph/neighbourhood/{S.SUBJECT}").status_code == 401
    # an address without transfers: just itself, unknown
    g = srv.get(f"/v1/graph/neighbourhood/{S.TRON}", srv.admin).json()
    assert [n["status"] for n in g["nodes"]] == ["unknown"] and g["edges"] == []


def test_transfers_behind_an_edge(srv: Server) -> None:
    r = srv.get(f"/v1/graph/transfers?from={S.MULE}&to={S.SUBJECT}", srv.read)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1 and body["usd"] == 9000.0
    [t] = body["transfers"]
    assert t["tx_hash"] == S.TRANSFERS[1][0] and t["time"] == "2024-03-02T09:00:00Z" and t["token"] == "USDT"
    assert t["explorer_url"] == f"https://etherscan.io/tx/{S.TRANSFERS[1][0]}"
    assert srv.get(f"/v1/graph/transfers?from={S.SUBJECT}&to={S.MULE}", srv.read).json()["total"] == 0
    assert srv.get(f"/v1/graph/transfers?from={S.MULE}&to={S.SUBJECT}&limit=501", srv.read).status_code == 422


def test_path_within_k_hops(srv: Server) -> None:
    p = srv.get(f"/v1/graph/path?from={S.MIXER}&to={S.EXCH}&max_hops=4", srv.admin).json()
    assert p["found"] and p["hops"] == 3
    assert [n["address"] for n in p["nodes"]] == [S.MIXER, S.MULE, S.SUBJECT, S.EXCH]
    assert [e["usd"] for e in p["edges"]] == [10000.0, 9000.0, 500.0]
    assert srv.get(f"/v1/graph/path?from={S.MIXER}&to={S.EXCH}&max_hops=2", srv.admin).json()["found"] is False
    assert srv.get(f"/v1/graph/path?from={S.EXCH}&to={S.MIXER}", srv.admin).json()["found"] is False  # money's way
    assert srv.get(f"/v1/graph/path?from={S.MIXER}&to={S.EXCH}&max_hops=7", srv.admin).status_code == 422


def test_the_index_path_and_the_scan_agree(srv: Server) -> None:
    """With the run's evidence tables built the neighbourhood comes from them (point lookups); with a token filter
    it scans the transfers; both give the same answer."""
    srv.get(f"/v1/graph/path?from={S.MIXER}&to={S.EXCH}", srv.admin)      # builds the evidence tables
    assert srv.service.store.execute("SELECT run_id FROM evidence_meta").fetchall() == [(S.R_NEW,)]
    for q in ("", "&min_usd=1000", "&since=2024-03-02T00:00:00&until=2024-03-04T00:00:00", "&limit=1"):
        fast = srv.get(f"/v1/graph/neighbourhood/{S.SUBJECT}?x=1{q}", srv.admin).json()
        scan = srv.get(f"/v1/graph/neighbourhood/{S.SUBJECT}?token=USDT{q}", srv.admin).json()
        assert fast["nodes"] == scan["nodes"] and fast["edges"] == scan["edges"], q
        assert fast["folded"] == scan["folded"], q


def test_openapi_documents_the_graph_and_not_the_ui(srv: Server) -> None:
    doc = srv.get("/openapi.json").json()
    for path in ("/v1/graph/neighbourhood/{address}", "/v1/graph/transfers", "/v1/graph/path",
                 "/v1/reports/{address}"):
        assert path in doc["paths"] and doc["paths"][path]["get"]["security"], path
    params = {p["name"]: p for p in doc["paths"]["/v1/graph/neighbourhood/{address}"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 100 and {"since", "until", "token", "min_usd"} <= set(params)
    assert not [p for p in doc["paths"] if p.startswith("/ui")]


def test_report_endpoint_is_for_admins(srv: Server) -> None:
    r = srv.get(f"/v1/reports/{S.SUBJECT}?lang=zh-CN&customer_ref=C-9&disposition=monitor", srv.admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "链上地址风险证据报告" in r.text and "C-9" in r.text and "持续监测" in r.text
    assert "investigator" in r.text                                      # the key's holder is the analyst
    r = srv.get(f"/v1/reports/{S.SUBJECT}", srv.read)
    assert r.status_code == 403 and error_code(r) == "forbidden"
    r = srv.get(f"/v1/reports/{S.SUBJECT}?format=doc", srv.admin)
    assert r.status_code == 422


def test_the_explorer_is_served_without_a_key_and_holds_no_data(srv: Server) -> None:
    r = srv.get("/ui/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'src="vendor/cytoscape.min.js"' in r.text and "https://" not in r.text     # no CDN
    assert "default-src 'self'" in r.headers["content-security-policy"]
    js = srv.get("/ui/vendor/cytoscape.min.js")
    assert js.status_code == 200 and "Cytoscape Consortium" in js.text[:400]
    assert srv.get("/ui/vendor/cytoscape.LICENSE").status_code == 200
    words = srv.get("/ui/messages.json").json()
    assert words["zh-CN"]["category.mixer"] == "混币器" and words["en"]["ui.search"] == "Search"
    assert srv.get("/ui/../state.py").status_code == 401        # the client folds it to /state.py: not public
    assert srv.get("/ui/%2e%2e/state.py").status_code == 404
    assert srv.get("/ui", allow_redirects=False).status_code == 307
