"""CRL processing: RFC 5280 §6.3.3 with delta CRLs, distribution points and indirect CRLs.

Bounds: each CRL is indexed once (serial → entry, in a dict) on first use and the index
is kept in the :class:`~signsvc.pki._x509.ValidationCache`, so a 100,000-entry CRL costs one
pass, then O(1) per lookup. The index stores (revocation time, reason) tuples, not the
entry objects. A CRL is checked for unrecognised critical extensions, on itself and on
any entry (RFC 5280 §5.3: such a CRL must not be used at all), during that same pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

from signsvc.pki._x509 import CertInfo, NameKey, ValidationCache, name_key, verify_signature

__all__ = ["ALL_REASONS", "CrlInfo", "CrlVerdict", "crl_info", "evaluate_crls"]

ALL_REASONS = frozenset(
    r
    for r in x509.ReasonFlags
    if r not in (x509.ReasonFlags.unspecified, x509.ReasonFlags.remove_from_crl)
)
_CRL_EXTENSIONS = frozenset(
    {
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.CRL_NUMBER,
        ExtensionOID.DELTA_CRL_INDICATOR,
        ExtensionOID.ISSUING_DISTRIBUTION_POINT,
        ExtensionOID.FRESHEST_CRL,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
    }
)
_ENTRY_EXTENSIONS = frozenset(
    {
        CRLEntryExtensionOID.CRL_REASON,
        CRLEntryExtensionOID.INVALIDITY_DATE,
        CRLEntryExtensionOID.CERTIFICATE_ISSUER,
        x509.ObjectIdentifier("2.5.29.23"),  # holdInstructionCode (RFC 5280 §5.3.2 note)
    }
)

Entry = tuple[datetime, x509.ReasonFlags]


class CrlInfo:
    """Facts about one CRL and, once built, its serial index."""

    __slots__ = (
        "_entries",
        "aki",
        "base_number",
        "crl",
        "error",
        "idp",
        "issuer_key",
        "next_update",
        "number",
        "sig_hash",
        "sig_params",
        "this_update",
        "verified",
    )

    def __init__(self, crl: x509.CertificateRevocationList) -> None:
        self.crl = crl
        self.issuer_key = name_key(crl.issuer)
        self.this_update: datetime = crl.last_update_utc
        self.next_update: datetime | None = crl.next_update_utc
        self.error: str | None = None
        self.aki: bytes | None = None
        self.number: int | None = None
        self.base_number: int | None = None
        self.idp: x509.IssuingDistributionPoint | None = None
        self.verified: dict[bytes, bool] = {}
        self._entries: dict[tuple[NameKey, int], Entry] | None = None
        self.sig_hash: hashes.HashAlgorithm | None = None
        self.sig_params: object = None
        try:
            self.sig_hash = crl.signature_hash_algorithm
            self.sig_params = crl.signature_algorithm_parameters
        except (UnsupportedAlgorithm, ValueError) as exc:
            self.error = f"unsupported CRL signature algorithm ({exc})"
        try:
            for ext in crl.extensions:
                value = ext.value
                if ext.oid not in _CRL_EXTENSIONS:
                    if ext.critical:
                        self.error = (
                            "One or more unrecognized critical extensions are present in the CRL"
                        )
                elif isinstance(value, x509.AuthorityKeyIdentifier):
                    self.aki = value.key_identifier
                elif isinstance(value, x509.CRLNumber):
                    self.number = value.crl_number
                    if ext.critical:
                        # RFC 5280 §5.2.3: "this extension MUST be non-critical".
                        self.error = "the CRL marks cRLNumber critical (RFC 5280 §5.2.3)"
                elif isinstance(value, x509.DeltaCRLIndicator):
                    self.base_number = value.crl_number
                elif isinstance(value, x509.IssuingDistributionPoint):
                    self.idp = value
        except (ValueError, TypeError, x509.DuplicateExtension) as exc:
            self.error = f"malformed CRL extensions ({exc})"
        if self.error is None and self.number is None:
            # RFC 5280 §5.2.3: "CRL issuers MUST include this extension in all CRLs";
            # without it, a newer CRL cannot be told from a replayed older one.
            self.error = "the CRL has no cRLNumber (RFC 5280 §5.2.3)"

    @property
    def indirect(self) -> bool:
        return self.idp is not None and self.idp.indirect_crl

    def entries(self) -> dict[tuple[NameKey, int], Entry]:
        """(certificate issuer, serial) → (revocation time, reason); built once."""
        if self._entries is not None:
            return self._entries
        index: dict[tuple[NameKey, int], Entry] = {}
        issuer = self.issuer_key
        indirect = self.indirect
        unspecified = x509.ReasonFlags.unspecified
        try:
            for entry in self.crl:
                reason = unspecified
                exts = entry.extensions
                if len(exts):
                    for ext in exts:
                        value = ext.value
                        if ext.oid not in _ENTRY_EXTENSIONS:
                            if ext.critical:
                                self.error = (
                                    "One or more unrecognized critical extensions are present "
                                    "in the CRL entry for a certificate"
                                )
                        elif isinstance(value, x509.CRLReason):
                            reason = value.reason
                        elif indirect and isinstance(value, x509.CertificateIssuer):
                            # RFC 5280 §5.3.3: applies to this and following entries.
                            dns = value.get_values_for_type(x509.DirectoryName)
                            if dns:
                                issuer = name_key(dns[0])
                index[(issuer, entry.serial_number)] = (entry.revocation_date_utc, reason)
        except (ValueError, TypeError, x509.DuplicateExtension) as exc:
            self.error = f"malformed CRL entries ({exc})"
        self._entries = index
        return index

    def signed_by(self, signer: CertInfo) -> bool:
        hit = self.verified.get(signer.fingerprint)
        if hit is None:
            key = signer.key
            hit = key is not None and verify_signature(
                key, self.crl.signature, self.crl.tbs_certlist_bytes, self.sig_hash, self.sig_params
            )
            self.verified[signer.fingerprint] = hit
        return hit


def crl_info(crl: x509.CertificateRevocationList, cache: ValidationCache) -> CrlInfo:
    """The cached :class:`CrlInfo` of ``crl`` (keyed by object identity)."""
    entry: tuple[x509.CertificateRevocationList, CrlInfo] = cache.memo(
        ("crl", id(crl)), lambda: (crl, CrlInfo(crl))
    )
    if entry[0] is not crl:  # a different object reused the id after eviction
        entry = (crl, CrlInfo(crl))
    return entry[1]


@dataclass
class CrlVerdict:
    """What the CRLs say about one certificate."""

    status: str
    """``"good"``, ``"revoked"`` or ``"unknown"``."""
    detail: str
    revocation_time: datetime | None = None
    reason: x509.ReasonFlags | None = None
    this_update: datetime | None = None
    """thisUpdate of the oldest CRL the verdict relied on."""


SignerCheck = Callable[[CrlInfo], "str | CertInfo"]
"""Finds and validates the CRL's signer: the signer, or why none could be accepted."""


def _gn_key(name: x509.GeneralName) -> tuple[str, object]:
    if isinstance(name, x509.DirectoryName):
        return ("dn", name_key(name.value))
    return (type(name).__name__, name.value)


def _dp_names(
    full: Sequence[x509.GeneralName] | None,
    relative: x509.RelativeDistinguishedName | None,
    base: x509.Name,
) -> set[tuple[str, object]]:
    if full:
        return {_gn_key(n) for n in full}
    if relative is not None:
        # RFC 5280 §4.2.1.13: nameRelativeToCRLIssuer is appended to the CRL issuer's DN.
        return {("dn", name_key(x509.Name([*base.rdns, relative])))}
    return set()


def _scope_problem(
    info: CertInfo, dp: x509.DistributionPoint | None, crl: CrlInfo
) -> str | None:
    """RFC 5280 §6.3.3 (b): is ``crl`` the right CRL for ``info`` via ``dp``?"""
    dp_issuers = (
        [n.value for n in dp.crl_issuer if isinstance(n, x509.DirectoryName)]
        if dp is not None and dp.crl_issuer
        else []
    )
    if dp_issuers:  # (b)(1)
        if not any(name_key(n) == crl.issuer_key for n in dp_issuers):
            return "CRL issuer does not match the distribution point's cRLIssuer"
        if not crl.indirect:
            return "CRL issuer differs from the certificate issuer but the CRL is not indirect"
    elif crl.issuer_key != info.issuer_key:
        return "CRL issuer name does not match the certificate issuer"
    idp = crl.idp
    if idp is None:
        return None
    if idp.full_name or idp.relative_name is not None:  # (b)(2)(i)
        idp_names = _dp_names(idp.full_name, idp.relative_name, crl.crl.issuer)
        if dp is not None and (dp.full_name or dp.relative_name is not None):
            base = dp_issuers[0] if dp_issuers else info.cert.issuer
            cert_names = _dp_names(dp.full_name, dp.relative_name, base)
        else:
            cert_names = {("dn", name_key(n)) for n in dp_issuers}
        if not idp_names & cert_names:
            return "CRL distribution point does not match the certificate's"
    if idp.only_contains_user_certs and info.is_ca:  # (b)(2)(ii)
        return "CRL only contains end-entity certificates and certificate is a CA certificate"
    if idp.only_contains_ca_certs and not info.is_ca:  # (b)(2)(iii)
        return "CRL only contains CA certificates and certificate is an end-entity certificate"
    if idp.only_contains_attribute_certs:  # (b)(2)(iv)
        return "CRL only contains attribute certificates"
    return None


def evaluate_crls(
    info: CertInfo,
    crls: Sequence[CrlInfo],
    *,
    at: datetime,
    signer_for: SignerCheck,
) -> CrlVerdict:
    """RFC 5280 §6.3.3 for ``info`` over the candidate ``crls`` (same issuer or indirect)."""
    dps: list[x509.DistributionPoint | None] = list(info.crl_dps) if info.crl_dps else [None]
    complete = [c for c in crls if c.base_number is None]
    deltas = [c for c in crls if c.base_number is not None]
    reasons_mask: set[x509.ReasonFlags] = set()
    problems: list[str] = []
    oldest: datetime | None = None
    used_any = False
    for dp in dps:
        for crl in complete:
            if reasons_mask >= ALL_REASONS:
                break
            problem = _scope_problem(info, dp, crl)
            if problem is not None:
                problems.append(problem)
                continue
            if crl.error is not None:
                problems.append(crl.error)
                continue
            if crl.next_update is not None and crl.next_update < at:  # (a)
                problems.append("CRL is not recent enough")
                continue
            interim = _reasons(dp, crl)  # (c)
            if not interim - reasons_mask:  # (d)
                continue
            signer = signer_for(crl)  # (e)-(f)
            if isinstance(signer, str):
                problems.append(signer)
                continue
            delta = None
            applicable = [d for d in deltas if _delta_matches(d, crl)]  # (g)
            if applicable:
                fresh = [
                    d for d in applicable
                    if (d.next_update is None or d.next_update >= at)
                    and d.error is None and d.signed_by(signer)
                ]
                if not fresh:
                    problems.append("delta CRL is not recent enough or not usable")
                    continue
                delta = max(fresh, key=lambda d: d.number or 0)
            entries = crl.entries()
            if crl.error is not None:  # an entry carried an unknown critical extension
                problems.append(crl.error)
                continue
            key = (info.issuer_key, info.cert.serial_number)
            hit = None
            if delta is not None:  # (i)
                delta_entries = delta.entries()
                if delta.error is not None:
                    problems.append(delta.error)
                    continue
                hit = delta_entries.get(key)
            if hit is None:  # (j)
                hit = entries.get(key)
            used_any = True
            oldest = crl.this_update if oldest is None else min(oldest, crl.this_update)
            if hit is not None and hit[1] != x509.ReasonFlags.remove_from_crl:  # (k)
                when, reason = hit
                return CrlVerdict(
                    "revoked",
                    f"CRL indicates revocation at {when.isoformat()} ({reason.value})",
                    when,
                    reason,
                    crl.this_update,
                )
            reasons_mask |= interim
    if reasons_mask >= ALL_REASONS:
        return CrlVerdict("good", "not listed on the applicable CRL(s)", this_update=oldest)
    if used_any:
        return CrlVerdict("unknown", "The available CRLs do not cover all revocation reasons")
    if problems:
        return CrlVerdict("unknown", "; ".join(dict.fromkeys(problems)))
    return CrlVerdict("unknown", "no CRL for this certificate was available")


def _reasons(dp: x509.DistributionPoint | None, crl: CrlInfo) -> frozenset[x509.ReasonFlags]:
    idp_reasons = crl.idp.only_some_reasons if crl.idp is not None else None
    dp_reasons = dp.reasons if dp is not None else None
    if idp_reasons and dp_reasons:
        return frozenset(idp_reasons) & frozenset(dp_reasons)
    if idp_reasons:
        return frozenset(idp_reasons)
    if dp_reasons:
        return frozenset(dp_reasons)
    return ALL_REASONS


def _delta_matches(delta: CrlInfo, complete: CrlInfo) -> bool:
    # RFC 5280 §5.2.4 and §6.3.3 (g)(1)-(3): same issuer, same scope, same key, and a
    # base not newer than the complete CRL.
    if delta.issuer_key != complete.issuer_key or delta.idp != complete.idp:
        return False
    if delta.aki is not None and complete.aki is not None and delta.aki != complete.aki:
        return False
    if complete.number is None or delta.base_number is None:
        return False
    return delta.base_number <= complete.number
