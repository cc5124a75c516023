"""Parsed facts about certificates, signature checks, and the cache that keeps both.

Everything path building and RFC 5280 processing needs from a certificate is read once
into a :class:`CertInfo` (extensions, normalised names, key, signature algorithm) and
kept in a :class:`ValidationCache`, keyed by object identity and by the SHA-256 of the
DER. Verified issuer→subject signatures are cached by the pair of DER hashes, so a batch
of 1,000 documents from one CA pays for each chain link once.

Bounds: the caches are size-capped FIFO dictionaries (defaults: 10,000 certificates,
50,000 signature results, 64 CRL indexes); inserting past the cap drops the oldest
entries. Nothing here recurses over certificate contents.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID

from signsvc._der import DerError, policy_mappings

__all__ = ["CertInfo", "NameKey", "ValidationCache", "name_key", "verify_signature"]

NameKey = tuple[frozenset[tuple[str, Any]], ...]
"""A distinguished name normalised for comparison (RFC 5280 §7.1, RFC 4518)."""

ANY_POLICY = "2.5.29.32.0"
_SHA256 = hashes.SHA256()

# RFC 5280 §4.2: extensions this validator processes. A critical extension outside
# this set makes the certificate unusable (RFC 5280 §6.1.3 (o) / §6.1.5 (f)).
SUPPORTED_EXTENSIONS = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.POLICY_MAPPINGS,
        ExtensionOID.POLICY_CONSTRAINTS,
        ExtensionOID.INHIBIT_ANY_POLICY,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
        ExtensionOID.FRESHEST_CRL,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.SUBJECT_INFORMATION_ACCESS,
        ExtensionOID.OCSP_NO_CHECK,
    }
)

_KU_FIELDS = (
    ("digitalSignature", "digital_signature"),
    ("nonRepudiation", "content_commitment"),
    ("keyEncipherment", "key_encipherment"),
    ("dataEncipherment", "data_encipherment"),
    ("keyAgreement", "key_agreement"),
    ("keyCertSign", "key_cert_sign"),
    ("cRLSign", "crl_sign"),
)


def _norm(value: Any) -> Any:
    # RFC 4518 §2 (simplified): case folding and insignificant-space handling, so
    # "Test  CA" matches "test ca" (PKITS 4.3.3-4.3.5, 4.3.11).
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    return value


_NAME_KEYS: dict[bytes, NameKey] = {}
_MAX_NAME_KEYS = 8192


def name_key(name: x509.Name) -> NameKey:
    """Normalise ``name`` for comparison: RDN order kept, attributes within an RDN as a set.

    Memoised by the name's DER (a pure function of it), in a bounded table: issuer
    names repeat across a batch.
    """
    der = name.public_bytes()
    key = _NAME_KEYS.get(der)
    if key is None:
        key = tuple(
            frozenset((attr.oid.dotted_string, _norm(attr.value)) for attr in rdn)
            for rdn in name.rdns
        )
        if len(_NAME_KEYS) >= _MAX_NAME_KEYS:
            _NAME_KEYS.clear()
        _NAME_KEYS[der] = key
    return key


@functools.lru_cache(maxsize=1024)
def subject_text(cert: x509.Certificate) -> str:
    """The RFC 4514 subject, cached: results name the same few chains thousands of
    times in a batch, and the string costs more than checking a cached signature."""
    return cert.subject.rfc4514_string()


def describe(cert: x509.Certificate) -> str:
    """A short human label: the subject CN, else the whole RFC 4514 subject."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cns and isinstance(cns[0].value, str):
        return cns[0].value
    return cert.subject.rfc4514_string() or "(empty subject)"


class CertInfo:
    """Everything validation reads from one certificate, extracted once."""

    __slots__ = (
        "aia_ocsp",
        "aki",
        "basic_ca",
        "cert",
        "crl_dps",
        "eku",
        "emails_in_dn",
        "error",
        "fingerprint",
        "freshest_crl",
        "inhibit_any",
        "inhibit_mapping",
        "issuer_key",
        "key",
        "key_error",
        "key_usage",
        "name_constraints",
        "not_after",
        "not_before",
        "ocsp_nocheck",
        "path_len",
        "policies",
        "policy_mappings",
        "profile",
        "require_explicit",
        "san",
        "self_issued",
        "sig_error",
        "sig_hash",
        "sig_params",
        "ski",
        "subject_key",
        "unsupported_critical",
    )

    def __init__(self, cert: x509.Certificate, fingerprint: bytes) -> None:
        self.cert = cert
        self.fingerprint = fingerprint
        self.subject_key = name_key(cert.subject)
        self.issuer_key = name_key(cert.issuer)
        self.self_issued = self.subject_key == self.issuer_key
        self.not_before: datetime = cert.not_valid_before_utc
        self.not_after: datetime = cert.not_valid_after_utc
        self.error: str | None = None
        self.profile: tuple[Any, ...] | None = None
        """RFC 5280 §4 profile issues, computed on first use (:mod:`signsvc.pki._profile`)."""
        self._read_key()
        self._read_signature_algorithm()
        self._read_extensions()

    def _read_key(self) -> None:
        self.key: PublicKeyTypes | None = None
        self.key_error: str | None = None
        try:
            self.key = self.cert.public_key()
        except (ValueError, UnsupportedAlgorithm) as exc:
            self.key_error = f"public key cannot be loaded: {exc}"

    def _read_signature_algorithm(self) -> None:
        self.sig_hash: hashes.HashAlgorithm | None = None
        self.sig_params: object = None
        self.sig_error: str | None = None
        try:
            self.sig_hash = self.cert.signature_hash_algorithm
            self.sig_params = self.cert.signature_algorithm_parameters
        except (UnsupportedAlgorithm, ValueError) as exc:
            self.sig_error = (
                f"unsupported signature algorithm {self.cert.signature_algorithm_oid.dotted_string}"
                f" ({exc})"
            )

    def _read_extensions(self) -> None:
        self.basic_ca: bool | None = None
        self.path_len: int | None = None
        self.key_usage: frozenset[str] | None = None
        self.eku: frozenset[str] | None = None
        self.ski: bytes | None = None
        self.aki: bytes | None = None
        self.policies: dict[str, None] | None = None
        self.policy_mappings: tuple[tuple[str, str], ...] | None = None
        self.require_explicit: int | None = None
        self.inhibit_mapping: int | None = None
        self.inhibit_any: int | None = None
        self.name_constraints: x509.NameConstraints | None = None
        self.san: tuple[x509.GeneralName, ...] | None = None
        self.crl_dps: tuple[x509.DistributionPoint, ...] | None = None
        self.freshest_crl: tuple[x509.DistributionPoint, ...] | None = None
        self.aia_ocsp: tuple[str, ...] = ()
        self.ocsp_nocheck = False
        self.unsupported_critical: tuple[str, ...] = ()
        self.emails_in_dn = tuple(
            str(a.value) for a in self.cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)
        )
        try:
            extensions = self.cert.extensions
        except (ValueError, TypeError, x509.DuplicateExtension) as exc:
            self.error = f"malformed extensions: {exc}"
            return
        unsupported = []
        for ext in extensions:
            value = ext.value
            oid = ext.oid
            if oid not in SUPPORTED_EXTENSIONS:
                if ext.critical:
                    unsupported.append(oid.dotted_string)
                continue
            if isinstance(value, x509.BasicConstraints):
                self.basic_ca = value.ca
                self.path_len = value.path_length
            elif isinstance(value, x509.KeyUsage):
                self.key_usage = _key_usage_names(value)
            elif isinstance(value, x509.ExtendedKeyUsage):
                self.eku = frozenset(o.dotted_string for o in value)
            elif isinstance(value, x509.SubjectKeyIdentifier):
                self.ski = value.digest
            elif isinstance(value, x509.AuthorityKeyIdentifier):
                self.aki = value.key_identifier
            elif isinstance(value, x509.CertificatePolicies):
                self.policies = {p.policy_identifier.dotted_string: None for p in value}
            elif oid == ExtensionOID.POLICY_MAPPINGS and isinstance(
                value, x509.UnrecognizedExtension
            ):
                # cryptography leaves policyMappings undecoded (RFC 5280 §4.2.1.5).
                try:
                    self.policy_mappings = policy_mappings(value.value)
                except DerError as exc:
                    self.error = f"malformed policyMappings extension: {exc}"
            elif isinstance(value, x509.PolicyConstraints):
                self.require_explicit = value.require_explicit_policy
                self.inhibit_mapping = value.inhibit_policy_mapping
            elif isinstance(value, x509.InhibitAnyPolicy):
                self.inhibit_any = value.skip_certs
            elif isinstance(value, x509.NameConstraints):
                self.name_constraints = value
            elif isinstance(value, x509.SubjectAlternativeName):
                self.san = tuple(value)
            elif isinstance(value, x509.CRLDistributionPoints):
                self.crl_dps = tuple(value)
            elif isinstance(value, x509.FreshestCRL):
                self.freshest_crl = tuple(value)
            elif isinstance(value, x509.AuthorityInformationAccess):
                self.aia_ocsp = tuple(
                    d.access_location.value
                    for d in value
                    if d.access_method == AuthorityInformationAccessOID.OCSP
                    and isinstance(d.access_location, x509.UniformResourceIdentifier)
                )
            elif isinstance(value, x509.OCSPNoCheck):
                self.ocsp_nocheck = True
        self.unsupported_critical = tuple(unsupported)

    @property
    def is_ca(self) -> bool:
        """basicConstraints cA is TRUE (RFC 5280 §4.2.1.9)."""
        return self.basic_ca is True

def _read_lazy_fields(cert: x509.Certificate) -> tuple[object, ...]:
    return (cert.version, cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(),
            cert.not_valid_before_utc, cert.not_valid_after_utc, cert.serial_number,
            cert.signature_algorithm_oid)


def _key_usage_names(ku: x509.KeyUsage) -> frozenset[str]:
    names = {rfc for rfc, attr in _KU_FIELDS if getattr(ku, attr)}
    if ku.key_agreement:
        if ku.encipher_only:
            names.add("encipherOnly")
        if ku.decipher_only:
            names.add("decipherOnly")
    return frozenset(names)


def verify_signature(
    key: PublicKeyTypes,
    signature: bytes,
    data: bytes,
    hash_alg: hashes.HashAlgorithm | None,
    params: object,
) -> bool:
    """Check one signature with ``key``; False on any mismatch or invalid signature.

    cryptography's ``verify_directly_issued_by`` refuses SHA-1, which the historical
    policy must accept, so the arithmetic is called directly with the algorithm the
    signed object names (RFC 5280 §4.1.1.2); whether that algorithm is *acceptable* is
    :mod:`signsvc.pki.algorithms`' decision, made separately.
    """
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if hash_alg is None:
                return False
            pad = (
                params
                if isinstance(params, padding.PSS | padding.PKCS1v15)
                else padding.PKCS1v15()
            )
            key.verify(signature, data, pad, hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if hash_alg is None:
                return False
            key.verify(signature, data, ec.ECDSA(hash_alg))
        elif isinstance(key, dsa.DSAPublicKey):
            if hash_alg is None:
                return False
            key.verify(signature, data, hash_alg)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            if hash_alg is not None:
                return False
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


_T = TypeVar("_T")


class _Fifo:
    """A size-capped dictionary that forgets its oldest entries first."""

    __slots__ = ("_data", "_max")

    def __init__(self, maximum: int) -> None:
        self._data: dict[Hashable, Any] = {}
        self._max = maximum

    def get(self, key: Hashable) -> Any:
        return self._data.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        data = self._data
        if len(data) >= self._max:
            for old in list(data)[: max(1, self._max // 8)]:
                del data[old]
        data[key] = value

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()


class ValidationCache:
    """Parsed certificates, verified signatures and CRL indexes kept across calls.

    Pass one to :func:`signsvc.validate_chain` (``cache=``) to control its lifetime;
    otherwise a module-wide instance is used. Safe to share between threads.
    """

    def __init__(
        self,
        *,
        max_certificates: int = 10_000,
        max_signatures: int = 50_000,
        max_crls: int = 64,
    ) -> None:
        self._lock = threading.Lock()
        self._by_id = _Fifo(max_certificates)
        self._by_fp = _Fifo(max_certificates)
        self._by_der = _Fifo(max_certificates)
        self._sigs = _Fifo(max_signatures)
        self._crls = _Fifo(max_crls)

    def certificate(self, der: bytes) -> x509.Certificate:
        """The certificate these DER bytes encode, parsed at most once while cached
        (the one certificate cache by DER: a batch from one organisation, and the
        results its workers send back, repeat the same few certificates).

        Raises:
            ValueError: the bytes are not a DER certificate.
        """
        cert = self._by_der.get(der)
        if cert is None:
            try:
                cert = x509.load_der_x509_certificate(der)
                # cryptography parses these fields lazily: read them now, so a
                # certificate that cannot be read fails here, as "not a certificate",
                # and not later inside validation or a result's summary.
                _read_lazy_fields(cert)
            except (TypeError, x509.InvalidVersion) as exc:
                raise ValueError(f"unreadable certificate: {exc}") from exc
            with self._lock:
                self._by_der.put(der, cert)
        return cert  # type: ignore[no-any-return]

    def _info(self, cert: x509.Certificate) -> CertInfo:
        """The :class:`CertInfo` of ``cert``, parsed at most once."""
        hit = self._by_id.get(id(cert))
        if hit is not None and hit.cert is cert:
            return hit  # type: ignore[no-any-return]
        fp = cert.fingerprint(_SHA256)
        info = self._by_fp.get(fp)
        if info is None:
            info = CertInfo(cert, fp)
            with self._lock:
                self._by_fp.put(fp, info)
        elif info.cert is not cert:
            info = _rebind(info, cert)
        with self._lock:
            # The entry holds a reference to ``cert``, so its id cannot be reused while
            # it is cached; the ``is`` check above covers entries already dropped.
            self._by_id.put(id(cert), info)
        return info  # type: ignore[no-any-return]

    def _signature_ok(self, subject: CertInfo, issuer: CertInfo) -> bool:
        """Whether ``issuer``'s public key verifies ``subject``'s signature; cached by
        the pair of SHA-256 fingerprints (the result depends only on the two DERs)."""
        key = issuer.key
        if subject.sig_error is not None or key is None:
            return False
        cache_key = (subject.fingerprint, issuer.fingerprint)
        hit = self._sigs.get(cache_key)
        if hit is not None:
            return bool(hit)
        cert = subject.cert
        ok = verify_signature(
            key, cert.signature, cert.tbs_certificate_bytes, subject.sig_hash, subject.sig_params
        )
        with self._lock:
            self._sigs.put(cache_key, ok)
        return ok

    def memo(self, key: Hashable, compute: Callable[[], _T]) -> _T:
        """A cached value for objects other than certificates (CRL indexes)."""
        hit = self._crls.get(key)
        if hit is None:
            hit = compute()
            with self._lock:
                self._crls.put(key, hit)
        return hit  # type: ignore[no-any-return]

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            for part in (self._by_id, self._by_fp, self._sigs, self._crls):
                part.clear()

    def __len__(self) -> int:
        return len(self._by_fp)


def _rebind(info: CertInfo, cert: x509.Certificate) -> CertInfo:
    # Same DER, different Python object: reuse the parsed facts (they depend only on
    # the DER) but expose the caller's object.
    clone = CertInfo.__new__(CertInfo)
    for slot in CertInfo.__slots__:
        setattr(clone, slot, getattr(info, slot))
    clone.cert = cert
    return clone


DEFAULT_CACHE = ValidationCache()
"""The cache used when a caller passes none."""
