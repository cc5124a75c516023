"""validate_chain on the test PKI (certs_test/): both Vietnamese hierarchies, revocation
by the committed CRLs and by OCSP responses built here, the SHA-1 G1 chain, key usage,
and bad input (cycles, big pools, a 100,000-entry CRL, malformed bytes)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from signsvc import (
    BadInputError,
    ChainResult,
    TrustError,
    TrustStore,
    ValidationCache,
    ValidationSetupError,
    validate_chain,
)
from signsvc._der import read_tlv
from signsvc._pathbuild import Budget
from signsvc.algorithms import DEFAULT_POLICY, HISTORICAL_POLICY
from signsvc.chain import SIGNING_KEY_USAGE
from signsvc.indications import Indication, SubIndication
from signsvc.revocation_fetch import RevocationFetcher
from signsvc.trust import (
    VN_PROFILE,
    add_trust_anchor,
    list_trust_anchors,
    load_certificates,
    remove_trust_anchor,
    user_trust_dir,
)

PKI = Path(__file__).resolve().parent.parent / "certs_test"
AT = datetime(2026, 4, 1, tzinfo=UTC)  # after both committed revocations
BEFORE_REVOCATION = datetime(2026, 1, 15, tzinfo=UTC)
LEGACY_AT = datetime(2016, 1, 1, tzinfo=UTC)  # inside legacy-official's validity


@cache
def cert(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((PKI / f"{name}.crt.pem").read_bytes())


@cache
def key(name: str) -> rsa.RSAPrivateKey:
    loaded = serialization.load_pem_private_key((PKI / f"{name}.key.pem").read_bytes(), None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return loaded


@cache
def crl(name: str) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl((PKI / "crl" / f"{name}.crl.der").read_bytes())


@cache
def store(*roots: str) -> TrustStore:
    return TrustStore.from_paths([PKI / f"{r}.crt.pem" for r in roots])


ALL_ROOTS = ("gov-root-g2", "vn-root", "gov-root-g1")
ALL_CRLS = ("gov-ca-g2", "gov-root-g2", "vnpt-ca", "viettel-ca", "vn-root")
ISSUER = {
    "official-rsa2048": "gov-ca-g2", "official-ec": "gov-ca-g2", "org-omon": "gov-ca-g2",
    "org-sonoivu": "gov-ca-g2", "expired": "gov-ca-g2", "not-yet-valid": "gov-ca-g2",
    "revoked": "gov-ca-g2", "wrong-ku": "gov-ca-g2", "tsa": "gov-ca-g2",
    "official-rsa3072": "vnpt-ca", "revoked-public": "vnpt-ca", "official-viettel": "viettel-ca",
    "legacy-official": "gov-ca-g1",
}
ROOT = {"gov-ca-g2": "gov-root-g2", "vnpt-ca": "vn-root", "viettel-ca": "vn-root",
        "gov-ca-g1": "gov-root-g1"}


def check(name: str, **kwargs: object) -> ChainResult:
    """Validate a certs_test leaf with its intermediate and the committed CRLs."""
    options: dict[str, object] = {
        "intermediates": [cert(ISSUER[name])],
        "trust": store(*ALL_ROOTS),
        "at": AT,
        "crls": [crl(c) for c in ALL_CRLS],
        "revocation": "hard-fail",
        "key_usage": SIGNING_KEY_USAGE,
    }
    options.update(kwargs)
    return validate_chain(cert(name), **options)  # type: ignore[arg-type]


# -- both hierarchies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "leaf",
    ["official-rsa2048", "official-ec", "org-sonoivu", "official-rsa3072", "official-viettel"],
)
def test_each_hierarchy_validates_to_its_own_root(leaf: str) -> None:
    ca = ISSUER[leaf]
    root = ROOT[ca]
    result = check(leaf)
    assert result.valid, result.reason
    assert result.indication is Indication.TOTAL_PASSED
    assert result.sub_indication is None
    assert result.path == (cert(root), cert(ca), cert(leaf))
    root_cn = cert(root).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert result.anchor_label == root_cn
    assert [r.status for r in result.revocation] == ["good", "good"]
    assert [r.source for r in result.revocation] == ["crl", "crl"]

    other = "vn-root" if root == "gov-root-g2" else "gov-root-g2"
    wrong = check(leaf, trust=store(other))
    assert not wrong.valid
    assert wrong.indication is Indication.INDETERMINATE
    assert wrong.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert wrong.path == (cert(leaf),)


def test_to_json_lists_the_path_anchor_first() -> None:
    data = check("official-rsa2048").to_json()
    assert json.loads(json.dumps(data)) == data  # plain data only
    assert data["valid"] is True
    assert data["indication"] == "TOTAL-PASSED"
    assert data["sub_indication"] is None
    assert data["path"] == [
        cert("gov-root-g2").subject.rfc4514_string(),
        cert("gov-ca-g2").subject.rfc4514_string(),
        cert("official-rsa2048").subject.rfc4514_string(),
    ]
    assert "Nguyễn Thị Lấp Lánh Ánh" in data["path"][2]
    bad = check("revoked").to_json()
    assert bad["valid"] is False
    assert bad["sub_indication"] == "REVOKED"
    assert bad["failed_index"] == 2
    assert bad["failed_certificate"] == cert("revoked").subject.rfc4514_string()


def test_vietnam_time_zone_is_accepted_for_at() -> None:
    vn = datetime(2026, 4, 1, 7, 0, tzinfo=timezone(timedelta(hours=7)))
    result = check("official-rsa2048", at=vn)
    assert result.valid
    assert result.validation_time == datetime(2026, 4, 1, 0, 0, tzinfo=UTC)


# -- validity period ----------------------------------------------------------------------


@pytest.mark.parametrize(("leaf", "words"), [("expired", "expired 2024-12-31"),
                                             ("not-yet-valid", "not valid until 2040-01-01")])
def test_out_of_validity(leaf: str, words: str) -> None:
    result = check(leaf)
    assert not result.valid
    assert result.sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE
    assert result.indication is Indication.INDETERMINATE
    assert result.failed_index == 2
    assert result.failed_certificate == cert(leaf)
    assert words in result.reason


def test_expired_with_revocation_data_from_its_lifetime_is_out_of_bounds_not_revoked() -> None:
    # An OCSP answer produced while the certificate was valid says "good": ETSI calls
    # that OUT_OF_BOUNDS_NOT_REVOKED. The committed CRL (issued 2026) is not such proof.
    lifetime = datetime(2024, 12, 1, tzinfo=UTC)
    resp = ocsp_response("expired", this_update=lifetime, next_update=lifetime + timedelta(days=60))
    result = check("expired", ocsp_responses=[resp])
    assert result.sub_indication is SubIndication.OUT_OF_BOUNDS_NOT_REVOKED
    assert "2024-12-01" in result.reason
    assert check("expired").sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE


# -- revocation by the committed CRLs -------------------------------------------------------


def test_revoked_by_crl_after_revocation_date() -> None:
    result = check("revoked")
    assert not result.valid
    assert result.indication is Indication.TOTAL_FAILED
    assert result.sub_indication is SubIndication.REVOKED
    assert result.failed_index == 2
    entry = result.revocation[-1]
    assert (entry.status, entry.source, entry.reason) == ("revoked", "crl", "keyCompromise")
    assert entry.revocation_time == datetime(2026, 3, 15, 8, 0, tzinfo=UTC)


def test_revoked_certificate_is_valid_before_its_revocation_date() -> None:
    result = check("revoked", at=BEFORE_REVOCATION)
    assert result.valid, result.reason
    assert any("revoked later, at 2026-03-15T08:00:00" in n for n in result.notes)


def test_retroactive_key_compromise_policy() -> None:
    strict = replace(DEFAULT_POLICY, name="strict", retroactive_key_compromise=True)
    result = check("revoked", at=BEFORE_REVOCATION, policy=strict)
    assert not result.valid
    assert result.sub_indication is SubIndication.REVOKED_NO_POE
    assert result.policy == "strict"
    # superseded is not a compromise: still valid before its date under the same policy
    assert check("revoked-public", at=datetime(2026, 1, 15, tzinfo=UTC), policy=strict).valid


def test_revoked_public_ca_leaf() -> None:
    result = check("revoked-public")
    assert result.sub_indication is SubIndication.REVOKED
    assert result.revocation[-1].reason == "superseded"


def test_missing_crl_hard_fail_soft_fail_off() -> None:
    hard = check("official-viettel", crls=[crl("vn-root")])
    assert hard.sub_indication is SubIndication.TRY_LATER
    assert hard.failed_index == 2
    soft = check("official-viettel", crls=[crl("vn-root")], revocation="soft-fail")
    assert soft.valid
    assert any("soft-fail" in n for n in soft.notes)
    off = check("official-viettel", crls=[], revocation="off")
    assert off.valid
    assert off.revocation == ()


# -- OCSP ---------------------------------------------------------------------------------


def ocsp_response(
    leaf: str,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    responder: str = "ocsp-gov-ca-g2",
    this_update: datetime = datetime(2026, 3, 31, tzinfo=UTC),
    next_update: datetime | None = datetime(2026, 4, 7, tzinfo=UTC),
    revoked_at: datetime | None = None,
) -> ocsp.OCSPResponse:
    issuer = cert(ISSUER[leaf])
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert(leaf),
        issuer=issuer,
        algorithm=hashes.SHA1(),
        cert_status=status,
        this_update=this_update,
        next_update=next_update,
        revocation_time=revoked_at,
        revocation_reason=x509.ReasonFlags.key_compromise if revoked_at else None,
    )
    signer = cert(responder)
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer)
    if signer != issuer:
        builder = builder.certificates([signer])
    return builder.sign(key(responder), hashes.SHA256())


def ocsp_check(leaf: str, resp: ocsp.OCSPResponse | bytes, **kw: object) -> ChainResult:
    # Only the root's CRL: the leaf's status must come from OCSP.
    return check(leaf, crls=[crl("gov-root-g2"), crl("vn-root")], ocsp_responses=[resp], **kw)


def test_ocsp_good_from_delegated_responder() -> None:
    result = ocsp_check("official-rsa2048", ocsp_response("official-rsa2048"))
    assert result.valid, result.reason
    assert (result.revocation[-1].status, result.revocation[-1].source) == ("good", "ocsp")


def test_ocsp_signed_by_the_ca_itself_and_given_as_der() -> None:
    resp = ocsp_response("official-ec", responder="gov-ca-g2")
    result = ocsp_check("official-ec", resp.public_bytes(serialization.Encoding.DER))
    assert result.valid, result.reason
    assert result.revocation[-1].source == "ocsp"


def test_ocsp_revoked() -> None:
    resp = ocsp_response("official-rsa2048", status=ocsp.OCSPCertStatus.REVOKED,
                         revoked_at=datetime(2026, 3, 1, tzinfo=UTC))
    result = ocsp_check("official-rsa2048", resp)
    assert result.sub_indication is SubIndication.REVOKED
    assert result.revocation[-1].reason == "keyCompromise"
    assert "OCSP indicates revocation at 2026-03-01" in result.reason


def test_ocsp_stale_response_is_not_used() -> None:
    resp = ocsp_response("official-rsa2048", this_update=datetime(2026, 1, 1, tzinfo=UTC),
                         next_update=datetime(2026, 1, 8, tzinfo=UTC))
    hard = ocsp_check("official-rsa2048", resp)
    assert hard.sub_indication is SubIndication.TRY_LATER
    assert "not recent enough" in hard.reason
    soft = ocsp_check("official-rsa2048", resp, revocation="soft-fail")
    assert soft.valid
    assert any("not recent enough" in n for n in soft.notes)


def test_ocsp_from_a_responder_of_another_ca_is_refused() -> None:
    # ocsp-vnpt-ca is a real responder, but for VNPT-CA, not for gov-ca-g2.
    resp = ocsp_response("official-rsa2048", responder="ocsp-vnpt-ca")
    result = ocsp_check("official-rsa2048", resp)
    assert result.sub_indication is SubIndication.TRY_LATER
    assert "not issued by the certificate's CA" in result.reason


def test_ocsp_signed_by_a_non_responder_is_refused() -> None:
    # official-rsa2048 is issued by the right CA but lacks id-kp-OCSPSigning.
    resp = ocsp_response("official-ec", responder="official-rsa2048")
    result = ocsp_check("official-ec", resp)
    assert result.sub_indication is SubIndication.TRY_LATER
    assert "lacks id-kp-OCSPSigning" in result.reason


def test_malformed_ocsp_bytes_raise_setup_error() -> None:
    with pytest.raises(ValidationSetupError) as info:
        ocsp_check("official-rsa2048", b"\x30\x03junk")
    assert info.value.argument == "ocsp_responses"


# -- algorithms: the SHA-1 G1 hierarchy -----------------------------------------------------


def test_legacy_sha1_chain_refused_by_default() -> None:
    result = check("legacy-official", at=LEGACY_AT, crls=[crl("gov-ca-g1"), crl("gov-root-g1")])
    assert not result.valid
    assert result.sub_indication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE
    assert result.failed_index == 1  # gov-ca-g1 is the first SHA-1 signature
    assert "SHA1" in result.reason and "2014-01-01" in result.reason


def test_legacy_sha1_chain_accepted_under_historical_policy_with_notes() -> None:
    result = check("legacy-official", at=LEGACY_AT, crls=[crl("gov-ca-g1"), crl("gov-root-g1")],
                   policy="historical")
    assert result.valid, result.reason
    assert result.policy == "historical"
    assert len(result.algorithm_notes) == 2
    assert all("SHA1 accepted under the 'historical' policy" in n for n in result.algorithm_notes)
    assert result.to_json()["algorithm_notes"] == list(result.algorithm_notes)


def test_sha1_before_the_sunset_is_accepted_by_default() -> None:
    verdict = DEFAULT_POLICY.hash_verdict("sha1", at=datetime(2013, 6, 1, tzinfo=UTC))
    assert verdict.accepted
    assert not DEFAULT_POLICY.hash_verdict("md5", at=datetime(2000, 1, 1, tzinfo=UTC)).accepted
    assert not HISTORICAL_POLICY.hash_verdict("md5", at=datetime(2000, 1, 1, tzinfo=UTC)).accepted


# -- key usage, EKU, policies, depth --------------------------------------------------------


def test_wrong_key_usage_is_refused_for_signing() -> None:
    result = check("wrong-ku")
    assert result.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    assert result.failed_index == 2
    assert "keyEncipherment" in result.reason
    assert check("wrong-ku", key_usage=None).valid  # PKITS semantics: not asked, not checked


def test_extended_key_usage() -> None:
    assert check("tsa", key_usage=None, extended_key_usage={"1.3.6.1.5.5.7.3.8"}).valid
    result = check("tsa", key_usage=None, extended_key_usage={"1.3.6.1.5.5.7.3.4"})
    assert result.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    assert "1.3.6.1.5.5.7.3.4" in result.reason


def test_explicit_policy_needs_policies_on_the_ca() -> None:
    # gov-ca-g2 carries no certificatePolicies, so requiring an explicit policy fails
    # at it (RFC 5280 §6.1.3 (e)-(f)), even though the leaf asserts the government OID.
    result = check("official-rsa2048", initial_policies={"2.16.704.1.1.1.1.1"},
                   explicit_policy=True)
    assert result.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    assert result.failed_index == 1
    assert check("official-rsa2048", initial_policies={"2.16.704.1.1.1.1.1"}).valid


def test_max_depth_zero_allows_no_intermediate() -> None:
    result = check("official-rsa2048", max_depth=0)
    assert result.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert check("official-rsa2048", max_depth=1).valid


def test_a_trust_anchor_validates_as_itself() -> None:
    result = validate_chain(cert("vn-root"), trust=store("vn-root"), at=AT)
    assert result.valid
    assert result.path == (cert("vn-root"),)


def test_intermediates_may_include_the_root_and_junk_order() -> None:
    chain = x509.load_pem_x509_certificates((PKI / "official-rsa2048.chain.pem").read_bytes())
    result = check("official-rsa2048", intermediates=[*reversed(chain), cert("vnpt-ca")])
    assert result.valid
    assert len(result.path) == 3


# -- bad input: cycles, big pools, big CRLs, malformed bytes ------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    subject: str | x509.Name,
    issuer: str | x509.Name,
    subject_key: ec.EllipticCurvePrivateKey | rsa.RSAPublicKey,
    issuer_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    *,
    ca: bool = True,
    serial: int = 1,
    extra: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    public = subject_key if isinstance(subject_key, rsa.RSAPublicKey) else subject_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject) if isinstance(subject, str) else subject)
        .issuer_name(_name(issuer) if isinstance(issuer, str) else issuer)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    for ext, critical in extra:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


@cache
def _ec_key(seed: int) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_pool_with_a_cycle_ends_without_a_chain() -> None:
    a, b = _ec_key(1), _ec_key(2)
    cycle_a = _issue("Cycle A", "Cycle B", a, b)
    cycle_b = _issue("Cycle B", "Cycle A", b, a)
    leaf = _issue("Leaf in cycle", "Cycle A", _ec_key(3), a, ca=False)
    budget = Budget()
    result = validate_chain(leaf, intermediates=[cycle_a, cycle_b], trust=store(*ALL_ROOTS),
                            at=AT, budget=budget)
    assert result.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert budget.expansions <= 4  # leaf, A, B, then B's issuer A is already on the path


def test_cross_certificate_loop_next_to_the_real_route() -> None:
    # gov-ca-g2 and a "Loop Root" certify each other. The cross-certificate of gov-ca-g2
    # (newer, same key and SKI) is tried first: it leads round the loop back to the real
    # gov-ca-g2, whose pathLenConstraint 0 rejects that path; the direct path then wins.
    loop_key = _ec_key(4)
    g2 = cert("gov-ca-g2")
    ski = x509.SubjectKeyIdentifier.from_public_key(g2.public_key())
    cross_g2 = _issue(g2.subject, "Loop Root", g2.public_key(), loop_key,  # type: ignore[arg-type]
                      extra=[(ski, False)])
    loop_root = _issue("Loop Root", g2.subject, loop_key, key("gov-ca-g2"))
    budget = Budget()
    result = check("official-rsa2048", intermediates=[cross_g2, loop_root, g2], budget=budget)
    assert result.valid, result.reason
    assert result.path == (cert("gov-root-g2"), g2, cert("official-rsa2048"))
    assert budget.expansions >= 4  # the loop was explored, and left


def test_pool_of_2000_unrelated_certificates() -> None:
    issuer_key, subject_key = _ec_key(6), _ec_key(7)
    pool = [
        _issue(f"Unrelated CA {i}", "Unrelated Root", subject_key, issuer_key, serial=i + 1)
        for i in range(2000)
    ]
    result = check("official-rsa2048", intermediates=[*pool, cert("gov-ca-g2")])
    assert result.valid
    missing = check("official-rsa2048", intermediates=pool)
    assert missing.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def test_many_lookalike_issuers_stop_at_the_work_budget() -> None:
    # 600 certificates named like gov-ca-g2 with the wrong key: each needs a signature
    # check, and the budget (500) ends the search with a clear INDETERMINATE.
    fake_key = _ec_key(8)
    g2 = cert("gov-ca-g2").subject
    lookalikes = [
        x509.CertificateBuilder().subject_name(g2).issuer_name(_name("Nowhere"))
        .public_key(fake_key.public_key()).serial_number(i + 1)
        .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 1, 1, tzinfo=UTC))
        .sign(fake_key, hashes.SHA256())
        for i in range(600)
    ]
    budget = Budget()
    result = check("official-rsa2048", intermediates=lookalikes, budget=budget)
    assert result.sub_indication is SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
    assert "work budget" in result.reason
    assert budget.signatures == budget.max_signatures + 1
    # With the real CA among them it is found first (its SKI matches the leaf's AKI).
    assert check("official-rsa2048", intermediates=[*lookalikes, cert("gov-ca-g2")]).valid


def test_absurd_extensions() -> None:
    root_key = key("gov-ca-g2")
    many_policies = x509.CertificatePolicies(
        [x509.PolicyInformation(x509.ObjectIdentifier(f"1.2.3.{i}"), None) for i in range(500)]
    )
    leaf = _issue("Many policies", cert("gov-ca-g2").subject, _ec_key(9), root_key, ca=False,
                  extra=[(many_policies, False)])
    result = validate_chain(leaf, intermediates=[cert("gov-ca-g2")], trust=store(*ALL_ROOTS),
                            at=AT, revocation="off")
    assert result.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    assert "500 policies" in result.reason
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    leaf = _issue("Odd critical", cert("gov-ca-g2").subject, _ec_key(9), root_key, ca=False,
                  extra=[(odd, True)])
    result = validate_chain(leaf, intermediates=[cert("gov-ca-g2")], trust=store(*ALL_ROOTS),
                            at=AT, revocation="off")
    assert result.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    assert "1.3.6.1.4.1.99999.1" in result.reason


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


@pytest.fixture(scope="session")
def huge_crl() -> x509.CertificateRevocationList:
    """gov-ca-g2's CRL with 100,000 extra entries (plus ``revoked``), built once.

    CertificateRevocationListBuilder copies its entry list on every add (O(n²)), so the
    entries are spliced into a small builder-made CRL's TBS and the result is re-signed
    with the CA key: a real, correctly signed CRL.
    """
    tbs = crl("gov-ca-g2").tbs_certlist_bytes
    _, start, end = read_tlv(tbs)
    fields: list[bytes] = []
    pos = start
    while pos < end:  # version, signature, issuer, thisUpdate, nextUpdate, revoked, [0] exts
        _, body_start, body_end = read_tlv(tbs, pos)
        fields.append(tbs[pos:body_end])
        pos = body_end
    assert len(fields) == 7 and fields[5][0] == 0x30
    _, body_start, body_end = read_tlv(fields[5])
    when = _der(0x17, b"260101000000Z")
    extra = b"".join(
        _der(0x30, _der(0x02, (10**9 + i).to_bytes(4, "big")) + when) for i in range(100_000)
    )
    fields[5] = _der(0x30, fields[5][body_start:body_end] + extra)
    new_tbs = _der(0x30, b"".join(fields))
    signature = key("gov-ca-g2").sign(new_tbs, padding.PKCS1v15(), hashes.SHA256())
    alg = fields[1]
    der = _der(0x30, new_tbs + alg + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_crl(der)


def test_crl_with_100k_entries(huge_crl: x509.CertificateRevocationList) -> None:
    assert len(huge_crl) == 100_001
    crls = [huge_crl, crl("gov-root-g2")]
    revoked = check("revoked", crls=crls)
    assert revoked.sub_indication is SubIndication.REVOKED
    assert revoked.revocation[-1].revocation_time == datetime(2026, 3, 15, 8, 0, tzinfo=UTC)
    good = check("official-rsa2048", crls=crls)
    assert good.valid, good.reason
    # A serial from the bulk part is found too (index, not a linear scan of text).
    bulk = x509.CertificateBuilder().subject_name(cert("official-ec").subject).issuer_name(
        cert("gov-ca-g2").subject).public_key(_ec_key(10).public_key()).serial_number(
        10**9 + 99_999).not_valid_before(datetime(2025, 1, 1, tzinfo=UTC)).not_valid_after(
        datetime(2030, 1, 1, tzinfo=UTC)).sign(key("gov-ca-g2"), hashes.SHA256())
    result = validate_chain(bulk, intermediates=[cert("gov-ca-g2")], trust=store(*ALL_ROOTS),
                            at=AT, crls=crls, revocation="hard-fail")
    assert result.sub_indication is SubIndication.REVOKED
    assert result.revocation[-1].revocation_time == datetime(2026, 1, 1, tzinfo=UTC)


def test_malformed_input() -> None:
    with pytest.raises(BadInputError):
        load_certificates(b"\x30\x82\x01\x00garbage")
    with pytest.raises(BadInputError):
        load_certificates(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValidationSetupError) as info:
        validate_chain(b"\x30\x00", trust=store("vn-root"), at=AT)  # type: ignore[arg-type]
    assert info.value.argument == "leaf"
    with pytest.raises(ValidationSetupError) as info:
        validate_chain(cert("official-ec"), trust=store("vn-root"), at=datetime(2026, 1, 1))
    assert info.value.argument == "at"
    with pytest.raises(ValidationSetupError) as info:
        check("official-ec", revocation="maybe")
    assert info.value.argument == "revocation"
    with pytest.raises(ValidationSetupError) as info:
        check("official-ec", policy="lenient")
    assert info.value.argument == "policy"
    with pytest.raises(ValidationSetupError) as info:
        check("official-ec", initial_policies="2.5.29.32.0")
    assert info.value.argument == "initial_policies"


def test_trust_store_from_bundles_der_and_directories(tmp_path: Path) -> None:
    bundle = TrustStore.from_paths([PKI / "official-rsa2048.chain.pem"])  # CA + root, PEM
    assert [a.certificate for a in bundle] == [cert("gov-ca-g2"), cert("gov-root-g2")]
    (tmp_path / "root.der").write_bytes((PKI / "vn-root.crt.der").read_bytes())
    (tmp_path / "notes.txt").write_text("ignored: not a certificate suffix")
    folder = TrustStore.from_paths([tmp_path])
    assert [a.source for a in folder] == [tmp_path / "root.der"]
    assert cert("vn-root") in folder and cert("gov-root-g2") not in folder
    both = bundle | folder
    assert len(both) == 3
    assert check("official-viettel", trust=both).valid


def test_malformed_trust_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"hello")
    with pytest.raises(TrustError) as info:
        TrustStore.from_paths([bad])
    assert info.value.path == bad
    with pytest.raises(TrustError):
        TrustStore.from_paths([tmp_path / "missing.pem"])


# -- cache --------------------------------------------------------------------------------


def test_cache_is_shared_across_calls_and_objects() -> None:
    cache_ = ValidationCache()
    first = check("official-rsa2048", cache=cache_)
    size = len(cache_)
    assert size >= 2  # leaf and intermediate (the anchors live in the store)
    again = x509.load_der_x509_certificate(cert("official-rsa2048").public_bytes(
        serialization.Encoding.DER))
    second = check("official-rsa2048", cache=cache_, intermediates=[cert("gov-ca-g2")])
    third = validate_chain(again, intermediates=[cert("gov-ca-g2")], trust=store(*ALL_ROOTS),
                           at=AT, cache=cache_)
    assert first.valid and second.valid and third.valid
    assert len(cache_) == size  # same DER, no new entries
    assert third.path[-1] is again  # the caller's object comes back


# -- trust store and the user trust directory -----------------------------------------------


def test_user_trust_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNSVC_TRUST_DIR", str(tmp_path / "anchors"))
    assert user_trust_dir() == tmp_path / "anchors"
    assert list_trust_anchors() == ()
    added = add_trust_anchor(PKI / "gov-root-g2.crt.pem")
    assert added.source == tmp_path / "anchors" / f"{added.fingerprint}.pem"
    assert added.fingerprint == cert("gov-root-g2").fingerprint(hashes.SHA256()).hex().upper()
    assert [a.fingerprint for a in list_trust_anchors()] == [added.fingerprint]
    assert check("official-rsa2048", trust=TrustStore.user()).valid
    with pytest.raises(TrustError):
        add_trust_anchor(PKI / "official-rsa2048.crt.pem")  # a leaf is not an anchor
    removed = remove_trust_anchor(added.fingerprint.lower())
    assert removed == added.source
    assert not removed.exists()
    with pytest.raises(TrustError):
        remove_trust_anchor(added.fingerprint)


def test_default_user_trust_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SIGNSVC_TRUST_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert user_trust_dir() == tmp_path / "signsvc" / "trust"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_trust_dir() == tmp_path / "home" / ".config" / "signsvc" / "trust"


def test_vn_profile_knows_the_official_fingerprints(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {k.fingerprint for k in VN_PROFILE if k.role == "root"} == {
        "BAC8BF609AB420A8EE1780D74F4DE5C7F7184959D2A7375B0A75E4C29F0908E7",
        "F04BA4B459A7C9A1B971AD9B1CB833E695A80C79AEA63B174B66A70EDFE2FDB8",
    }
    # Labelling works by fingerprint: pretend the test root is the official one.
    import signsvc.trust as trust_module

    fp = cert("vn-root").fingerprint(hashes.SHA256()).hex().upper()
    monkeypatch.setitem(trust_module._KNOWN, fp, VN_PROFILE[0])
    labelled = TrustStore.from_certificates([cert("vn-root")])
    anchor = labelled.anchors[0]
    assert anchor.label == "Vietnam National Root CA (MIC, public CAs)"
    assert anchor.to_json()["known"] is True
    assert [present for _, present in store("vn-root").profile_status()] == [False] * 3


# -- revocation data from a cache directory and over HTTP --------------------------------------


@pytest.fixture
def crl_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving certs_test/crl/*.crl.der as /NAME.crl."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = PKI / "crl" / (self.path.strip("/").removesuffix(".crl") + ".crl.der")
            if not path.is_file():
                self.send_error(404)
                return
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetcher_cache_dir_and_online(tmp_path: Path, crl_server: str) -> None:
    dp = x509.CRLDistributionPoints([x509.DistributionPoint(
        [x509.UniformResourceIdentifier(f"{crl_server}/gov-ca-g2.crl")], None, None, None)])
    leaf = _issue("Fetched", cert("gov-ca-g2").subject, _ec_key(11), key("gov-ca-g2"), ca=False,
                  serial=4242, extra=[(dp, False)])
    options: dict[str, object] = {"intermediates": [cert("gov-ca-g2")],
                                  "trust": store(*ALL_ROOTS), "at": AT, "revocation": "hard-fail"}
    offline = validate_chain(leaf, crls=[crl("gov-root-g2")],
                             fetcher=RevocationFetcher(cache_dir=tmp_path), **options)  # type: ignore[arg-type]
    assert offline.sub_indication is SubIndication.TRY_LATER
    online = RevocationFetcher(cache_dir=tmp_path, online=True, timeout=5)
    result = validate_chain(leaf, crls=[crl("gov-root-g2")], fetcher=online, **options)  # type: ignore[arg-type]
    assert result.valid, (result.reason, online.errors)
    stored = list(tmp_path.glob("*.crl"))
    assert len(stored) == 1
    # The fetched CRL now serves offline validation from the cache directory.
    again = validate_chain(leaf, crls=[crl("gov-root-g2")],
                           fetcher=RevocationFetcher(cache_dir=tmp_path), **options)  # type: ignore[arg-type]
    assert again.valid


@pytest.fixture
def ocsp_server() -> Iterator[str]:
    """A real OCSP responder on 127.0.0.1: answers "good" for any certificate of
    gov-ca-g2, signed by the delegated responder ocsp-gov-ca-g2 (RFC 6960 §A.1, POST)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = ocsp.load_der_ocsp_request(
                self.rfile.read(int(self.headers["Content-Length"]))
            )
            now = datetime(2026, 3, 31, tzinfo=UTC)
            builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial_number,
                algorithm=request.hash_algorithm,
                cert_status=ocsp.OCSPCertStatus.GOOD,
                this_update=now,
                next_update=now + timedelta(days=7),
                revocation_time=None,
                revocation_reason=None,
            )
            responder = cert("ocsp-gov-ca-g2")
            body = (
                builder.responder_id(ocsp.OCSPResponderEncoding.HASH, responder)
                .certificates([responder])
                .sign(key("ocsp-gov-ca-g2"), hashes.SHA256())
                .public_bytes(serialization.Encoding.DER)
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ocsp"
    finally:
        server.shutdown()
        server.server_close()


def test_fetcher_asks_the_ocsp_responder_online(tmp_path: Path, ocsp_server: str) -> None:
    aia = x509.AuthorityInformationAccess([x509.AccessDescription(
        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_server))])
    leaf = _issue("Asks OCSP", cert("gov-ca-g2").subject, _ec_key(13), key("gov-ca-g2"),
                  ca=False, serial=777, extra=[(aia, False)])
    options: dict[str, object] = {"intermediates": [cert("gov-ca-g2")], "at": AT,
                                  "trust": store(*ALL_ROOTS), "crls": [crl("gov-root-g2")],
                                  "revocation": "hard-fail"}
    assert validate_chain(leaf, **options).sub_indication is SubIndication.TRY_LATER  # type: ignore[arg-type]
    fetcher = RevocationFetcher(cache_dir=tmp_path, online=True)
    result = validate_chain(leaf, fetcher=fetcher, **options)  # type: ignore[arg-type]
    assert result.valid, (result.reason, fetcher.errors)
    assert (result.revocation[-1].source, result.revocation[-1].status) == ("ocsp", "good")
    assert len(list(tmp_path.glob("*.ocsp"))) == 1  # kept for offline use


def test_fetcher_reads_ocsp_responses_from_the_cache_dir(tmp_path: Path) -> None:
    resp = ocsp_response("official-rsa2048")
    (tmp_path / "answer.ocsp").write_bytes(resp.public_bytes(serialization.Encoding.DER))
    (tmp_path / "junk.ocsp").write_bytes(b"not der")
    fetcher = RevocationFetcher(cache_dir=tmp_path)
    result = check("official-rsa2048", crls=[crl("gov-root-g2")], fetcher=fetcher)
    assert result.valid, result.reason
    assert result.revocation[-1].source == "ocsp"
    assert fetcher.errors == [f"{tmp_path / 'junk.ocsp'}: not an OCSP response"]


def test_fetcher_records_unreachable_urls() -> None:
    fetcher = RevocationFetcher(online=True, timeout=2)
    dp = x509.CRLDistributionPoints([x509.DistributionPoint(
        [x509.UniformResourceIdentifier("http://127.0.0.1:9/nothing.crl")], None, None, None)])
    leaf = _issue("Unreachable", cert("gov-ca-g2").subject, _ec_key(12), key("gov-ca-g2"),
                  ca=False, extra=[(dp, False)])
    result = validate_chain(leaf, intermediates=[cert("gov-ca-g2")], trust=store(*ALL_ROOTS),
                            at=AT, crls=[crl("gov-root-g2")], revocation="hard-fail",
                            fetcher=fetcher)
    assert result.sub_indication is SubIndication.TRY_LATER
    assert [e.split(": ")[0] for e in fetcher.errors] == ["http://127.0.0.1:9/nothing.crl"]
    assert "online:" in result.reason
