"""Adapter so pyHanko signs PDFs with any :class:`~drivers.keys.KeySigner`.

pyHanko is imported here only, and this module only when asked for, so listing tokens
never pays for loading pyHanko.

Example::

    >>> from pyhanko.sign import signers  # doctest: +SKIP
    >>> signer = as_pyhanko_signer(key)  # doctest: +SKIP
    >>> signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name="Sig1"),
    ...                  signer=signer, output=out)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from asn1crypto import algos
from asn1crypto import x509 as asn1x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from drivers.keys import KeySigner

__all__ = ["KeySignerAdapter", "as_pyhanko_signer"]


def _to_asn1(certificate: x509.Certificate) -> asn1x509.Certificate:
    return asn1x509.Certificate.load(certificate.public_bytes(Encoding.DER))


class KeySignerAdapter(Signer):
    """A pyHanko ``Signer`` whose raw signatures come from a :class:`KeySigner`."""

    def __init__(
        self,
        key: KeySigner,
        *,
        extra_certs: Iterable[x509.Certificate] = (),
        pss: bool = False,
        embed_roots: bool = True,
    ) -> None:
        self.key = key
        self.pss = pss
        certs = [*key.chain, *extra_certs]
        registry = SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [_to_asn1(c) for c in certs]
        )
        super().__init__(
            signing_cert=_to_asn1(key.certificate),
            cert_registry=registry,
            embed_roots=embed_roots,
        )

    def get_signature_mechanism_for_digest(
        self, digest_algorithm: str | None
    ) -> algos.SignedDigestAlgorithm:
        if not self.pss:
            return super().get_signature_mechanism_for_digest(digest_algorithm)
        # Declare exactly what KeySigner.sign produces for this digest: MGF1 with the
        # same hash and salt = digest length (RFC 4055 §3.1), not pyHanko's default
        # maximum salt.
        if digest_algorithm is None:
            # pyHanko asks with None to learn whether the mechanism fixes the digest;
            # ValueError is its protocol for "no, any digest will do".
            raise ValueError("RSASSA-PSS needs a digest algorithm")
        digest = digest_algorithm.lower()
        return algos.SignedDigestAlgorithm({
            "algorithm": "rsassa_pss",
            "parameters": algos.RSASSAPSSParams({
                "hash_algorithm": {"algorithm": digest},
                "mask_gen_algorithm": {"algorithm": "mgf1",
                                       "parameters": {"algorithm": digest}},
                "salt_length": hashlib.new(digest).digest_size,
            }),
        })

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:
            # pyHanko's sizing pass: never touch the token for it.
            size = (self.key.key_size + 7) // 8
            return bytes(size if self.key.key_type == "RSA" else 2 * size + 9)
        return self.key.sign(data, hash_algorithm=digest_algorithm, pss=self.pss)


def as_pyhanko_signer(
    key: KeySigner, *, extra_certs: Iterable[x509.Certificate] = (), pss: bool = False
) -> KeySignerAdapter:
    """Wrap ``key`` for pyHanko's ``sign_pdf``; ``extra_certs`` are embedded too."""
    return KeySignerAdapter(key, extra_certs=extra_certs, pss=pss)
