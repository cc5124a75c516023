"""signsvc's verify_pdf against pyHanko's validator on the same files (peer agreement).

Files signed directly by pyHanko (valid, revoked, expired, not yet valid, modified after
signing, B-T, B-LT) and by signsvc (B-B, B-T, B-LT). For each, both validators run with
the same trust anchors, the same validation time and online revocation from the test
services on 127.0.0.1, and their verdicts are mapped onto one scale
(:func:`signsvc_verdict`, :func:`pyhanko_verdict`): they agree when both pass, or both
fail for the same kind of reason. Each file's expected verdict is pinned too, so the
two cannot agree on a wrong answer.

Validation time: documents with only a claimed signing time (B-B, /M = 2026-05-31) are
validated at 2026-06-01 12:00 UTC (the CRLs' thisUpdate is 2026-06-01; the ``revoked``
leaf was revoked 2026-03-15). Documents with a time-stamp or embedded OCSP responses
carry the real time of the test services, so they are validated at the current time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel as PyhankoModificationLevel
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

import signsvc
from certs_test.services import TestServices
from drivers import Pkcs12Key
from signsvc import TrustStore
from signsvc.pki.indications import Indication, SubIndication
from signsvc.verify.pdf import verify_pdf
from signsvc.verify.results import DocumentResult, ModificationLevel
from tests.support import attacks
from tests.support.attacks import PKI, VALIDATION_TIME

ROOTS = (PKI / "gov-root-g2.crt.pem", PKI / "vn-root.crt.pem")
INTERMEDIATES = (PKI / "gov-ca-g2.crt.pem", PKI / "vnpt-ca.crt.pem")

Verdict = Literal["passed", "revoked", "modified", "expired", "not-yet-valid",
                  "crypto-failure", "untrusted", "unknown"]


def _asn1(path: Path) -> asn1_x509.Certificate:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _validity(cert: x509.Certificate, moment: datetime) -> Verdict | None:
    if cert.not_valid_after_utc < moment:
        return "expired"
    if cert.not_valid_before_utc > moment:
        return "not-yet-valid"
    return None


# --- the mapping ----------------------------------------------------------------------

_SIGNSVC_REVOKED = {SubIndication.REVOKED, SubIndication.REVOKED_NO_POE}
_SIGNSVC_OUT_OF_BOUNDS = {SubIndication.OUT_OF_BOUNDS_NO_POE,
                          SubIndication.OUT_OF_BOUNDS_NOT_REVOKED,
                          SubIndication.EXPIRED, SubIndication.NOT_YET_VALID}


def signsvc_verdict(result: DocumentResult) -> Verdict:
    """signsvc's document result on the common scale (one signature per file here)."""
    if result.indication is Indication.TOTAL_PASSED:
        return "passed"
    if not result.signatures:
        return "unknown"
    sig = result.signatures[0]
    if sig.modification is not None and sig.modification.level is ModificationLevel.DISALLOWED:
        return "modified"
    if sig.sub_indication is SubIndication.HASH_FAILURE:
        return "modified"
    if not sig.intact:
        return "crypto-failure"
    if sig.sub_indication in _SIGNSVC_REVOKED:
        return "revoked"
    if sig.sub_indication in _SIGNSVC_OUT_OF_BOUNDS and sig.signer is not None:
        moment = result.validation_time or datetime.now(UTC)
        return _validity(sig.signer.certificate, moment) or "unknown"
    if sig.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND:
        return "untrusted"
    return "unknown"


def pyhanko_verdict(status: PdfSignatureStatus, moment: datetime) -> Verdict:
    """pyHanko's status on the common scale. pyHanko reports revocation and
    modification as flags, and chain problems as an AdES sub-indication
    (``trust_problem_indic``: REVOKED_NO_POE, OUT_OF_BOUNDS_NO_POE, or
    CERTIFICATE_CHAIN_GENERAL_FAILURE for a not-yet-valid leaf), so validity periods
    are read from the signer's certificate."""
    if status.bottom_line:
        return "passed"
    if status.modification_level is PyhankoModificationLevel.OTHER or not status.docmdp_ok:
        return "modified"
    if not (status.intact and status.valid):
        return "crypto-failure"
    if status.revoked:
        return "revoked"
    if not status.trusted:
        cert = x509.load_der_x509_certificate(status.signing_cert.dump())
        return _validity(cert, moment) or "untrusted"
    return "unknown"


# --- pyHanko as the peer ----------------------------------------------------------------


@dataclass(frozen=True)
class PeerResult:
    status: PdfSignatureStatus
    verdict: Verdict


def pyhanko_check(path: Path, *, moment: datetime | None, fetching: bool = True
                  ) -> list[PeerResult]:
    """pyHanko's ``validate_pdf_signature`` on every signature (document time-stamps
    are evidence for the signature before them, not signatures to compare)."""
    when = moment or datetime.now(UTC)

    async def run() -> list[PeerResult]:
        out = []
        with path.open("rb") as f:
            for sig in PdfFileReader(f).embedded_signatures:
                if sig.sig_object_type == "/DocTimeStamp":
                    continue
                context = ValidationContext(
                    trust_roots=[_asn1(p) for p in ROOTS],
                    other_certs=[_asn1(p) for p in INTERMEDIATES],
                    allow_fetching=fetching, moment=moment)
                try:
                    status = await async_validate_pdf_signature(sig, context)
                finally:
                    await context.aclose()
                out.append(PeerResult(status, pyhanko_verdict(status, when)))
        return out

    return asyncio.run(run())


# --- the corpus -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    expected: Verdict
    at: datetime | None
    """Validation time (None: now)."""


CASES = (
    Case("pyhanko-valid", "passed", VALIDATION_TIME),
    Case("pyhanko-revoked", "revoked", VALIDATION_TIME),
    Case("pyhanko-revoked-public", "revoked", VALIDATION_TIME),
    Case("pyhanko-expired", "expired", VALIDATION_TIME),
    Case("pyhanko-not-yet-valid", "not-yet-valid", VALIDATION_TIME),
    Case("pyhanko-modified", "modified", VALIDATION_TIME),
    Case("pyhanko-b-t", "passed", None),
    Case("pyhanko-b-lt", "passed", None),
    Case("signsvc-b-b", "passed", None),
    Case("signsvc-b-t", "passed", None),
    Case("signsvc-b-lt", "passed", None),
)


def _signsvc_signed(level: str, tsa_url: str, directory: Path) -> bytes:
    src = directory / f"in-{level}.pdf"
    out = directory / f"signsvc-{level}.pdf"
    src.write_bytes(attacks.base_document())
    root = x509.load_pem_x509_certificate(ROOTS[0].read_bytes())
    signsvc.sign_pdf(src, out, Pkcs12Key.load(PKI / "official-rsa2048.p12", "1234"),
                     level=level, tsa_url=tsa_url if level != "B-B" else None, trust=[root])
    return out.read_bytes()


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory,
          services: TestServices) -> Iterator[dict[str, Path]]:
    directory = tmp_path_factory.mktemp("agreement")
    base = attacks.base_document()
    context = ValidationContext(trust_roots=[_asn1(p) for p in ROOTS],
                                other_certs=[_asn1(p) for p in INTERMEDIATES],
                                allow_fetching=True)
    data = {
        "pyhanko-valid": attacks.sign(base),
        "pyhanko-revoked": attacks.sign(base, signer="revoked"),
        "pyhanko-revoked-public": attacks.sign(base, signer="revoked-public"),
        "pyhanko-expired": attacks.sign(base, signer="expired"),
        "pyhanko-not-yet-valid": attacks.sign(base, signer="not-yet-valid"),
        "pyhanko-modified": attacks.isa_same_object_number(attacks.sign(base)),
        "pyhanko-b-t": attacks.sign(base, signing_time=None,
                                    timestamper=HTTPTimeStamper(services.tsa_url)),
        "pyhanko-b-lt": attacks.sign(base, signing_time=None,
                                     timestamper=HTTPTimeStamper(services.tsa_url),
                                     validation_context=context),
        "signsvc-b-b": _signsvc_signed("B-B", services.tsa_url, directory),
        "signsvc-b-t": _signsvc_signed("B-T", services.tsa_url, directory),
        "signsvc-b-lt": _signsvc_signed("B-LT", services.tsa_url, directory),
    }
    asyncio.run(context.aclose())
    out = {}
    for name, content in data.items():
        out[name] = directory / f"{name}.pdf"
        out[name].write_bytes(content)
    yield out


@pytest.fixture(scope="session")
def trust() -> TrustStore:
    return TrustStore.from_paths(list(ROOTS))


def _describe(result: DocumentResult) -> str:
    sigs = ", ".join(f"{s.field}={s.indication.value}/{s.sub_indication}"
                     f"/mod={s.modification.level.value if s.modification else None}"
                     for s in result.signatures)
    return f"{result.indication.value} ({result.reason}; error={result.error}) [{sigs}]"


# --- the tests --------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_signsvc_agrees_with_pyhanko(case: Case, files: dict[str, Path],
                                     trust: TrustStore) -> None:
    path = files[case.name]
    result = verify_pdf(path, trust=trust, at=case.at, online=True)
    [peer] = pyhanko_check(path, moment=case.at)
    ours = signsvc_verdict(result)
    assert (ours, peer.verdict) == (case.expected, case.expected), (
        f"signsvc: {_describe(result)} | pyHanko: {peer.status.summary()} "
        f"trust_problem={peer.status.trust_problem_indic}")
    # Beyond the verdict: the same signer, and the same time-stamp when there is one.
    [sig] = [s for s in result.signatures if s.kind == "signature"]
    assert sig.signer is not None
    assert sig.signer.certificate.public_bytes(Encoding.DER) == peer.status.signing_cert.dump()
    ts = peer.status.timestamp_validity
    assert (sig.timestamp is not None) is (ts is not None)
    if ts is not None and sig.timestamp is not None:
        assert sig.timestamp.valid and ts.valid and ts.intact
        assert sig.timestamp.time == ts.timestamp


def test_revoked_is_revoked_not_just_failed(files: dict[str, Path], trust: TrustStore) -> None:
    """The reason matters to the admin: the revoked signer is reported as REVOKED (or
    REVOKED_NO_POE), with the revocation date in the reason, by both validators."""
    path = files["pyhanko-revoked"]
    result = verify_pdf(path, trust=trust, at=VALIDATION_TIME, online=True)
    assert result.sub_indication in _SIGNSVC_REVOKED, _describe(result)
    assert "2026-03-15" in result.reason
    [peer] = pyhanko_check(path, moment=VALIDATION_TIME)
    assert peer.status.revoked
    # pyHanko follows ETSI EN 319 102-1 §5.2.6 literally: without proof of existence
    # before the revocation the signing certificate is INDETERMINATE/REVOKED_NO_POE;
    # signsvc reports TOTAL-FAILED/REVOKED (indications.py). Both say "revoked".
    assert peer.status.trust_problem_indic is not None
    assert peer.status.trust_problem_indic.name == "REVOKED_NO_POE"


@pytest.mark.parametrize("name", ["pyhanko-revoked", "pyhanko-revoked-public"])
def test_offline_soft_fail_on_a_revoked_signer(name: str, files: dict[str, Path],
                                               trust: TrustStore) -> None:
    """Offline with soft-fail (verify_pdf's defaults) nothing tells either validator
    that the B-B signer is revoked: both pass it. signsvc must then at least say that
    revocation was not checked, and hard-fail must not pass it."""
    path = files[name]
    result = verify_pdf(path, trust=trust, at=VALIDATION_TIME)
    [peer] = pyhanko_check(path, moment=VALIDATION_TIME, fetching=False)
    assert (signsvc_verdict(result), peer.verdict) == ("passed", "passed")
    [sig] = result.signatures
    assert sig.chain is not None
    said = " ".join((*sig.chain.notes, *sig.notes, sig.reason, result.reason)).lower()
    assert "revocation" in said, (sig.chain.notes, sig.notes)
    hard = verify_pdf(path, trust=trust, at=VALIDATION_TIME, revocation="hard-fail")
    assert hard.indication is not Indication.TOTAL_PASSED, _describe(hard)


@pytest.mark.parametrize("name", ["pyhanko-b-lt", "signsvc-b-lt"])
def test_b_lt_validates_offline_in_both(name: str, files: dict[str, Path],
                                        trust: TrustStore, services: TestServices) -> None:
    """B-LT: the DSS holds what validation needs; no fetching, revocation hard-fail."""
    path = files[name]
    services.reset_hits()
    result = verify_pdf(path, trust=trust, revocation="hard-fail", online=False)
    [peer] = pyhanko_check(path, moment=None, fetching=False)
    assert services.hit_count() == 0
    assert result.indication is Indication.TOTAL_PASSED, _describe(result)
    [sig] = [s for s in result.signatures if s.kind == "signature"]
    assert sig.ltv is not None and sig.ltv.offline, sig.ltv
    assert peer.verdict == "passed", peer.status.summary()


@pytest.mark.parametrize("name", ["pyhanko-b-t", "signsvc-b-t"])
def test_b_t_is_not_offline_validatable(name: str, files: dict[str, Path],
                                        trust: TrustStore) -> None:
    """A B-T file has no revocation data: offline with hard-fail neither validator can
    pass it (pyHanko's LT process says so too)."""
    from tests.support.pdfcheck import pyhanko_validate

    path = files[name]
    result = verify_pdf(path, trust=trust, revocation="hard-fail", online=False)
    assert result.indication is Indication.INDETERMINATE, _describe(result)
    [sig] = result.signatures
    assert sig.ltv is not None and not sig.ltv.offline
    [lt] = pyhanko_validate(path, roots=list(ROOTS), level="LT", allow_fetching=False)
    assert not lt.bottom_line, lt.summary
