"""The Vietnamese trust material signsvc ships: the roots of the opt-in ``vn`` profile,
the issuing CAs path building falls back on (never anchors), and the SHA-1 rule for old
CA certificates. Real certificates throughout; no private key of a real CA exists here,
so building through a shipped CA is shown with real CA certificates themselves and with
one real end-entity certificate the G1 government CA issued
(``tests/data/vn-ca/vgca-license-key-generator.cer``, a public copy from
tttk6102tt/vgca@a7aa8cd1903a7d9c92b804775aaa0a1835fabe48:Sign/Resources/cer/VGCALicenseKeyGenerator.cer).
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from signsvc import TrustError, TrustStore, validate_chain
from signsvc.pki import _vnbundle
from signsvc.pki.algorithms import DEFAULT_POLICY, HISTORICAL_POLICY, ValidationPolicy
from signsvc.pki.indications import Indication, SubIndication
from signsvc.pki.trust import (
    TRUST_PROFILES,
    VN_PROFILE,
    ShippedCertificate,
    trust_profile_file,
    vn_trust_material,
)
from tests.support.chains import ALL_ROOTS, ISSUER, cert, check, ec_key, issue, store
from tests.support.paths import ROOT

G1_ROOT = "F7BC89054CEC7F12730D7B8CD3EB7955B163835087E5EB873EDFB584763B3F90"
G1_CA = "75E969C07BA35C29C72BBC1BFB880F20F3891A619B00B77EB02CA6160736A1FE"
G2_ROOT = "F04BA4B459A7C9A1B971AD9B1CB833E695A80C79AEA63B174B66A70EDFE2FDB8"
G2_CA = "D8CAB7A4AEF92E6BB2509D7C61CEE7B44F3731B2D21074963530277B366FAE4B"
VN_ROOT = "BAC8BF609AB420A8EE1780D74F4DE5C7F7184959D2A7375B0A75E4C29F0908E7"
VNPT_CA_SHA2 = "7D6BA5245317F9ED5D8BC765A4634D26AC6340D36B9F584DF3B52D9C4A81A306"

EXPECTED_ROOTS = {
    VN_ROOT: "Vietnam National Root CA",
    "7B3269E7D79AEBBFAE5095F45BBB7074771E690CB7DF02B441062B12F7690ECE":
        "Vietnam National Root CA G3",
    "12AFEBA2545F6FC0F31EC130F31BF2D16184A2B5B7CEBCB43CFD1BA35DD4EA46":
        "VIETNAM NATIONAL ROOT CA - RS",
    "41803135F13A6359866E7E6F76DAFD598D496836944A52DD1FAD66B3BF2EE63B":
        "VIETNAM NATIONAL ROOT CA - USBTOKEN",
    "D343B3C5132F7D1676C3560025AEFEF036FCEEC073C33F18E075B3A21C8F8552":
        "VIETNAM NATIONAL ROOT CA - TSA",
    "C75535D65C0FF7480A3D6F393D56DA5F7C92DDCC071F4E9166C3F8D660EF836C":
        "VIETNAM NATIONAL ROOT CA - MOBILEPKI",
    "0D765AEDFE7B12C7D11C7B5737507F24DB22F8AFE24BE140EB5801CB0853A8F9":
        "VIETNAM NATIONAL ROOT CA - EMA",
    "CA918D635BB130BEC97639E6AABF7EDBC4EB1310F8058B9419F467AE0230AD8C":
        "MIC National Root CA",
    G2_ROOT: "RootCA chuyên dùng Chính phủ G2",
    G1_ROOT: "Co quan chung thuc so chuyen dung Chinh phu (RootCA)",
}
"""Every root the vn profile trusts, by SHA-256: a refresh that adds one fails here
until someone has checked it with its publisher (rootca.gov.vn, ca.gov.vn)."""

# Shipped CA certificates that do not validate under the default policy, and why: each
# signed with SHA-1 after 2016-01-01, when no exception applies (algorithms.py).
DEFAULT_POLICY_EXCEPTIONS = {
    "3C4281296F92D292CC952295FE41AD7D0B37438FF1D143B56C4642CC1B14BD93":  # Bộ Ngoại giao, 2016-04
        (SubIndication.CRYPTO_CONSTRAINTS_FAILURE, "algorithm"),
    "4E66E0073C9C217DBFA80697B0096FA61D71C1F32B29A12C2E2C37C0CAC35881":  # SAFE-CA, 2017-09
        (SubIndication.CRYPTO_CONSTRAINTS_FAILURE, "algorithm"),
    "591E6796472780FCF98D2E6797C8249457726DEE54A264307D9B51193CDBD5FD":  # SmartSign, 2017-07
        (SubIndication.CRYPTO_CONSTRAINTS_FAILURE, "algorithm"),
}

SOURCE = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}:\S.*$")


def material() -> tuple[ShippedCertificate, ...]:
    return vn_trust_material()


def shipped(fingerprint: str) -> x509.Certificate:
    return next(c.certificate for c in material() if c.fingerprint == fingerprint)


def license_key_generator() -> x509.Certificate:
    return x509.load_der_x509_certificate(
        (ROOT / "tests/data/vn-ca/vgca-license-key-generator.cer").read_bytes())


def inside(certificate: x509.Certificate) -> datetime:
    """A time in the middle of the certificate's validity."""
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    return start + (end - start) / 2


def fp(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex().upper()


# -- what is shipped ---------------------------------------------------------------------


def test_the_vn_profile_holds_exactly_the_expected_roots() -> None:
    vn = TrustStore.vn()
    assert {a.fingerprint: describe_cn(a.certificate) for a in vn} == EXPECTED_ROOTS
    assert all(a.certificate.subject == a.certificate.issuer for a in vn)
    assert all(a.known is not None and a.known.role == "root" for a in vn)
    assert {a.source for a in vn} == {_vnbundle.ROOTS_FILE}
    labels = {a.fingerprint: a.label for a in vn}
    # VN_PROFILE's labels win; the others carry the CA's own name, diacritics kept.
    assert labels[VN_ROOT] == "Vietnam National Root CA (MIC, public CAs)"
    assert labels[G2_ROOT] == "RootCA chuyên dùng Chính phủ G2 (Ban Cơ yếu Chính phủ)"
    assert labels[G1_ROOT] == ("Co quan chung thuc so chuyen dung Chinh phu (RootCA) "
                               "(Ban Co yeu Chinh phu)")
    assert TrustStore.vn().known_intermediates
    assert not TrustStore.vn(known_intermediates=False).known_intermediates


def describe_cn(certificate: x509.Certificate) -> str:
    return str(certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def test_the_shipped_files_agree_with_each_other() -> None:
    rows = [line.split("\t") for line in
            _vnbundle.SOURCES_FILE.read_text(encoding="utf-8").splitlines()[1:]]
    certs = material()
    assert [r[0] for r in rows] == [c.fingerprint for c in certs]
    assert len({c.fingerprint for c in certs}) == len(certs) == 73
    for row, shipped_cert in zip(rows, certs, strict=True):
        c = shipped_cert.certificate
        assert fp(c) == row[0]
        assert row[1] == shipped_cert.role
        assert (row[3], row[4]) == (c.subject.rfc4514_string(), c.issuer.rfc4514_string())
        assert (row[5], row[6]) == (c.not_valid_before_utc.isoformat(),
                                    c.not_valid_after_utc.isoformat())
        assert SOURCE.match(shipped_cert.source), shipped_cert.source
    roots = x509.load_pem_x509_certificates(_vnbundle.ROOTS_FILE.read_bytes())
    others = x509.load_pem_x509_certificates(_vnbundle.INTERMEDIATES_FILE.read_bytes())
    assert {fp(c) for c in roots} == set(EXPECTED_ROOTS)
    assert all(c.subject != c.issuer for c in others)  # nothing self-signed outside roots
    roles = [c.role for c in certs]
    assert (roles.count("root"), roles.count("issuing CA"), roles.count("time-stamping CA"),
            roles.count("time-stamping authority")) == (10, 56, 1, 6)


def _verifies(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    # Independent of signsvc's own checks: cryptography's verify_directly_issued_by for
    # SHA-2, the RSA arithmetic directly for SHA-1 (which that function refuses).
    key = issuer.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    hash_alg = child.signature_hash_algorithm
    assert hash_alg is not None
    try:
        if isinstance(hash_alg, hashes.SHA1):
            key.verify(child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(),
                       hash_alg)
        else:
            child.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def test_every_shipped_signature_verifies_against_a_shipped_issuer() -> None:
    certs = [c.certificate for c in material()]
    for child in certs:
        if child.subject == child.issuer:
            candidates = [child]
        else:
            candidates = [c for c in certs if c.subject == child.issuer and c is not child]
        issuers = [c for c in candidates if _verifies(child, c)]
        assert issuers, f"no shipped issuer verifies {child.subject.rfc4514_string()}"
        for issuer in issuers:  # ... and each is a CA
            assert issuer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # The check can fail: a root does not verify a certificate another root signed.
    assert not _verifies(shipped(G2_CA), shipped(VN_ROOT))
    assert not _verifies(shipped(G1_CA), shipped(G2_ROOT))


def test_the_vn_profile_file_is_the_roots_file() -> None:
    assert TRUST_PROFILES == ("vn",)
    assert trust_profile_file("vn") == _vnbundle.ROOTS_FILE
    assert TrustStore.from_paths([trust_profile_file("vn")]).anchors == TrustStore.vn().anchors
    with pytest.raises(TrustError, match="unknown trust profile 'eu'"):
        trust_profile_file("eu")


def test_shipped_labels_reach_any_trust_store() -> None:
    # A user who adds the G2 issuing CA's file (not a root) sees its VN_PROFILE label; one
    # who adds VNPT-CA SHA2 sees the shipped label.
    store_ = TrustStore.from_certificates([shipped(G2_CA), shipped(VNPT_CA_SHA2)])
    assert [(a.label, a.known.role if a.known else None) for a in store_] == [
        ("CA phục vụ các cơ quan Nhà nước G2 (Ban Cơ yếu Chính phủ)", "issuing CA"),
        ("VNPT-CA SHA2 (VIETNAM POSTS AND TELECOMMUNICATIONS GROUP)", "issuing CA"),
    ]
    assert {k.fingerprint for k in VN_PROFILE} <= {c.fingerprint for c in material()}


def test_shipped_certificate_json_and_expiry() -> None:
    bkav_2015 = next(c for c in material() if c.fingerprint.startswith("DDAB3AA1"))
    now = datetime(2026, 12, 3, tzinfo=UTC)
    data = bkav_2015.to_json(at=now)
    assert data == {
        "role": "issuing CA", "label": "BkavCA (Bkav Corporation)",
        "subject": "CN=BkavCA,O=Bkav Corporation,L=Hanoi,C=VN",
        "issuer": ("CN=MIC National Root CA,OU=National CA Center,"
                   "O=Ministry of Information and Communications,C=VN"),
        "not_before": "2015-05-15T03:25:48+00:00", "not_after": "2020-05-15T03:35:48+00:00",
        "expired": True, "fingerprint_sha256": bkav_2015.fingerprint,
        "source": "tttk6102tt/vgca@a7aa8cd1903a7d9c92b804775aaa0a1835fabe48:"
                  "Sign/Resources/cer/BKAVCA_BIN.cer",
    }
    assert not bkav_2015.expired(datetime(2020, 5, 15, 3, 35, 48, tzinfo=UTC))
    assert bkav_2015.expired(datetime(2020, 5, 15, 3, 35, 49, tzinfo=UTC))
    assert not bkav_2015.is_root


# -- every shipped CA validates up to the vn profile -----------------------------------


NON_ROOTS = [c for c in vn_trust_material() if not c.is_root]


@pytest.mark.parametrize("entry", NON_ROOTS, ids=[c.fingerprint[:16] for c in NON_ROOTS])
def test_every_shipped_intermediate_validates_under_the_vn_profile(
        entry: ShippedCertificate) -> None:
    at = inside(entry.certificate)
    result = validate_chain(entry.certificate, trust=TrustStore.vn(), at=at, revocation="off")
    expected = DEFAULT_POLICY_EXCEPTIONS.get(entry.fingerprint)
    if expected is None:
        assert result.valid, (entry.label, result.reason)
        assert fp(result.path[0]) in EXPECTED_ROOTS
        assert len(result.path) == 2  # every shipped CA sits right under a root
        if entry.certificate.signature_hash_algorithm.name == "sha1":  # type: ignore[union-attr]
            # Issued before 2016-01-01 (else it would be an exception): accepted, noted.
            assert entry.certificate.not_valid_before_utc < datetime(2016, 1, 1, tzinfo=UTC)
            assert any("SHA1 accepted on a CA certificate issued" in n
                       for n in result.algorithm_notes), result.algorithm_notes
    else:
        sub, rule = expected
        assert (result.sub_indication, result.rule) == (sub, rule), result.reason
        assert result.failed_index == 1
        historical = validate_chain(entry.certificate, trust=TrustStore.vn(), at=at,
                                    revocation="off", policy="historical")
        assert historical.valid, historical.reason


def test_the_exceptions_are_shipped_certificates() -> None:
    assert set(DEFAULT_POLICY_EXCEPTIONS) <= {c.fingerprint for c in NON_ROOTS}


# -- building through shipped CAs; they never become anchors ---------------------------


def test_a_leaf_alone_chains_through_the_shipped_g1_ca() -> None:
    leaf = license_key_generator()
    at = datetime(2020, 1, 1, tzinfo=UTC)
    g1_root_only = TrustStore.from_certificates([shipped(G1_ROOT)])
    result = validate_chain(leaf, trust=g1_root_only, at=at, revocation="off",
                            policy="historical")
    assert result.valid, result.reason
    assert [fp(c) for c in result.path] == [G1_ROOT, G1_CA, fp(leaf)]
    # Default policy: the G1 CA's own SHA-1 (2010, a CA certificate) is accepted with a
    # note, the end-entity certificate's SHA-1 (2017) is not.
    default = validate_chain(leaf, trust=g1_root_only, at=at, revocation="off")
    assert (default.sub_indication, default.failed_index) == (
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE, 2)
    assert any("intermediate certificate 1" in n and "CA certificate issued 2010-03-25" in n
               for n in default.algorithm_notes), default.algorithm_notes


def test_without_known_intermediates_no_chain_is_found() -> None:
    leaf = license_key_generator()
    at = datetime(2020, 1, 1, tzinfo=UTC)
    for trust in (TrustStore.vn(known_intermediates=False),
                  TrustStore.vn().with_known_intermediates(False),
                  TrustStore.vn() | TrustStore(known_intermediates=False)):
        assert not trust.known_intermediates
        result = validate_chain(leaf, trust=trust, at=at, revocation="off", policy="historical")
        assert result.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    # ... and given explicitly, the same CA builds the same chain.
    given = validate_chain(leaf, intermediates=[shipped(G1_CA)],
                           trust=TrustStore.vn(known_intermediates=False), at=at,
                           revocation="off", policy="historical")
    assert given.valid and [fp(c) for c in given.path] == [G1_ROOT, G1_CA, fp(leaf)]


@pytest.mark.parametrize("trust", [
    TrustStore(),
    TrustStore.from_certificates([shipped(G2_ROOT)]),
    TrustStore.from_certificates([c.certificate for c in vn_trust_material()
                                  if c.is_root and c.fingerprint != G1_ROOT]),
], ids=["empty", "g2-root-only", "every-root-but-g1"])
def test_a_shipped_intermediate_is_never_an_anchor(trust: TrustStore) -> None:
    # The G1 CA is shipped, and the leaf's issuer; without the G1 root trusted there is
    # no chain, and the shipped CA does not stand in for an anchor.
    result = validate_chain(license_key_generator(), trust=trust,
                            at=datetime(2020, 1, 1, tzinfo=UTC), revocation="off",
                            policy="historical")
    assert result.indication is Indication.INDETERMINATE
    assert result.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert result.anchor_label is None


def test_a_neac_issuing_ca_under_another_root_finds_no_chain() -> None:
    vnpt = shipped(VNPT_CA_SHA2)
    for trust in (TrustStore(), TrustStore.from_certificates([shipped(G2_ROOT)])):
        result = validate_chain(vnpt, trust=trust, at=inside(vnpt), revocation="off")
        assert result.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def test_a_shipped_ca_whose_key_does_not_verify_is_not_reported_as_a_link_failure() -> None:
    # A certificate naming VNPT-CA SHA2 as its issuer but signed by another key: the
    # shipped VNPT-CA does not verify it, and that is no chain, not a failed signature
    # (the caller gave no such issuer). Given by the caller, it is a failed signature.
    vnpt = shipped(VNPT_CA_SHA2)
    forged = issue("Mạo danh", vnpt.subject, ec_key(71), ec_key(72), ca=False)
    at = datetime(2027, 1, 1, tzinfo=UTC)
    alone = validate_chain(forged, trust=TrustStore.vn(), at=at, revocation="off")
    assert alone.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    given = validate_chain(forged, intermediates=[vnpt], trust=TrustStore.vn(), at=at,
                           revocation="off")
    assert given.sub_indication is SubIndication.SIG_CRYPTO_FAILURE
    assert [fp(c) for c in given.path][:2] == [VN_ROOT, VNPT_CA_SHA2]


TEST_LEAVES = sorted(ISSUER)


@pytest.mark.parametrize("leaf", TEST_LEAVES)
def test_shipped_intermediates_do_not_change_test_pki_verdicts(leaf: str) -> None:
    with_known = store(*ALL_ROOTS)
    without = with_known.with_known_intermediates(False)
    assert with_known.known_intermediates and not without.known_intermediates
    for intermediates in ([cert(ISSUER[leaf])], []):
        a = check(leaf, trust=with_known, intermediates=intermediates)
        b = check(leaf, trust=without, intermediates=intermediates)
        assert (a.indication, a.sub_indication, a.reason, a.rule, a.path) == (
            b.indication, b.sub_indication, b.reason, b.rule, b.path)
        if not intermediates:
            assert a.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def test_the_material_is_read_only_when_needed() -> None:
    # Importing, building trust stores from files and validating a chain whose issuers
    # are given read no certificate of the shipped bundle (the labels, a small TSV, are
    # read with the first store).
    code = (
        "import sys; sys.path.insert(0, '.')\n"
        "from signsvc.pki import _vnbundle\n"
        "from tests.support.chains import check\n"
        "assert _vnbundle.certificates.cache_info().currsize == 0\n"
        "assert check('official-rsa2048').valid\n"
        "assert _vnbundle.certificates.cache_info().currsize == 0\n"
        "from signsvc import TrustStore\n"
        "TrustStore.vn()\n"
        "assert _vnbundle.certificates.cache_info().currsize == 1\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr


# -- the SHA-1 rule for old CA certificates (algorithms.py) ----------------------------


def test_sha1_on_a_ca_certificate_issued_before_2016_is_accepted_with_a_note() -> None:
    late = datetime(2026, 12, 1, tzinfo=UTC)
    before = DEFAULT_POLICY.hash_verdict("sha1", at=late,
                                        ca_issued=datetime(2015, 12, 31, 23, tzinfo=UTC))
    assert before.accepted and before.note is not None
    assert "CA certificate issued 2015-12-31, before 2016-01-01" in before.note
    on_cutoff = DEFAULT_POLICY.hash_verdict("sha1", at=late,
                                           ca_issued=datetime(2016, 1, 1, tzinfo=UTC))
    assert not on_cutoff.accepted
    assert not DEFAULT_POLICY.hash_verdict("sha1", at=late).accepted  # not a CA certificate
    no_exception = ValidationPolicy(name="strict", weak_ca_issued_before=None)
    assert not no_exception.hash_verdict(
        "sha1", at=late, ca_issued=datetime(2010, 1, 1, tzinfo=UTC)).accepted
    assert not DEFAULT_POLICY.hash_verdict(
        "md5", at=late, ca_issued=datetime(2010, 1, 1, tzinfo=UTC)).accepted
    # Before the 2014 sunset, and under the historical policy, nothing changes.
    early = DEFAULT_POLICY.hash_verdict("sha1", at=datetime(2013, 1, 1, tzinfo=UTC),
                                        ca_issued=datetime(2010, 1, 1, tzinfo=UTC))
    assert early.accepted and early.note == "SHA1 accepted under the 'default' policy"
    assert HISTORICAL_POLICY.hash_verdict("sha1", at=late).accepted
    assert DEFAULT_POLICY.hash_verdict("sha256", at=late, ca_issued=late - timedelta(1)) \
        .note is None


def test_a_pem_copy_of_a_shipped_root_is_labelled(tmp_path: Path) -> None:
    folder = tmp_path
    (folder / "g2.pem").write_bytes(shipped(G2_ROOT).public_bytes(Encoding.PEM))
    (anchor,) = TrustStore.from_paths([folder]).anchors
    assert anchor.label == "RootCA chuyên dùng Chính phủ G2 (Ban Cơ yếu Chính phủ)"
    assert anchor.to_json()["known"] is True and anchor.to_json()["role"] == "root"


# -- the refresh script ------------------------------------------------------------------


def test_the_refresh_script_rebuilds_the_shipped_files_byte_for_byte(tmp_path: Path) -> None:
    # Fed the shipped bundles themselves, it keeps everything, drops nothing and writes
    # the same bytes: the output is deterministic and the shipped files are its output.
    out = tmp_path / "data"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/refresh_vn_trust.py"), str(_vnbundle.DATA),
         "--out", str(out)], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "kept 10 roots:" in done.stdout and "dropped 0:" in done.stdout
    for name in ("vn-roots.pem", "vn-intermediates.pem", "vn-sources.tsv"):
        assert (out / name).read_bytes() == (_vnbundle.DATA / name).read_bytes(), name
    check_run = subprocess.run(
        [sys.executable, str(ROOT / "scripts/refresh_vn_trust.py"), str(tmp_path / "empty"),
         "--out", str(out), "--check"], capture_output=True, text=True, check=False,
        timeout=120)
    assert check_run.returncode == 2  # not a folder: a usage error


def test_the_refresh_script_drops_what_does_not_chain(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "g2-root.crt").write_bytes(shipped(G2_ROOT).public_bytes(Encoding.DER))
    (folder / "g2-ca.pem").write_bytes(shipped(G2_CA).public_bytes(Encoding.PEM))
    (folder / "vnpt.cer").write_bytes(shipped(VNPT_CA_SHA2).public_bytes(Encoding.DER))
    (folder / "lkg.cer").write_bytes(license_key_generator().public_bytes(Encoding.DER))
    (folder / "test-root.pem").write_bytes((ROOT / "certs_test/gov-root-g2.crt.pem").read_bytes())
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/refresh_vn_trust.py"), str(folder), "--out",
         str(out)], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "kept 1 root:" in done.stdout and "kept 1 issuing CA:" in done.stdout
    assert "VNPT-CA SHA2 (VIETNAM POSTS AND TELECOMMUNICATIONS GROUP): its issuer is not " \
           "in the bundle" in done.stdout
    assert "VGCA License Key Generator (Ban Cơ yếu Chính phủ): its issuer is not in the " \
           "bundle" in done.stdout
    # The test PKI's root says O=Ban Cơ yếu Chính phủ but OU=TEST ONLY: not the real one.
    assert "TEST ONLY RootCA chuyên dùng Chính phủ G2 (Ban Cơ yếu Chính phủ): a root of " \
           "another organisation" in done.stdout
    roots = x509.load_pem_x509_certificates((out / "vn-roots.pem").read_bytes())
    assert [fp(c) for c in roots] == [G2_ROOT]
