"""`labels update` against a local HTTP server serving the real OFAC file, and its failure modes (HTTP 500, a
server that never answers, a truncated body, a page that is not the list, a refused connection): each raises a
clear error and leaves every label as it was."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chainrisk.errors import InputError, SourceUnavailable
from chainrisk.labels import list_sources
from chainrisk.labels.update import update_labels
from chainrisk.store import Store

pytestmark = pytest.mark.shared

SDN_XML = "ofac_sdn/sdn_advanced_digital_currency_2025-11-19.xml"


class Server:
    def __init__(self, routes: dict[str, bytes]) -> None:
        self.routes = routes
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = outer.routes.get(self.path)
                if self.path == "/500":
                    self.send_error(500, "Internal Server Error")
                elif self.path == "/slow":
                    time.sleep(1.5)
                    self.send_error(504)
                elif self.path == "/truncated":
                    full = outer.routes["/sdn.xml"]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(full)))
                    self.end_headers()
                    self.wfile.write(full[: len(full) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                elif body is None:
                    self.send_error(404)
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(shared: Path) -> Iterator[Server]:
    xml = (shared / SDN_XML).read_bytes()
    # a "next day" version: the first party with digital-currency addresses delisted
    text = xml.decode("utf-8")
    m = re.search(r"\n    <DistinctParty FixedRef=\"(\d+)\">.*?</DistinctParty>", text, re.S)
    assert m is not None
    delisted_features = m.group(0).count('DetailTypeID="1432">') - m.group(0).count("KYCBKPPY")
    newer = (text[: m.start()] + text[m.end():]).replace("<Day>19</Day>", "<Day>20</Day>", 1).encode()
    import bz2

    packed = bz2.compress(xml)
    routes = {"/sdn.xml": xml, "/newer.xml": newer, "/page.html": b"<html><body>Maintenance</body></html>",
              "/sdn.xml.bz2": packed, "/cut.xml.bz2": packed[: len(packed) // 2],
              "/notxml": b"Service temporarily unavailable, please retry\n"}
    with Server(routes) as s:
        s.delisted = delisted_features  # type: ignore[attr-defined]
        yield s


def snapshot(store: Store) -> list[tuple]:
    return store.execute("SELECT * FROM labels ORDER BY ALL").fetchall() + \
        store.execute("SELECT * FROM label_sources ORDER BY ALL").fetchall()


def test_update_loads_the_served_list_then_applies_the_next_version(store: Store, server: Server) -> None:
    rep = update_labels(store, ofac_url=server.url + "/sdn.xml", onchain=False)
    res = {r.source: r for r in rep.results}
    assert set(res) == {"ofac-sdn", "chainrisk:exchanges", "chainrisk:mixers", "chainrisk:stablecoin_issuers",
                        "chainrisk:infrastructure", "chainrisk:tokens"}
    ofac = res["ofac-sdn"]
    assert (ofac.added, ofac.version, ofac.origin) == (ofac.labels, "2025-11-19", server.url + "/sdn.xml")
    assert store.execute("SELECT count(*) FROM labels WHERE source = 'ofac-sdn' AND category = 'sanctions'"
                         ).fetchone() == (760,)  # one per distinct digital-currency address feature
    [src] = [s for s in list_sources(store) if s["source"] == "ofac-sdn"]
    assert src["sha256"] is not None and src["active"] == ofac.labels

    rep = update_labels(store, ofac_url=server.url + "/newer.xml", bundled=False, onchain=False)
    [r] = rep.results
    assert r.version == "2025-11-20"
    assert r.removed == server.delisted > 0 and r.added == 0 and r.unchanged == ofac.labels - server.delisted  # type: ignore[attr-defined]


@pytest.mark.parametrize(("path", "error", "message"), [
    ("/500", SourceUnavailable, "answered HTTP 500"),
    ("/slow", SourceUnavailable, "did not answer within 0.5 s"),
    ("/truncated", SourceUnavailable, "truncated"),
    ("/page.html", InputError, "not an OFAC sdn_advanced.xml"),
    ("/notxml", InputError, "not well-formed XML"),
    ("/cut.xml.bz2", InputError, "cannot be decompressed"),
])
def test_a_failed_refresh_changes_nothing(store: Store, server: Server, path: str, error: type,
                                          message: str) -> None:
    update_labels(store, ofac_url=server.url + "/sdn.xml", onchain=False)
    before = snapshot(store)
    with pytest.raises(error, match=message):
        update_labels(store, ofac_url=server.url + path, onchain=False, timeout=0.5)
    assert snapshot(store) == before


def test_refused_connection(store: Store) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    with pytest.raises(SourceUnavailable, match="failed"):
        update_labels(store, ofac_url=f"http://127.0.0.1:{port}/sdn.xml", onchain=False, timeout=2)
    assert store.execute("SELECT count(*) FROM labels").fetchone() == (0,)


def test_without_events_or_node_the_onchain_source_is_left_alone(store: Store) -> None:
    rep = update_labels(store, ofac=False)
    assert any("no issuer blacklist events" in n for n in rep.notes)
    assert "onchain-blacklist" not in {r.source for r in rep.results}


def test_a_bzip2_mirror_is_read(store: Store, server: Server) -> None:
    [r] = update_labels(store, ofac_url=server.url + "/sdn.xml.bz2", bundled=False, onchain=False).results
    assert (r.source, r.version, r.rows_read) == ("ofac-sdn", "2025-11-19", 761)
