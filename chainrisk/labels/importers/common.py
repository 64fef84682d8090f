"""What every importer shares: the options of an import, and how a parsed source is named, versioned and refused
when it holds no usable label."""

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
    allow_missing_end_marker: bool = False   # legacy SDN.CSV: accept a file without its 0x1A end marker


Importer = Callable[[list[Path], Options, Any], list[ParsedSource]]


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
