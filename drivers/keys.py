"""Signing keys: a private key on a token, behind one small interface.

:class:`KeySigner` is what the rest of signsvc signs with; :class:`TokenKey` (a key on a
PKCS#11 token) and :class:`~drivers.softkey.Pkcs12Key` (a key in a PKCS#12 file)
implement it. Every signer returns a finished signature value: PKCS#1 v1.5 or PSS bytes
for RSA, a DER ``ECDSA-Sig-Value`` for EC (RFC 5480 §2.2 / RFC 5652 use the DER form).

Example::

    >>> from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    >>> from cryptography.hazmat.primitives.hashes import SHA256
    >>> from drivers import Pkcs12Key
    >>> key = Pkcs12Key.load("certs_test/official-rsa2048.p12", "1234")  # or a TokenKey
    >>> signature = key.sign(b"data", hash_algorithm="sha256")
    >>> key.certificate.public_key().verify(signature, b"data", PKCS1v15(), SHA256())
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

import pkcs11.exceptions as p11e
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11.mechanisms import MGF, Mechanism

from drivers._translate import translate
from drivers._types import KeySession, ProtectedAuth
from drivers.errors import MechanismUnsupportedError

__all__ = ["HASH_ALGORITHMS", "KeySigner", "TokenKey", "key_description"]

HASH_ALGORITHMS = ("sha1", "sha256", "sha384", "sha512")
"""Digest names accepted by :meth:`KeySigner.sign` (SHA-1 only for legacy tests)."""

# RFC 8017 §9.2 note 1: DER of DigestInfo up to the digest, per hash.
_DIGEST_INFO_PREFIX = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}

_RSA_COMBINED = {
    "sha1": Mechanism.SHA1_RSA_PKCS,
    "sha256": Mechanism.SHA256_RSA_PKCS,
    "sha384": Mechanism.SHA384_RSA_PKCS,
    "sha512": Mechanism.SHA512_RSA_PKCS,
}
_PSS_COMBINED = {
    "sha1": Mechanism.SHA1_RSA_PKCS_PSS,
    "sha256": Mechanism.SHA256_RSA_PKCS_PSS,
    "sha384": Mechanism.SHA384_RSA_PKCS_PSS,
    "sha512": Mechanism.SHA512_RSA_PKCS_PSS,
}
_ECDSA_COMBINED = {
    "sha1": Mechanism.ECDSA_SHA1,
    "sha256": Mechanism.ECDSA_SHA256,
    "sha384": Mechanism.ECDSA_SHA384,
    "sha512": Mechanism.ECDSA_SHA512,
}
_HASH_MECH = {
    "sha1": (Mechanism.SHA_1, MGF.SHA1),
    "sha256": (Mechanism.SHA256, MGF.SHA256),
    "sha384": (Mechanism.SHA384, MGF.SHA384),
    "sha512": (Mechanism.SHA512, MGF.SHA512),
}


@runtime_checkable
class KeySigner(Protocol):
    """A private key with its certificate: what signsvc signs documents with."""

    @property
    def certificate(self) -> x509.Certificate:
        """The signer's certificate."""
        ...

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Issuer certificates found with the key (token objects or PKCS#12 bag)."""
        ...

    @property
    def key_type(self) -> str:
        """``"RSA"`` or ``"EC"``."""
        ...

    @property
    def key_size(self) -> int:
        """Modulus bits (RSA) or curve bits (EC)."""
        ...

    def sign(
        self, data: bytes, *, hash_algorithm: str = "sha256", pss: bool = False
    ) -> bytes:
        """Hash ``data`` and sign it; ``pss`` selects RSASSA-PSS (salt = digest length)."""
        ...


def key_description(certificate: x509.Certificate) -> tuple[str, int]:
    """``(key_type, key_size)`` of a certificate's public key."""
    public = certificate.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return "RSA", public.key_size
    if isinstance(public, ec.EllipticCurvePublicKey):
        return "EC", public.curve.key_size
    return type(public).__name__, 0


def _check_hash(hash_algorithm: str) -> str:
    name = hash_algorithm.lower().replace("-", "")
    if name not in HASH_ALGORITHMS:
        raise ValueError(f"unsupported hash algorithm {hash_algorithm!r}")
    return name


class CertificateKeyInfo:
    """``key_type`` and ``key_size`` read once from ``self.certificate``, for KeySigners.

    ``cached_property`` writes the instance ``__dict__`` directly, so it also works on
    the frozen dataclasses below; ``sign`` then does not re-parse the public key.
    """

    certificate: x509.Certificate

    @cached_property
    def _key_description(self) -> tuple[str, int]:
        return key_description(self.certificate)

    @property
    def key_type(self) -> str:
        return self._key_description[0]

    @property
    def key_size(self) -> int:
        return self._key_description[1]


@dataclass(frozen=True, eq=False)
class TokenKey(CertificateKeyInfo):
    """A private key on a PKCS#11 token, paired with its certificate by ``CKA_ID``.

    Obtained from :meth:`drivers.session.TokenSession.key`; valid while that session
    is open and logged in. Safe to share between threads: every call takes the module
    lock, because vendor modules are not thread-safe.
    """

    session: KeySession[TokenKey]
    """The open session the key lives in (a :class:`drivers.session.TokenSession`)."""
    handle: Any
    """python-pkcs11's key object (internal; do not call it directly)."""
    certificate: x509.Certificate
    """The paired certificate."""
    chain: tuple[x509.Certificate, ...]
    """Issuer certificates stored on the same token, nearest first."""
    id: bytes
    """``CKA_ID`` of the private key."""
    label: str
    """``CKA_LABEL`` of the private key (may be empty)."""
    always_authenticate: bool
    """``CKA_ALWAYS_AUTHENTICATE``: each signature needs a context-specific login."""

    def sign(
        self, data: bytes, *, hash_algorithm: str = "sha256", pss: bool = False
    ) -> bytes:
        """Sign ``data`` with the mechanism the token supports best.

        Prefers the token's combined hash-and-sign mechanism; otherwise hashes on the
        host and uses the raw mechanism (``CKM_RSA_PKCS`` over a DigestInfo, PKCS#11
        v2.40 §2.1.6; ``CKM_RSA_PKCS_PSS``; ``CKM_ECDSA``, whose ``r‖s`` output is
        re-encoded as DER, SEC 1 §4.1.3 / RFC 5480).

        Raises:
            MechanismUnsupportedError: the token lists no usable mechanism.
            PinIncorrectError: the context-specific login was refused (never retried).
            TokenRemovedError: the token went away.
        """
        name = _check_hash(hash_algorithm)
        mechanisms = self.session.mechanisms()
        key_type = self.key_type
        mechanism: Mechanism
        param: object = None
        if key_type == "RSA" and not pss:
            if _RSA_COMBINED[name] in mechanisms:
                mechanism, payload = _RSA_COMBINED[name], data
            elif Mechanism.RSA_PKCS in mechanisms:
                digest = hashlib.new(name, data).digest()
                mechanism, payload = Mechanism.RSA_PKCS, _DIGEST_INFO_PREFIX[name] + digest
            else:
                raise self._unsupported(f"RSA PKCS#1 v1.5 with {name}", mechanisms)
        elif key_type == "RSA":
            hash_mech, mgf = _HASH_MECH[name]
            salt = hashlib.new(name).digest_size
            param = (hash_mech, mgf, salt)
            if _PSS_COMBINED[name] in mechanisms:
                mechanism, payload = _PSS_COMBINED[name], data
            elif Mechanism.RSA_PKCS_PSS in mechanisms:
                mechanism, payload = Mechanism.RSA_PKCS_PSS, hashlib.new(name, data).digest()
            else:
                raise self._unsupported(f"RSA-PSS with {name}", mechanisms)
        elif key_type == "EC":
            if _ECDSA_COMBINED[name] in mechanisms:
                mechanism, payload = _ECDSA_COMBINED[name], data
            elif Mechanism.ECDSA in mechanisms:
                mechanism, payload = Mechanism.ECDSA, hashlib.new(name, data).digest()
            else:
                raise self._unsupported(f"ECDSA with {name}", mechanisms)
        else:
            raise self._unsupported(f"{key_type} keys", mechanisms)

        raw = self._sign_raw(payload, mechanism, param)
        if key_type == "EC":
            half = len(raw) // 2
            return encode_dss_signature(
                int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
            )
        return raw

    def _sign_raw(self, payload: bytes, mechanism: Mechanism, param: object) -> bytes:
        session = self.session
        label = session.info.label
        with session.lock:
            # PKCS#11 v2.40 §5.2 (CKA_ALWAYS_AUTHENTICATE): C_Login(CKU_CONTEXT_SPECIFIC)
            # must follow C_SignInit for every signature; python-pkcs11 does this when
            # given the PIN. The PIN is the one the user gave for this session; a
            # refusal is reported, never retried.
            pin = session.context_pin() if self.always_authenticate else None
            try:
                return bytes(
                    self.handle.sign(payload, mechanism=mechanism, mechanism_param=param,
                                     pin=pin)
                )
            except p11e.PKCS11Error as exc:
                raise translate(
                    exc, operation="sign", token=label, pin_flags=session.pin_flags,
                    signing=True,
                ) from exc

    def reopen(self, pin: str | ProtectedAuth | None = None) -> TokenKey:
        """This key again, in a fresh session on the same token after a re-insertion.

        A session does not survive its token being pulled out (PKCS#11 v3.0 §5.6), and
        after re-insertion the old handles stay invalid, so a new session is opened on
        the token with the same label and serial, the same certificate is looked up,
        and the user is logged in again with exactly one ``C_Login`` (none if the token
        is still logged in through another session). This key's session is closed
        first; its kept PIN is forgotten once the new session works. The session does
        the work (:meth:`drivers.session.TokenSession.reopen_key`).

        Args:
            pin: the PIN the user just gave again (or ``PROTECTED_AUTH``). None reuses
                the PIN this key's session logged in with, which it kept in memory;
                use None only when the user opted in to keeping the PIN. That PIN is
                one the token accepted: a PIN that failed is never kept or re-used.

        Returns:
            A new :class:`TokenKey`; close its ``session`` when done.

        Raises:
            TokenNotFoundError: the token is not present (see
                :func:`drivers.wait_for_token`).
            TokenRemovedError: it went away again meanwhile.
            KeyNotFoundError: the token no longer holds this certificate and its key.
            LoginRequiredError: no PIN given and none kept.
            PinIncorrectError, PinLockedError: the login was refused (not retried).
        """
        return self.session.reopen_key(self, pin)

    def _unsupported(self, wanted: str, mechanisms: frozenset[Mechanism]) -> Exception:
        names = sorted(m.name if isinstance(m, Mechanism) else hex(m) for m in mechanisms)
        return MechanismUnsupportedError(wanted, names, token=self.session.info.label)
