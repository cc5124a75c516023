"""What verifying a signed PDF found: one :class:`DocumentResult` per document.

Example::

    >>> from signsvc import TrustStore, verify_pdf
    >>> trust = TrustStore.from_paths(["certs_test/gov-root-g2.crt.pem"])  # doctest: +SKIP
    >>> result = verify_pdf("signed.pdf", trust=trust)  # doctest: +SKIP
    >>> result.indication.value, [s.field for s in result.signatures]  # doctest: +SKIP
    ('TOTAL-PASSED', ['Signature1'])

Verdicts use ETSI EN 319 102-1 indications (:mod:`signsvc.pki.indications`); the JSON
forms (:meth:`DocumentResult.to_json`) are the ``--report``/``--json`` schema other
tools parse (documented in ``docs/verify-report.md``).
"""

from __future__ import annotations

import copyreg
import functools
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from signsvc.pki._x509 import DEFAULT_CACHE
from signsvc.pki.chain import ChainResult
from signsvc.pki.indications import Indication, SubIndication
from signsvc.pki.revocation import RevocationStatus

__all__ = [
    "CertificateSummary",
    "Coverage",
    "DocumentResult",
    "Integrity",
    "Ltv",
    "Modification",
    "ModificationLevel",
    "SignatureKind",
    "SignatureResult",
    "TimestampResult",
    "worst",
]



def _load_der(data: bytes) -> x509.Certificate:
    # A batch's results carry the same few certificates over and over: parse each once.
    return DEFAULT_CACHE.certificate(data)


def _reduce_certificate(cert: x509.Certificate) -> tuple[object, tuple[bytes]]:
    return _load_der, (cert.public_bytes(Encoding.DER),)


# Results cross process boundaries (verify_batch workers); cryptography's certificates
# do not pickle, so they travel as DER.
copyreg.pickle(x509.Certificate, _reduce_certificate)  # type: ignore[arg-type]

_RANK = {Indication.TOTAL_PASSED: 0, Indication.INDETERMINATE: 1, Indication.TOTAL_FAILED: 2}


def worst(indications: list[Indication]) -> Indication:
    """TOTAL-FAILED beats INDETERMINATE beats TOTAL-PASSED."""
    return max(indications, key=_RANK.__getitem__, default=Indication.TOTAL_PASSED)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


_SETTLED = frozenset({RevocationStatus.GOOD, RevocationStatus.REVOKED})


def _revocation_settled(chain: ChainResult | None) -> bool:
    """Whether every certificate of ``chain``'s path that needs a revocation check got
    a definite status (good or revoked) from a CRL or an OCSP response.

    The trust anchor (index 0) needs none; nor does a certificate carrying
    id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1: an OCSP responder's, trusted for its
    lifetime). An ``unknown`` status (soft-fail without usable data) or no status at
    all (``revocation="off"``, or a chain refused before its revocation was looked at)
    is not settled. No chain at all is not settled either.
    """
    if chain is None or not chain.path:
        return False
    settled = {r.index for r in chain.revocation if r.status in _SETTLED}
    # Looked up only for the few certificates without a definite status, so that the
    # common case (everything answered) costs no extension parsing.
    return all(_needs_no_check(chain.path[i])
               for i in range(1, len(chain.path)) if i not in settled)


def _needs_no_check(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_class(x509.OCSPNoCheck)
    except (x509.ExtensionNotFound, ValueError):
        return False
    return True


@dataclass(frozen=True)
class CertificateSummary:
    """Who a certificate names, for reports."""

    subject: str
    """RFC 4514 subject."""
    common_name: str | None
    """The subject's CN, when it has one (the person or organisation, with diacritics)."""
    serial: str
    """Serial number, lower-case hex."""
    issuer: str
    """RFC 4514 issuer."""
    not_before: datetime
    not_after: datetime
    certificate: x509.Certificate = field(repr=False, compare=False)
    """The certificate itself (not serialised)."""

    @classmethod
    def of(cls, cert: x509.Certificate) -> CertificateSummary:
        return _summary(cert)

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "common_name": self.common_name,
            "serial": self.serial,
            "issuer": self.issuer,
            "not_before": _iso(self.not_before),
            "not_after": _iso(self.not_after),
        }


@functools.lru_cache(maxsize=1024)
def _summary(cert: x509.Certificate) -> CertificateSummary:
    # Cached: a batch names the same few signers thousands of times, and the RFC 4514
    # strings cost more than the rest of a signature check.
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    cn = cns[0].value if cns else None
    return CertificateSummary(
        subject=cert.subject.rfc4514_string(),
        common_name=cn if isinstance(cn, str) else None,
        serial=format(cert.serial_number, "x"),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        certificate=cert,
    )


@dataclass(frozen=True)
class Integrity:
    """Were the signed bytes and the CMS signature left as the signer made them?"""

    digest_ok: bool
    """The messageDigest attribute equals the hash of the ``/ByteRange`` bytes."""
    signature_ok: bool
    """The CMS signature over the signed attributes verifies with the signer's key."""
    signing_certificate_ok: bool | None
    """The ESS signing-certificate(-v2) attribute names the certificate used; None when
    the attribute is absent (PAdES requires it; its absence is reported in ``reason``)."""
    digest_algorithm: str | None = None
    """e.g. ``sha256``."""
    signature_algorithm: str | None = None
    """e.g. ``rsassa_pkcs1v15``, ``rsassa_pss``, ``ecdsa``."""

    @property
    def intact(self) -> bool:
        """The bottom line: digest and signature verify, and the signing certificate
        attribute (when present) matches."""
        return self.digest_ok and self.signature_ok and self.signing_certificate_ok is not False

    def to_json(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "digest_ok": self.digest_ok,
            "signature_ok": self.signature_ok,
            "signing_certificate_ok": self.signing_certificate_ok,
            "digest_algorithm": self.digest_algorithm,
            "signature_algorithm": self.signature_algorithm,
        }


class SignatureKind(StrEnum):
    """What a signature field holds (ISO 32000-2 §12.8)."""

    SIGNATURE = "signature"
    """A signature by a person or organisation."""
    DOCUMENT_TIMESTAMP = "document-timestamp"
    """An RFC 3161 document time-stamp (``/Type /DocTimeStamp``, PAdES B-LTA)."""


class Coverage(StrEnum):
    """How much of the file a signature's ``/ByteRange`` covers."""

    ENTIRE_FILE = "entire-file"
    """Everything but its own ``/Contents`` value: nothing was added after it."""
    ENTIRE_REVISION = "entire-revision"
    """A whole earlier revision; later incremental updates are classified in
    :attr:`SignatureResult.modification`."""
    PARTIAL = "partial"
    """Not a whole revision: the signature proves nothing about the document shown."""


class ModificationLevel(StrEnum):
    """What the updates after a signature did (ISO 32000-2 §12.8.2.2 DocMDP/FieldMDP)."""

    NONE = "none"
    """No update after the signature."""
    ALLOWED = "allowed"
    """Only later signatures, DSS/validation data, document timestamps, or form filling
    the signature's DocMDP/FieldMDP permits."""
    DISALLOWED = "disallowed"
    """Anything else: the document shown is not the one signed."""
    UNKNOWN = "unknown"
    """The updates could not be analysed (an encrypted document whose password is not
    known, an update no strict reader reads, a file only a repairing reader reads), or
    the signature's own permissions contradict an earlier signature's: neither allowed
    nor disallowed, so the signature is INDETERMINATE."""


@dataclass(frozen=True)
class Modification:
    """The classification of the updates after one signature."""

    level: ModificationLevel
    details: tuple[str, ...] = ()
    """What changed, one line per finding (for DISALLOWED: what made it so)."""
    sub_indication: SubIndication | None = None
    """For UNKNOWN, the ETSI sub-indication that says why (default
    SIGNED_DATA_NOT_FOUND: what was signed cannot be compared with what is shown)."""

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level.value, "details": list(self.details)}


@dataclass(frozen=True)
class TimestampResult:
    """An RFC 3161 time-stamp token: the signature's, or a document time-stamp's."""

    time: datetime | None
    """genTime of the token (UTC); None when it could not be read."""
    valid: bool
    """The imprint matches, the TSA's signature verifies and its chain validates."""
    tsa: CertificateSummary | None
    """The time-stamping authority's certificate."""
    reason: str
    """Why it is not valid, or a short confirmation."""
    chain: ChainResult | None = None
    """The TSA certificate's chain result."""
    intact: bool = False
    """The token's own signature verifies and its imprint is over what it stamps
    (whatever the TSA's chain says)."""

    @property
    def passed(self) -> bool:
        """The bottom line (the same name on every result type): :attr:`valid`."""
        return self.valid

    def to_json(self) -> dict[str, Any]:
        return {
            "time": _iso(self.time),
            "valid": self.valid,
            "intact": self.intact,
            "tsa": self.tsa.to_json() if self.tsa else None,
            "reason": self.reason,
            "chain": self.chain.to_json() if self.chain else None,
        }


@dataclass(frozen=True)
class Ltv:
    """Whether the document carries what validation needs offline (PAdES B-LT)."""

    offline: bool
    """The chain validates with revocation checking hard-fail on embedded data only."""
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"offline": self.offline, "reason": self.reason}


@dataclass(frozen=True)
class SignatureResult:
    """The verdict on one signature (or document time-stamp) of a PDF."""

    field: str
    """The signature field's fully qualified name."""
    kind: SignatureKind
    """A signature, or a document time-stamp."""
    indication: Indication
    """TOTAL-PASSED, TOTAL-FAILED or INDETERMINATE (ETSI EN 319 102-1 §5.1.3)."""
    sub_indication: SubIndication | None
    """Why, when not passed."""
    reason: str
    """One sentence for humans."""
    signer: CertificateSummary | None = None
    """The signer's certificate (the TSA's, for a document time-stamp)."""
    claimed_signing_time: datetime | None = None
    """What the signer claims (``/M`` or the signingTime attribute); not proof."""
    timestamp: TimestampResult | None = None
    """The signature time-stamp (unsigned attribute), or this document time-stamp."""
    integrity: Integrity | None = None
    """None when the signature could not even be parsed."""
    coverage: Coverage | None = None
    revision: int | None = None
    """The revision the signature covers (1 = the original document)."""
    modification: Modification | None = None
    """What the updates after this signature did."""
    chain: ChainResult | None = None
    """Chain validation of the signer at the time-stamp's time (if valid) or ``at``."""
    ltv: Ltv | None = None
    sub_filter: str | None = None
    """e.g. ``ETSI.CAdES.detached``, ``adbe.pkcs7.detached``, ``ETSI.RFC3161``."""
    byte_range: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()
    """Things worth knowing that did not change the verdict."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", SignatureKind(self.kind))

    @property
    def passed(self) -> bool:
        """The bottom line: TOTAL-PASSED."""
        return self.indication is Indication.TOTAL_PASSED

    @property
    def intact(self) -> bool:
        return self.integrity is not None and self.integrity.intact

    @property
    def revocation_checked(self) -> bool:
        """Every certificate that needed a revocation check got a definite answer
        (good or revoked) from a CRL or an OCSP response: the signer's path and, when
        there is a time-stamp, the TSA's (the trust anchor and id-pkix-ocsp-nocheck
        certificates need none).

        False when the signature passed while some status stayed unknown under
        ``revocation="soft-fail"`` (offline, nothing embedded: PAdES B-B or B-T), or
        with ``revocation="off"``; reports count such signatures apart ("not checked
        for revocation"). False as well when no chain was validated.
        """
        if not _revocation_settled(self.chain):
            return False
        return self.timestamp is None or _revocation_settled(self.timestamp.chain)

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "kind": self.kind,
            "indication": self.indication.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "reason": self.reason,
            "signer": self.signer.to_json() if self.signer else None,
            "claimed_signing_time": _iso(self.claimed_signing_time),
            "timestamp": self.timestamp.to_json() if self.timestamp else None,
            "intact": self.intact,
            "integrity": self.integrity.to_json() if self.integrity else None,
            "coverage": self.coverage.value if self.coverage else None,
            "revision": self.revision,
            "modification": self.modification.level.value if self.modification else None,
            "modification_details": list(self.modification.details) if self.modification else [],
            "chain": self.chain.to_json() if self.chain else None,
            "revocation_checked": self.revocation_checked,
            "ltv": self.ltv.to_json() if self.ltv else None,
            "sub_filter": self.sub_filter,
            "byte_range": list(self.byte_range),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class DocumentResult:
    """The verdict on one PDF: the worst of its signatures."""

    path: Path
    indication: Indication
    """The worst signature's indication; INDETERMINATE when the file has no signature
    or could not be read."""
    sub_indication: SubIndication | None
    reason: str
    signatures: tuple[SignatureResult, ...] = ()
    """In file order (the first signed first)."""
    sha256: str | None = None
    """SHA-256 of the file as read (hex)."""
    size: int | None = None
    revisions: int | None = None
    """Number of revisions (1 + incremental updates)."""
    validation_time: datetime | None = None
    """The time "now" stood for (``at``, else when it ran), UTC."""
    error: str | None = None
    """Why the file could not be verified at all (not a PDF, encrypted, timed out...)."""
    error_type: str | None = None
    seconds: float | None = None
    """Time spent on this document."""
    url: str | None = None
    """The fsspec URL the document was read from (``s3://...``, ``file://...``), when it
    was named by one; it is then what ``to_json()["path"]`` and reports show."""

    @property
    def location(self) -> str:
        """Where the document is, as the user named it: its URL, else its path."""
        return self.url if self.url is not None else str(self.path)

    @property
    def passed(self) -> bool:
        """The bottom line: every signature TOTAL-PASSED (and there is at least one)."""
        return self.indication is Indication.TOTAL_PASSED

    @property
    def unsigned(self) -> bool:
        return self.error is None and not self.signatures

    @property
    def revocation_not_checked(self) -> int:
        """How many of its TOTAL-PASSED signatures passed without a revocation check
        (:attr:`SignatureResult.revocation_checked` false): a TOTAL-PASSED document
        with any is counted apart, "not checked for revocation"."""
        return sum(1 for s in self.signatures if s.passed and not s.revocation_checked)

    def to_json_line(self) -> str:
        """:meth:`to_json` as one line of JSON, non-ASCII kept (a ``--json`` line, the
        store's copy)."""
        return json.dumps(self.to_json(), ensure_ascii=False)

    def to_json(self) -> dict[str, Any]:
        """One object of ``--report out.json`` / ``--json``: a contract other tools parse."""
        return {
            "path": self.location,
            "status": self.indication.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "reason": self.reason,
            "signatures": [s.to_json() for s in self.signatures],
            "revocation_not_checked": self.revocation_not_checked,
            "sha256": self.sha256,
            "size": self.size,
            "revisions": self.revisions,
            "validation_time": _iso(self.validation_time),
            "error": self.error,
            "error_type": self.error_type,
            "seconds": round(self.seconds, 6) if self.seconds is not None else None,
        }
