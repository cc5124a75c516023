#!/usr/bin/env bash
# The main job on built-in test material: create the demo SoftHSM tokens from
# certs_test/ (an official's and her organisation's), list them, test-sign, then sign
# the sample decisions in samples/ with one PIN entry: the leader at PAdES B-LT with her
# handwritten signature (time-stamp and revocation data from the test PKI services
# started here on 127.0.0.1:18480), then the organisation's seal on top, and the
# appendix with the organisation's top-right signature. Run scripts/setup.sh first.
# TEST ONLY: the demo PIN is 123456.
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
echo "== test PKI services (TSA, OCSP, CRL) on 127.0.0.1:18480"
.venv/bin/python -m certs_test.services --port 18480 >"$demo/services.log" 2>&1 &
services=$!
trap 'kill $services 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    grep -q "127.0.0.1:18480" "$demo/services.log" 2>/dev/null && break
    sleep 0.1
done

rm -rf "$demo/signed"
name="Nguyễn Thị Lấp Lánh Ánh"
org="Ủy ban nhân dân quận Ô Môn"
echo
echo "== signsvc sign: the leader signs three decisions at B-LT (one PIN for the batch)"
SIGNSVC_DEMO_PIN=123456 .venv/bin/signsvc sign samples/quyet-dinh-*.pdf --out "$demo/signed" \
    --module "$module" --token "$name" --cert-id 01 --pin-env SIGNSVC_DEMO_PIN \
    --level B-LT --tsa http://127.0.0.1:18480/tsa --trust certs_test/gov-root-g2.crt.pem \
    --reason "Phê duyệt" --location "Cần Thơ" --journal "$demo/audit.sqlite3" \
    --profile personal --signature-image certs_test/images/signature.png --anchor "$name"

echo
echo "== signsvc sign: the clerk issues them with the organisation's seal (B-T)"
SIGNSVC_DEMO_PIN=123456 .venv/bin/signsvc sign "$demo"/signed/quyet-dinh-*.pdf \
    --suffix "-ban-hanh" --module "$module" --token "UBND quận Ô Môn" \
    --pin-env SIGNSVC_DEMO_PIN --level B-T --tsa http://127.0.0.1:18480/tsa \
    --reason "Ban hành" --journal "$demo/audit.sqlite3" --profile organisation \
    --seal-image certs_test/images/seal.png --seal-size 36 --org-name "$org" \
    --chain certs_test/gov-ca-g2.crt.pem

echo
echo "== signsvc sign: the appendix in a separate file, organisation only, top right"
SIGNSVC_DEMO_PIN=123456 .venv/bin/signsvc sign samples/phu-luc-123.pdf --out "$demo/signed" \
    --module "$module" --token "UBND quận Ô Môn" --pin-env SIGNSVC_DEMO_PIN \
    --level B-T --tsa http://127.0.0.1:18480/tsa --journal "$demo/audit.sqlite3" \
    --profile appendix --doc-number "Số: 123/QĐ-UBND" --chain certs_test/gov-ca-g2.crt.pem

echo
echo "== signsvc audit"
.venv/bin/signsvc audit --journal "$demo/audit.sqlite3"

echo
echo "== signsvc verify: the admin checks the whole folder (ETSI verdicts, HTML report)"
.venv/bin/signsvc verify "$demo/signed" --trust certs_test/gov-root-g2.crt.pem --online \
    --store "$demo/verify.sqlite3" --report "$demo/bao-cao-xac-minh.html"

issued="$demo/signed/quyet-dinh-123-ban-hanh.pdf"
echo
echo "== pdfsig $issued"
pdfsig "$issued" | grep -E "Signature #|Common Name|Signature Validation|Total"
pdftoppm -r 60 -png -singlefile "$issued" "$demo/quyet-dinh-123-ban-hanh"

echo
echo "Signed decisions: $demo/signed/ (NAME.pdf by the leader, NAME-ban-hanh.pdf issued);"
echo "page 1 of one, rendered: $demo/quyet-dinh-123-ban-hanh.png"
echo "Verification report: $demo/bao-cao-xac-minh.html"
echo "Demo tokens live in $demo; to use them yourself:"
echo "  export SOFTHSM2_CONF=$SOFTHSM2_CONF"
