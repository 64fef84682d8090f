"""The generic formats: the label CSV contract and plain address lists."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from ...errors import InputError, UsageError
from ...taxonomy import check_category
from ..model import ParsedSource, check_confidence, file_sha256, parse_time, read_text
from .common import Options, conf, finish, one_source

REQUIRED = ("address", "category", "label", "source")
OPTIONAL = ("confidence", "chain", "asset", "valid_from", "valid_to", "url", "details")
DEFAULT_CONFIDENCE = 50


def read_csv(path: Path, what: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file, or an InputError when it is not CSV text with a header."""
    text = read_text(path, what)
    if not text.strip():
        raise InputError(f"{path.name} is empty; nothing imported")
    if text.lstrip()[:1] in ("{", "[", "<"):
        raise InputError(f"{path.name} looks like JSON/XML, not a {what} CSV; check --input-format")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    return header, list(reader)


def import_csv(paths: list[Path], opts: Options, store: Any = None) -> list[ParsedSource]:
    """``address,category,label,source[,confidence][,chain]`` (+ optional asset, valid_from, valid_to, url,
    details). Every source named in the files is replaced; ``--source`` puts all rows in one source."""
    by_source: dict[str, ParsedSource] = {}
    for path in paths:
        header, rows = read_csv(path, "label")
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise InputError(
                f"{path.name} is not a label CSV: missing column(s) {', '.join(missing)}; the header must be "
                f"address,category,label,source[,confidence][,chain] (optional: {', '.join(OPTIONAL[2:])})"
            )
        unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
        if unknown:
            raise InputError(f"{path.name}: unknown column(s) {', '.join(unknown)}; accepted: "
                             f"{', '.join(REQUIRED + OPTIONAL)}")
        sha = file_sha256(path)
        for lineno, row in enumerate(rows, start=2):
            src = opts.source or (row.get("source") or "").strip()
            if not src:
                raise InputError(f"{path.name} line {lineno}: empty source; every row names its source "
                                 "(or give --source)")
            ps = by_source.get(src)
            if ps is None:
                ps = by_source[src] = ParsedSource(src, "csv", opts.version or f"sha256:{sha[:12]}", path.name, sha)
            elif path.name not in ps.origin.split(", "):
                ps.origin += f", {path.name}"
                ps.sha256 = None
            ps.rows_read += 1
            try:
                category = check_category(opts.category or row.get("category") or "")
                confidence = check_confidence(
                    opts.confidence if opts.confidence is not None else (row.get("confidence") or DEFAULT_CONFIDENCE))
                valid_from = parse_time(row.get("valid_from"))
                valid_to = parse_time(row.get("valid_to"))
            except (InputError, ValueError) as e:
                raise InputError(f"{path.name} line {lineno}: {e}") from None
            details = " ".join(x for x in ((row.get("url") or "").strip(), (row.get("details") or "").strip()) if x)
            ps.add(row.get("address") or "", category, row.get("label"), confidence,
                   chain=(row.get("chain") or opts.chain or "").strip() or None,
                   asset=(row.get("asset") or "").strip() or None, valid_from=valid_from, valid_to=valid_to,
                   details=details or None)
    if not by_source:
        raise InputError(f"{', '.join(p.name for p in paths)}: no rows below the header; nothing imported")
    return [finish(ps, "label CSV") for ps in by_source.values()]


_OFAC_LIST_NAME = re.compile(r"^sanctioned_addresses_([A-Z0-9]+)\.txt$")


def import_list(paths: list[Path], opts: Options, store: Any = None) -> list[ParsedSource]:
    """One address per line (``#`` comments and blank lines ignored), or a CSV whose header has an ``address``
    column (and optionally ``name`` or ``label``, e.g. the ultrasound.money OFAC list). ``--category`` is
    required; the source is ``--source`` or the file's stem. Files named ``sanctioned_addresses_<ASSET>.txt`` (the
    OFAC per-asset lists) record the asset and place non-EVM/TRON addresses on that asset's chain."""
    if not opts.category:
        raise UsageError("--input-format list needs --category (e.g. --category sanctions)")
    category = check_category(opts.category)
    if len(paths) > 1 and not opts.source:
        raise UsageError("several list files make one source: give it a name with --source")
    ps = one_source(paths, opts, "list", paths[0].stem, None)
    for path in paths:
        text = read_text(path, "address list")
        first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), "")
        if "address" in [c.strip().lower() for c in first.split(",")]:
            _address_csv(ps, path, category, opts)
            continue
        m = _OFAC_LIST_NAME.match(path.name)
        asset = m.group(1) if m else None
        for line in text.splitlines():
            value = line.strip()
            if not value or value.startswith("#"):
                continue
            ps.rows_read += 1
            if any(ch in value for ch in ",;\t {}[]\"'<>"):
                ps.skip("not a bare address (is this a CSV or JSON file?)", value)
                continue
            ps.add(value, category, opts.source or path.stem, conf(opts, DEFAULT_CONFIDENCE), chain=opts.chain,
                   asset=asset)
    return [finish(ps, "plain address list")]


def _address_csv(ps: ParsedSource, path: Path, category: str, opts: Options) -> None:
    header, rows = read_csv(path, "address list")
    cols = {c.lower(): c for c in header}
    name_col = cols.get("name") or cols.get("label")
    for row in rows:
        ps.rows_read += 1
        name = (row.get(name_col) or "").strip() if name_col else ""
        ps.add(row.get(cols["address"]) or "", category, name or opts.source or path.stem,
               conf(opts, DEFAULT_CONFIDENCE), chain=opts.chain)
