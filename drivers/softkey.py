"""A PKCS#12 file as a soft token, with the same interface as a key on a token.

For servers (an organisation's seal key kept in an HSM-less service) and development.

Example::

    >>> key = Pkcs12Key.load("certs_test/org-omon.p12", "1234")  # doctest: +SKIP
    >>> key.certificate.subject.rfc4514_string()  # doctest: +SKIP
    'CN=UBND quận Ô Môn,...'
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import pkcs12 as asn1pkcs12
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from drivers.errors import KeyNotFoundError, PinIncorrectError, TokenError
from drivers.keys import CertificateKeyInfo, _check_hash

__all__ = ["Pkcs12Key"]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _is_pfx(data: bytes) -> bool:
    """True when ``data`` parses as a PKCS#12 PFX (RFC 7292 §4): version 3 + authSafe."""
    try:
        pfx = asn1pkcs12.Pfx.load(data, strict=True)
        return bool(pfx["version"].native == "v3" and pfx["auth_safe"]["content_type"].native)
    except (ValueError, TypeError, KeyError):
        return False


@dataclass(frozen=True, eq=False)
class Pkcs12Key(CertificateKeyInfo):
    """A private key and certificate read from a PKCS#12 (``.p12`` / ``.pfx``) file."""

    path: Path
    """Where the key was read from."""
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = field(repr=False)
    """The key itself (kept in memory only)."""
    certificate: x509.Certificate
    """The key's certificate."""
    chain: tuple[x509.Certificate, ...]
    """The other certificates in the file, issuers of :attr:`certificate`."""
    label: str
    """The friendly name of the key bag, or the file name."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, path: str | Path, password: str | None) -> Pkcs12Key:
        """Read ``path``, decrypting it with ``password``.

        Raises:
            KeyNotFoundError: the file is missing or holds no key with a certificate.
            PinIncorrectError: the password is wrong (a file has no retry counter, but
                the error is the same one a token gives).
            TokenError: the file is not PKCS#12 or uses an unsupported algorithm.
        """
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeyNotFoundError(f"PKCS#12 file {path} ({exc.strerror})",
                                   token=str(path)) from exc
        if not _is_pfx(data):
            # Tell "not PKCS#12" (a .cer, a PEM key, a truncated file) from a wrong
            # password: only the latter may be reported as a refused PIN.
            raise TokenError(f"{path} is not a PKCS#12 file", token=str(path))
        secret = password.encode("utf-8") if password is not None else None
        try:
            bundle = pkcs12.load_pkcs12(data, secret)
        except ValueError as exc:
            raise PinIncorrectError(
                f"wrong password for PKCS#12 file {path} (or the file is damaged)",
                token=str(path),
            ) from exc
        if bundle.key is None or bundle.cert is None:
            raise KeyNotFoundError(f"private key with certificate in PKCS#12 file {path}",
                                   token=str(path))
        if not isinstance(bundle.key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise TokenError(f"{path}: only RSA and EC keys are supported", token=str(path))
        certificate = bundle.cert.certificate
        name = bundle.cert.friendly_name
        return cls(
            path=path,
            private_key=bundle.key,
            certificate=certificate,
            chain=tuple(c.certificate for c in bundle.additional_certs),
            label=name.decode("utf-8", "replace") if name else path.name,
        )

    def sign(self, data: bytes, *, hash_algorithm: str = "sha256", pss: bool = False) -> bytes:
        """Sign like :meth:`drivers.keys.TokenKey.sign` (same schemes, same output)."""
        algorithm = _HASHES[_check_hash(hash_algorithm)]()
        key = self.private_key
        with self._lock:
            if isinstance(key, rsa.RSAPrivateKey):
                scheme: padding.AsymmetricPadding = (
                    padding.PSS(padding.MGF1(algorithm), algorithm.digest_size)
                    if pss else padding.PKCS1v15()
                )
                return key.sign(data, scheme, algorithm)
            return key.sign(data, ec.ECDSA(algorithm))
