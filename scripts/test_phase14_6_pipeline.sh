#!/usr/bin/env bash
# Phase 14.6 end-to-end smoke test on the bundled test data (the seed guide's four steps).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
exec "$PY" scripts/smoke_test.py "$@"
