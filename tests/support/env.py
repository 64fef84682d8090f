"""What a test needs from the machine: skipped on a user's clone, a failure under CI.

``need(condition, reason)`` skips the test with ``reason`` when ``condition`` is false, except under ``CI=true``,
where it fails: CI installs everything (``.ci/run``: Chromium, anvil, ``../shared/datasets`` beside the
checkout), so a missing part there is a broken set-up, and CI must not go green by skipping.
"""

from __future__ import annotations

import os

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def need(condition: object, reason: str) -> None:
    """Skip (fail under CI=true) unless ``condition`` holds."""
    if condition:
        return
    if under_ci():
        pytest.fail(f"CI=true and {reason}; CI must provide it (see .ci/run)", pytrace=False)
    pytest.skip(reason)
