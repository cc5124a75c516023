"""Validation verdicts in the words of ETSI EN 319 102-1 (§5.1.3, Table 5 and §5.2.6).

Example::

    >>> from signsvc.pki.indications import Indication, SubIndication
    >>> Indication.TOTAL_PASSED.value
    'TOTAL-PASSED'
    >>> SubIndication.REVOKED.indication is Indication.TOTAL_FAILED
    True

Indications are the bottom line (passed / failed / cannot tell); sub-indications say
why. Values are the exact strings of the standard, so JSON output can be compared with
EU DSS or other ETSI-conformant validators.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Indication", "SubIndication"]


class Indication(StrEnum):
    """ETSI EN 319 102-1 §5.1.3 main status indication."""

    TOTAL_PASSED = "TOTAL-PASSED"
    TOTAL_FAILED = "TOTAL-FAILED"
    INDETERMINATE = "INDETERMINATE"


class SubIndication(StrEnum):
    """ETSI EN 319 102-1 Table 5 sub-indications used by chain validation.

    How signsvc uses each (``at`` is the validation time the caller asks about):
    """

    REVOKED = "REVOKED"
    """TOTAL-FAILED: the end-entity certificate was revoked at or before ``at``."""
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    """TOTAL-FAILED: a certificate's signature does not verify with its issuer's key."""
    EXPIRED = "EXPIRED"
    """TOTAL-FAILED: reserved for signature validation (signing time after expiry)."""
    NOT_YET_VALID = "NOT_YET_VALID"
    """TOTAL-FAILED: reserved for signature validation (signing time before issuance)."""
    FORMAT_FAILURE = "FORMAT_FAILURE"
    """TOTAL-FAILED: reserved for signature validation (malformed signature)."""
    HASH_FAILURE = "HASH_FAILURE"
    """TOTAL-FAILED: reserved for signature validation (digest mismatch)."""

    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    """INDETERMINATE: no issuer chain leads from the certificate to a trust anchor."""
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    """INDETERMINATE: the chain could not be processed (malformed certificate, path
    building gave up after its work budget)."""
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    """INDETERMINATE: the chain breaks an RFC 5280 constraint (basicConstraints, path
    length, key usage, policies, name constraints, critical extensions)."""
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    """INDETERMINATE: an algorithm or key size is not acceptable under the policy."""
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    """INDETERMINATE: a certificate is expired or not yet valid at ``at``."""
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    """INDETERMINATE: expired at ``at``, but revocation data issued while it was valid
    shows it was not revoked."""
    REVOKED_NO_POE = "REVOKED_NO_POE"
    """INDETERMINATE: revoked for key compromise after ``at``, and the policy treats
    such revocations as retroactive."""
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    """INDETERMINATE: a CA certificate in the chain was revoked at or before ``at``."""
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    """INDETERMINATE: the signer's certificate is missing from the signature, or the
    signing-certificate attribute names another one (signature validation)."""
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    """INDETERMINATE: the signature breaks a validation constraint other than the
    chain's, here: its time-stamp does not validate (signature validation)."""
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    """INDETERMINATE: what the signature covers cannot be compared with what is shown,
    here: the updates after it in an encrypted document whose password is not known
    (signature validation)."""
    TRY_LATER = "TRY_LATER"
    """INDETERMINATE: no usable revocation data (missing, stale, badly signed, out of
    scope) while revocation checking is ``hard-fail``."""

    @property
    def indication(self) -> Indication:
        """The main indication this sub-indication belongs to."""
        return _FAILED.get(self, Indication.INDETERMINATE)


_FAILED = {
    SubIndication.REVOKED: Indication.TOTAL_FAILED,
    SubIndication.SIG_CRYPTO_FAILURE: Indication.TOTAL_FAILED,
    SubIndication.EXPIRED: Indication.TOTAL_FAILED,
    SubIndication.NOT_YET_VALID: Indication.TOTAL_FAILED,
    SubIndication.FORMAT_FAILURE: Indication.TOTAL_FAILED,
    SubIndication.HASH_FAILURE: Indication.TOTAL_FAILED,
}
