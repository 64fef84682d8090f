"""Shared fixtures: a real DuckDB store in a temp folder, and the shared real datasets (skipped when absent on a
user's clone, a failure under CI=true: see :func:`need`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.env import need, under_ci

import chainrisk

__all__ = ["need", "under_ci"]

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
    need(SHARED_DATASETS.is_dir(),
         "../shared/datasets is not present (it ships beside the project in CI, not in a user's clone)")
    return SHARED_DATASETS
