"""The algorithms of a CMS SignerInfo (RFC 5652 §5.3): digest names and hashing,
signature algorithm parameters, the signer's key, and one raw signature check.

Parsed identifiers are memoised by their DER (a batch repeats the same few), keys by
certificate.

Example::

    >>> digest("sha256", b"abc").hex()[:16]
    'ba7816bf8f01cfea'
    >>> digest("shake256", b"").hex()[:16]  # RFC 8419 §2.3: 512 bits
    '46b9dd2b0ba88d13'
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from asn1crypto import algos
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from signsvc.verify._cmsparts import CmsFormatError

__all__ = ["DIGEST_ONLY", "EDDSA_DIGEST", "KeyLoadError", "digest", "digest_algorithm",
           "hash_name", "message_hash", "public_key", "signature_algorithm", "verify_raw"]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}
_SHAKE256_BYTES = 64
"""RFC 8419 §2.3: id-shake256 as the digest of Ed448 signatures gives 512 bits."""
DIGEST_ONLY = frozenset({"shake256"})
"""Digest algorithms used for messageDigest only (never pre-hashed into a signature)."""
EDDSA_DIGEST = {"ed25519": "sha512", "ed448": "shake256"}
"""RFC 8419 §3: the digestAlgorithm an EdDSA SignerInfo must name."""


def hash_name(algorithm: str) -> str:
    """The digest's name as hashlib and :data:`_HASHES` spell it (``sha3_256``)."""
    name = algorithm.lower().replace("-", "_")
    if name not in _HASHES and name not in DIGEST_ONLY:
        raise CmsFormatError(f"unsupported digest algorithm {algorithm}")
    return name


def digest(name: str, *parts: bytes | memoryview) -> bytes:
    """The ``name`` digest of ``parts`` concatenated."""
    if name == "shake256":
        shake = hashlib.shake_256()
        for part in parts:
            shake.update(part)
        return shake.digest(_SHAKE256_BYTES)
    h = hashlib.new(name.replace("_", "-") if name.startswith("sha3") else name)
    for part in parts:
        h.update(part)
    return h.digest()


class KeyLoadError(CmsFormatError):
    """The signer's certificate holds a public key cryptography cannot load."""


@functools.lru_cache(maxsize=64)
def digest_algorithm(der: bytes) -> str:
    """Digest algorithm name from its AlgorithmIdentifier DER (a batch repeats one)."""
    return hash_name(algos.DigestAlgorithm.load(der)["algorithm"].native)


@functools.lru_cache(maxsize=64)
def signature_algorithm(
    der: bytes,
) -> tuple[str, str | None, tuple[str, str, int] | None]:
    """(kind, hash in the OID or None, PSS (hash, MGF1 hash, salt) or None)."""
    algo = algos.SignedDigestAlgorithm.load(der)
    kind = algo.signature_algo
    h: str | None = None
    if kind not in EDDSA_DIGEST:  # EdDSA hashes internally (RFC 8032 §5.1.6, §5.2.6)
        try:
            h = hash_name(algo.hash_algo)
        except ValueError:
            h = None
    pss = None
    if kind == "rsassa_pss":
        params = algo["parameters"]
        pss = (hash_name(params["hash_algorithm"]["algorithm"].native),
               hash_name(params["mask_gen_algorithm"]["parameters"]["algorithm"].native),
               int(params["salt_length"].native))
    return kind, h, pss


@functools.lru_cache(maxsize=256)
def public_key(cert: x509.Certificate) -> Any:
    """The certificate's key, parsed once per certificate (a batch has few signers).

    Raises:
        KeyLoadError: cryptography refuses the key's encoding (e.g. an RSA modulus
            written as a negative INTEGER, EC explicit parameters).
    """
    try:
        return cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(f"the signer's public key could not be loaded ({exc})") from exc


def message_hash(algorithm: bytes, digest_name: str) -> str | None:
    """The hash the signature scheme applies to the signed message: the one in the
    signature OID (sha256WithRSAEncryption), PSS's own, else ``digest_name``; None
    for EdDSA, which signs the message itself."""
    kind, in_oid, pss = signature_algorithm(algorithm)
    if kind in EDDSA_DIGEST:
        return None
    if pss is not None:
        return pss[0]
    return in_oid or digest_name


def verify_raw(
    cert: x509.Certificate, algorithm: bytes, digest_name: str, signature: bytes,
    data: bytes, *, prehashed: bool = False,
) -> None:
    """Raise InvalidSignature unless ``signature`` over ``data`` verifies.

    ``algorithm`` is the DER of the SignerInfo's signatureAlgorithm. With
    ``prehashed``, ``data`` is already the digest under :func:`message_hash`.
    Raises KeyLoadError when the signer's key cannot be loaded.
    """
    kind, in_oid, pss = signature_algorithm(algorithm)
    key = public_key(cert)
    h = in_oid or digest_name

    def algo(name: str) -> Any:
        chosen = _HASHES[name]()
        return Prehashed(chosen) if prehashed else chosen

    if kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), algo(h))
    elif kind == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey) and pss is not None:
        key.verify(signature, data, padding.PSS(padding.MGF1(_HASHES[pss[1]]()), pss[2]),
                   algo(pss[0]))
    elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(algo(h)))
    elif kind == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey) and not prehashed:
        key.verify(signature, data)
    elif kind == "ed448" and isinstance(key, ed448.Ed448PublicKey) and not prehashed:
        key.verify(signature, data)
    else:
        raise InvalidSignature(f"{kind} signature with a {type(key).__name__}")
