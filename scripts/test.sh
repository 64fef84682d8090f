#!/usr/bin/env bash
# The test command (README). Sets everything up from scratch when needed, then runs lint, types and tests.
# `--fast` (first argument) leaves out the tests marked slow, for the edit loop; other arguments go to pytest,
# e.g. `bash scripts/test.sh -k ingest -x` or `bash scripts/test.sh --fast tests/engine`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
MARK=()
if [ "${1:-}" = "--fast" ]; then
    shift
    MARK=(-m "not slow")
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
npm ci --no-audit --no-fund --loglevel=error          # the anvil node and solc, pinned by package-lock.json
.venv/bin/ruff check chainrisk tests bench
.venv/bin/mypy
.venv/bin/python -m pytest "${MARK[@]}" "$@"
