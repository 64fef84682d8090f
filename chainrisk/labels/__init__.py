"""Labels: the taxonomy-checked, source-versioned label store and its importers.

    >>> import chainrisk
    >>> st = chainrisk.open("case.duckdb")
    >>> chainrisk.import_labels(st, ["sdn_advanced.xml"], format="ofac-xml")    # doctest: +SKIP
    >>> chainrisk.labels.labels_for(st, "0x098B716B8Aaf21512996dC57EB0615e2383E2f96")  # doctest: +SKIP

Every import replaces the named source's previous version atomically and reports added / removed / unchanged
counts (:class:`SourceResult`); removed labels are ended, not deleted.
"""

from __future__ import annotations

from .imports import import_labels
from .links import link_labels
from .store import SourceResult, labels_for, list_labels, list_sources, retire_source, special_notes

__all__ = [
    "SourceResult",
    "import_labels",
    "labels_for",
    "link_labels",
    "list_labels",
    "list_sources",
    "retire_source",
    "special_notes",
    "update_labels",
]


def __getattr__(name: str) -> object:
    if name == "update_labels":
        from .update import update_labels

        return update_labels
    raise AttributeError(f"module 'chainrisk.labels' has no attribute {name!r}")
