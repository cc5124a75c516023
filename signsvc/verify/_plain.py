"""ETSI EN 319 102-1 verdicts in plain words, for the clerk who reads them.

The codes (``TOTAL-FAILED`` / ``HASH_FAILURE``) stay what machines compare; this line
says what they mean, in the language in use (:mod:`signsvc._i18n`), with the words of
the HTML report ("Hợp lệ", "Không hợp lệ", "Chưa xác định", "Không có chữ ký",
"Không đọc được").

Example::

    >>> from signsvc._i18n import set_language
    >>> from signsvc.pki.indications import Indication, SubIndication
    >>> from signsvc.verify._plain import plain_line
    >>> set_language("en")
    >>> plain_line(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    'Invalid: the document was changed after signing'
"""

from __future__ import annotations

from signsvc._i18n import N_, _
from signsvc.pki.indications import Indication, SubIndication

__all__ = ["INDICATION_TEXTS", "SUB_INDICATION_TEXTS", "plain_line"]

INDICATION_TEXTS: dict[Indication, str] = {
    Indication.TOTAL_PASSED: N_("Valid"),
    Indication.TOTAL_FAILED: N_("Invalid"),
    Indication.INDETERMINATE: N_("Indeterminate: the signature could not be confirmed"),
}
"""Each main indication alone (English msgids; translated when shown)."""

SUB_INDICATION_TEXTS: dict[SubIndication, str] = {
    SubIndication.REVOKED: N_("Invalid: the signer's certificate was revoked"),
    SubIndication.SIG_CRYPTO_FAILURE: N_("Invalid: the signature does not match the "
                                         "signer's key"),
    SubIndication.EXPIRED: N_("Invalid: the certificate had expired when the document "
                              "was signed"),
    SubIndication.NOT_YET_VALID: N_("Invalid: the certificate was not yet valid when the "
                                    "document was signed"),
    SubIndication.FORMAT_FAILURE: N_("Invalid: the signature is malformed"),
    SubIndication.HASH_FAILURE: N_("Invalid: the document was changed after signing"),
    SubIndication.NO_CERTIFICATE_CHAIN_FOUND: N_(
        "Indeterminate: the signer's certificate does not lead to a trusted root"),
    SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE: N_(
        "Indeterminate: the certificate chain could not be checked"),
    SubIndication.CHAIN_CONSTRAINTS_FAILURE: N_(
        "Indeterminate: a certificate in the chain breaks the rules for certificates"),
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE: N_(
        "Indeterminate: an algorithm or key size is too weak"),
    SubIndication.OUT_OF_BOUNDS_NO_POE: N_(
        "Indeterminate: the certificate has expired or is not yet valid, and no "
        "time-stamp proves when the document was signed"),
    SubIndication.OUT_OF_BOUNDS_NOT_REVOKED: N_(
        "Indeterminate: the certificate has expired, though it was not revoked while "
        "valid"),
    SubIndication.REVOKED_NO_POE: N_(
        "Indeterminate: the certificate was revoked later, and nothing proves the "
        "signature came before"),
    SubIndication.REVOKED_CA_NO_POE: N_(
        "Indeterminate: a certification authority in the chain was revoked"),
    SubIndication.NO_SIGNING_CERTIFICATE_FOUND: N_(
        "Indeterminate: the signer's certificate is missing from the signature"),
    SubIndication.SIG_CONSTRAINTS_FAILURE: N_(
        "Indeterminate: the signature's time-stamp is not valid"),
    SubIndication.SIGNED_DATA_NOT_FOUND: N_(
        "Indeterminate: what was signed cannot be compared with the document as it is "
        "now (an encrypted document whose password is not known)"),
    SubIndication.TRY_LATER: N_(
        "Indeterminate: the certificate's revocation status is not available; try "
        "again later"),
}
"""Each sub-indication (ETSI EN 319 102-1 Table 5), with its main indication's word."""

UNSIGNED_TEXT = N_("No signature: the document is not signed")
UNREADABLE_TEXT = N_("Unreadable: the file could not be checked")
MODIFIED_TEXT = N_("Invalid: the document was changed after signing in a way the "
                   "signature does not permit")
"""FORMAT_FAILURE for a disallowed modification (the signed bytes are intact, what is
shown is not what was signed), rather than a malformed signature."""


def plain_line(indication: Indication, sub_indication: SubIndication | None = None, *,
               unsigned: bool = False, unreadable: bool = False,
               modified: bool = False) -> str:
    """What ``indication`` / ``sub_indication`` mean, in the language in use.

    Args:
        unsigned: the document has no signature (INDETERMINATE, no sub-indication).
        unreadable: the file could not be verified at all (``DocumentResult.error``).
        modified: the verdict comes from a disallowed modification (FORMAT_FAILURE
            with ``modification.level`` disallowed).
    """
    if unreadable:
        return _(UNREADABLE_TEXT)
    if unsigned:
        return _(UNSIGNED_TEXT)
    if modified and sub_indication is SubIndication.FORMAT_FAILURE:
        return _(MODIFIED_TEXT)
    if sub_indication is not None:
        return _(SUB_INDICATION_TEXTS[sub_indication])
    return _(INDICATION_TEXTS[indication])
