"""OFAC SDN: the official advanced XML (``sdn_advanced.xml``) and the legacy ``SDN.CSV``.

The XML is streamed with :func:`xml.etree.ElementTree.iterparse` (the full file is ~120 MB): every
``Feature`` whose type is "Digital Currency Address - XXX" becomes one ``sanctions`` label (confidence 60,
authority data; plus a ``terrorism_financing`` label when the party's programmes include SDGT/FTO/SDT) named
after the party's primary name, with the programme codes, the SDN entity number, the party
type and the listing date in ``details``. An EVM (0x) address goes to the chain its ticker names (``BSC`` ->
``bsc``, ``ARB`` -> ``arbitrum``, ``MATIC`` -> ``polygon``, ``ETC`` -> ``ethereum_classic``: one table,
:data:`chainrisk.labels.chains.EVM_TICKER_CHAINS`), ``ethereum`` for ``ETH`` and the token tickers (``USDT``,
``USDC`` name no chain); TRON addresses go to ``tron``, and the rest to their asset's chain (XBT -> bitcoin,
...), verbatim. The same key controls an externally owned address on every EVM chain: ``chainrisk labels link``
offers the label on the address's other chains (see docs/labels.md).
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO, Any

from ...errors import InputError
from ..model import ParsedSource, read_text
from .common import Options, conf, finish, one_source

CONFIDENCE = 60
FEATURE_PREFIX = "Digital Currency Address - "
ADDRESS_DETAIL = "1432"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in elem if _local(c.tag) == name]


def _date(elem: ET.Element | None) -> str | None:
    if elem is None:
        return None
    parts = [_child(elem, p) for p in ("Year", "Month", "Day")]
    if any(p is None or not (p.text or "").strip() for p in parts):
        return None
    y, m, d = (int((p.text or "0").strip()) for p in parts if p is not None)
    return f"{y:04d}-{m:02d}-{d:02d}"


def parse_sdn_xml(stream: IO[bytes], origin: str) -> tuple[str | None, list[dict[str, Any]]]:
    """``(date_of_issue, features)`` of an OFAC advanced XML stream: one dict per digital-currency address
    feature (address, asset, sdn_id, name, party_type, programs, listed)."""
    feature_types: dict[str, str] = {}
    subtype_party: dict[str, str] = {}
    party_types: dict[str, str] = {}
    parties: list[tuple[str, str, str | None, str | None, list[tuple[str, str]]]] = []
    entries: dict[str, tuple[list[str], str | None]] = {}
    date_of_issue: str | None = None
    root_seen = False
    try:
        for event, elem in ET.iterparse(stream, events=("start", "end")):
            name = _local(elem.tag)
            if event == "start":
                if not root_seen:
                    root_seen = True
                    if name != "Sanctions":
                        raise InputError(f"{origin} is not an OFAC sdn_advanced.xml (root element <{name}>, "
                                         "expected <Sanctions>); check --input-format")
                continue
            if name == "DateOfIssue":
                date_of_issue = _date(elem)
            elif name == "FeatureType":
                feature_types[elem.get("ID", "")] = (elem.text or "").strip()
            elif name == "PartySubType":
                subtype_party[elem.get("ID", "")] = elem.get("PartyTypeID", "")
            elif name == "PartyType":
                party_types[elem.get("ID", "")] = (elem.text or "").strip()
            elif name == "DistinctParty":
                parties.append(_party(elem, feature_types))
                elem.clear()
            elif name == "SanctionsEntry":
                programs = [(c.text or "").strip() for m in _children(elem, "SanctionsMeasure")
                            for c in _children(m, "Comment") if (c.text or "").strip()]
                ev = _child(elem, "EntryEvent")
                entries[elem.get("ProfileID", "")] = (programs, _date(_child(ev, "Date")) if ev is not None else None)
                elem.clear()
            elif name in ("Location", "IDRegDocument", "ProfileRelationship"):
                elem.clear()
    except (EOFError, OSError) as e:  # a truncated or corrupt .bz2/.gz
        raise InputError(f"{origin} cannot be decompressed ({e}); the file may be truncated, fetch it again; "
                         "the store is unchanged") from None
    except ET.ParseError as e:
        raise InputError(f"{origin} is not well-formed XML ({e}); the file may be truncated, fetch it again; "
                         "the store is unchanged") from None
    if not root_seen:
        raise InputError(f"{origin} is empty; nothing imported")
    if not any(t.startswith(FEATURE_PREFIX) for t in feature_types.values()):
        raise InputError(f"{origin} has no 'Digital Currency Address' feature types, so it is not an OFAC advanced "
                         "XML (sdn_advanced.xml); check --input-format")
    out = []
    for fixed_ref, profile_id, subtype, pname, feats in parties:
        programs, listed = entries.get(profile_id, ([], None))
        for asset, address in feats:
            out.append({
                "address": address, "asset": asset, "sdn_id": fixed_ref, "name": pname,
                "party_type": party_types.get(subtype_party.get(subtype or "", ""), ""),
                "programs": programs, "listed": listed,
            })
    return date_of_issue, out


def _party(elem: ET.Element, feature_types: dict[str, str]) -> tuple[str, str, str | None, str | None,
                                                                      list[tuple[str, str]]]:
    fixed_ref = elem.get("FixedRef", "")
    profile = _child(elem, "Profile")
    if profile is None:
        return fixed_ref, fixed_ref, None, None, []
    name = None
    for identity in _children(profile, "Identity"):
        for alias in _children(identity, "Alias"):
            if alias.get("Primary") == "true" and name is None:
                dn = _child(alias, "DocumentedName")
                if dn is not None:
                    parts = [(v.text or "").strip() for p in _children(dn, "DocumentedNamePart")
                             for v in _children(p, "NamePartValue")]
                    name = " ".join(x for x in parts if x) or None
    feats = []
    for f in _children(profile, "Feature"):
        ftype = feature_types.get(f.get("FeatureTypeID", ""), "")
        if not ftype.startswith(FEATURE_PREFIX):
            continue
        asset = ftype[len(FEATURE_PREFIX):].strip()
        for fv in _children(f, "FeatureVersion"):
            for vd in _children(fv, "VersionDetail"):
                if vd.get("DetailTypeID") == ADDRESS_DETAIL and (vd.text or "").strip():
                    feats.append((asset, (vd.text or "").strip()))
    return fixed_ref, profile.get("ID", fixed_ref), profile.get("PartySubTypeID"), name, feats


# Programmes whose designation is for terrorism: the address also gets a ``terrorism_financing`` label (same
# party, same authority), so a terrorism-financing report can be told apart from, e.g., a cyber-crime designation.
TERRORISM_PROGRAMS = frozenset({"SDGT", "FTO", "SDT"})


def _add_sdn(ps: ParsedSource, address: str, asset: str, name: str | None, programs: list[str],
             confidence: int, details: str) -> None:
    if ps.add(address, "sanctions", name, confidence, asset=asset, details=details) is None:
        return
    if TERRORISM_PROGRAMS.intersection(programs):
        ps.add(address, "terrorism_financing", name, confidence, asset=asset, details=details)


def records_from_features(ps: ParsedSource, features: list[dict[str, Any]], confidence: int) -> None:
    for f in features:
        ps.rows_read += 1
        details = json.dumps({
            "sdn_id": f["sdn_id"], "programs": ";".join(f["programs"]), "party_type": f["party_type"],
            "party_listed": f["listed"], "feature": FEATURE_PREFIX + f["asset"],
        }, sort_keys=True)
        _add_sdn(ps, f["address"], f["asset"], f["name"], f["programs"], confidence, details)


def open_maybe_compressed(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it is bzip2 (mirrors publish ``sdn_advanced.xml.bz2``) or gzip."""
    import bz2
    import gzip

    with path.open("rb") as f:
        magic = f.read(3)
    if magic == b"BZh":
        return bz2.open(path, "rb")
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def import_xml(paths: list[Path], opts: Options, store: Any = None) -> list[ParsedSource]:
    """Every digital-currency address of an OFAC ``sdn_advanced.xml`` (plain, .bz2 or .gz; one or more files =
    one version)."""
    features: list[dict[str, Any]] = []
    issued: list[str] = []
    for path in paths:
        try:
            with open_maybe_compressed(path) as f:
                date, feats = parse_sdn_xml(f, path.name)
        except FileNotFoundError:
            raise InputError(f"{path.name}: no such file; check the path") from None
        features += feats
        if date:
            issued.append(date)
    ps = one_source(paths, opts, "ofac-xml", "ofac-sdn", max(issued) if issued else None)
    records_from_features(ps, features, conf(opts, CONFIDENCE))
    return [finish(ps, "OFAC sdn_advanced.xml")]


# -- legacy SDN.CSV ----------------------------------------------------------------------------------------------

_REMARK_ADDRESS = re.compile(r"Digital Currency Address - ([A-Za-z0-9\-]+)\s+([^\s;]+)")
_LEGACY_COLUMNS = 12


def import_legacy_csv(paths: list[Path], opts: Options, store: Any = None) -> list[ParsedSource]:
    """Addresses embedded in the Remarks of the legacy ``SDN.CSV`` (no header; 12 columns; ``-0-`` = empty)."""
    ps = one_source(paths, opts, "ofac-csv", "ofac-sdn-legacy", None)
    confidence = conf(opts, CONFIDENCE)
    for path in paths:
        raw = read_text(path, "OFAC SDN.CSV")
        if not raw.rstrip("\r\n \t").endswith("\x1a") and not opts.allow_missing_end_marker:
            # a cut download or a `head` of the file reads as a valid, shorter list: its labels would end
            raise InputError(
                f"{path.name} does not end with OFAC's end-of-file marker (the 0x1A byte after the last row), so it "
                "may be cut short; download SDN.CSV again (or pass --allow-mass-removal if you know it is complete); "
                "the store is unchanged")
        text = raw.replace("\x1a", "")
        for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if not row or not any(c.strip() for c in row):
                continue
            if len(row) != _LEGACY_COLUMNS or not row[0].strip().isdigit():
                raise InputError(
                    f"{path.name} line {lineno} is not an SDN.CSV row (expected {_LEGACY_COLUMNS} columns starting "
                    "with the entity number, no header); check --input-format; the store is unchanged")
            ent_num, name, sdn_type, program = (c.strip() for c in row[:4])
            remarks = row[11]
            tail = remarks.rstrip()
            for m in _REMARK_ADDRESS.finditer(remarks):
                asset, address = m.group(1), m.group(2)
                ps.rows_read += 1
                if m.end() >= len(tail) and not tail.endswith((".", ";")):
                    ps.skip("cut short (SDN.CSV truncates long Remarks; the advanced XML has it)", address)
                    continue
                programs = [x.strip() for x in program.replace("] [", ";").strip("[]").split(";") if x.strip()]
                details = json.dumps({
                    "sdn_id": ent_num, "programs": ";".join(programs),
                    "party_type": "" if sdn_type == "-0-" else sdn_type.title(),
                    "feature": FEATURE_PREFIX + asset,
                }, sort_keys=True)
                _add_sdn(ps, address.rstrip(".,"), asset, name, programs, confidence, details)
    return [finish(ps, "OFAC SDN.CSV")]
