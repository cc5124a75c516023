#!/usr/bin/env bash
# The main job on built-in test material: create the demo SoftHSM tokens from
# certs_test/ (an official's and her organisation's), list them, and test-sign with the
# official's key. Run scripts/setup.sh first. TEST ONLY: the demo PIN is 123456.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
demo=${SIGNSVC_DEMO_DIR:-$here/.demo}

SOFTHSM2_CONF=$(.venv/bin/python certs_test/softhsm.py demo "$demo")
export SOFTHSM2_CONF
module=$(.venv/bin/python -c 'from certs_test.softhsm import softhsm_module; print(softhsm_module())')

echo "== signsvc tokens --module $module"
.venv/bin/signsvc tokens --module "$module"

echo
echo "== signsvc tokens --token 'Nguyễn Thị Lấp Lánh Ánh' --cert-id 01 --test-sign"
SIGNSVC_DEMO_PIN=123456 .venv/bin/signsvc tokens --module "$module" \
    --token "Nguyễn Thị Lấp Lánh Ánh" --cert-id 01 --pin-env SIGNSVC_DEMO_PIN --test-sign

echo
echo "Demo tokens live in $demo; to use them yourself:"
echo "  export SOFTHSM2_CONF=$SOFTHSM2_CONF"
