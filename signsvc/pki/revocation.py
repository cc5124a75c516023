"""Revocation status of the certificates in a path: CRLs (RFC 5280 §6.3) and OCSP
(RFC 6960).

Example::

    >>> from signsvc import validate_chain
    >>> result = validate_chain(leaf, trust=store, at=when, crls=[crl],  # doctest: +SKIP
    ...                         revocation="hard-fail")
    >>> [(r.subject, r.status, r.source) for r in result.revocation]  # doctest: +SKIP

Sources, in order: the caller's CRLs and OCSP responses; then, when a
:class:`~signsvc.pki.fetch.RevocationFetcher` is passed, its cache directory and
(only if enabled) HTTP fetches from the certificate's CRL distribution points and OCSP
responders. A valid OCSP answer is used first; otherwise the CRLs decide.

OCSP responses are accepted only when signed by the CA itself or by a delegated
responder certified by that CA with id-kp-OCSPSigning (RFC 6960 §4.2.2.2), and only
while fresh: ``nextUpdate`` not before the validation time, or, without ``nextUpdate``,
``thisUpdate`` at most :data:`OCSP_MAX_AGE` before it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp

from signsvc._der import DerError, subject_public_key_bits
from signsvc.errors import BadInputError
from signsvc.pki._crl import CrlInfo, CrlVerdict, evaluate_crls
from signsvc.pki._x509 import CertInfo, NameKey, ValidationCache, subject_text, verify_signature

__all__ = ["OCSP_MAX_AGE", "REVOCATION_MODES", "CertificateRevocation", "RevocationMode",
           "RevocationStatus", "load_ocsp_response"]

OCSP_MAX_AGE = timedelta(days=7)
"""How old an OCSP response without nextUpdate may be at the validation time."""
_OCSP_SIGNING = "1.3.6.1.5.5.7.3.9"  # id-kp-OCSPSigning, RFC 6960 §4.2.2.2
_KEY_COMPROMISE = frozenset({x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise})

RevocationMode = Literal["hard-fail", "soft-fail", "off"]
"""What missing revocation data does: ``hard-fail`` refuses the chain (INDETERMINATE),
``soft-fail`` accepts it with a note, ``off`` does not look."""
REVOCATION_MODES: tuple[RevocationMode, ...] = ("hard-fail", "soft-fail", "off")

class RevocationStatus(StrEnum):
    """What the revocation data says of one certificate."""

    GOOD = "good"
    """Not revoked, by current data."""
    REVOKED = "revoked"
    """Revoked (see the revocation time and reason)."""
    UNKNOWN = "unknown"
    """No usable data."""
    NOT_CHECKED = "not-checked"
    """Not looked at (``revocation="off"``, or a trust anchor)."""




@dataclass(frozen=True)
class CertificateRevocation:
    """Revocation status of one certificate of the path, as found."""

    index: int
    """Position in :attr:`ChainResult.path` (anchor = 0)."""
    subject: str
    """Subject DN, RFC 4514."""
    status: RevocationStatus
    """Good, revoked, unknown (no usable data) or not checked."""
    source: Literal["crl", "ocsp", "none"]
    """Which kind of data gave the status."""
    detail: str
    """In words: what was found, or why nothing usable was."""
    revocation_time: datetime | None = None
    """When revoked (UTC), for ``revoked``."""
    reason: str | None = None
    """RFC 5280 §5.3.1 reason name (``keyCompromise``...), for ``revoked``."""
    this_update: datetime | None = None
    """thisUpdate of the data relied on (how current the answer is)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", RevocationStatus(self.status))

    def to_json(self) -> dict[str, object]:
        """Plain-data form."""
        return {
            "index": self.index,
            "subject": self.subject,
            "status": self.status,
            "source": self.source,
            "detail": self.detail,
            "revocation_time": self.revocation_time.isoformat() if self.revocation_time else None,
            "reason": self.reason,
            "this_update": self.this_update.isoformat() if self.this_update else None,
        }


def load_ocsp_response(data: bytes | ocsp.OCSPResponse) -> ocsp.OCSPResponse:
    """Accept a parsed response or its DER bytes.

    Raises:
        BadInputError: the bytes are not a DER OCSPResponse.
    """
    if isinstance(data, ocsp.OCSPResponse):
        return data
    try:
        return ocsp.load_der_ocsp_response(bytes(data))
    except ValueError as exc:
        raise BadInputError(f"not a DER OCSP response ({exc})") from exc


def is_compromise(reason: str | None) -> bool:
    """Whether the reason is keyCompromise or cACompromise."""
    return reason in {r.value for r in _KEY_COMPROMISE}


# -- OCSP -------------------------------------------------------------------------------


def _key_bits(info: CertInfo) -> bytes | None:
    try:
        return subject_public_key_bits(info.cert.tbs_certificate_bytes)
    except DerError:
        return None


def _ocsp_signature_ok(resp: ocsp.OCSPResponse, signer: CertInfo) -> bool:
    key = signer.key
    hash_alg = resp.signature_hash_algorithm
    params: object = None
    if isinstance(key, rsa.RSAPublicKey):
        params = padding.PKCS1v15()
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        hash_alg = None
    elif not isinstance(key, ec.EllipticCurvePublicKey):
        params = None
    if key is None:
        return False
    return verify_signature(key, resp.signature, resp.tbs_response_bytes, hash_alg, params)


@dataclass
class OcspContext:
    """What OCSP checking needs besides the responses."""

    responses: Sequence[ocsp.OCSPResponse]
    cache: ValidationCache
    at: datetime


def _responder_matches(resp: ocsp.OCSPResponse, cand: CertInfo) -> bool:
    if resp.responder_name is not None:
        from signsvc.pki._x509 import name_key

        return name_key(resp.responder_name) == cand.subject_key
    key_hash = resp.responder_key_hash
    bits = _key_bits(cand)
    if key_hash is None or bits is None:
        return False
    digest = hashes.Hash(hashes.SHA1())
    digest.update(bits)
    return digest.finalize() == key_hash


def check_ocsp(
    ctx: OcspContext, info: CertInfo, issuer: CertInfo
) -> tuple[RevocationStatus, str, datetime | None, str | None, datetime | None]:
    """Status from the OCSP responses: (status, detail, revocation time, reason, thisUpdate)."""
    problems: list[str] = []
    issuer_name_der = issuer.cert.subject.public_bytes()
    issuer_bits = _key_bits(issuer)
    for resp in ctx.responses:
        if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            continue
        for single in resp.responses:
            if single.serial_number != info.cert.serial_number:
                continue
            alg = single.hash_algorithm
            name_hash = hashes.Hash(alg)
            name_hash.update(issuer_name_der)
            key_hash = hashes.Hash(alg)
            key_hash.update(issuer_bits or b"")
            if (
                name_hash.finalize() != single.issuer_name_hash
                or key_hash.finalize() != single.issuer_key_hash
            ):
                continue
            problem = _authorise(ctx, resp, issuer)
            if problem is not None:
                problems.append(problem)
                continue
            if single.next_update_utc is not None:
                fresh = single.next_update_utc >= ctx.at
            else:
                fresh = single.this_update_utc >= ctx.at - OCSP_MAX_AGE
            if not fresh:
                problems.append(
                    f"OCSP response is not recent enough (thisUpdate "
                    f"{single.this_update_utc.isoformat()})"
                )
                continue
            status = single.certificate_status
            if status == ocsp.OCSPCertStatus.GOOD:
                return RevocationStatus.GOOD, "OCSP: good", None, None, single.this_update_utc
            if status == ocsp.OCSPCertStatus.REVOKED:
                when = single.revocation_time_utc
                reason = single.revocation_reason
                reason_name = reason.value if reason is not None else "unspecified"
                shown = when.isoformat() if when else "?"
                detail = f"OCSP indicates revocation at {shown} ({reason_name})"
                return RevocationStatus.REVOKED, detail, when, reason_name, single.this_update_utc
            problems.append("OCSP responder answered 'unknown'")
    if problems:
        return RevocationStatus.UNKNOWN, "; ".join(dict.fromkeys(problems)), None, None, None
    return RevocationStatus.UNKNOWN, "no OCSP response for this certificate", None, None, None


def _authorise(ctx: OcspContext, resp: ocsp.OCSPResponse, issuer: CertInfo) -> str | None:
    """RFC 6960 §4.2.2.2: signed by the CA, or by a responder the CA certified for it."""
    if _responder_matches(resp, issuer):
        return None if _ocsp_signature_ok(resp, issuer) else "OCSP response signature is invalid"
    for cert in resp.certificates:
        cand = ctx.cache._info(cert)
        if not _responder_matches(resp, cand):
            continue
        if cand.issuer_key != issuer.subject_key or issuer.key is None:
            return "OCSP responder certificate was not issued by the certificate's CA"
        if not ctx.cache._signature_ok(cand, issuer):
            return "OCSP responder certificate is not signed by the certificate's CA"
        if cand.eku is None or _OCSP_SIGNING not in cand.eku:
            return "OCSP responder certificate lacks id-kp-OCSPSigning"
        produced = resp.produced_at_utc
        if not cand.not_before <= produced <= cand.not_after:
            return "OCSP responder certificate was not valid when the response was produced"
        if not _ocsp_signature_ok(resp, cand):
            return "OCSP response signature is invalid"
        return None
    return "OCSP response is signed by a responder not authorised by the certificate's CA"


# -- orchestration -----------------------------------------------------------------------

SignerValidator = Callable[[CertInfo], "str | None"]
"""Validates a CRL signer's own path to the same anchor; None or why not."""


@dataclass
class RevocationContext:
    """Everything needed to decide the revocation status of path members."""

    crls_by_issuer: dict[NameKey, list[CrlInfo]]
    indirect_crls: list[CrlInfo]
    ocsp_ctx: OcspContext
    pool: dict[NameKey, list[CertInfo]]
    anchors: Sequence[CertInfo]
    validate_signer: SignerValidator
    active: frozenset[bytes]
    """Certificates whose validation is in progress (stops CRL-signer loops)."""
    extra_crls: Callable[[CertInfo, bool], Sequence[CrlInfo]] | None = None
    """More CRLs for a certificate: (certificate, online?) → CRLs."""
    extra_ocsp: Callable[[CertInfo, CertInfo], Sequence[ocsp.OCSPResponse]] | None = None
    """Online OCSP responses for (certificate, issuer)."""

    def check(self, path: Sequence[CertInfo], i: int) -> CertificateRevocation:
        """Revocation status of ``path[i]`` (issuer ``path[i-1]``).

        Local data first (the caller's OCSP responses, then the caller's and the cache
        directory's CRLs); the network only when those do not settle it.
        """
        info = path[i]
        found = self._from(path, i, list(self.ocsp_ctx.responses), offline=True)
        if found.status == "unknown" and (self.extra_ocsp or self.extra_crls):
            online = list(self.extra_ocsp(info, path[i - 1])) if self.extra_ocsp else []
            second = self._from(path, i, online, offline=False)
            if second.status != "unknown":
                return second
            return replace(found, detail=f"{found.detail}; online: {second.detail}")
        return found

    def _from(
        self,
        path: Sequence[CertInfo],
        i: int,
        responses: list[ocsp.OCSPResponse],
        *,
        offline: bool,
    ) -> CertificateRevocation:
        info = path[i]
        issuer = path[i - 1]
        subject = subject_text(info.cert)
        ocsp_ctx = self.ocsp_ctx
        ocsp_detail = None
        if responses:
            status, detail, when, reason, this_update = check_ocsp(
                OcspContext(responses, ocsp_ctx.cache, ocsp_ctx.at), info, issuer
            )
            if status in ("good", "revoked"):
                return CertificateRevocation(
                    i, subject, status, "ocsp", detail, when, reason, this_update
                )
            ocsp_detail = detail
        candidates: list[CrlInfo] = []
        if offline:
            candidates.extend(self.crls_by_issuer.get(info.issuer_key, ()))
            candidates.extend(self.indirect_crls)
        if self.extra_crls is not None:
            candidates.extend(self.extra_crls(info, not offline))
        verdict: CrlVerdict = evaluate_crls(
            info,
            list(dict.fromkeys(candidates)),
            at=ocsp_ctx.at,
            signer_for=lambda crl: self._crl_signer(crl, path, i),
        )
        if verdict.status == "unknown" and ocsp_detail is not None:
            verdict.detail = f"{ocsp_detail}; {verdict.detail}"
        return CertificateRevocation(
            i,
            subject,
            verdict.status,  # type: ignore[arg-type]
            "crl" if verdict.status != "unknown" else "none",
            verdict.detail,
            verdict.revocation_time,
            verdict.reason.value if verdict.reason is not None else None,
            verdict.this_update,
        )

    def _crl_signer(self, crl: CrlInfo, path: Sequence[CertInfo], i: int) -> str | CertInfo:
        """RFC 5280 §6.3.3 (f): find the CRL's signer and validate it."""
        issuer = path[i - 1]
        candidates: list[CertInfo] = []
        if issuer.subject_key == crl.issuer_key:
            candidates.append(issuer)
        candidates.extend(c for c in path[:i] if c.subject_key == crl.issuer_key)
        candidates.extend(self.pool.get(crl.issuer_key, ()))
        candidates.extend(a for a in self.anchors if a.subject_key == crl.issuer_key)
        problems: list[str] = []
        seen: set[bytes] = set()
        for cand in candidates:
            if cand.fingerprint in seen:
                continue
            seen.add(cand.fingerprint)
            if crl.aki is not None and cand.ski is not None and crl.aki != cand.ski:
                continue
            if not crl.signed_by(cand):
                problems.append("CRL signature could not be verified")
                continue
            if cand.key_usage is not None and "cRLSign" not in cand.key_usage:
                problems.append("The CRL issuer that was identified is not authorized to sign CRLs")
                continue
            in_path = any(c.fingerprint == cand.fingerprint for c in path[:i])
            if in_path or cand.fingerprint in self.active:
                return cand
            problem = self.validate_signer(cand)
            if problem is not None:
                problems.append(
                    f"The CRL issuer certificate path could not be validated: {problem}"
                )
                continue
            return cand
        if not problems:
            return "CRL signature could not be verified (no certificate of the CRL issuer)"
        return "; ".join(dict.fromkeys(problems))

