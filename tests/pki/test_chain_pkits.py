"""NIST PKITS (all 246 cases) against :func:`signsvc.validate_chain`.

Expected outcomes: ``tests/data/pkits_cases.json`` (from pyhanko-certvalidator's
fixtures, MIT, see ``tests/data/PKITS-LICENSE.txt``). Certificates and CRLs: the
``cryptography_vectors`` package (``PKITS_data/{certs,crls}``). Every case runs with the
suite's trust anchor and its CRL, at 2022-05-01, under the ``historical`` policy (the
DSA cases use SHA-1 and 1024-bit keys); revocation is ``hard-fail`` unless the case
says it is not checked.

Each failing case must fail *for the right reason*: the expected error maps to an
ETSI sub-indication, and where the expectation names a certificate ("intermediate
certificate 2", "the end-entity certificate"), ``failed_index`` must point at it.
"""

from __future__ import annotations

import json
import re
import warnings
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from signsvc import TrustStore, validate_chain
from signsvc.pki.indications import Indication, SubIndication
from tests.support.paths import ROOT
from tests.support.tools import skip_or_fail

pytestmark = pytest.mark.filterwarnings(
    "ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning"
)

CASES: list[dict[str, Any]] = json.loads(
    (ROOT / "tests" / "data" / "pkits_cases.json").read_text()
)
AT = datetime(2022, 5, 1, tzinfo=UTC)

# 4.1.5 "Valid DSA Parameter Inheritance Test5": DSAParametersInheritedCACert.crt has a
# DSA key whose parameters are omitted (to be inherited from its issuer, RFC 5280
# §6.1.4 (f)). cryptography refuses to parse such a certificate at all
# (load_der_x509_certificate raises "ShortData ... AlgorithmIdentifier::params"), so it
# can never reach validate_chain, whose API takes cryptography Certificate objects.
KNOWN_SKIPS = {
    "40105": "cryptography cannot load a certificate whose DSA parameters are inherited "
    "(RFC 5280 §6.1.4 (f)); validate_chain takes cryptography Certificate objects",
}


def _pkits_dir() -> Path:
    try:
        import cryptography_vectors
    except ImportError:
        skip_or_fail("cryptography_vectors is not installed (pip install -e '.[test]')")
    return Path(cryptography_vectors.__file__).parent / "x509" / "PKITS_data"


@cache
def _cert(name: str) -> x509.Certificate:
    with warnings.catch_warnings():
        # PKITS 4.4.14/4.4.15 use negative serial numbers on purpose; cryptography warns.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return x509.load_der_x509_certificate((_pkits_dir() / "certs" / name).read_bytes())


@cache
def _crl(name: str) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl((_pkits_dir() / "crls" / name).read_bytes())


@cache
def _trust() -> TrustStore:
    return TrustStore.from_certificates([_cert("TrustAnchorRootCertificate.crt")])


def expected_failure(case: dict[str, Any]) -> tuple[SubIndication, int | None] | None:
    """Map pyhanko-certvalidator's expected error to (sub-indication, failed index)."""
    error = case.get("error")
    if error is None:
        return None
    message: str = error["msg_regex"]
    kind: str = error["class"]
    index: int | None = None
    named = re.search(r"intermediate certificate (\d)", message)
    if named:
        index = int(named.group(1))
    elif "the end-entity certificate" in message and "CRL issuer was" not in message:
        index = case["path_len"] - 1
    if kind == "RevokedError":
        if "end-entity" in message:
            return SubIndication.REVOKED, index
        return SubIndication.REVOKED_CA_NO_POE, index
    if kind in ("InsufficientRevinfoError", "StaleRevinfoError"):
        return SubIndication.TRY_LATER, index
    if "signature of" in message:
        return SubIndication.SIG_CRYPTO_FAILURE, index
    if "valid until" in message or "expired" in message:
        return SubIndication.OUT_OF_BOUNDS_NO_POE, index
    if "issuer name could not be matched" in message:
        return SubIndication.NO_CERTIFICATE_CHAIN_FOUND, None
    return SubIndication.CHAIN_CONSTRAINTS_FAILURE, index


_REASON_WORDS = {
    "a compromised key": "keyCompromise",
    "a certificate hold": "certificateHold",
    "an affiliation change": "affiliationChanged",
}


def _run(case: dict[str, Any]) -> Any:
    params = case.get("params") or {}
    return validate_chain(
        _cert(case["cert"]),
        intermediates=[_cert(n) for n in case.get("other_certs", [])],
        trust=_trust(),
        at=AT,
        crls=[_crl("TrustAnchorRootCRL.crl"), *(_crl(n) for n in case.get("crls", []))],
        revocation="off" if case.get("revocation") is False else "hard-fail",
        policy="historical",
        initial_policies=params.get("user_initial_policy_set"),
        explicit_policy=params.get("initial_explicit_policy", False),
        inhibit_policy_mapping=params.get("initial_policy_mapping_inhibit", False),
        inhibit_any_policy=params.get("initial_any_policy_inhibit", False),
    )


@pytest.mark.parametrize("case", CASES, ids=[f"{c['id']}-{c['name']}" for c in CASES])
def test_pkits(case: dict[str, Any]) -> None:
    if case["id"] in KNOWN_SKIPS:
        pytest.skip(KNOWN_SKIPS[case["id"]])
    result = _run(case)
    expected = expected_failure(case)
    if expected is None:
        assert result.valid, result.reason
        assert result.indication is Indication.TOTAL_PASSED
        assert result.sub_indication is None
        assert len(result.path) == case["path_len"]
        assert result.path[0] == _cert("TrustAnchorRootCertificate.crt")
        assert result.path[-1] == _cert(case["cert"])
        return
    sub, index = expected
    assert not result.valid
    assert result.sub_indication is sub, result.reason
    assert result.indication is sub.indication
    if index is not None:
        assert result.failed_index == index, result.reason
        assert result.failed_certificate == result.path[index]
    message = case["error"]["msg_regex"]
    if sub in (SubIndication.REVOKED, SubIndication.REVOKED_CA_NO_POE):
        when = re.search(r"at (\d\d:\d\d:\d\d) on (\d{4}-\d\d-\d\d), due to (.+)$", message)
        assert when is not None
        assert f"{when.group(2)}T{when.group(1)}" in result.reason
        assert _REASON_WORDS[when.group(3)] in result.reason
    elif sub is SubIndication.TRY_LATER:
        detail = message.partition("revocation checks failed: ")[2]
        if detail:
            assert detail.split(".")[0][:60] in result.reason
        else:
            assert "no usable revocation information" in result.reason
    elif sub is SubIndication.CHAIN_CONSTRAINTS_FAILURE:
        for phrase in ("excluded", "permitted", "policies", "not a CA", "path length",
                       "sign certificates", "unsupported critical", '"any policy"'):
            if phrase in message:
                assert phrase in result.reason, result.reason


def test_pkits_inventory() -> None:
    """The suite is complete: 246 cases, 4.1 to 4.16, and exactly one known skip."""
    assert len(CASES) == 246
    sections = {c["id"][:3] for c in CASES}
    assert sections == {f"4{s:02d}" for s in range(1, 17)}
    assert set(KNOWN_SKIPS) == {"40105"}


def test_pkits_cache_is_not_sticky() -> None:
    """Running a failing case after a passing one that shares certificates still fails:
    cached signatures are per (issuer, subject) pair, not per subject."""
    by_name = {c["name"]: c for c in CASES}
    good = _run(by_name["valid_signatures_test1"])
    bad = _run(by_name["invalid_ee_signature_test3"])
    assert good.valid
    assert bad.sub_indication is SubIndication.SIG_CRYPTO_FAILURE
