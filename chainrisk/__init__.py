"""chainrisk: a self-hosted on-chain address risk analyser for stablecoin and RWA exposure.

    >>> import chainrisk
    >>> st = chainrisk.open("case.duckdb")
    >>> chainrisk.ingest_file(st, ["token_transfers.parquet"], format="bigquery")

Public API: :func:`open` / :class:`Store`, :func:`parse_address`, the ingestion functions, and the error
hierarchy in :mod:`chainrisk.errors`. Heavy modules are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .address import Address, parse_address
from .errors import (
    ChainriskError,
    InputError,
    InvalidAddress,
    NoScoringRun,
    PartialError,
    RpcError,
    SourceUnavailable,
    StoreError,
    UsageError,
)
from .store import Store, open
from .version import __version__

__all__ = [
    "Address",
    "ChainriskError",
    "InputError",
    "InvalidAddress",
    "NoScoringRun",
    "PartialError",
    "RpcError",
    "SourceUnavailable",
    "Store",
    "StoreError",
    "UsageError",
    "__version__",
    "evaluate",
    "export",
    "import_labels",
    "ingest_file",
    "ingest_rpc",
    "labels_for",
    "lookup",
    "open",
    "parse_address",
    "report",
    "score",
    "screen",
]

_LAZY = {
    "export": ("chainrisk.engine.spark_engine", "export_store"),
    "ingest_file": ("chainrisk.ingest.file", "ingest_file"),
    "ingest_rpc": ("chainrisk.ingest.rpc", "ingest_rpc"),
    "import_labels": ("chainrisk.labels", "import_labels"),
    "labels_for": ("chainrisk.labels", "labels_for"),
    "lookup": ("chainrisk.answers.lookup", "lookup"),
    "screen": ("chainrisk.answers.screen", "screen"),
    "report": ("chainrisk.answers.report", "report"),
    "score": ("chainrisk.engine.score", "score"),
    "evaluate": ("chainrisk.demo.accuracy", "evaluate"),
}

if TYPE_CHECKING:
    from .answers.lookup import lookup
    from .answers.report import report
    from .answers.screen import screen
    from .demo.accuracy import evaluate
    from .engine.score import score
    from .ingest.file import ingest_file
    from .ingest.rpc import ingest_rpc
    from .labels import import_labels, labels_for


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'chainrisk' has no attribute {name!r}")
