"""GraphSense TagPack YAML (the public graphsense-tagpacks format: header fields are defaults for every tag)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainrisk.errors import InputError
from chainrisk.labels import import_labels, list_labels
from chainrisk.store import Store

TAGPACK = """\
title: Example exchange and abuse tags
creator: chainrisk test suite
description: Written for the tests after the GraphSense TagPack schema (header + tags).
is_public: true
lastmod: 2024-05-01
currency: ETH
confidence: web_crawl
source: https://example.org/attribution
tags:
  - address: 0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B
    label: Example Exchange hot wallet
    category: exchange
    confidence: service_data
  - address: 0xnot-an-address
    label: broken
  - address: 0x00000000219ab540356cbb839cbe05303d7705fa
    label: Example ransomware collector
    category: organization
    abuse: ransomware
    lastmod: 2024-06-02
  - address: TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t
    currency: TRX
    label: Example TRON OTC desk
    category: otc_broker
    confidence: 60
  - address: 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa
    currency: BTC
    label: Example mining pool payout
    category: miner
  - address: '0x7f36D9292e7c70A204faCC2d255475A861487c60'
    currency: BSC
    label: Example BSC contract
    abuse: phishing
  - tx_hash: 0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060
    label: a transaction tag (no address)
"""


# Addresses are unquoted, as in many public TagPacks: YAML reads 0x... as a hex integer, the importer restores it.


def test_tagpack_loads_with_mapped_categories_and_confidence(store: Store, tmp_path: Path) -> None:
    p = tmp_path / "example.yaml"
    p.write_text(TAGPACK)
    [r] = import_labels(store, [p], "tagpack")
    assert (r.source, r.rows_read, r.labels, r.version) == ("tagpack:example", 7, 5, "2024-06-02")
    assert sum(r.skip_reasons.values()) == 2
    assert any("without an address" in k for k in r.skip_reasons)
    got = {x["address"]: x for x in list_labels(store)}
    ex = got["0xab5801a7d398351b8be11c439e05c5b3259aec9b"]
    assert (ex["category"], ex["confidence"], ex["chain"]) == ("exchange", 50, "ethereum")
    assert json.loads(ex["details"])["source"] == "https://example.org/attribution"
    # abuse wins over the entity category; header confidence (web_crawl = 20) applies
    rw = got["0x00000000219ab540356cbb839cbe05303d7705fa"]
    assert (rw["category"], rw["confidence"]) == ("ransomware", 20)
    tron = got["TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"]
    assert (tron["chain"], tron["category"], tron["confidence"]) == ("tron", "p2p_otc", 60)
    btc = got["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"]
    assert (btc["chain"], btc["category"], btc["asset"]) == ("bitcoin", "mining", "BTC")
    # a BSC contract stays on its chain (checksummed input, canonical lower case)
    bsc = got["0x7f36d9292e7c70a204facc2d255475a861487c60"]
    assert (bsc["chain"], bsc["category"]) == ("bsc", "phishing")   # the alias table: bnb is bsc


def test_tagpack_errors_name_what_is_accepted(store: Store, tmp_path: Path) -> None:
    bad_cat = tmp_path / "c.yaml"
    bad_cat.write_text("title: t\ncreator: c\ntags:\n  - address: 0x00000000219ab540356cbb839cbe05303d7705fa\n"
                       "    label: x\n    category: teleportation\n")
    with pytest.raises(InputError, match=r"tag 1: unknown category 'teleportation'; accepted: GraphSense concepts"):
        import_labels(store, [bad_cat], "tagpack")
    bad_conf = tmp_path / "k.yaml"
    bad_conf.write_text("title: t\ncreator: c\nconfidence: pretty_sure\ntags:\n"
                        "  - address: 0x00000000219ab540356cbb839cbe05303d7705fa\n    label: x\n")
    with pytest.raises(InputError, match=r"unknown confidence 'pretty_sure'; accepted: ownership"):
        import_labels(store, [bad_conf], "tagpack")
    not_yaml = tmp_path / "n.yaml"
    not_yaml.write_text("title: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        import_labels(store, [not_yaml], "tagpack")
    no_tags = tmp_path / "t.yaml"
    no_tags.write_text("title: t\ncreator: c\n")
    with pytest.raises(InputError, match="needs a header mapping with a 'tags' list"):
        import_labels(store, [no_tags], "tagpack")
    assert list_labels(store, include_history=True) == []
