"""validate_chain on hostile input: cycles, big pools, huge CRLs, malformed bytes,
all answered within bounded time and memory."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from signsvc import (
    BadInputError,
    TrustError,
    TrustStore,
    ValidationSetupError,
    validate_chain,
)
from signsvc._der import read_tlv
from signsvc.pki import WorkBudget
from signsvc.pki.indications import SubIndication
from signsvc.pki.trust import load_certificates
from tests.support.chains import (
    ALL_ROOTS,
    AT,
    PKI,
    cert,
    check,
    crl,
    ec_key,
    issue,
    key,
    name,
    store,
)

# -- bad input: cycles, big pools, big CRLs, malformed bytes ------------------------------


def test_pool_with_a_cycle_ends_without_a_chain() -> None:
    a, b = ec_key(1), ec_key(2)
    cycle_a = issue("Cycle A", "Cycle B", a, b)
    cycle_b = issue("Cycle B", "Cycle A", b, a)
    leaf = issue("Leaf in cycle", "Cycle A", ec_key(3), a, ca=False)
    budget = WorkBudget()
    result = validate_chain(leaf, intermediates=[cycle_a, cycle_b], trust=store(*ALL_ROOTS),
                            at=AT, budget=budget)
    assert result.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert budget.expansions <= 4  # leaf, A, B, then B's issuer A is already on the path


def test_cross_certificate_loop_next_to_the_real_route() -> None:
    # gov-ca-g2 and a "Loop Root" certify each other. The cross-certificate of gov-ca-g2
    # (newer, same key and SKI) is tried first: it leads round the loop back to the real
    # gov-ca-g2, whose pathLenConstraint 0 rejects that path; the direct path then wins.
    loop_key = ec_key(4)
    g2 = cert("gov-ca-g2")
    ski = x509.SubjectKeyIdentifier.from_public_key(g2.public_key())
    cross_g2 = issue(g2.subject, "Loop Root", g2.public_key(), loop_key,  # type: ignore[arg-type]
                     extra=[(ski, False)])
    loop_root = issue("Loop Root", g2.subject, loop_key, key("gov-ca-g2"))
    budget = WorkBudget()
    result = check("official-rsa2048", intermediates=[cross_g2, loop_root, g2], budget=budget)
    assert result.valid, result.reason
    assert result.path == (cert("gov-root-g2"), g2, cert("official-rsa2048"))
    assert budget.expansions >= 4  # the loop was explored, and left


def test_pool_of_2000_unrelated_certificates() -> None:
    issuer_key, subject_key = ec_key(6), ec_key(7)
    pool = [
        issue(f"Unrelated CA {i}", "Unrelated Root", subject_key, issuer_key, serial=i + 1)
        for i in range(2000)
    ]
    result = check("official-rsa2048", intermediates=[*pool, cert("gov-ca-g2")])
    assert result.valid
    missing = check("official-rsa2048", intermediates=pool)
    assert missing.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def test_many_lookalike_issuers_stop_at_the_work_budget() -> None:
    # 600 certificates named like gov-ca-g2 with the wrong key: each needs a signature
    # check, and the budget (500) ends the search with a clear INDETERMINATE.
    fake_key = ec_key(8)
    g2 = cert("gov-ca-g2").subject
    lookalikes = [
        x509.CertificateBuilder().subject_name(g2).issuer_name(name("Nowhere"))
        .public_key(fake_key.public_key()).serial_number(i + 1)
        .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 1, 1, tzinfo=UTC))
        .sign(fake_key, hashes.SHA256())
        for i in range(600)
    ]
    budget = WorkBudget()
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
    leaf = issue("Many policies", cert("gov-ca-g2").subject, ec_key(9), root_key, ca=False,
                 extra=[(many_policies, False)])
    result = validate_chain(leaf, intermediates=[cert("gov-ca-g2")], trust=store(*ALL_ROOTS),
                            at=AT, revocation="off")
    assert result.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    assert "500 policies" in result.reason
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    leaf = issue("Odd critical", cert("gov-ca-g2").subject, ec_key(9), root_key, ca=False,
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
        cert("gov-ca-g2").subject).public_key(ec_key(10).public_key()).serial_number(
        10**9 + 99_999).not_valid_before(datetime(2025, 1, 1, tzinfo=UTC)).not_valid_after(
        datetime(2030, 1, 1, tzinfo=UTC)).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(key("gov-ca-g2").public_key()),
        critical=False).sign(key("gov-ca-g2"), hashes.SHA256())
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
