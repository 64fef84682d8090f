"""Versioned schema, one list of migrations per component.

Each component (``core``, ``labels``, ``scoring``, ...) owns a module here with ``MIGRATIONS: list[str]``; the
n-th string takes that component from version n-1 to n. Migrations only ever get appended. The store applies
missing ones in order at open time, each in its own transaction, and records them in ``schema_migrations``.
"""

from __future__ import annotations

import importlib
import pkgutil

# Components are applied in this order; any other module found here comes after them, alphabetically.
ORDER = ["core", "labels", "scoring", "screening", "service"]


def components() -> list[tuple[str, list[str]]]:
    names = [m.name for m in pkgutil.iter_modules(__path__)]
    ordered = [n for n in ORDER if n in names] + sorted(n for n in names if n not in ORDER)
    out = []
    for name in ordered:
        mod = importlib.import_module(f"{__name__}.{name}")
        out.append((name, list(mod.MIGRATIONS)))
    return out
