"""A truncated authoritative list must not silently end labels (issue 13, item 5): a replacement that would end
more than a set share of a source's active labels (default 20%) is refused unless allowed, and the legacy OFAC
SDN.CSV must end with its end-of-file marker. On the real formats in ../shared/datasets (truncated copies in tmp)."""

from __future__ import annotations

from pathlib import Path

import pytest

import chainrisk
from chainrisk.cli import main
from chainrisk.errors import InputError
from chainrisk.labels import import_labels, list_labels
from chainrisk.store import Store

ETH_LIST = "ofac_sdn/lists_2024-09-27_0xB10C/sanctioned_addresses_ETH.txt"
SDN_CSV = "ofac_sdn/sdn_csv_legacy_sample_2022-01-31.csv"


def active(store: Store, source: str) -> int:
    return sum(1 for x in list_labels(store, source=source, include_history=True) if x["valid_to"] is None)


def test_truncated_address_list_is_refused(store: Store, shared: Path, tmp_path: Path) -> None:
    full = shared / ETH_LIST
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    head = tmp_path / "sanctioned_addresses_ETH.txt"
    head.write_text("".join(lines[:10]), encoding="utf-8")      # `head -n 10` of the list
    import_labels(store, [full], "list", category="sanctions", source="ofac-eth")
    assert active(store, "ofac-eth") == 152
    with pytest.raises(InputError, match=r"would end 142 of its 152 active labels .*--allow-mass-removal"):
        import_labels(store, [head], "list", category="sanctions", source="ofac-eth")
    assert active(store, "ofac-eth") == 152                      # nothing changed
    [r] = import_labels(store, [head], "list", category="sanctions", source="ofac-eth", allow_mass_removal=True)
    assert r.removed == 142 and active(store, "ofac-eth") == 10


def test_share_is_a_setting_and_small_removals_pass(store: Store, shared: Path, tmp_path: Path) -> None:
    full = shared / ETH_LIST
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    most = tmp_path / "most" / full.name          # the list format names labels after the file
    most.parent.mkdir()
    most.write_text("".join(lines[:-20]), encoding="utf-8")     # 20 of 152 delisted: 13%
    import_labels(store, [full], "list", category="sanctions", source="ofac-eth")
    with pytest.raises(InputError, match="more than the 10% allowed"):
        import_labels(store, [most], "list", category="sanctions", source="ofac-eth", max_removal_share=0.10)
    [r] = import_labels(store, [most], "list", category="sanctions", source="ofac-eth")
    assert r.removed == 20


def _sdn_complete(shared: Path, tmp_path: Path) -> Path:
    """The shared sample is trimmed from the real file (no end marker): as OFAC publishes it, it ends with 0x1A."""
    path = tmp_path / "SDN.CSV"
    path.write_bytes((shared / SDN_CSV).read_bytes() + b"\x1a")
    return path


def test_legacy_sdn_csv_needs_its_end_marker(store: Store, shared: Path, tmp_path: Path) -> None:
    complete = _sdn_complete(shared, tmp_path)
    [r] = import_labels(store, [complete], "ofac-csv")
    n = active(store, "ofac-sdn-legacy")
    assert r.labels == n > 100
    cut = tmp_path / "cut" / "SDN.CSV"
    cut.parent.mkdir()
    cut.write_text("".join(complete.read_text(encoding="utf-8").splitlines(keepends=True)[:20]), encoding="utf-8")
    with pytest.raises(InputError, match=r"does not end with OFAC's end-of-file marker"):
        import_labels(store, [cut], "ofac-csv")
    assert active(store, "ofac-sdn-legacy") == n
    # (without the marker check the 20-line copy ends labels: the share guard stops it too)
    with pytest.raises(InputError, match="would end"):
        import_labels(store, [cut], "ofac-csv", allow_missing_end_marker=True)


def code_of(argv: list[str]) -> int:
    try:
        rv = main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return int(rv or 0)


def test_cli_flag(shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "c.duckdb"
    full = shared / ETH_LIST
    head = tmp_path / "head" / full.name
    head.parent.mkdir()
    head.write_text("".join(full.read_text(encoding="utf-8").splitlines(keepends=True)[:10]), encoding="utf-8")
    base = ["--db", str(db), "labels", "import", "--input-format", "list", "--category", "sanctions", "--source", "e"]
    assert code_of([*base, str(full)]) == 0
    assert code_of([*base, str(head)]) == 4
    assert "--allow-mass-removal" in capsys.readouterr().err
    assert code_of([*base, str(head), "--allow-mass-removal"]) == 0
    with chainrisk.open(db) as st:
        assert active(st, "e") == 10
