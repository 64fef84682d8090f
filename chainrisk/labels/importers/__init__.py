"""Label importers, one module per family of formats. Each reads files (never the store, except the formats that
derive labels from data already in it) and returns :class:`~chainrisk.labels.model.ParsedSource` objects.

========================  ==================================================================  =====================
format                    input                                                               default source
========================  ==================================================================  =====================
csv                       generic ``address,category,label,source[,confidence][,chain]``      the ``source`` column
list                      one address per line (``--category`` required)                      file name stem
ofac-xml                  OFAC ``sdn_advanced.xml``                                          ofac-sdn
ofac-csv                  OFAC legacy ``SDN.CSV`` (addresses inside Remarks)                   ofac-sdn-legacy
tagpack                   GraphSense TagPack YAML                                             tagpack:<file stem>
blacklist-events          issuer freeze events already ingested into the store               onchain-blacklist
tether-csv                Dune export of USDT ``AddedBlackList`` events                        tether-usdt-blacklist
mew-darklist              MyEtherWallet ``addresses-darklist.json``                           mew-darklist
scamsniffer               ScamSniffer ``address.json`` / ``combined.json``                      scamsniffer
cryptoscamdb              CryptoScamDB addresses CSV                                          cryptoscamdb
etherscan                 Etherscan label-cloud export (accounts or exchange label)           etherscan:<stem>
etherscan-tokens          Etherscan token label export                                        etherscan:<stem>
spellbook                 Dune Spellbook label tables (cex, stablecoins, rwa, ofac, bridges)  spellbook:<stem>
bundled                   chainrisk's own registry in ``datasets/labels`` + token registry    chainrisk:<stem>
========================  ==================================================================  =====================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model import ParsedSource


@dataclass(frozen=True)
class Options:
    source: str | None = None        # override the source name
    category: str | None = None      # for list formats (required there); an override elsewhere
    confidence: int | None = None    # override the format's default confidence
    chain: str | None = None         # for list formats: the chain of the addresses
    version: str | None = None       # override the source version (default: the file's own date or hash)


Importer = Callable[[list[Path], Options, Any], list[ParsedSource]]


def formats() -> dict[str, Importer]:
    from . import blacklist, bundled, community, etherscan, generic, ofac, spellbook, tagpack

    return {
        "csv": generic.import_csv,
        "list": generic.import_list,
        "ofac-xml": ofac.import_xml,
        "ofac-csv": ofac.import_legacy_csv,
        "tagpack": tagpack.import_tagpack,
        "blacklist-events": blacklist.import_events,
        "tether-csv": blacklist.import_tether_csv,
        "mew-darklist": community.import_mew,
        "scamsniffer": community.import_scamsniffer,
        "cryptoscamdb": community.import_cryptoscamdb,
        "etherscan": etherscan.import_accounts,
        "etherscan-tokens": etherscan.import_tokens,
        "spellbook": spellbook.import_spellbook,
        "bundled": bundled.import_bundled,
    }


FORMAT_NAMES = ("csv", "list", "ofac-xml", "ofac-csv", "tagpack", "blacklist-events", "tether-csv", "mew-darklist",
                "scamsniffer", "cryptoscamdb", "etherscan", "etherscan-tokens", "spellbook", "bundled")
# Formats that read no files (their data is in the store or shipped with chainrisk).
NO_PATHS = frozenset({"blacklist-events", "bundled"})


def one_source(paths: list[Path], opts: Options, fmt: str, default: str, version: str | None,
               origin: str | None = None, sha256: str | None = None) -> ParsedSource:
    from ..model import file_sha256

    if sha256 is None and len(paths) == 1:
        sha256 = file_sha256(paths[0])
    elif sha256 is None and paths:
        # several files make one version: hash of their sorted hashes (order-independent)
        import hashlib

        sha256 = hashlib.sha256("".join(sorted(file_sha256(p) for p in paths)).encode()).hexdigest()
    return ParsedSource(
        source=opts.source or default, format=fmt, version=opts.version or version,
        origin=origin or ", ".join(p.name for p in paths), sha256=sha256,
    )


def conf(opts: Options, default: int) -> int:
    return opts.confidence if opts.confidence is not None else default


def finish(ps: ParsedSource, what: str) -> ParsedSource:
    """Refuse a version with no usable label: the file is not of this format (or holds nothing)."""
    from ...errors import InputError

    if ps.version is None and ps.sha256:
        ps.version = f"sha256:{ps.sha256[:12]}"  # no date in the data: the content hash names the version
    if not ps.records:
        detail = ""
        if ps.skipped:
            reason, n = ps.skipped.most_common(1)[0]
            detail = f" ({ps.skipped_total} rows rejected, e.g. {n} x {reason}: {ps.skipped_examples[reason]!r})"
        raise InputError(f"{ps.origin}: no usable labels found{detail}; is it really a {what} file? "
                         "Check --input-format; the store is unchanged")
    return ps
