#!/usr/bin/env bash
# Lint, type-check and run the whole test suite (real SoftHSM2 tokens, pdfsig, pyHanko).
# Run scripts/setup.sh first. Extra arguments go to pytest.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
.venv/bin/ruff check .
.venv/bin/mypy
# pytest exits 5 when it collects nothing; that fails here too, as it should.
.venv/bin/python -m pytest "$@"
