"""Fixtures of the engine tests: one local Spark session for the whole test run (it takes ~10 s to start)."""

from __future__ import annotations

import shutil

import pytest
from support.env import need


def _spark_available() -> bool:
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError:
        return False
    return shutil.which("java") is not None


@pytest.fixture(scope="session")
def spark_session():
    """One local Spark session (2 cores, loopback only) for the whole test run: it takes ~10 s to start."""
    need(_spark_available(), "pyspark/sqlglot (pip install '.[spark]') or Java 17 is not installed")
    from chainrisk.engine.spark_engine import local_session

    sp = local_session(2, shuffle_partitions=2, conf={"spark.driver.memory": "2g"})
    yield sp
    sp.stop()
