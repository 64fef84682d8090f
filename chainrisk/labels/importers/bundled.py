"""chainrisk's own registry: ``datasets/labels/*.csv`` (facts written down with their public source URL per row)
plus one ``token_contract`` label per token of the store's token registry (``datasets/tokens.csv``).

Loaded explicitly (``chainrisk labels import --input-format bundled``, also part of ``chainrisk labels update``), not at
store open: a bank decides when a new chainrisk release's registry enters its label store, and the import is
recorded like any other source version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...data import LABELS_DIR
from ...errors import InputError
from ..model import ParsedSource
from .common import Options
from .generic import import_csv

REGISTRY = LABELS_DIR


def registry_files() -> list[Path]:
    return sorted(REGISTRY.glob("*.csv"))


def import_bundled(paths: list[Path], opts: Options, store: Any) -> list[ParsedSource]:
    if paths:
        raise InputError("--input-format bundled loads chainrisk's own registry and takes no files; "
                         "use --input-format csv for your own label files")
    files = registry_files()
    if not files:
        raise InputError(f"the bundled label registry ({REGISTRY.name}/) is missing from this installation; "
                         "reinstall chainrisk")
    out = import_csv(files, Options(version=opts.version))
    for ps in out:
        ps.format = "bundled"
    tokens = ParsedSource("chainrisk:tokens", "bundled", opts.version, "datasets/tokens.csv")
    for t in store.tokens():
        tokens.rows_read += 1
        kind = {"stablecoin": "stablecoin", "rwa": "RWA token"}.get(t.kind, "token")
        issuer = f", issuer {t.issuer}" if t.issuer else ""
        tokens.add(t.contract, "token_contract", f"{t.symbol} {kind} contract ({t.name or t.symbol}{issuer})", 50,
                   chain=t.chain, details=f"kind={t.kind}")
    if tokens.records:
        import hashlib

        digest = hashlib.sha256("\n".join(
            f"{r.chain},{r.address},{r.name}" for r in sorted(tokens.records, key=lambda r: (r.chain, r.address))
        ).encode()).hexdigest()
        tokens.sha256 = digest
        tokens.version = opts.version or f"sha256:{digest[:12]}"
        out.append(tokens)
    return out
