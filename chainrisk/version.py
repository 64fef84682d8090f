"""The installed chainrisk's version (ground layer: imports nothing of chainrisk, so every layer may use it)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

try:
    __version__ = _dist_version("chainrisk")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
