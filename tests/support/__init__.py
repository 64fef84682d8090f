"""Shared test helpers: import them as ``from support.NAME import ...`` (``tests/`` is on pytest's path)."""
