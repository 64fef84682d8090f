"""Shared fixtures: a real DuckDB store in a temp folder, and the shared real datasets (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import chainrisk

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


@pytest.fixture
def store(tmp_path: Path):
    st = chainrisk.open(tmp_path / "test.duckdb")
    yield st
    st.close()


@pytest.fixture(scope="session")
def shared() -> Path:
    """The real public datasets in ../shared/datasets (present in CI, absent in a user's clone)."""
    if not SHARED_DATASETS.is_dir():
        if os.environ.get("CI") == "true":   # CI must run them: a missing folder there is a failure, not a skip
            pytest.fail("../shared/datasets is missing under CI=true; the real-format tests cannot run")
        pytest.skip("../shared/datasets is not present (it ships beside the project in CI, not in a user's clone)")
    return SHARED_DATASETS
