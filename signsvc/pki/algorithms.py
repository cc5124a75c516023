"""Which signature algorithms and key sizes a chain may rely on, and from when.

Example::

    >>> from datetime import UTC, datetime
    >>> from signsvc.pki.algorithms import DEFAULT_POLICY, HISTORICAL_POLICY
    >>> DEFAULT_POLICY.hash_verdict("sha1", at=datetime(2020, 1, 1, tzinfo=UTC)).accepted
    False
    >>> HISTORICAL_POLICY.hash_verdict("sha1", at=datetime(2020, 1, 1, tzinfo=UTC)).accepted
    True
    >>> DEFAULT_POLICY.hash_verdict("sha1", at=datetime(2026, 1, 1, tzinfo=UTC),
    ...                             ca_issued=datetime(2010, 3, 25, tzinfo=UTC)).accepted
    True

The rule follows ETSI TS 119 312 / ETSI EN 319 102-1 §5.2.8 ("cryptographic constraints"):
an algorithm is acceptable when the time the signature is relied on (``at``) lies before
the algorithm's sunset date. NIST SP 800-131A Rev. 2 §3 and §9 disallow SHA-1 for
signature generation and RSA/DSA keys below 2048 bits after 2013-12-31, so the
``default`` policy refuses them for anything relied on from 2014-01-01. Old government
documents (the SHA-1 "G1" hierarchy, DOMAIN.md) stay checkable under the explicit
``historical`` policy, which accepts them and says so in the result
(:attr:`signsvc.pki.chain.ChainResult.algorithm_notes`).

One exception holds in every policy that keeps
:attr:`ValidationPolicy.weak_ca_issued_before` (the default does): a **CA certificate**
signed with SHA-1 and issued before 2016-01-01 does not void a chain by itself, and is
reported in ``algorithm_notes``. Reusing an existing SHA-1 signature for other content
needs a second preimage, which SHA-1 still resists; a collision attack needs the CA to
sign data the attacker chose (a chosen-prefix collision, as against MD5 in 2008). A CA
certificate's content is chosen by the CA above it, not by a requester, and one issued
before the CA/Browser Forum's SHA-1 deadline (Baseline Requirements §7.1.3:
2016-01-01) predates the first SHA-1 chosen-prefix collision (2020) by years. The G1
government CA ("Co quan chung thuc so Chinh phu", 2010) is such a certificate and
still issues certificates in use. End-entity certificates (whose content a requester
does choose), document digests and signatures get no such exception: SHA-1 relied on
after 2014-01-01 stays refused by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from signsvc.errors import ValidationSetupError
from signsvc.pki._profile import AUDITED_BREACHES

__all__ = [
    "DEFAULT_POLICY",
    "HISTORICAL_POLICY",
    "AlgorithmVerdict",
    "ValidationPolicy",
    "resolve_policy",
]

# NIST SP 800-131A Rev. 2 §3 (SHA-1 signature generation) and §9 (RSA/DSA < 2048 bits):
# disallowed after 2013-12-31.
_NIST_SUNSET = datetime(2014, 1, 1, tzinfo=UTC)
# CA/Browser Forum Baseline Requirements §7.1.3: no SHA-1 certificate issued from
# 2016-01-01. A weak-hash CA certificate issued before it stays acceptable (see above).
_WEAK_CA_CUTOFF = datetime(2016, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AlgorithmVerdict:
    """Whether one algorithm or key may be relied on, and what to tell the user."""

    accepted: bool
    """True when the policy allows it at the time asked."""
    note: str | None = None
    """Set when it was accepted only as a historical exception, or why it was refused."""


@dataclass(frozen=True)
class ValidationPolicy:
    """Algorithm and key-size rules a chain must meet (ETSI EN 319 102-1 §5.2.8).

    Use :data:`DEFAULT_POLICY` or :data:`HISTORICAL_POLICY`, or build your own with
    :func:`dataclasses.replace`.
    """

    name: str
    """Short name shown in results: ``"default"``, ``"historical"`` or your own."""
    forbidden_hashes: frozenset[str] = frozenset({"md2", "md4", "md5"})
    """Hash algorithms (cryptography names) never accepted."""
    weak_hashes: frozenset[str] = frozenset({"sha1"})
    """Hash algorithms accepted only before :attr:`weak_sunset` (or always, if
    :attr:`accept_weak` is set)."""
    min_rsa_bits: int = 2048
    """Smallest RSA modulus accepted without restriction."""
    min_dsa_bits: int = 2048
    """Smallest DSA modulus accepted without restriction."""
    min_ec_bits: int = 256
    """Smallest elliptic-curve size accepted without restriction."""
    floor_bits: int = 1024
    """RSA/DSA moduli below this are refused even as a historical exception."""
    weak_sunset: datetime | None = _NIST_SUNSET
    """Weak hashes and short keys are refused for anything relied on at or after this
    time; None means never sunset."""
    accept_weak: bool = False
    """Accept weak hashes and short keys (down to :attr:`floor_bits`) at any time,
    noting it in the result: the ``historical`` policy."""
    weak_ca_issued_before: datetime | None = _WEAK_CA_CUTOFF
    """A CA certificate signed with a weak hash and issued (notBefore) before this time
    is accepted at any time, noting it (the module docstring says why); None gives CA
    certificates no exception."""
    relax_profile: bool = False
    """Certificate profile rules that real old CAs broke (missing key identifiers,
    serial numbers over 20 octets; :mod:`signsvc.pki._profile`) become notes instead of
    failures. Cryptographic rules and name constraints never relax."""
    accepted_breaches: frozenset[tuple[str, str]] = AUDITED_BREACHES
    """(certificate SHA-256 in upper-case hex, rule id) pairs accepted with a note:
    known profile breaches of specific real certificates (the Vietnamese time-stamping
    certificates, :data:`signsvc.pki._profile.AUDITED_BREACHES`). Empty it for a
    policy that accepts no exception."""
    retroactive_key_compromise: bool = False
    """Treat a revocation for keyCompromise / cACompromise as effective from the start:
    such a certificate fails even for a time before its revocation date."""

    def _weak_allowed(self, at: datetime) -> bool:
        return self.accept_weak or (self.weak_sunset is not None and at < self.weak_sunset)

    def hash_verdict(self, hash_name: str | None, *, at: datetime,
                     ca_issued: datetime | None = None) -> AlgorithmVerdict:
        """Whether a signature made with ``hash_name`` may be relied on at ``at``.

        Args:
            hash_name: a cryptography hash name; ``None`` stands for algorithms with a
                built-in hash (Ed25519, Ed448).
            at: when the signature is relied on (aware).
            ca_issued: when the signature is a CA certificate's (basicConstraints cA),
                that certificate's notBefore (:attr:`weak_ca_issued_before`); None for
                anything else (end-entity certificates, documents, CRLs, OCSP).
        """
        if hash_name is None:
            return AlgorithmVerdict(True)
        name = hash_name.lower()
        if name in self.forbidden_hashes:
            return AlgorithmVerdict(False, f"{name.upper()} is not accepted by any policy")
        if name in self.weak_hashes:
            if self._weak_allowed(at):
                return AlgorithmVerdict(
                    True, f"{name.upper()} accepted under the {self.name!r} policy"
                )
            cutoff = self.weak_ca_issued_before
            if ca_issued is not None and cutoff is not None and ca_issued < cutoff:
                return AlgorithmVerdict(
                    True,
                    f"{name.upper()} accepted on a CA certificate issued "
                    f"{ca_issued.date().isoformat()}, before {_sunset_text(cutoff)} (a "
                    "forgery would need a second preimage, not a collision)",
                )
            return AlgorithmVerdict(
                False,
                f"{name.upper()} is refused by the {self.name!r} policy for anything "
                f"relied on after {_sunset_text(self.weak_sunset)}",
            )
        return AlgorithmVerdict(True)

    def key_verdict(self, key: PublicKeyTypes, *, at: datetime) -> AlgorithmVerdict:
        """Whether a signature by ``key`` may be relied on at ``at``."""
        kind, bits, minimum = _key_facts(key, self)
        if kind is None:
            return AlgorithmVerdict(True)
        if bits >= minimum:
            return AlgorithmVerdict(True)
        if kind != "EC" and bits < self.floor_bits:
            return AlgorithmVerdict(False, f"{kind}-{bits} key is below {self.floor_bits} bits")
        if self._weak_allowed(at):
            return AlgorithmVerdict(
                True, f"{kind}-{bits} key accepted under the {self.name!r} policy"
            )
        return AlgorithmVerdict(
            False,
            f"{kind}-{bits} key is refused by the {self.name!r} policy (minimum {minimum} "
            f"bits) for anything relied on after {_sunset_text(self.weak_sunset)}",
        )


def _sunset_text(when: datetime | None) -> str:
    return when.date().isoformat() if when is not None else "any date"


def _key_facts(
    key: PublicKeyTypes, policy: ValidationPolicy
) -> tuple[Literal["RSA", "DSA", "EC"] | None, int, int]:
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, policy.min_rsa_bits
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, policy.min_dsa_bits
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, policy.min_ec_bits
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return None, 0, 0
    return None, 0, 0


DEFAULT_POLICY = ValidationPolicy(name="default")
"""SHA-1 and RSA/DSA keys under 2048 bits refused for anything relied on from 2014-01-01,
except SHA-1 on CA certificates issued before 2016-01-01 (accepted, noted)."""

HISTORICAL_POLICY = ValidationPolicy(name="historical", accept_weak=True, relax_profile=True)
"""Accepts SHA-1 and RSA/DSA keys from 1024 bits at any time, and the certificate
profile breaches of old CAs (missing key identifiers, long serial numbers), noting each
use: for old documents signed under the legacy G1 hierarchy. MD5 and shorter keys stay
refused."""


def resolve_policy(policy: str | ValidationPolicy) -> ValidationPolicy:
    """A policy by name (``"default"``, ``"historical"``), or the policy itself.

    Raises:
        ValidationSetupError: an unknown name (``argument="policy"``).
    """
    if isinstance(policy, ValidationPolicy):
        return policy
    if policy == "default":
        return DEFAULT_POLICY
    if policy == "historical":
        return HISTORICAL_POLICY
    raise ValidationSetupError(
        f"unknown policy {policy!r} (default, historical, or a ValidationPolicy)",
        argument="policy")
