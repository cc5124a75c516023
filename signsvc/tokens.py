"""What tokens does this machine see? The inventory behind ``signsvc tokens``.

Example::

    >>> from signsvc.tokens import inventory
    >>> report = inventory()  # every module discovery finds  # doctest: +SKIP
    >>> for module in report.modules:  # doctest: +SKIP
    ...     for token in module.tokens:
    ...         print(token.info.label, [c.certificate.subject for c in token.certificates])

The JSON form (:meth:`Inventory.to_json`) is a contract other tools rely on:
``{"modules": [{"path", "vendor", "error", "tokens": [{"label", "serial", ...,
"certificates": [{"id", "label", "subject", ...}]}]}]}``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

import drivers
from drivers import (
    CertificateEntry,
    KeyEntry,
    KeySigner,
    LoginCancelledError,
    ModuleCandidate,
    PinIncorrectError,
    PinLockedError,
    TokenError,
    TokenInfo,
)
from drivers.module import selection_text
from signsvc._i18n import N_, _, shown_date

__all__ = [
    "Inventory",
    "ModuleReport",
    "TestSignResult",
    "TokenReport",
    "certificate_json",
    "inventory",
    "inventory_text",
    "open_token_key",
    "test_sign",
]

_KEY_USAGES = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
    "key_agreement", "key_cert_sign", "crl_sign",
)
# RFC 5280 §4.2.1.3 names; contentCommitment is still called nonRepudiation by most
# Vietnamese CA documentation.
_KEY_USAGE_NAMES = {
    "digital_signature": "digitalSignature",
    "content_commitment": "nonRepudiation",
    "key_encipherment": "keyEncipherment",
    "data_encipherment": "dataEncipherment",
    "key_agreement": "keyAgreement",
    "key_cert_sign": "keyCertSign",
    "crl_sign": "cRLSign",
}


@dataclass(frozen=True)
class TokenReport:
    """One token and what it holds."""

    info: TokenInfo
    """Label, serial, flags of the token."""
    certificates: tuple[CertificateEntry, ...] = ()
    """Certificate objects, each paired with its key when found."""
    orphan_keys: tuple[KeyEntry, ...] = ()
    """Private keys without a certificate (visible after login only)."""
    logged_in: bool = False
    """Whether the listing was made logged in (private keys visible)."""
    error: str | None = None
    """Why the objects could not be listed."""


@dataclass(frozen=True)
class ModuleReport:
    """One PKCS#11 module: loaded with its tokens, or the reason it did not load."""

    candidate: ModuleCandidate
    """Where the module was found."""
    vendor: str | None
    """Vendor profile name, else the module's manufacturerID."""
    tokens: tuple[TokenReport, ...] = ()
    """Tokens present in its slots."""
    error: str | None = None
    """Why it could not be loaded or enumerated."""
    error_exception: TokenError | None = field(default=None, repr=False, compare=False)
    """The error itself, for callers choosing an exit code."""

    @property
    def hint(self) -> str | None:
        """What the user can do about a module that did not load, one sentence."""
        return getattr(self.error_exception, "hint", None)


@dataclass(frozen=True)
class Inventory:
    """Modules → tokens → certificates, as one report."""

    modules: tuple[ModuleReport, ...]
    """Every module examined, in discovery order."""

    @property
    def ok(self) -> bool:
        """True when every module loaded and every token could be listed."""
        return all(m.error is None and all(t.error is None for t in m.tokens)
                   for m in self.modules)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (see the module docstring)."""
        return {"modules": [_module_json(m) for m in self.modules]}


def _iso(moment: Any) -> str:
    return str(moment.astimezone(UTC).isoformat().replace("+00:00", "Z"))


def _common_name(name: x509.Name) -> str | None:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def _key_usage(certificate: x509.Certificate) -> list[str]:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return []
    names = [_KEY_USAGE_NAMES[attr] for attr in _KEY_USAGES if getattr(usage, attr)]
    if usage.key_agreement:
        names += [n for n, on in (("encipherOnly", usage.encipher_only),
                                  ("decipherOnly", usage.decipher_only)) if on]
    return names


def certificate_json(certificate: x509.Certificate) -> dict[str, Any]:
    """The certificate fields of the JSON contract, from a certificate alone."""
    key_type, key_size = drivers.keys.key_description(certificate)
    return {
        "subject": certificate.subject.rfc4514_string(),
        "common_name": _common_name(certificate.subject),
        "issuer": certificate.issuer.rfc4514_string(),
        "serial": format(certificate.serial_number, "x"),
        "not_before": _iso(certificate.not_valid_before_utc),
        "not_after": _iso(certificate.not_valid_after_utc),
        "key_type": key_type,
        "key_size": key_size,
        "key_usage": _key_usage(certificate),
        "sha256": certificate.fingerprint(hashes.SHA256()).hex(),
    }


def _certificate_entry_json(entry: CertificateEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"id": entry.id.hex(), "label": entry.label}
    if entry.certificate is not None:
        out.update(certificate_json(entry.certificate))
    else:
        out.update({k: None for k in ("subject", "common_name", "issuer", "serial",
                                       "not_before", "not_after", "key_type", "key_size")})
        out["key_usage"] = []
    out["has_private_key"] = entry.has_private_key
    out["key_match"] = entry.key_match
    out["key_id"] = entry.key.id.hex() if entry.key else None
    out["key_label"] = entry.key.label if entry.key else None
    out["always_authenticate"] = bool(entry.key and entry.key.always_authenticate)
    out["error"] = entry.error
    return out


def _token_json(report: TokenReport) -> dict[str, Any]:
    info = report.info
    return {
        "label": info.label,
        "serial": info.serial,
        "manufacturer": info.manufacturer,
        "model": info.model,
        "slot_id": info.slot_id,
        "slot_description": info.slot_description,
        "flags": {
            "login_required": info.flags.login_required,
            "protected_auth_path": info.flags.protected_auth_path,
            "pin_count_low": info.flags.pin_count_low,
            "pin_final_try": info.flags.pin_final_try,
            "pin_locked": info.flags.pin_locked,
        },
        "logged_in": report.logged_in,
        "certificates": [_certificate_entry_json(c) for c in report.certificates],
        "orphan_keys": [
            {"id": k.id.hex(), "label": k.label, "key_type": k.key_type,
             "key_size": k.key_size}
            for k in report.orphan_keys
        ],
        "error": report.error,
    }


def _module_json(report: ModuleReport) -> dict[str, Any]:
    return {
        "path": str(report.candidate.path),
        "resolved_path": os.path.realpath(report.candidate.path),
        "source": report.candidate.source,
        "vendor": report.vendor,
        "error": report.error,
        "hint": report.hint,
        "tokens": [_token_json(t) for t in report.tokens],
    }


def _token_report(module: drivers.Pkcs11Module, info: TokenInfo, pin: Any) -> TokenReport:
    try:
        with module.open(token=info) as session:
            if pin is not None:
                try:
                    session.login(pin)
                except (PinIncorrectError, PinLockedError, LoginCancelledError):
                    # The caller asked to log in: a refused PIN is the answer, not a
                    # listing detail to bury in the report.
                    raise
                except TokenError as exc:
                    return TokenReport(info, error=str(exc))
            certificates, orphans = session.contents()
            return TokenReport(info, tuple(certificates), tuple(orphans), session.logged_in)
    except (PinIncorrectError, PinLockedError, LoginCancelledError):
        raise
    except TokenError as exc:
        return TokenReport(info, error=str(exc))


def inventory(
    modules: Sequence[str | Path] = (),
    *,
    label: str | None = None,
    serial: str | None = None,
    pin: Any = None,
) -> Inventory:
    """List modules, tokens and certificates.

    Args:
        modules: explicit module paths; empty means :func:`drivers.discover_modules`.
        label: only tokens with this label.
        serial: only tokens with this serial.
        pin: log in with this PIN (or ``drivers.PROTECTED_AUTH``) to see private keys
            and confirm pairings; one ``C_Login`` per matching token. Give a PIN only
            together with ``label`` or ``serial``: one PIN fits one token.

    Returns:
        The :class:`Inventory`; module and listing failures are reported in it.

    Raises:
        PinIncorrectError, PinLockedError, LoginCancelledError: the login asked for
            with ``pin`` was refused.
    """
    reports = []
    for loaded in drivers.load_discovered(modules):
        candidate, module = loaded.candidate, loaded.module
        if module is None:
            reports.append(ModuleReport(candidate, candidate.vendor, error=str(loaded.error),
                                        error_exception=loaded.error))
            continue
        try:
            infos = module.tokens()
        except TokenError as exc:
            reports.append(ModuleReport(candidate, module.vendor, error=str(exc),
                                        error_exception=exc))
            continue
        tokens = tuple(_token_report(module, info, pin) for info in infos
                       if info.matches(label, serial))
        reports.append(ModuleReport(candidate, candidate.vendor or module.vendor, tokens))
    return Inventory(tuple(reports))


@dataclass(frozen=True)
class TestSignResult:
    """Outcome of :func:`test_sign`."""

    __test__ = False  # not a pytest test class

    certificate: x509.Certificate
    """The certificate whose key signed."""
    digest_algorithm: str
    """Hash used."""
    signature: bytes
    """The signature produced."""
    verified: bool
    """True when the certificate's public key verifies the signature."""
    error: str | None = None
    """Why verification failed."""

    @property
    def passed(self) -> bool:
        """The bottom line (the same name on every result type): :attr:`verified`."""
        return self.verified


def test_sign(key: KeySigner, *, hash_algorithm: str = "sha256") -> TestSignResult:
    """Sign 32 random bytes with ``key`` and verify with its certificate's public key."""
    data = os.urandom(32)
    signature = key.sign(data, hash_algorithm=hash_algorithm)
    algorithm: hashes.HashAlgorithm = getattr(hashes, hash_algorithm.upper())()
    public = key.certificate.public_key()
    error = None
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(algorithm))
        else:
            error = f"unsupported public key type {type(public).__name__}"
    except InvalidSignature:
        error = "the signature does not verify with the certificate's public key"
    return TestSignResult(key.certificate, hash_algorithm, signature, error is None, error)


PinSource = Callable[[TokenInfo], Any]
"""Asked for the PIN once the token is chosen: returns a ``str`` or ``PROTECTED_AUTH``."""


def find_token(
    modules: Sequence[str | Path] = (),
    *,
    label: str | None = None,
    serial: str | None = None,
) -> tuple[drivers.Pkcs11Module, TokenInfo]:
    """The one token matching ``label``/``serial`` across the modules.

    Modules the user named (``--module``, the environment, the config file) must
    load; discovered ones that fail are skipped (a broken vendor module must not hide
    the official's token).

    Raises:
        ModuleLoadError: a module the user named failed to load.
        TokenNotFoundError / AmbiguousSelectionError: zero or several tokens match.
    """
    matches: list[tuple[drivers.Pkcs11Module, TokenInfo]] = []
    present: list[str] = []
    unloadable: list[str] = []
    for loaded in drivers.load_discovered(modules):
        try:
            module = loaded.module_or_raise()
            infos = module.tokens()
        except TokenError as exc:
            if loaded.explicit:
                raise
            # Skipped, but named if no token is found: an official's 32-bit driver
            # must not vanish without a word.
            unloadable.append(exc.summary if isinstance(exc, drivers.ModuleLoadError)
                              else f"{loaded.candidate.path}: {exc}")
            continue
        present += [i.label for i in infos]
        matches += [(module, i) for i in infos if i.matches(label, serial)]
    if not matches:
        raise drivers.TokenNotFoundError(selection_text(label, serial), present,
                                         label=label, unloadable=unloadable)
    if len(matches) > 1:
        raise drivers.AmbiguousSelectionError(
            "token", [f"{i.describe()} in {m.path}" for m, i in matches])
    return matches[0]


CertificateCheck = Callable[[x509.Certificate, Sequence[x509.Certificate]], None]
"""Called with the signing certificate and the token's other certificates (its chain,
usually) before the PIN is asked; raising refuses."""
LoginRecorder = Callable[[TokenInfo, BaseException | None], None]
"""Told after each login: the token, and None or the error that refused it."""


def signing_certificate(session: drivers.TokenSession, cert_id: bytes | None
                        ) -> tuple[x509.Certificate | None, list[x509.Certificate]]:
    """The certificate :meth:`drivers.TokenSession.key` will sign with, read before
    login (certificates and public keys are public objects on most tokens), or None
    when it cannot be told before login (the key pair shows only after it); and every
    certificate on the token.

    Raises:
        AmbiguousSelectionError: no ``cert_id`` and several certificates show a key
            pair already: the user must choose one, and no PIN is spent first.
    """
    entries = [e for e in session.certificates() if e.certificate is not None]
    if cert_id is not None:
        chosen = [e for e in entries if e.id == cert_id]
    else:
        chosen = [e for e in entries if e.has_private_key]
        if len(chosen) > 1:
            raise drivers.AmbiguousSelectionError(
                "key", [f"CKA_ID {e.id.hex()}: {e.certificate.subject.rfc4514_string()}"
                        for e in chosen if e.certificate is not None],
                token=session.info.label)
    every = [e.certificate for e in entries if e.certificate is not None]
    return (chosen[0].certificate if len(chosen) == 1 else None), every


@contextmanager
def open_token_key(
    modules: Sequence[str | Path] = (),
    *,
    label: str | None = None,
    serial: str | None = None,
    cert_id: bytes | None = None,
    pin: PinSource,
    check: CertificateCheck | None = None,
    on_login: LoginRecorder | None = None,
) -> Iterator[drivers.TokenKey]:
    """Choose a token, log in once, and yield the key for ``cert_id``.

    The PIN is asked for (``pin(token_info)``) only after the token is chosen, so a
    PIN-pad reader can be used, and it is tried exactly once. The session is closed
    on exit whatever happens.

    Args:
        check: called with the signing certificate *before* the PIN is asked (read
            from the token's public objects), or, on a token that shows nothing
            before login, right after the login and before any signature; raising
            refuses the key (e.g. :func:`signsvc.sign._certcheck` for an expired
            certificate), and then no PIN is spent.
        on_login: told how the login ended (for the audit journal; never the PIN).
    """
    module, info = find_token(modules, label=label, serial=serial)
    with module.open(token=info) as session:
        checked = False
        if check is not None:
            certificate, on_token = signing_certificate(session, cert_id)
            if certificate is not None:
                check(certificate, on_token)
                checked = True
        if info.flags.login_required:
            try:
                session.login(pin(info))
            except TokenError as exc:
                if on_login is not None:
                    on_login(info, exc)
                raise
            if on_login is not None:
                on_login(info, None)
        key = session.key(cert_id)
        if check is not None and not checked:
            check(key.certificate, key.chain)
        yield key


def inventory_text(report: Inventory) -> list[str]:
    """The human form of ``signsvc tokens``, line by line."""
    lines: list[str] = []
    if not report.modules:
        return [_("No PKCS#11 module found. Give one with --module PATH, or set "
                  "SIGNSVC_PKCS11_MODULE.")]
    for module in report.modules:
        source = module.candidate.source
        vendor = module.vendor or _("unknown vendor")
        lines.append(_("Module {path}  [{vendor}; {source}]").format(
            path=module.candidate.path, vendor=vendor, source=source))
        if module.error:
            lines.append(_("  error: {error}").format(error=module.error))
            if module.hint:
                lines.append(_("  hint: {hint}").format(hint=module.hint))
            continue
        if not module.tokens:
            lines.append(_("  (no token present)"))
        for token in module.tokens:
            _token_text(token, lines)
    return lines


_KEY_MATCH = {
    "id": N_("yes (by CKA_ID)"),
    "public-key": N_("yes (by public key; CKA_ID differs)"),
    "public-key-object": N_("key pair present (log in to confirm)"),
}
"""How a certificate's private key was found (``key_match``), in words."""


def _token_text(token: TokenReport, lines: list[str]) -> None:
    info = token.info
    flags = info.flags
    notes = [_(name) for name, on in (
        (N_("login required"), flags.login_required),
        (N_("PIN pad"), flags.protected_auth_path),
        (N_("PIN count low"), flags.pin_count_low),
        (N_("FINAL PIN TRY"), flags.pin_final_try),
        (N_("PIN LOCKED"), flags.pin_locked),
    ) if on]
    lines.append(_("  Token {label!r}  serial {serial}  {model} ({manufacturer})  "
                   "[{notes}]").format(label=info.label, serial=info.serial,
                                       model=info.model, manufacturer=info.manufacturer,
                                       notes=", ".join(notes) or _("no login needed")))
    if token.error:
        lines.append(_("    error: {error}").format(error=token.error))
        return
    if not token.certificates:
        lines.append(_("    (no certificate)"))
    for entry in token.certificates:
        cert = entry.certificate
        if cert is None:
            lines.append(f"    id {entry.id.hex() or '-'}  label {entry.label!r}: {entry.error}")
            continue
        key_type, key_size = drivers.keys.key_description(cert)
        subject = cert.subject.rfc4514_string()
        match = _(_KEY_MATCH[entry.key_match] if entry.key_match is not None
                  else N_("no") if token.logged_in
                  else N_("none visible before login (--login to check)"))
        lines.append(f"    id {entry.id.hex() or '-'}  {subject}")
        # Vietnam time (+07:00) is the day people see on the certificate's paper.
        lines.append(_("      {key}  valid {since} to {until}  private key: {match}").format(
            key=f"{key_type}-{key_size}", since=shown_date(cert.not_valid_before_utc),
            until=shown_date(cert.not_valid_after_utc), match=match))
        lines.append(_("      issuer {issuer}").format(issuer=cert.issuer.rfc4514_string()))
        lines.append(_("      label {label!r}").format(label=entry.label)
                     + (_("; key label {label!r}").format(label=entry.key.label)
                        if entry.key else ""))
    for key in token.orphan_keys:
        lines.append(_("    key without certificate: id {id}  {key}  label {label!r}").format(
            id=key.id.hex() or "-", key=f"{key.key_type}-{key.key_size}", label=key.label))
