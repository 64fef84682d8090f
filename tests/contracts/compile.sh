#!/usr/bin/env bash
# Regenerate the ABI + bytecode JSON files of the test contracts (needs `npm ci` first).
set -euo pipefail
cd "$(dirname "$0")/../.."
node tests/contracts/compile.js
