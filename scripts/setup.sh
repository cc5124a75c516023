#!/usr/bin/env bash
# Install everything signsvc needs on a fresh Debian 12 machine, then the package
# itself (editable, with test extras) in ./.venv.
#
#   scripts/setup.sh            # as root, or as a user with sudo
#
# Idempotent: re-running it only installs what is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

# System packages:
#   softhsm2                  real PKCS#11 token for tests and the demo
#   opensc opensc-pkcs11      pkcs11-tool (importing certificates) and the PIV module
#   p11-kit p11-kit-modules   the module registry signsvc discovers modules from
#   pcscd vsmartcard-vpcd     the PC/SC stack for the virtual smart card
#   poppler-utils             pdfsig / pdftoppm / pdffonts, independent PDF checkers
#   libnss3-tools             certutil / vfychain: the NSS trust store pdfsig checks with
#   icc-profiles-free         sRGB profile for the PDF/A bad-input case
#   fonts-liberation2         Times-New-Roman-metric serif with Vietnamese coverage
#   chromium                  headless render check of the HTML verify report (~124 MB)
#   qpdf                      encrypts test PDFs with another producer than pyHanko
#   python3-tk                the service's consent window (Tk, in the standard library)
#   xvfb xdotool x11-utils    the consent window tested on a virtual screen, clicked
apt_packages=(
    softhsm2 opensc opensc-pkcs11 p11-kit p11-kit-modules
    pcscd vsmartcard-vpcd poppler-utils libnss3-tools icc-profiles-free
    fonts-liberation2 chromium qpdf python3-tk xvfb xdotool x11-utils
    python3-venv
)

missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}"
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The manylinux wheel of python-pkcs11: no compiler or PKCS#11 headers needed.
.venv/bin/python -m pip install -q --only-binary=python-pkcs11 -e '.[test]'

echo "signsvc installed in $here/.venv ($(.venv/bin/signsvc --version))"
