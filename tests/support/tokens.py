"""The SoftHSM2 test tokens, set up the way a user imports keys: labels and CKA_IDs as
real tokens carry them (diacritics, apostrophes, keys and certificates under different
ids), two tokens with one label, and one key with CKA_ALWAYS_AUTHENTICATE.

The ``hsm`` fixture (tests/conftest.py) builds them once per session with
:func:`build` and :func:`add_always_authenticate_key`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from certs_test.softhsm import USER_PIN, SoftHSM
from tests.support.paths import PKI


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


def build(directory: Path) -> SoftHSM:
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


def add_always_authenticate_key(hsm: SoftHSM) -> None:
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
