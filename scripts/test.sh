#!/usr/bin/env bash
# Install the project, its test tools and the cluster extra (Ray, for tests/test_distributed.py)
# into .venv (created if missing), then lint, type-check and test.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev,cluster]"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# A crash in native code (at exit too) prints every thread's Python stack, not just "Segmentation fault".
PYTHONFAULTHANDLER=1 .venv/bin/python -m pytest "$@"
