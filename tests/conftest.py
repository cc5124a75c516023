"""Shared fixtures: the test PKI and real SoftHSM2 tokens set up like a user's.

SoftHSM reads ``SOFTHSM2_CONF`` once, when the module is first initialised in a
process, and python-pkcs11 keeps modules loaded. So one session-wide SoftHSM
configuration holds every test token, and it is exported before anything loads the
module. Tests that need a fresh process (PIN counting, CLI) run ``signsvc`` in a
subprocess with :attr:`SoftHSM.env`.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from certs_test.softhsm import USER_PIN, SoftHSM, tools_missing  # noqa: E402

PKI = ROOT / "certs_test"

pytest_plugins = ["tests.virtual_card.fixtures"]


def need(*tools: str) -> None:
    """Skip when a tool is genuinely missing on a developer machine; fail in CI."""
    missing = [t for t in tools if shutil.which(t) is None]
    if "softhsm" in tools:
        missing = [m for m in missing if m != "softhsm"] + tools_missing()
    if missing:
        message = f"missing tools: {', '.join(missing)} (run scripts/setup.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@dataclass(frozen=True)
class Identity:
    """One key/certificate pair placed on a test token."""

    name: str
    """The certs_test/ entity."""
    key_id: str | None
    """CKA_ID (hex) of the key pair, None for a certificate without key."""
    key_label: str
    cert_id: str | None
    """CKA_ID (hex) of the certificate object, None for a key without certificate."""
    cert_label: str


VIETTEL = "TRẦN NGỌC TÚ"
ANH = "Nguyễn Thị Lấp Lánh Ánh"
ORG = "Sở Nội vụ"

TOKENS: dict[str, list[Identity]] = {
    # A Viettel-CA-style token: key label differs from the certificate label, which has
    # diacritics and an apostrophe; the CA chain is stored without keys.
    VIETTEL: [
        Identity("official-viettel", "a1", "Viettel-CA Private Key", "a1",
                 "TRẦN NGỌC TÚ's Viettel-CA SHA2 Certificate"),
        Identity("viettel-ca", None, "", "c1", "Viettel-CA SHA2"),
        Identity("vn-root", None, "", "c2", "Vietnam National Root CA"),
    ],
    # Every pairing case on one token.
    ANH: [
        Identity("official-rsa2048", "01", "", "01",
                 "Nguyễn Thị Lấp Lánh Ánh's Ban Cơ yếu Chính phủ Certificate"),
        Identity("official-ec", "02", "Khóa ECDSA", "02", "Lê Thị Ngọc Ẩn's EC Certificate"),
        Identity("org-sonoivu", "0f", "Khóa mồ côi", None, ""),
        Identity("official-rsa3072", None, "", "0e", "Trần Văn Đức (chỉ chứng thư)"),
        # Key and certificate imported under different CKA_IDs: paired by public key.
        Identity("org-omon", "aa", "Khóa UBND", "bb", "UBND quận Ô Môn"),
        Identity("gov-ca-g2", None, "", "c1", "CA phục vụ các cơ quan Nhà nước G2"),
    ],
    ORG: [
        Identity("org-sonoivu", "05", "Sở Nội vụ key", "05", "Sở Nội vụ thành phố Cần Thơ"),
    ],
}
TWIN_LABEL = "Trùng nhãn"
"""Two tokens carry this label (built below), for ambiguity tests."""
ALWAYS_AUTH = "Luôn xác thực"
"""Token whose key (CKA_ID 09, official-rsa2048) has CKA_ALWAYS_AUTHENTICATE, like a
SafeNet 5110 CC or PIV key 9C: every signature needs a context-specific login."""


def _build(directory: Path) -> SoftHSM:
    hsm = SoftHSM(directory)
    for label, identities in TOKENS.items():
        hsm.init_token(label)
        for ident in identities:
            if ident.key_id is not None:
                hsm.import_key(label, PKI / f"{ident.name}.key.pem", id_hex=ident.key_id,
                               label=ident.key_label)
            if ident.cert_id is not None:
                hsm.import_cert(label, PKI / f"{ident.name}.crt.der", id_hex=ident.cert_id,
                                label=ident.cert_label)
    for _ in range(2):
        hsm.init_token(TWIN_LABEL)
    hsm.init_token(ALWAYS_AUTH)
    hsm.import_cert(ALWAYS_AUTH, PKI / "official-rsa2048.crt.der", id_hex="09",
                    label="Chứng thư ký từng lần")
    return hsm


def _add_always_authenticate_key(hsm: SoftHSM) -> None:
    """softhsm2-util cannot set CKA_ALWAYS_AUTHENTICATE, so create the key object
    directly (C_CreateObject); SoftHSM then enforces the context-specific login."""
    import pkcs11
    from cryptography.hazmat.primitives import serialization
    from pkcs11.constants import Attribute
    from pkcs11.util.rsa import decode_rsa_private_key

    key = serialization.load_pem_private_key(
        (PKI / "official-rsa2048.key.pem").read_bytes(), None)
    attrs = decode_rsa_private_key(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    attrs.update({Attribute.ID: bytes.fromhex("09"), Attribute.LABEL: "",
                  Attribute.TOKEN: True, Attribute.SIGN: True, Attribute.PRIVATE: True,
                  Attribute.SENSITIVE: True, Attribute.ALWAYS_AUTHENTICATE: True})
    # Deliberately loaded under the unresolved (symlink) path, as pyHanko would:
    # drivers.load_module must reuse this handle rather than fail "already initialized".
    token = pkcs11.lib(str(hsm.module)).get_token(token_label=ALWAYS_AUTH)
    with token.open(rw=True, user_pin=USER_PIN) as session:
        session.create_object(attrs)


@pytest.fixture(scope="session")
def hsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHSM]:
    """The session's SoftHSM with every token of :data:`TOKENS` (PIN ``123456``)."""
    need("softhsm", "softhsm2-util", "pkcs11-tool")
    hsm = _build(tmp_path_factory.mktemp("softhsm"))
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
    _add_always_authenticate_key(hsm)
    yield hsm
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture(scope="session")
def pin() -> str:
    return USER_PIN


@pytest.fixture(scope="session")
def pki() -> Path:
    return PKI


from certs_test.services import TestServices  # noqa: E402 (after the sys.path set-up)


@pytest.fixture(scope="session")
def services() -> Iterator[TestServices]:
    """The test PKI's CRL, certificate, OCSP and TSA services, for the whole session.

    They listen on 127.0.0.1:18480, the port baked into every certificate's CDP and AIA
    URLs, so pyHanko finds them on its own. Tests that flip ``delay``/``fail_*`` restore
    them (use ``services.failing(...)``); compare ``hits`` after ``reset_hits()``.
    """
    with TestServices(PKI) as running:
        yield running


@pytest.fixture
def tsa_auth_services() -> Iterator[TestServices]:
    """A second instance on a free port whose TSA requires HTTP basic auth
    (``tsa_auth`` holds the credentials). Only its TSA URL is meaningful: certificates
    point at port 18480."""
    with TestServices(PKI, port=0, tsa_auth=("tsa-user", "tsa-pass-TEST-ONLY")) as running:
        yield running
