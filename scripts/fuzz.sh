#!/usr/bin/env bash
# The long fuzz run of verify_pdf, the strict PDF reader and the CMS parser (issue 13):
# mutants of tests/verify/fuzz_seeds/ and of the hand-built hostile inputs, each in a
# forked process under a hard time limit and an address-space limit. Every input that
# crashes, stalls, runs out of the library's budget or blows up is written to the
# findings folder with a line in its findings.jsonl. Exit 1 when anything was found.
#
#   scripts/fuzz.sh [MINUTES] [more options of python -m tests.verify.fuzz]
#   scripts/fuzz.sh 30 --jobs 2 --seed 13 --out /tmp/fuzz-findings
#
# The CI pass is tests/verify/test_fuzz.py (part of scripts/test.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
minutes=${1:-30}
shift || true
exec .venv/bin/python -m tests.verify.fuzz --minutes "$minutes" "$@"
