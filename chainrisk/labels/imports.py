"""``import_labels``: read label files in a named format and replace their sources in the store."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import UsageError
from ..store import Store
from .importers import FORMAT_NAMES, NO_PATHS, Options, formats
from .model import ParsedSource
from .store import SourceResult, replace_sources

log = logging.getLogger(__name__)


def parse_labels(
    store: Store, paths: Sequence[str | os.PathLike[str]], format: str, *, source: str | None = None,
    category: str | None = None, confidence: int | None = None, chain: str | None = None,
    version: str | None = None,
) -> list[ParsedSource]:
    """Read ``paths`` in ``format`` without writing anything (a dry run of :func:`import_labels`)."""
    if format not in FORMAT_NAMES:
        raise UsageError(f"unknown label format {format!r}; accepted: {', '.join(FORMAT_NAMES)}")
    ps = [Path(p) for p in paths]
    if not ps and format not in NO_PATHS:
        raise UsageError(f"--input-format {format} needs at least one file")
    for p in ps:
        if not p.is_file():
            from ..errors import InputError

            raise InputError(f"{p.name}: no such file; check the path (nothing was imported)")
    if category is not None:
        from ..taxonomy import check_category

        category = check_category(category)
    opts = Options(source=source, category=category, confidence=confidence, chain=chain, version=version)
    return merge_same_source(formats()[format](ps, opts, store))


def merge_same_source(parsed: list[ParsedSource]) -> list[ParsedSource]:
    """One ParsedSource per source name (``--source`` over several files of a per-file format makes one
    version of one source, not versions replacing each other)."""
    out: dict[str, ParsedSource] = {}
    for p in parsed:
        m = out.get(p.source)
        if m is None:
            out[p.source] = p
            continue
        m.records.extend(p.records)
        m.rows_read += p.rows_read
        m.skipped.update(p.skipped)
        for k, v in p.skipped_examples.items():
            m.skipped_examples.setdefault(k, v)
        m.origin = f"{m.origin}, {p.origin}"
        if p.version and p.version != m.version:
            m.version = ", ".join(x for x in (m.version, p.version) if x)
        m.sha256 = None
    return list(out.values())


def import_labels(
    store: Store, paths: Sequence[str | os.PathLike[str]], format: str, *, source: str | None = None,
    category: str | None = None, confidence: int | None = None, chain: str | None = None,
    version: str | None = None,
) -> list[SourceResult]:
    """Import label files and replace each source they make, atomically (all or nothing).

    ``format`` is one of :data:`~chainrisk.labels.importers.FORMAT_NAMES`. ``source`` renames the source,
    ``category`` is required for ``list`` (an override elsewhere), ``confidence`` overrides the format's
    default, ``chain`` names the chain of list addresses, ``version`` overrides the source version. Rows with an
    invalid address are skipped and counted per reason in the result; a file that is not of the format raises
    :class:`~chainrisk.errors.InputError` and changes nothing.
    """
    parsed = parse_labels(store, paths, format, source=source, category=category, confidence=confidence,
                          chain=chain, version=version)
    results = replace_sources(store, parsed)
    for r in results:
        log.info("labels %s (%s, version %s): %d labels, +%d -%d =%d ~%d, %d rows skipped", r.source, r.format,
                 r.version, r.labels, r.added, r.removed, r.unchanged, r.updated, r.skipped)
    return results
