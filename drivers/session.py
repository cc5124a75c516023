"""A session on one token: login, the certificates it holds, and their keys.

Example::

    >>> with load_module(path).open(label="VGCA") as session:  # doctest: +SKIP
    ...     for entry in session.certificates():
    ...         print(entry.id.hex(), entry.certificate.subject, entry.has_private_key)
    ...     session.login(pin)             # exactly one C_Login
    ...     key = session.key(cert_id=bytes.fromhex("01"))
    ...     signature = key.sign(b"...")

Keys are paired with certificates **by CKA_ID**, the identifier PKCS#11 v2.40 §4.6.3
defines for exactly this, with the public key as the fallback; never by label.
Vietnamese token labels carry diacritics and apostrophes (``TRẦN NGỌC TÚ's Viettel-CA
SHA2 Certificate``), keys often have an empty or different label, so looking a key up
by its certificate's label (pyHanko issues 457, 149, 386) fails on real tokens.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pkcs11
import pkcs11.exceptions as p11e
from asn1crypto import core as asn1core
from asn1crypto import keys as asn1keys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11.attributes import AttributeMapper
from pkcs11.constants import Attribute, CertificateType, ObjectClass
from pkcs11.mechanisms import KeyType, Mechanism

from drivers import _ckapi
from drivers._translate import CKR_OK, CKR_USER_ALREADY_LOGGED_IN, translate, translated
from drivers._types import PROTECTED_AUTH, PinFlags, ProtectedAuth, TokenFlags, TokenInfo
from drivers.errors import (
    AmbiguousSelectionError,
    KeyNotFoundError,
    LoginRequiredError,
    PinIncorrectError,
    PinLockedError,
)
from drivers.keys import TokenKey

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["PROTECTED_AUTH", "CertificateEntry", "KeyEntry", "SessionModule", "TokenSession"]


class SessionModule(Protocol):
    """What a session needs from the module that opened it.

    :class:`drivers.module.Pkcs11Module` implements it; it is declared here because
    :mod:`drivers.module` imports this module, not the other way round.
    """

    @property
    def path(self) -> Path:
        """Resolved path of the module."""
        ...

    @property
    def lock(self) -> threading.RLock:
        """The lock every call into the module holds (see :mod:`drivers.module`)."""
        ...

    @property
    def functions(self) -> _ckapi.FunctionList:
        """Raw function list, for the calls python-pkcs11 gets wrong."""
        ...

    def find_token(self, *, label: str | None = None, serial: str | None = None) -> TokenInfo:
        """The one token matching ``label`` and/or ``serial``."""
        ...

    def open(self, *, token: TokenInfo) -> TokenSession:
        """Open a session on ``token``."""
        ...


@dataclass(frozen=True)
class KeyEntry:
    """A private (or, before login, public) key object on the token."""

    id: bytes
    """``CKA_ID``."""
    label: str
    """``CKA_LABEL`` (may be empty)."""
    key_type: str
    """``"RSA"``, ``"EC"`` or the PKCS#11 key-type name."""
    key_size: int
    """Modulus or curve bits; 0 when the token does not say."""
    private: bool
    """True for a private-key object, False for a public-key object."""
    always_authenticate: bool
    """``CKA_ALWAYS_AUTHENTICATE`` (private keys only)."""


@dataclass(frozen=True)
class CertificateEntry:
    """An X.509 certificate object and the private key paired with it."""

    id: bytes
    """``CKA_ID`` of the certificate object."""
    label: str
    """``CKA_LABEL`` of the certificate object."""
    der: bytes
    """``CKA_VALUE``: the certificate as stored."""
    certificate: x509.Certificate | None
    """The parsed certificate; None when the stored bytes are not a certificate."""
    key: KeyEntry | None
    """The paired key, if one was found."""
    key_match: str | None
    """How the key was paired: ``"id"`` (same CKA_ID), ``"public-key"`` (same public
    key, different CKA_ID), ``"public-key-object"`` (before login only a public-key
    object of the pair is visible), or None."""
    error: str | None = None
    """Why ``certificate`` is None."""

    @property
    def has_private_key(self) -> bool:
        """True when a private key (or, before login, its key pair) was found."""
        return self.key_match is not None


def label_mapper() -> AttributeMapper:
    mapper = AttributeMapper()
    # Labels are CK_UTF8CHAR; some tokens write them in a legacy code page or pad them
    # with NULs. Decode leniently so one odd label never hides a token's objects.
    mapper.register_handler(
        Attribute.LABEL,
        lambda s: s.encode("utf-8"),
        lambda b: b.rstrip(b"\0").decode("utf-8", errors="replace"),
    )
    return mapper


def _ec_point(raw: bytes) -> bytes:
    """The uncompressed point, whether the token wraps it in a DER OCTET STRING or not."""
    try:
        value = asn1core.OctetString.load(raw).native
        if isinstance(value, bytes) and value[:1] in (b"\x02", b"\x03", b"\x04"):
            return value
    except (ValueError, TypeError):
        pass
    return raw


def _public_fingerprint(certificate: x509.Certificate) -> bytes | None:
    public = certificate.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        n = public.public_numbers().n
        return b"rsa:" + n.to_bytes((n.bit_length() + 7) // 8, "big")
    if isinstance(public, ec.EllipticCurvePublicKey):
        return b"ec:" + public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    return None


def _attribute(obj: pkcs11.Object, attribute: Attribute, default: Any = None) -> Any:
    try:
        return obj[attribute]
    except (p11e.AttributeTypeInvalid, p11e.AttributeSensitive, NotImplementedError):
        return default


_EC_SIZES = {"secp256r1": 256, "secp384r1": 384, "secp521r1": 521, "secp256k1": 256}


class TokenSession:
    """An open PKCS#11 session on one token; close it (or use ``with``).

    Created by :meth:`drivers.module.Pkcs11Module.open`. The PIN given to
    :meth:`login` stays in memory until the session closes and is used only for the
    per-signature login of ``CKA_ALWAYS_AUTHENTICATE`` keys; it is never logged.
    """

    def __init__(self, module: SessionModule, info: TokenInfo, session: pkcs11.Session) -> None:
        self.module = module
        self.info = info
        self._session = session
        # python-pkcs11 exposes the CK_SESSION_HANDLE, but its type stubs omit it.
        self._handle: int = session.handle  # type: ignore[attr-defined]
        self._mechanisms: frozenset[Mechanism] | None = None
        self._pin: str | None = None
        self._closed = False

    # -- life cycle ------------------------------------------------------------------

    def __enter__(self) -> TokenSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the session (the token stays logged in while other sessions exist)."""
        self._pin = None
        self._release()

    def _release(self) -> None:
        """Close the PKCS#11 session but keep the PIN, for :meth:`reopen_key`.

        A session killed by a removal must be closed *before* a new one is opened:
        OpenSC uses the address of its session structure as the handle, so a new
        session can get the old handle back, and closing the dead one afterwards would
        close the new one (seen: CKR_SESSION_HANDLE_INVALID on the first signature).
        """
        if self._closed:
            return
        self._closed = True
        with self.module.lock:
            try:
                self._session.close()
            except p11e.PKCS11Error:
                # The token may be gone already; there is nothing left to release.
                pass

    # -- login -----------------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        """True when this session can use private objects (C_GetSessionInfo)."""
        with self.module.lock:
            rv, state = self.module.functions.session_state(self._handle)
        return rv == CKR_OK and state in (
            _ckapi.CKS_RO_USER_FUNCTIONS,
            _ckapi.CKS_RW_USER_FUNCTIONS,
        )

    def _current_flags(self) -> TokenFlags | None:
        """The token's flags now (one C_GetTokenInfo): a refused PIN changes them."""
        with self.module.lock:
            try:
                return TokenFlags.from_bits(int(self._session.token.slot.get_token().flags))
            except p11e.PKCS11Error:
                return None

    @property
    def lock(self) -> threading.RLock:
        """The module's lock: hold it for every call into the module (keys do)."""
        return self.module.lock

    def pin_flags(self) -> PinFlags:
        """``(final_try, count_low)`` read from the token now (one C_GetTokenInfo), for
        the error about a refused PIN; ``(None, None)`` when the token cannot say."""
        flags = self._current_flags()
        if flags is None:
            return None, None
        # Many tokens (SoftHSM, ePass2003, ProxKey) never set FINAL_TRY: report
        # "unknown" (None) rather than a reassuring False when the flag is absent.
        return (True if flags.pin_final_try else None), flags.pin_count_low

    def login(self, pin: str | ProtectedAuth) -> None:
        """Log the user in with ``pin``: at most one ``C_Login`` per call, never retried.

        If the token is already logged in for this process (another session of the
        same module), no ``C_Login`` is made at all.

        Raises:
            PinIncorrectError: the PIN was refused; ``final_try`` says whether the
                token now warns that the next wrong PIN locks it.
            PinLockedError: the PIN is locked; no login was attempted if the token
                already said so.
            LoginCancelledError: cancelled on the PIN pad.
        """
        if self.logged_in:
            self._pin = pin if isinstance(pin, str) else None
            return
        current = self._current_flags()
        if current is not None and current.pin_locked:
            # The token already reports the PIN locked: a C_Login would only fail.
            raise PinLockedError(
                f"the user PIN of token {self.info.label!r} is locked; ask the CA or your "
                "security officer to unlock it",
                token=self.info.label,
            )
        if isinstance(pin, ProtectedAuth):
            if current is not None and not current.protected_auth_path:
                raise LoginRequiredError(
                    f"token {self.info.label!r} has no PIN pad; a PIN is needed",
                    token=self.info.label,
                )
            pin_bytes = None
        else:
            pin_bytes = pin.encode("utf-8")
        with self.module.lock:
            rv = self.module.functions.login(self._handle, _ckapi.CKU_USER, pin_bytes)
        if rv not in (CKR_OK, CKR_USER_ALREADY_LOGGED_IN):
            raise translate(
                rv, operation="login", token=self.info.label, pin_flags=self.pin_flags
            )
        self._pin = pin if isinstance(pin, str) else None

    def context_pin(self) -> str:
        """The PIN :meth:`login` was given, for the context-specific login a
        ``CKA_ALWAYS_AUTHENTICATE`` key needs before every signature.

        Raises:
            LoginRequiredError: the session was not logged in with a PIN (no login,
                or a login on the PIN pad).
        """
        if self._pin is None:
            raise LoginRequiredError(
                f"the key on token {self.info.label!r} needs the PIN for every signature "
                "(CKA_ALWAYS_AUTHENTICATE); log in with a PIN first",
                token=self.info.label,
            )
        return self._pin

    # -- objects ---------------------------------------------------------------------

    def mechanisms(self) -> frozenset[Mechanism]:
        """The mechanisms the token lists (cached for the session)."""
        if self._mechanisms is None:
            with self.module.lock, translated("list mechanisms", token=self.info.label):
                self._mechanisms = frozenset(self._session.token.slot.get_mechanisms())
        return self._mechanisms

    def _objects(self, object_class: ObjectClass) -> list[pkcs11.Object]:
        with self.module.lock, translated("list objects", token=self.info.label):
            return list(self._session.get_objects({Attribute.CLASS: object_class}))

    def _read_key(self, obj: pkcs11.Object, private: bool) -> tuple[KeyEntry, bytes | None]:
        """The key's entry and its public-key fingerprint (RSA modulus, or the EC point
        of a public-key object), reading each attribute once."""
        with self.module.lock, translated("read key", token=self.info.label):
            key_type_value = _attribute(obj, Attribute.KEY_TYPE)
            size = 0
            fingerprint = None
            if key_type_value == KeyType.RSA:
                key_type = "RSA"
                modulus = _attribute(obj, Attribute.MODULUS)
                if modulus:
                    size = int.from_bytes(modulus, "big").bit_length()
                    fingerprint = b"rsa:" + bytes(modulus).lstrip(b"\0")
            elif key_type_value == KeyType.EC:
                key_type = "EC"
                params = _attribute(obj, Attribute.EC_PARAMS)
                if params:
                    try:
                        curve = asn1keys.ECDomainParameters.load(params).chosen.native
                        size = _EC_SIZES.get(curve, 0)
                    except (ValueError, TypeError):
                        size = 0
                point = None if private else _attribute(obj, Attribute.EC_POINT)
                if point:
                    fingerprint = b"ec:" + _ec_point(bytes(point))
            else:
                key_type = getattr(key_type_value, "name", str(key_type_value))
            entry = KeyEntry(
                id=bytes(_attribute(obj, Attribute.ID, b"") or b""),
                label=_attribute(obj, Attribute.LABEL, "") or "",
                key_type=key_type,
                key_size=size,
                private=private,
                always_authenticate=bool(
                    private and _attribute(obj, Attribute.ALWAYS_AUTHENTICATE, False)
                ),
            )
        return entry, fingerprint

    def _inventory(
        self,
    ) -> tuple[list[CertificateEntry], list[tuple[KeyEntry, pkcs11.Object]]]:
        private = [(*self._read_key(o, True), o) for o in self._objects(ObjectClass.PRIVATE_KEY)]
        public = [(*self._read_key(o, False), o) for o in self._objects(ObjectClass.PUBLIC_KEY)]
        by_fingerprint: dict[bytes, KeyEntry] = {}
        for entry, fingerprint, _ in private:
            if fingerprint:
                by_fingerprint.setdefault(fingerprint, entry)
        # EC private keys expose no point: reach them through the public-key object of
        # the same pair (same CKA_ID), whose CKA_EC_POINT is readable.
        public_fingerprints: dict[bytes, KeyEntry] = {}
        private_by_id = {e.id: e for e, _, _ in private if e.id}
        for entry, fingerprint, _ in public:
            if not fingerprint:
                continue
            public_fingerprints.setdefault(fingerprint, entry)
            if entry.id in private_by_id:
                by_fingerprint.setdefault(fingerprint, private_by_id[entry.id])
        public_by_id = (
            {e.id: e for e, _, _ in public if e.id}
            if not private_by_id and not self.logged_in else None
        )

        certificates = []
        for obj in self._objects(ObjectClass.CERTIFICATE):
            with self.module.lock, translated("read certificate", token=self.info.label):
                if _attribute(obj, Attribute.CERTIFICATE_TYPE) != CertificateType.X_509:
                    continue
                cert_id = bytes(_attribute(obj, Attribute.ID, b"") or b"")
                label = _attribute(obj, Attribute.LABEL, "") or ""
                der = bytes(_attribute(obj, Attribute.VALUE, b"") or b"")
            certificates.append(
                self._pair(cert_id, label, der, private_by_id, by_fingerprint,
                           public_by_id, public_fingerprints)
            )
        return certificates, [(entry, obj) for entry, _, obj in private]

    def _pair(
        self,
        cert_id: bytes,
        label: str,
        der: bytes,
        private_by_id: dict[bytes, KeyEntry],
        by_fingerprint: dict[bytes, KeyEntry],
        public_by_id: dict[bytes, KeyEntry] | None,
        public_fingerprints: dict[bytes, KeyEntry],
    ) -> CertificateEntry:
        """Pair one certificate; ``public_by_id`` is None once private keys are visible."""
        try:
            certificate = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            return CertificateEntry(cert_id, label, der, None, None, None,
                                    error=f"not a valid X.509 certificate: {exc}")
        fingerprint = _public_fingerprint(certificate)
        if cert_id and cert_id in private_by_id:
            key, match = private_by_id[cert_id], "id"
        elif fingerprint and fingerprint in by_fingerprint:
            key, match = by_fingerprint[fingerprint], "public-key"
        elif public_by_id is not None:
            # Private keys are invisible before login (CKA_PRIVATE). A public-key object
            # of the pair shows the key pair exists; login confirms it.
            if cert_id and cert_id in public_by_id:
                key, match = public_by_id[cert_id], "public-key-object"
            elif fingerprint and fingerprint in public_fingerprints:
                key, match = public_fingerprints[fingerprint], "public-key-object"
            else:
                key, match = None, None
        else:
            key, match = None, None
        return CertificateEntry(cert_id, label, der, certificate, key,
                                match if key else None)

    def contents(self) -> tuple[list[CertificateEntry], list[KeyEntry]]:
        """Certificates (each paired with its key) and the private keys left unpaired,
        read in one pass over the token's objects."""
        certificates, private = self._inventory()
        paired = {id(c.key) for c in certificates if c.key is not None}
        return certificates, [entry for entry, _ in private if id(entry) not in paired]

    def certificates(self) -> list[CertificateEntry]:
        """Every X.509 certificate object, each paired with its key when one exists."""
        return self._inventory()[0]

    def orphan_keys(self) -> list[KeyEntry]:
        """Private keys no certificate pairs with (visible after login)."""
        return self.contents()[1]

    def key(self, cert_id: bytes | None = None) -> TokenKey:
        """The signing key for the certificate with ``CKA_ID`` ``cert_id``.

        With no ``cert_id``, the token must hold exactly one certificate with a key.

        Raises:
            KeyNotFoundError: no such certificate, or it has no private key (log in
                first: private keys are invisible before login).
            AmbiguousSelectionError: several certificates have keys; name one.
        """
        certificates, private = self._inventory()
        usable = [c for c in certificates if c.certificate is not None and c.key is not None
                  and c.key.private]
        if cert_id is not None:
            chosen = [c for c in usable if c.id == cert_id]
            if not chosen:
                exists = any(c.id == cert_id for c in certificates)
                wanted = (
                    f"private key for the certificate with CKA_ID {cert_id.hex()}"
                    if exists else f"certificate with CKA_ID {cert_id.hex()}"
                )
                if exists and not self.logged_in:
                    wanted += " (not logged in: private keys are hidden before login)"
                raise KeyNotFoundError(wanted, token=self.info.label)
        else:
            chosen = usable
            if not chosen:
                wanted = "certificate with a private key"
                if not self.logged_in:
                    wanted += " (not logged in: private keys are hidden before login)"
                raise KeyNotFoundError(wanted, token=self.info.label)
            if len(chosen) > 1:
                raise AmbiguousSelectionError(
                    "key",
                    [f"CKA_ID {c.id.hex()}: {c.certificate.subject.rfc4514_string()}"
                     for c in chosen if c.certificate is not None],
                    token=self.info.label,
                )
        entry = chosen[0]
        assert entry.certificate is not None and entry.key is not None
        handle = next(obj for e, obj in private if e is entry.key)
        return TokenKey(
            session=self,
            handle=handle,
            certificate=entry.certificate,
            chain=_issuer_chain(entry.certificate, [c.certificate for c in certificates
                                                    if c.certificate is not None]),
            id=entry.key.id,
            label=entry.key.label,
            always_authenticate=entry.key.always_authenticate,
        )

    # -- re-insertion ----------------------------------------------------------------

    def reopen_key(self, key: TokenKey, pin: str | ProtectedAuth | None = None) -> TokenKey:
        """``key``, one of this session's, again in a fresh session on the same token.

        What :meth:`drivers.keys.TokenKey.reopen` does (see there for the arguments
        and errors): this session is closed first, a new one is opened on the token
        with the same label and serial, the same certificate is looked up, and the
        user is logged in again with exactly one ``C_Login`` (none if the token is
        still logged in through another session). ``pin`` None reuses the PIN this
        session kept, which the token accepted; the kept PIN is forgotten once the new
        session works, or at once if the token refuses it.

        Raises:
            ValueError: ``key`` belongs to another session.
        """
        if key.session is not self:
            raise ValueError("reopen_key() takes a key of this session")
        # Closed first: its handle may be handed out again (see _release). The PIN it
        # kept stays with it until this succeeds, for another attempt.
        self._release()
        info = self.module.find_token(label=self.info.label, serial=self.info.serial)
        session = self.module.open(token=info)
        try:
            entry = next((c for c in session.certificates()
                          if c.certificate == key.certificate), None)
            if entry is None:
                raise KeyNotFoundError(
                    f"certificate {key.certificate.subject.rfc4514_string()} on the "
                    "re-inserted token", token=info.label)
            if info.flags.login_required:
                given = pin if pin is not None else self._pin
                if given is None and info.flags.protected_auth_path:
                    given = PROTECTED_AUTH
                if given is None:
                    raise LoginRequiredError(
                        f"token {info.label!r} is back but needs the PIN again",
                        token=info.label)
                try:
                    session.login(given)
                except PinIncorrectError:
                    if pin is None:
                        # The kept PIN is refused now (changed meanwhile?): forget it,
                        # so nothing can ever try it again.
                        self._pin = None
                    raise
            fresh = session.key(entry.id)
        except BaseException:
            session.close()
            raise
        self.close()  # forgets the kept PIN: the new session keeps its own
        return fresh


def _issuer_chain(
    leaf: x509.Certificate, pool: list[x509.Certificate]
) -> tuple[x509.Certificate, ...]:
    """Issuer certificates of ``leaf`` found in ``pool``, nearest first (by name)."""
    chain: list[x509.Certificate] = []
    current = leaf
    while len(chain) < 8 and current.issuer != current.subject:
        issuer = next(
            (c for c in pool if c.subject == current.issuer and c not in chain and c != leaf),
            None,
        )
        if issuer is None:
            break
        chain.append(issuer)
        current = issuer
    return tuple(chain)
