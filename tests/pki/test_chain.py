"""validate_chain on the test PKI (certs_test/): both Vietnamese hierarchies, revocation
by the committed CRLs and by OCSP responses built here, the SHA-1 G1 chain, key usage,
and bad input (cycles, big pools, a 100,000-entry CRL, malformed bytes)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from signsvc import (
    ChainResult,
    ValidationCache,
    ValidationSetupError,
    validate_chain,
)
from signsvc.pki.algorithms import DEFAULT_POLICY, HISTORICAL_POLICY
from signsvc.pki.indications import Indication, SubIndication
from tests.support.chains import (
    ALL_ROOTS,
    AT,
    ISSUER,
    PKI,
    cert,
    check,
    crl,
    ocsp_response,
    store,
)

BEFORE_REVOCATION = datetime(2026, 1, 15, tzinfo=UTC)
LEGACY_AT = datetime(2016, 1, 1, tzinfo=UTC)  # inside legacy-official's validity
ROOT = {"gov-ca-g2": "gov-root-g2", "vnpt-ca": "vn-root", "viettel-ca": "vn-root",
        "gov-ca-g1": "gov-root-g1"}


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
    # gov-ca-g1 (a CA certificate signed with SHA-1 in 2014, before 2016-01-01) does not
    # void the chain by itself; the end entity's SHA-1 signature does.
    assert result.failed_index == 2, result.reason
    assert "SHA1" in result.reason and "2014-01-01" in result.reason
    assert any("SHA1" in n for n in result.algorithm_notes), result.algorithm_notes


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
