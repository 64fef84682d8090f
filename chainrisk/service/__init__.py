"""The screening service (``chainrisk serve``): an HTTP API for bank systems over one chainrisk store.

Modules: :mod:`.app` (the ASGI app and endpoints), :mod:`.gate` (keys, roles, limits, audit per request),
:mod:`.keys` (API keys, stored hashed), :mod:`.audit` (buffered audit log), :mod:`.limits` (token buckets),
:mod:`.policy` (what each role may see), :mod:`.answers` (lookup-contract JSON, fast), :mod:`.jobs` (screening jobs),
:mod:`.errors` (stable error codes). See ``docs/service.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Settings", "create_app"]

if TYPE_CHECKING:
    from .app import Settings, create_app


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
