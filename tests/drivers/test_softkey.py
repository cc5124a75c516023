"""PKCS#12 files as soft tokens (certs_test/*.p12, password ``1234``).

Signatures are checked with ``cryptography`` against the certificate's public key, not
by asking the key under test to verify itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from drivers import KeyNotFoundError, KeySigner, PinIncorrectError, Pkcs12Key, TokenError

PASSWORD = "1234"
DATA = "Quyết định số 123/QĐ-UBND ngày 01/01/2025".encode()
HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


def _pem(pki: Path, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((pki / f"{name}.crt.pem").read_bytes())


def _common_name(certificate: x509.Certificate) -> str:
    (attribute,) = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(attribute.value)


def _rsa_public(key: Pkcs12Key) -> rsa.RSAPublicKey:
    public = key.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    return public


@pytest.fixture(scope="module")
def rsa2048(pki: Path) -> Pkcs12Key:
    return Pkcs12Key.load(pki / "official-rsa2048.p12", PASSWORD)


# -- loading ---------------------------------------------------------------------------


def test_load_rsa2048(rsa2048: Pkcs12Key, pki: Path) -> None:
    assert _common_name(rsa2048.certificate) == "Nguyễn Thị Lấp Lánh Ánh"
    assert rsa2048.certificate == _pem(pki, "official-rsa2048")
    assert rsa2048.key_type == "RSA"
    assert rsa2048.key_size == 2048
    assert rsa2048.path == pki / "official-rsa2048.p12"


def test_load_keeps_the_issuer_chain(rsa2048: Pkcs12Key, pki: Path) -> None:
    assert _pem(pki, "gov-ca-g2") in rsa2048.chain
    assert _pem(pki, "gov-root-g2") in rsa2048.chain
    assert rsa2048.certificate not in rsa2048.chain


def test_private_key_matches_certificate(rsa2048: Pkcs12Key) -> None:
    assert rsa2048.private_key.public_key() == rsa2048.certificate.public_key()


@pytest.mark.parametrize(
    ("name", "key_type", "key_size"),
    [("official-ec", "EC", 256), ("official-rsa3072", "RSA", 3072), ("org-omon", "RSA", 2048)],
)
def test_load_key_types(pki: Path, name: str, key_type: str, key_size: int) -> None:
    key = Pkcs12Key.load(pki / f"{name}.p12", PASSWORD)
    assert key.key_type == key_type
    assert key.key_size == key_size
    assert key.certificate == _pem(pki, name)


def test_path_given_as_string(pki: Path) -> None:
    key = Pkcs12Key.load(str(pki / "official-ec.p12"), PASSWORD)
    assert key.path == pki / "official-ec.p12"
    assert _common_name(key.certificate) == "Lê Thị Ngọc Ẩn"


def test_is_a_key_signer(rsa2048: Pkcs12Key) -> None:
    assert isinstance(rsa2048, KeySigner)
    assert not isinstance(rsa2048.certificate, KeySigner)


# -- signing ---------------------------------------------------------------------------


@pytest.mark.parametrize("hash_name", sorted(HASHES))
def test_sign_pkcs1v15(rsa2048: Pkcs12Key, hash_name: str) -> None:
    signature = rsa2048.sign(DATA, hash_algorithm=hash_name)
    assert len(signature) == 256
    public = _rsa_public(rsa2048)
    public.verify(signature, DATA, padding.PKCS1v15(), HASHES[hash_name])
    with pytest.raises(InvalidSignature):
        public.verify(signature, DATA + b".", padding.PKCS1v15(), HASHES[hash_name])


def test_sign_default_hash_is_sha256(rsa2048: Pkcs12Key) -> None:
    signature = rsa2048.sign(DATA)
    _rsa_public(rsa2048).verify(signature, DATA, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("hash_name", sorted(HASHES))
def test_sign_pss_salt_is_digest_length(rsa2048: Pkcs12Key, hash_name: str) -> None:
    algorithm = HASHES[hash_name]
    signature = rsa2048.sign(DATA, hash_algorithm=hash_name, pss=True)
    public = _rsa_public(rsa2048)
    public.verify(signature, DATA, padding.PSS(padding.MGF1(algorithm), algorithm.digest_size),
                  algorithm)
    # Not PKCS#1 v1.5, and not any other salt length.
    with pytest.raises(InvalidSignature):
        public.verify(signature, DATA, padding.PKCS1v15(), algorithm)
    with pytest.raises(InvalidSignature):
        public.verify(signature, DATA, padding.PSS(padding.MGF1(algorithm), 0), algorithm)


def test_sign_pss_is_randomised(rsa2048: Pkcs12Key) -> None:
    first = rsa2048.sign(DATA, pss=True)
    assert first != rsa2048.sign(DATA, pss=True)
    assert rsa2048.sign(DATA) == rsa2048.sign(DATA), "PKCS#1 v1.5 is deterministic"


@pytest.mark.parametrize("hash_name", sorted(HASHES))
def test_sign_ecdsa_der(pki: Path, hash_name: str) -> None:
    key = Pkcs12Key.load(pki / "official-ec.p12", PASSWORD)
    signature = key.sign(DATA, hash_algorithm=hash_name)
    # A DER ECDSA-Sig-Value (RFC 5480 §2.2), not raw r||s.
    assert signature[0] == 0x30
    assert signature[1] == len(signature) - 2
    r, s = decode_dss_signature(signature)
    assert 0 < r < 2**256 and 0 < s < 2**256
    public = key.certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, DATA, ec.ECDSA(HASHES[hash_name]))
    with pytest.raises(InvalidSignature):
        public.verify(signature, DATA[1:], ec.ECDSA(HASHES[hash_name]))


def test_sign_accepts_dashed_hash_name(rsa2048: Pkcs12Key) -> None:
    signature = rsa2048.sign(DATA, hash_algorithm="SHA-384")
    _rsa_public(rsa2048).verify(signature, DATA, padding.PKCS1v15(), hashes.SHA384())


def test_sign_rejects_unknown_hash(rsa2048: Pkcs12Key) -> None:
    with pytest.raises(ValueError, match="md5"):
        rsa2048.sign(DATA, hash_algorithm="md5")


# -- failures --------------------------------------------------------------------------


def test_wrong_password(pki: Path) -> None:
    path = pki / "official-rsa2048.p12"
    with pytest.raises(PinIncorrectError) as info:
        Pkcs12Key.load(path, "4321")
    assert str(path) in str(info.value)
    assert info.value.token == str(path)


def test_missing_password_for_protected_file(pki: Path) -> None:
    with pytest.raises(PinIncorrectError):
        Pkcs12Key.load(pki / "official-ec.p12", None)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "khong-co.p12"
    with pytest.raises(KeyNotFoundError) as info:
        Pkcs12Key.load(path, PASSWORD)
    assert isinstance(info.value, TokenError)
    assert str(path) in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_pem_certificate_is_not_pkcs12(pki: Path) -> None:
    path = pki / "official-rsa2048.crt.pem"
    with pytest.raises(TokenError) as info:
        Pkcs12Key.load(path, PASSWORD)
    assert not isinstance(info.value, PinIncorrectError)
    assert str(path) in str(info.value)


def test_der_certificate_is_not_a_wrong_password(pki: Path) -> None:
    # A DER certificate starts with a SEQUENCE like PKCS#12 does; it is still not a
    # PKCS#12 file, so the user must not be told the password is wrong.
    path = pki / "official-rsa2048.crt.der"
    with pytest.raises(TokenError) as info:
        Pkcs12Key.load(path, PASSWORD)
    assert not isinstance(info.value, PinIncorrectError), str(info.value)
