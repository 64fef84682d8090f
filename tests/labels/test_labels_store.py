"""Label store semantics: atomic replacement of a source version, history, conflicts, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainrisk.errors import InputError, UsageError
from chainrisk.labels import import_labels, labels_for, list_labels, list_sources
from chainrisk.store import Store

A = "0x" + "a1" * 20
B = "0x" + "b2" * 20
C = "0x" + "c3" * 20
USDT_TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
HEADER = "address,category,label,source,confidence,chain\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def snapshot(store: Store) -> list[tuple]:
    return store.execute("SELECT * FROM labels ORDER BY ALL").fetchall() + \
        store.execute("SELECT * FROM label_sources ORDER BY ALL").fetchall()


def test_reimport_reports_added_removed_unchanged_and_keeps_history(store: Store, tmp_path: Path) -> None:
    v1 = write(tmp_path, "v1.csv", HEADER + f"{A},scam,Fake ICO,acme,20,\n{B},phishing,Drainer,acme,20,\n")
    [r] = import_labels(store, [v1], "csv")
    assert (r.source, r.added, r.removed, r.unchanged, r.labels, r.active) == ("acme", 2, 0, 0, 2, 2)

    v2 = write(tmp_path, "v2.csv", HEADER + f"{B},phishing,Drainer,acme,20,\n{C},hack,Exploiter,acme,20,\n")
    with pytest.raises(InputError, match="would end 1 of its 2 active labels"):   # 50% > 20%: a cut list?
        import_labels(store, [v2], "csv")
    [r] = import_labels(store, [v2], "csv", allow_mass_removal=True)
    assert (r.added, r.removed, r.unchanged, r.updated, r.active) == (1, 1, 1, 0, 2)

    # A's label is ended, not deleted: valid_to and retired_at set, still answerable
    [old] = labels_for(store, A)
    assert old["status"] == "retired" and old["valid_to"] is not None and old["retired_at"] is not None
    assert labels_for(store, A, include_history=False) == []
    assert {x["address"] for x in list_labels(store, source="acme")} == {B, C}
    assert len(list_labels(store, source="acme", include_history=True)) == 3

    # the same version again changes nothing
    [r] = import_labels(store, [v2], "csv")
    assert (r.added, r.removed, r.unchanged, r.updated) == (0, 0, 2, 0)

    # A comes back: a new label (new period), the retired one stays as history
    [r] = import_labels(store, [v1], "csv", allow_mass_removal=True)
    assert (r.added, r.removed, r.unchanged) == (1, 1, 1)
    assert [x["status"] for x in labels_for(store, A)] == ["active", "retired"]
    [src] = [s for s in list_sources(store) if s["source"] == "acme"]
    assert (src["active"], src["retired"], src["added"], src["removed"]) == (2, 2, 1, 1)
    assert store.execute("SELECT count(*) FROM label_imports WHERE source = 'acme'").fetchone() == (4,)


def test_confidence_change_is_an_update_in_place(store: Store, tmp_path: Path) -> None:
    import_labels(store, [write(tmp_path, "a.csv", HEADER + f"{A},scam,X,s,20,\n")], "csv")
    [r] = import_labels(store, [write(tmp_path, "b.csv", HEADER + f"{A},scam,X,s,50,\n")], "csv")
    assert (r.added, r.removed, r.unchanged, r.updated) == (0, 0, 0, 1)
    assert [x["confidence"] for x in labels_for(store, A)] == [50]


def test_conflicting_labels_on_one_address_are_all_kept(store: Store, tmp_path: Path) -> None:
    import_labels(store, [write(tmp_path, "a.csv", HEADER + f"{A},exchange,Hot wallet,x,50,\n")], "csv")
    import_labels(store, [write(tmp_path, "b.csv", HEADER + f"{A},scam,Reported,y,20,\n{A},phishing,Kit,y,20,\n")],
                  "csv")
    got = {(x["source"], x["category"]) for x in labels_for(store, A)}
    assert got == {("x", "exchange"), ("y", "scam"), ("y", "phishing")}
    # ordered strongest first
    assert labels_for(store, A)[0]["confidence"] == 50


def test_one_file_with_several_sources_replaces_each(store: Store, tmp_path: Path) -> None:
    res = import_labels(store, [write(tmp_path, "m.csv", HEADER + f"{A},scam,X,s1,,\n{B},hack,Y,s2,,\n")], "csv")
    assert sorted((r.source, r.added) for r in res) == [("s1", 1), ("s2", 1)]
    # default confidence of the generic CSV is 50 (trusted provider)
    assert {x["confidence"] for x in list_labels(store)} == {50}


def test_unknown_category_names_the_accepted_ones_and_changes_nothing(store: Store, tmp_path: Path) -> None:
    import_labels(store, [write(tmp_path, "ok.csv", HEADER + f"{A},scam,X,s,20,\n")], "csv")
    before = snapshot(store)
    bad = write(tmp_path, "bad.csv", HEADER + f"{B},scam,Y,s,20,\n{C},terrorist,Z,s,20,\n")
    with pytest.raises(InputError, match=r"bad.csv line 3: unknown label category 'terrorist'; accepted: sanctions, "
                                         r"blacklist, mixer"):
        import_labels(store, [bad], "csv")
    assert snapshot(store) == before


def test_csv_without_header_or_with_unknown_columns_fails_clearly(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing column.*address,category,label,source"):
        import_labels(store, [write(tmp_path, "nohdr.csv", f"{A},scam,X,s\n")], "csv")
    with pytest.raises(InputError, match=r"unknown column.*colour"):
        import_labels(store, [write(tmp_path, "x.csv", "address,category,label,source,colour\n")], "csv")
    with pytest.raises(InputError, match="looks like JSON"):
        import_labels(store, [write(tmp_path, "j.csv", '[{"address": "x"}]')], "csv")


def test_addresses_are_canonical_and_junk_rows_are_counted(store: Store, tmp_path: Path) -> None:
    checksummed = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
    bad_checksum = "0xdAC17F958D2ee523a2206206994597C13D831Ec7"
    text = HEADER + "\n".join([
        f"{checksummed},token_contract,USDT,s,50,",
        f"{USDT_TRON},token_contract,USDT TRC-20,s,50,tron",
        f"{bad_checksum},scam,typo,s,50,",
        "0x1234,scam,short,s,50,",
        f"{A},scam,wrong chain,s,50,tron",
    ]) + "\n"
    [r] = import_labels(store, [write(tmp_path, "c.csv", text)], "csv")
    assert (r.rows_read, r.labels, r.skipped) == (5, 2, 3)
    assert sum(n for k, n in r.skip_reasons.items() if "EIP-55" in k) == 1
    assert sum(n for k, n in r.skip_reasons.items() if "40 hex digits" in k) == 1
    assert sum(n for k, n in r.skip_reasons.items() if "not a tron address" in k) == 1
    got = {(x["chain"], x["address"]) for x in list_labels(store)}
    assert got == {("ethereum", checksummed.lower()), ("tron", USDT_TRON)}


def test_list_format(store: Store, tmp_path: Path) -> None:
    p = write(tmp_path, "watch.txt", f"# my watch list\n{A}\n\n{B.upper().replace('0X', '0x')}\nnot-an-address\n"
                                     f"{A},dup\n{USDT_TRON}\n")
    with pytest.raises(UsageError, match="--category"):
        import_labels(store, [p], "list")
    [r] = import_labels(store, [p], "list", category="scam", confidence=20)
    assert (r.source, r.rows_read, r.labels, r.skipped) == ("watch", 5, 3, 2)
    assert {x["address"] for x in list_labels(store)} == {A, B, USDT_TRON}
    assert {x["confidence"] for x in list_labels(store)} == {20}


def test_a_file_of_another_format_fails_and_changes_nothing(store: Store, tmp_path: Path) -> None:
    import_labels(store, [write(tmp_path, "watch.txt", f"{A}\n")], "list", category="scam")
    before = snapshot(store)
    junk = write(tmp_path, "watch.txt", '{"these": "are not addresses"}\n')
    with pytest.raises(InputError, match=r"no usable labels.*plain address list"):
        import_labels(store, [junk], "list", category="scam")
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(InputError, match="not UTF-8"):
        import_labels(store, [binary], "list", category="scam")
    with pytest.raises(InputError, match="no such file"):
        import_labels(store, [tmp_path / "missing.txt"], "list", category="scam")
    with pytest.raises(UsageError, match="unknown label format 'xls'; accepted: csv, list"):
        import_labels(store, [junk], "xls")
    assert snapshot(store) == before


def test_failure_midway_through_several_sources_rolls_all_back(store: Store, tmp_path: Path) -> None:
    """Two sources in one import: if writing the second fails, the first is not replaced either."""
    from chainrisk.labels.model import ParsedSource
    from chainrisk.labels.store import replace_sources

    import_labels(store, [write(tmp_path, "a.csv", HEADER + f"{A},scam,X,s1,20,\n")], "csv")
    before = snapshot(store)
    good = ParsedSource("s1", "csv", "v2", "a.csv")
    good.add(B, "scam", "Y", 20)
    bad = ParsedSource("s2", "csv", "v1", "b.csv")
    rec = bad.add(C, "scam", "Z", 20)
    assert rec is not None
    rec.confidence = 101  # violates the table's CHECK: the database refuses the second source
    with pytest.raises(Exception, match=r"(?i)constraint"):
        replace_sources(store, [good, bad], allow_mass_removal=True)
    assert snapshot(store) == before


def test_special_addresses_are_known(store: Store) -> None:
    from chainrisk.labels import special_notes

    assert "null address" in special_notes(store, "0x" + "0" * 40)[0]
    assert "precompiled" in special_notes(store, "0x" + "0" * 39 + "1")[0]
    assert any("token contract USDT" in n for n in special_notes(store, USDT_TRON))
    assert special_notes(store, A) == []


def test_one_source_name_over_several_files_is_one_version(store: Store, tmp_path: Path) -> None:
    """A per-file format (tagpack) with --source over two files: both files' labels make one version."""
    t1 = write(tmp_path, "a.yaml", f"title: a\ncreator: c\ncategory: scam\ntags:\n  - address: '{A}'\n    label: x\n")
    t2 = write(tmp_path, "b.yaml", f"title: b\ncreator: c\ncategory: scam\ntags:\n  - address: '{B}'\n    label: y\n")
    [r] = import_labels(store, [t1, t2], "tagpack", source="my-tags")
    assert (r.source, r.rows_read, r.labels, r.origin) == ("my-tags", 2, 2, "a.yaml, b.yaml")
    assert {x["address"] for x in list_labels(store, source="my-tags")} == {A, B}


def test_retire_a_source_keeps_its_history(store: Store, tmp_path: Path) -> None:
    from chainrisk.labels import retire_source

    import_labels(store, [write(tmp_path, "a.csv", HEADER + f"{A},scam,X,gpl-list,20,\n{B},scam,Y,gpl-list,20,\n")],
                  "csv")
    with pytest.raises(InputError, match="no label source 'nope' in the store; known: gpl-list"):
        retire_source(store, "nope")
    r = retire_source(store, "gpl-list")
    assert (r.removed, r.format) == (2, "csv")
    assert list_sources(store) == [] and list_labels(store) == []
    assert [x["status"] for x in labels_for(store, A)] == ["retired"]
    [r] = import_labels(store, [write(tmp_path, "b.csv", HEADER + f"{A},scam,X,gpl-list,20,\n")], "csv")
    assert (r.added, r.removed) == (1, 0)
