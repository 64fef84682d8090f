"""The screening service (``chainrisk serve``): an HTTP API for bank systems over one chainrisk store.

Modules, as an import tree (each imports only those before it): :mod:`.errors` (stable error codes),
:mod:`.keys` (API keys, stored hashed), :mod:`.audit` (buffered audit log), :mod:`.limits` (token buckets),
:mod:`.policy` (what each role may see), :mod:`.answers` (lookup-contract JSON, fast), :mod:`.jobs` (screening
jobs) <- :mod:`.state` (settings and everything the service holds, in one object) <- :mod:`.gate` (keys, roles,
limits, audit per request) and :mod:`.http` (what routes share) <- :mod:`.routes` (the endpoints by group:
health, addresses, screen, runs, admin) <- :mod:`.app` (``create_app``). See ``docs/service.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Settings", "create_app", "serve"]

if TYPE_CHECKING:
    from .app import create_app, serve
    from .state import Settings


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
