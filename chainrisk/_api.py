"""Make a job module callable as its main function.

``chainrisk.lookup`` is both a module and the function the package exports lazily. Importing the submodule (as the
CLI and the tests do) makes Python set the package attribute to the module, shadowing the function; a module made
callable here forwards the call, so ``chainrisk.lookup(store, [...])`` works whichever was imported first.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any


def export_module_as(module_name: str, func: Callable[..., Any]) -> None:
    """Let ``sys.modules[module_name](...)`` call ``func``."""

    class _CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

    sys.modules[module_name].__class__ = _CallableModule
