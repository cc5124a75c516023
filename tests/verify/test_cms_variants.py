"""verify_pdf on CMS containers in every form real signers write (issue 13, CMS part).

Each PDF is prepared by pyHanko and carries a CMS built by tests/support/cmsmake.py
under the test PKI (gov-ca-g2), so each verdict can be TOTAL-PASSED and each
negative case differs from a passing one by exactly one thing. The corpus test at
the end reads files other producers made (``../shared/corpora/realworld-dev``).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from signsvc import TrustStore, verify_pdf
from signsvc._der import children
from signsvc.pki.indications import Indication, SubIndication
from signsvc.verify._cmscheck import CmsFormatError, check_signed_data, load_signed_data
from signsvc.verify.results import SignatureResult
from tests.support.cmsmake import (
    Signer,
    embed,
    issue_leaf,
    leaf,
    prepared_pdf,
    signed_data,
    tamper,
    to_ber,
)
from tests.support.paths import PKI

TRUST = TrustStore.from_paths([PKI / "gov-root-g2.crt.pem"])
AT = datetime(2026, 4, 1, tzinfo=UTC)
NO_ATTRS = "signed without signed attributes"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "realworld-dev"


def _signed(tmp_path: Path, name: str, signer: Signer, *, subfilter: str = "adbe.pkcs7.detached",
            ber: bool = False, sha1_content: bytes | None = None, **kw: Any) -> Path:
    path = prepared_pdf(tmp_path / f"{name}.pdf", subfilter=subfilter)

    def make(data: bytes) -> bytes:
        if subfilter == "adbe.pkcs7.sha1":
            kw["econtent"] = sha1_content or hashlib.sha1(data).digest()
        der = signed_data(signer, data, **kw)
        return to_ber(der) if ber else der

    return embed(path, make)


def _only(path: Path, **kw: Any) -> SignatureResult:
    result = verify_pdf(path, trust=TRUST, at=AT, revocation="off", **kw)
    [sig] = result.signatures
    return sig


CASES: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "rsa-pkcs1": ("rsa", {}, "rsassa_pkcs1v15", "sha256"),
    "rsa-pkcs1-no-attrs": ("rsa", {"attrs": False}, "rsassa_pkcs1v15", "sha256"),
    "rsa-pss": ("rsa", {"pss": True}, "rsassa_pss", "sha256"),
    "rsa-pss-no-attrs": ("rsa", {"pss": True, "attrs": False}, "rsassa_pss", "sha256"),
    "rsa-sha512": ("rsa", {"digest": "sha512"}, "rsassa_pkcs1v15", "sha512"),
    "ecdsa-p256": ("p256", {}, "ecdsa", "sha256"),
    "ecdsa-p256-no-attrs": ("p256", {"attrs": False}, "ecdsa", "sha256"),
    "ecdsa-p384": ("p384", {"digest": "sha384"}, "ecdsa", "sha384"),
    "ed25519": ("ed25519", {"digest": "sha512"}, "ed25519", "sha512"),
    "ed25519-no-attrs": ("ed25519", {"digest": "sha512", "attrs": False}, "ed25519", "sha512"),
    "ed448-shake256": ("ed448", {"digest": "shake256"}, "ed448", "shake256"),
    "ed448-no-attrs": ("ed448", {"digest": "shake256", "attrs": False}, "ed448", "shake256"),
    "sid-ski": ("rsa", {"sid": "ski"}, "rsassa_pkcs1v15", "sha256"),
    "sid-ski-no-attrs": ("p256", {"sid": "ski", "attrs": False}, "ecdsa", "sha256"),
    "ber-indefinite": ("rsa", {"ber": True}, "rsassa_pkcs1v15", "sha256"),
    "ber-no-attrs": ("rsa", {"ber": True, "attrs": False}, "rsassa_pkcs1v15", "sha256"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_form_verifies(tmp_path: Path, case: str) -> None:
    kind, kw, algorithm, digest = CASES[case]
    sig = _only(_signed(tmp_path, case, leaf(kind), **kw))
    assert sig.indication is Indication.TOTAL_PASSED, sig.reason
    assert sig.integrity is not None and sig.integrity.intact
    assert sig.integrity.signature_algorithm == algorithm
    assert sig.integrity.digest_algorithm == digest
    assert sig.signer is not None and sig.signer.certificate == leaf(kind).cert
    without = kw.get("attrs") is False
    assert any(NO_ATTRS in n for n in sig.notes) is without
    # No attributes: no ESS signing-certificate attribute either.
    assert sig.integrity.signing_certificate_ok is (None if without else True)


@pytest.mark.parametrize("attrs", [True, False])
def test_adbe_pkcs7_sha1(tmp_path: Path, attrs: bool) -> None:
    path = _signed(tmp_path, "sha1", leaf("rsa"), subfilter="adbe.pkcs7.sha1", attrs=attrs)
    # The document digest is SHA-1: refused after 2014 by default, accepted by the
    # historical policy (the SHA-1 policy of the rest of the code).
    default = _only(path)
    assert default.sub_filter == "adbe.pkcs7.sha1"
    assert default.integrity is not None and default.integrity.intact
    assert default.integrity.digest_algorithm == "sha1"
    assert default.sub_indication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE
    historical = _only(path, policy="historical")
    assert historical.indication is Indication.TOTAL_PASSED, historical.reason
    assert any(NO_ATTRS in n for n in historical.notes) is not attrs


@pytest.mark.parametrize("attrs", [True, False])
def test_adbe_pkcs7_sha1_of_other_bytes_is_a_hash_failure(tmp_path: Path, attrs: bool) -> None:
    path = _signed(tmp_path, "sha1-other", leaf("rsa"), subfilter="adbe.pkcs7.sha1",
                   attrs=attrs, sha1_content=hashlib.sha1(b"another document").digest())
    sig = _only(path, policy="historical")
    assert sig.integrity is not None and not sig.integrity.digest_ok
    assert sig.integrity.signature_ok  # the signature over that eContent holds
    assert sig.sub_indication is SubIndication.HASH_FAILURE
    assert "encapsulated SHA-1 does not match" in sig.reason


@pytest.mark.parametrize(("kind", "kw", "expected"), [
    ("rsa", {}, SubIndication.HASH_FAILURE),
    # RSA PKCS#1 v1.5 gives back the digest it signed: a changed document is told apart.
    ("rsa", {"attrs": False}, SubIndication.HASH_FAILURE),
    ("p256", {}, SubIndication.HASH_FAILURE),
    # ECDSA and EdDSA without attributes cannot tell a changed document from a wrong
    # key: the signature value does not verify (ETSI EN 319 102-1 SIG_CRYPTO_FAILURE).
    ("p256", {"attrs": False}, SubIndication.SIG_CRYPTO_FAILURE),
    ("ed25519", {"attrs": False, "digest": "sha512"}, SubIndication.SIG_CRYPTO_FAILURE),
])
def test_a_changed_byte_fails(tmp_path: Path, kind: str, kw: dict[str, Any],
                              expected: SubIndication) -> None:
    good = _signed(tmp_path, "good", leaf(kind), **kw)
    assert _only(good).indication is Indication.TOTAL_PASSED
    sig = _only(tamper(good, tmp_path / "changed.pdf"))
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is expected, sig.reason
    assert sig.integrity is not None and not sig.integrity.intact


@pytest.mark.parametrize("kw", [{}, {"attrs": False}, {"pss": True, "attrs": False}])
def test_another_key_is_a_signature_failure(tmp_path: Path, kw: dict[str, Any]) -> None:
    other = leaf("rsa-other").key
    sig = _only(_signed(tmp_path, "wrong-key", leaf("rsa"), signing_key=other, **kw))
    assert sig.sub_indication is SubIndication.SIG_CRYPTO_FAILURE, sig.reason
    assert sig.integrity is not None
    assert sig.integrity.digest_ok and not sig.integrity.signature_ok


def test_ed448_with_sha512_is_refused(tmp_path: Path) -> None:
    # RFC 8419 §3: Ed448 goes with SHAKE256; pyHanko calls its own such file
    # INDETERMINATE/CRYPTO_CONSTRAINTS_FAILURE (test_ed448_invalid_hash_algo_validation).
    sig = _only(_signed(tmp_path, "ed448-sha512", leaf("ed448"), digest="sha512"))
    assert sig.indication is Indication.INDETERMINATE
    assert sig.sub_indication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE
    assert "RFC 8419" in sig.reason
    assert sig.integrity is not None and sig.integrity.intact


def test_empty_econtent_in_a_detached_signature_is_read_as_detached(tmp_path: Path) -> None:
    sig = _only(_signed(tmp_path, "empty", leaf("rsa"), econtent=b""))
    assert sig.indication is Indication.TOTAL_PASSED, sig.reason
    assert any("empty eContent" in n for n in sig.notes)


def test_econtent_in_a_detached_signature_is_refused(tmp_path: Path) -> None:
    sig = _only(_signed(tmp_path, "econtent", leaf("rsa"), econtent=b"other content"))
    assert sig.sub_indication is SubIndication.FORMAT_FAILURE
    assert "detached signature with encapsulated content" in sig.reason


def test_a_time_stamp_token_needs_signed_attributes() -> None:
    token = signed_data(leaf("rsa"), b"", attrs=False, econtent=_tst_info(),
                        content_type="tst_info")
    with pytest.raises(CmsFormatError, match="RFC 3161"):
        check_signed_data(load_signed_data(token), None)


def _tst_info() -> bytes:
    from asn1crypto import tsp

    return bytes(tsp.TSTInfo({
        "version": "v1", "policy": "1.2.3.4.1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                            "hashed_message": bytes(32)},
        "serial_number": 1, "gen_time": AT,
    }).dump())


# -- certificates with any extension, keys cryptography refuses ------------------------

_QC_STATEMENTS = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3")
# QCStatements: id-etsi-qcs-QcCompliance (0.4.0.1862.1.1), id-etsi-qcs-QcSSCD (…1.4).
_QC_VALUE = bytes.fromhex("3014300806060400 8e4601013008060604008e460104".replace(" ", ""))
# certificatePolicies with a UserNotice whose explicitText is a VisibleString holding
# UTF-8 (X.680 allows only ASCII there; real Vietnamese CAs write it anyway).
_TEXT = "Chữ ký số".encode()
_NOTICE = b"\x30" + bytes([len(_TEXT) + 2]) + b"\x1a" + bytes([len(_TEXT)]) + _TEXT
_QUALIFIER = (b"\x30" + bytes([len(_NOTICE) + 10]) + b"\x06\x08\x2b\x06\x01\x05\x05\x07\x02\x02"
              + _NOTICE)
_POLICY = (b"\x30" + bytes([len(_QUALIFIER) + 11]) + b"\x06\x07\x60\x85\x40\x01\x01\x01\x01"
           + b"\x30" + bytes([len(_QUALIFIER)]) + _QUALIFIER)
_POLICIES = b"\x30" + bytes([len(_POLICY)]) + _POLICY


def test_certificates_with_qc_statements_and_utf8_policy_text(tmp_path: Path) -> None:
    key = leaf("rsa-other").key
    cert = issue_leaf(key.public_key(), "TEST ONLY QC signer", serial=0x5E1C0002, extra=(
        x509.UnrecognizedExtension(_QC_STATEMENTS, _QC_VALUE),
        x509.UnrecognizedExtension(x509.oid.ExtensionOID.CERTIFICATE_POLICIES, _POLICIES),
    ))
    signer = Signer(key, cert, leaf("rsa").chain)
    for sid in ("issuer_serial", "ski"):
        sig = _only(_signed(tmp_path, f"qc-{sid}", signer, sid=sid))
        assert sig.integrity is not None and sig.integrity.intact, sig.reason
        assert sig.signer is not None and sig.signer.common_name == "TEST ONLY QC signer"
        assert sig.sub_indication is not SubIndication.FORMAT_FAILURE, sig.reason


def _negative_modulus_cert() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A leaf whose RSA modulus is written without its leading zero octet (a negative
    INTEGER, RFC 8017 A.1.1 wants it positive), re-signed by gov-ca-g2: what some old
    token software wrote and cryptography's loader refuses."""
    from cryptography.hazmat.primitives import serialization

    key = leaf("rsa-other").key
    assert isinstance(key, rsa.RSAPrivateKey)
    good = issue_leaf(key.public_key(), "TEST ONLY negative modulus", serial=0x5E1C0003)
    n = key.public_key().public_numbers().n.to_bytes(256, "big")
    tbs = good.tbs_certificate_bytes.replace(b"\x02\x82\x01\x01\x00" + n, b"\x02\x82\x01\x00" + n)
    tbs = tbs.replace(b"\x30\x82\x01\x0a\x02\x82", b"\x30\x82\x01\x09\x02\x82")  # RSAPublicKey
    tbs = tbs.replace(b"\x03\x82\x01\x0f\x00", b"\x03\x82\x01\x0e\x00")  # BIT STRING
    tbs = tbs.replace(b"\x30\x82\x01\x22\x30\x0d", b"\x30\x82\x01\x21\x30\x0d")  # SPKI
    assert tbs[:2] == b"\x30\x82"  # its length is now one too many
    body = tbs[4:]
    tbs = b"\x30\x82" + len(body).to_bytes(2, "big") + body
    ca_key = serialization.load_pem_private_key((PKI / "gov-ca-g2.key.pem").read_bytes(), None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    signature = ca_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    alg = bytes.fromhex("300d06092a864886f70d01010b0500")
    inner = tbs + alg + b"\x03\x82" + (len(signature) + 1).to_bytes(2, "big") + b"\x00" + signature
    der = b"\x30\x82" + len(inner).to_bytes(2, "big") + inner
    cert = x509.load_der_x509_certificate(der)
    assert len(children(der, 4, len(der))) == 3
    with pytest.raises(ValueError):
        cert.public_key()
    return key, cert


def test_a_signer_key_cryptography_cannot_load_is_indeterminate(tmp_path: Path) -> None:
    key, cert = _negative_modulus_cert()
    sig = _only(_signed(tmp_path, "negative-modulus", Signer(key, cert, leaf("rsa").chain)))
    assert sig.indication is Indication.INDETERMINATE
    assert sig.sub_indication is SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
    assert "public key could not be loaded" in sig.reason


# -- files other producers made -----------------------------------------------------

PYHANKO = CORPUS / "MatthiasValvekens_pyHanko"
REALWORLD = {
    # pyHanko's tests: test_verify_sig_without_signed_attrs, test_verify_sig_with_ski_sid,
    # test_old_style_signing_cert_attr_ok; RUB-NDS's honest signed original (SHA-1,
    # no signed attributes); endesive's Adobe web-capture adbe.x509.rsa_sha1 file.
    "MatthiasValvekens_pyHanko/sig-no-signed-attrs.pdf": "intact",
    "MatthiasValvekens_pyHanko/sig-with-ski-sid.pdf": "intact",
    "MatthiasValvekens_pyHanko/pades-with-old-style-signing-cert-attr.pdf": "intact",
    "MatthiasValvekens_pyHanko/pades-with-old-style-signing-cert-attr-issser.pdf": "intact",
    "MatthiasValvekens_pyHanko/pdf-sig-with-econtent.pdf": "intact",
    "RUB-NDS_PDF-Tester/2020/1/02_Test_cert_p2_sign_original.pdf": "intact",
    "m32_endesive/pdf-adobe-webcapture-x509.rsa_sha1.pdf": "intact",
    # pyHanko: test_ed448_invalid_hash_algo_validation.
    "MatthiasValvekens_pyHanko/ed448-disallowed-hash.pdf": "CRYPTO_CONSTRAINTS_FAILURE",
}


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@pytest.mark.parametrize("name", sorted(REALWORLD))
def test_real_world_cms_forms(name: str) -> None:
    result = verify_pdf(CORPUS / name, trust=TrustStore.vn(), at=AT)
    assert result.signatures
    for sig in result.signatures:
        assert sig.integrity is not None and sig.integrity.intact, (sig.field, sig.reason)
        assert sig.sub_indication not in (SubIndication.HASH_FAILURE,
                                          SubIndication.SIG_CRYPTO_FAILURE)
        if REALWORLD[name] != "intact":
            assert sig.sub_indication is SubIndication[REALWORLD[name]]


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_adbe_x509_rsa_sha1_changed_byte(tmp_path: Path) -> None:
    source = CORPUS / "m32_endesive" / "pdf-adobe-webcapture-x509.rsa_sha1.pdf"
    good = _only(source, policy="historical")
    assert good.sub_filter == "adbe.x509.rsa_sha1"
    assert good.integrity is not None and good.integrity.intact
    assert good.integrity.digest_algorithm == "sha1"
    assert good.signer is not None and good.signer.common_name == "Alice"
    data = bytearray(source.read_bytes())
    at = data.index(b"/Type /Catalog") if b"/Type /Catalog" in data else 200
    data[at + 1] ^= 0x01
    changed = tmp_path / "changed.pdf"
    changed.write_bytes(bytes(data))
    result = verify_pdf(changed, trust=TrustStore.vn(), at=AT, policy="historical")
    sig = next(s for s in result.signatures if s.sub_filter == "adbe.x509.rsa_sha1")
    assert sig.sub_indication is SubIndication.HASH_FAILURE, sig.reason
