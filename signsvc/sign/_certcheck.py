"""Is the signer's certificate fit to sign with? Checked before the PIN is asked.

A B-B signature made with an expired, not-yet-valid or encryption-only certificate is
refused by every verifier, yet pyHanko makes it without a word (only its B-LT path
validates the signer). An official must hear it before typing the PIN, not from the
recipient. Checks:

- validity at the signing time (RFC 5280 §4.1.2.5);
- key usage: digitalSignature or nonRepudiation (RFC 5280 §4.2.1.3; Vietnamese
  signing certificates carry both, older ones only one of them); no keyUsage
  extension means no restriction;
- when trust anchors are given, a valid path to one of them
  (:func:`signsvc.pki.chain.validate_chain`, revocation not consulted: the signing
  time's revocation data belongs to B-LT, which pyHanko collects and checks).

``force`` signs anyway; the reason is kept for the journal.

Example::

    >>> from datetime import UTC, datetime
    >>> from cryptography import x509
    >>> cert = x509.load_pem_x509_certificate(open("certs_test/expired.crt.pem", "rb").read())
    >>> [p.value for p, _ in certificate_problems(cert, at=datetime(2026, 1, 1, tzinfo=UTC))]
    ['expired']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509

from signsvc._i18n import _, shown_time
from signsvc.errors import CertificateProblem, CertificateUnusableError

__all__ = ["FORCED_NOTE", "certificate_problems", "check_signing_certificate"]

FORCED_NOTE = "signed with --force although {problems}"
"""The note of a signature made with an unusable certificate (``force``)."""


def _day(moment: datetime) -> str:
    return shown_time(moment)


def certificate_problems(
    certificate: x509.Certificate,
    *,
    at: datetime,
    trust: Sequence[x509.Certificate] = (),
    intermediates: Sequence[x509.Certificate] = (),
) -> list[tuple[CertificateProblem, str]]:
    """Each reason ``certificate`` should not sign at ``at``, with words for the user."""
    problems: list[tuple[CertificateProblem, str]] = []
    if at > certificate.not_valid_after_utc:
        problems.append((CertificateProblem.EXPIRED,
                         _("the certificate expired on {day}").format(
                             day=_day(certificate.not_valid_after_utc))))
    if at < certificate.not_valid_before_utc:
        problems.append((CertificateProblem.NOT_YET_VALID,
                         _("the certificate is not valid before {day}").format(
                             day=_day(certificate.not_valid_before_utc))))
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        problems.append((CertificateProblem.KEY_USAGE,
                         _("the certificate's key usage allows neither digitalSignature "
                           "nor nonRepudiation: it is not a signing certificate")))
    if trust:
        from signsvc.pki.chain import validate_chain
        from signsvc.pki.trust import TrustStore

        chain = validate_chain(certificate, intermediates=intermediates,
                               trust=TrustStore.from_certificates(trust), at=at,
                               revocation="off")
        if not chain.valid:
            problems.append((CertificateProblem.UNTRUSTED,
                             _("no valid chain to the trust anchors given: "
                               "{reason}").format(reason=chain.reason)))
    return problems


def check_signing_certificate(
    certificate: x509.Certificate,
    *,
    at: datetime,
    trust: Sequence[x509.Certificate] = (),
    intermediates: Sequence[x509.Certificate] = (),
    force: bool = False,
) -> str | None:
    """Refuse an unusable signing certificate, or with ``force`` say why it was used.

    Returns:
        None when the certificate is fit; with ``force``, the note each signature
        keeps in its result and the journal ("signed with --force although ...").

    Raises:
        CertificateUnusableError: it is not fit and ``force`` is false.
    """
    problems = certificate_problems(certificate, at=at, trust=trust,
                                    intermediates=intermediates)
    if not problems:
        return None
    subject = certificate.subject.rfc4514_string()
    words = "; ".join(text for _problem, text in problems)
    if force:
        return FORCED_NOTE.format(problems=words)
    raise CertificateUnusableError(
        _("refusing to sign with the certificate of {subject}: {problems}. Nothing was "
          "signed. Use another certificate, or --force to sign with this one anyway (the "
          "journal records each such signature).").format(subject=subject, problems=words),
        certificate=certificate, problems=tuple(p for p, _text in problems))
