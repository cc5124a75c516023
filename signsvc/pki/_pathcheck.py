"""RFC 5280 §6.1 basic path validation of one built path (revocation aside).

The path is anchor first: ``path[0]`` is the trust anchor, ``path[1..n]`` the
certificates RFC 5280 numbers 1..n, ``path[n]`` the end entity. Failure indexes use
the same numbering, so "intermediate certificate 1" is ``path[1]``.

The trust anchor is a certificate, and its constraints are enforced as RFC 5937 §3
describes: its validity period, its basicConstraints (it must be a CA to issue the next
certificate, and its pathLenConstraint counts), its keyUsage, its name constraints
(applied to every certificate below it) and its critical extensions (one it does not
understand makes it unusable).

Every certificate of the path, the anchor included, must also meet the certificate
profile of RFC 5280 §4 (:mod:`signsvc.pki._profile`). Each failure names its rule
(:data:`signsvc.pki._profile.RULES`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from signsvc._i18n import text
from signsvc.pki._nameconstraints import NameConstraintState
from signsvc.pki._policytree import PolicyState
from signsvc.pki._profile import RULES, ProfileIssue, profile_issues
from signsvc.pki._x509 import CertInfo, ValidationCache
from signsvc.pki.algorithms import ValidationPolicy
from signsvc.pki.indications import SubIndication

__all__ = ["ANY_EKU", "CheckOptions", "Failure", "PathReport", "check_path", "position"]

ANY_EKU = "2.5.29.37.0"
_KU_ALIASES = {"contentCommitment": "nonRepudiation"}


@dataclass(frozen=True)
class CheckOptions:
    """The RFC 5280 §6.1.1 inputs and signsvc's own leaf requirements."""

    at: datetime
    policy: ValidationPolicy
    initial_policies: frozenset[str] | None = None
    explicit_policy: bool = False
    inhibit_policy_mapping: bool = False
    inhibit_any_policy: bool = False
    extended_key_usage: frozenset[str] | None = None
    key_usage: frozenset[str] | None = None


@dataclass(frozen=True)
class Failure:
    """Why a path is not acceptable."""

    sub: SubIndication
    reason: str
    index: int | None
    """Position in the path (anchor = 0) of the certificate at fault."""
    rule: str | None = None
    """The :data:`~signsvc.pki._profile.RULES` id of the requirement that failed."""


@dataclass
class PathReport:
    """Outcome of :func:`check_path`."""

    failure: Failure | None
    notes: list[str] = field(default_factory=list)
    """Algorithm notes (weak algorithms accepted under a historical policy)."""
    profile_notes: list[str] = field(default_factory=list)
    """Profile breaches accepted (relaxed by the policy, or known and pinned)."""


def position(i: int, n: int) -> str:
    """How messages name certificate ``i`` of a path of length ``n`` (a
    :class:`~drivers._text.Text`: English, said in Vietnamese where shown)."""
    if i == n:
        return text("the end-entity certificate")
    if i == 0:
        return text("the trust anchor")
    return text("intermediate certificate {number}", number=i)


def _crypto(
    info: CertInfo, key: PublicKeyTypes, i: int, n: int, opts: CheckOptions, notes: list[str]
) -> Failure | None:
    hash_name = info.sig_hash.name if info.sig_hash is not None else None
    for verdict in (
        opts.policy.hash_verdict(hash_name, at=opts.at,
                                 ca_issued=info.not_before if info.is_ca else None),
        opts.policy.key_verdict(key, at=opts.at),
    ):
        if not verdict.accepted:
            return Failure(
                SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                f"signature on {position(i, n)} is not acceptable: {verdict.note}",
                i,
                "algorithm",
            )
        if verdict.note:
            notes.append(f"{position(i, n)} ({info.cert.subject.rfc4514_string()}): {verdict.note}")
    return None


def _issues(info: CertInfo) -> tuple[ProfileIssue, ...]:
    issues = info.profile
    if issues is None:
        issues = info.profile = profile_issues(info)
    return issues


_ANCHOR_EXEMPT = frozenset({"serial-number-not-positive", "serial-number-too-long"})
"""Profile rules that say nothing about what a trust anchor vouches for: real roots
with serial number 0 exist (Starfield Root G2)."""


def _profile(
    info: CertInfo, i: int, n: int, opts: CheckOptions, notes: list[str]
) -> Failure | None:
    for issue in _issues(info):
        said = text("{who} {what} ({section})", who=position(i, n), what=issue.text,
                    section=issue.rule.section)
        if i == 0 < n and issue.rule.id in _ANCHOR_EXEMPT:  # trusted directly: an EE
            notes.append(f"{said}: not relied on in a trust anchor, which contributes "
                         "its name and key (RFC 5280 §6.1.1 (d))")
            continue
        if issue.rule.relaxable and opts.policy.relax_profile:
            notes.append(f"{said}: accepted under the {opts.policy.name!r} policy")
            continue
        if (info.fingerprint.hex().upper(), issue.rule.id) in opts.policy.accepted_breaches:
            notes.append(f"{said}: a known breach of this certificate, accepted by the "
                         f"{opts.policy.name!r} policy")
            continue
        return Failure(SubIndication.CHAIN_CONSTRAINTS_FAILURE, said, i, issue.rule.id)
    return None


def _anchor(anchor: CertInfo, n: int, opts: CheckOptions, notes: list[str]) -> Failure | None:
    """RFC 5937 §3: the anchor certificate's own constraints, before the path is walked."""

    def fail(sub: SubIndication, rule: str, what: str) -> Failure:
        return Failure(sub, f"the trust anchor {what} ({RULES[rule].section})", 0, rule)

    if anchor.error is not None:
        return fail(SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, "malformed-certificate",
                    anchor.error)
    if opts.at < anchor.not_before:
        return fail(SubIndication.OUT_OF_BOUNDS_NO_POE, "trust-anchor-not-yet-valid",
                    f"is not valid until {anchor.not_before.isoformat()}")
    if opts.at > anchor.not_after:
        return fail(SubIndication.OUT_OF_BOUNDS_NO_POE, "trust-anchor-expired",
                    f"expired {anchor.not_after.isoformat()}")
    if anchor.unsupported_critical:
        return fail(SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                    "trust-anchor-unknown-critical-extension",
                    "contains an unsupported critical extension: "
                    + ", ".join(anchor.unsupported_critical))
    if n == 0:
        return _profile(anchor, 0, n, opts, notes)  # trusted directly: issues nothing here
    if not anchor.is_ca:
        return fail(SubIndication.CHAIN_CONSTRAINTS_FAILURE, "trust-anchor-not-ca",
                    "is not a CA certificate (basicConstraints cA is not set), so it "
                    "cannot issue certificates")
    if anchor.key_usage is not None and "keyCertSign" not in anchor.key_usage:
        return fail(SubIndication.CHAIN_CONSTRAINTS_FAILURE, "trust-anchor-key-usage",
                    "is not allowed to sign certificates (keyUsage lacks keyCertSign)")
    return _profile(anchor, 0, n, opts, notes)


def check_path(
    path: list[CertInfo], opts: CheckOptions, cache: ValidationCache
) -> PathReport:
    """Run RFC 5280 §6.1.2-§6.1.5 over ``path`` (anchor first), with the anchor's
    constraints (RFC 5937 §3) and every certificate's profile (RFC 5280 §4)."""
    report = PathReport(None)
    notes = report.notes
    n = len(path) - 1
    at = opts.at
    anchor = path[0]
    working_key = anchor.key
    if working_key is None:
        report.failure = Failure(
            SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
            f"the trust anchor's key cannot be used: {anchor.key_error}",
            0,
            "trust-anchor-key",
        )
        return report
    report.failure = _anchor(anchor, n, opts, report.profile_notes)
    if report.failure is not None or n == 0:
        return report
    max_path_length = n
    if anchor.path_len is not None and anchor.path_len < max_path_length:
        max_path_length = anchor.path_len  # RFC 5937 §3: the anchor's pathLenConstraint
    names = NameConstraintState()
    if anchor.name_constraints is not None:
        names.add(anchor.name_constraints)  # RFC 5937 §3: the anchor's name constraints
    policies = PolicyState(
        n,
        initial_policies=opts.initial_policies,
        explicit_policy=opts.explicit_policy,
        inhibit_policy_mapping=opts.inhibit_policy_mapping,
        inhibit_any_policy=opts.inhibit_any_policy,
    )

    def fail(sub: SubIndication, what: str, i: int, rule: str) -> PathReport:
        report.failure = Failure(sub, text("{who} {what}", who=position(i, n), what=what),
                                 i, rule)
        return report

    for i in range(1, n + 1):
        info = path[i]
        if info.error is not None:
            return fail(SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, info.error, i,
                        "malformed-certificate")
        if info.sig_error is not None:
            return fail(SubIndication.CRYPTO_CONSTRAINTS_FAILURE, info.sig_error, i, "algorithm")
        # §6.1.3 (a)(1): signature with the working public key (already checked while
        # building the path; this is a cache hit).
        if not cache._signature_ok(info, path[i - 1]):
            return fail(
                SubIndication.SIG_CRYPTO_FAILURE,
                text("has a signature that could not be verified with its issuer's key"),
                i,
                "signature",
            )
        crypto = _crypto(info, working_key, i, n, opts, notes)
        if crypto is not None:
            report.failure = crypto
            return report
        # §6.1.3 (a)(2)
        if at < info.not_before:
            return fail(
                SubIndication.OUT_OF_BOUNDS_NO_POE,
                text("is not valid until {time}", time=info.not_before.isoformat()),
                i,
                "validity",
            )
        if at > info.not_after:
            return fail(
                SubIndication.OUT_OF_BOUNDS_NO_POE,
                text("expired {time}", time=info.not_after.isoformat()), i,
                "validity",
            )
        # §6.1.3 (b)-(c): self-issued intermediates are exempt.
        if not names.empty and (i == n or not info.self_issued):
            refusal = names.check(info)
            if refusal is not None:
                rule, why = refusal
                return fail(SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                            text("breaks name constraints: {why}", why=why), i, rule)
        # §6.1.3 (d)-(f)
        problem = policies.process(info, i)
        if problem is not None:
            return fail(SubIndication.CHAIN_CONSTRAINTS_FAILURE, f"has {problem}", i,
                        "certificate-policies")
        if info.unsupported_critical:
            return fail(
                SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                text("contains the following unsupported critical extension: {names}",
                     names=", ".join(info.unsupported_critical)),
                i,
                "unknown-critical-extension",
            )
        if opts.extended_key_usage and info.eku is not None and ANY_EKU not in info.eku:
            missing = opts.extended_key_usage - info.eku
            if missing:
                # A CA's extendedKeyUsage limits what it may certify (CA/B Forum and
                # Mozilla practice; RFC 5280 §4.2.1.12 defines it for the end entity).
                return fail(
                    SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                    text("does not allow extended key usage {usages}",
                         usages=", ".join(sorted(missing))),
                    i,
                    "extended-key-usage",
                )
        if i == n:
            break
        # §6.1.4 preparation for certificate i+1
        problem = policies.prepare(info)
        if problem is not None:
            return fail(SubIndication.CHAIN_CONSTRAINTS_FAILURE, problem, i,
                        "certificate-policies")
        if info.name_constraints is not None:
            names.add(info.name_constraints)
        if not info.is_ca:  # (k)
            return fail(SubIndication.CHAIN_CONSTRAINTS_FAILURE, text("is not a CA"), i,
                        "not-a-ca")
        if not info.self_issued:  # (l)
            if max_path_length <= 0:
                return fail(
                    SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                    text("makes the path exceed the maximum path length (pathLenConstraint)"),
                    i,
                    "path-length",
                )
            max_path_length -= 1
        if info.path_len is not None and info.path_len < max_path_length:  # (m)
            max_path_length = info.path_len
        if info.key_usage is not None and "keyCertSign" not in info.key_usage:  # (n)
            return fail(
                SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                text("is not allowed to sign certificates (keyUsage lacks keyCertSign)"),
                i,
                "key-cert-sign",
            )
        next_key = info.key  # §6.1.4 (d)-(f)
        if next_key is None:
            return fail(
                SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                f"has an unusable public key ({info.key_error})",
                i,
                "public-key",
            )
        # RFC 5280 §4 profile, after the §6.1 checks so that those keep their
        # classic reasons (PKITS 4.6.x: "is not a CA").
        profile = _profile(info, i, n, opts, report.profile_notes)
        if profile is not None:
            report.failure = profile
            return report
        working_key = next_key

    leaf = path[n]
    problem = policies.finish(leaf)  # §6.1.5
    if problem is not None:
        return fail(SubIndication.CHAIN_CONSTRAINTS_FAILURE, f"has {problem}", n,
                    "certificate-policies")
    if opts.key_usage and leaf.key_usage is not None:
        wanted = {_KU_ALIASES.get(k, k) for k in opts.key_usage}
        if not wanted & leaf.key_usage:
            return fail(
                SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                f"has keyUsage {sorted(leaf.key_usage)}, none of {sorted(wanted)}",
                n,
                "key-usage",
            )
    leaf_key = leaf.key
    if leaf_key is not None:
        verdict = opts.policy.key_verdict(leaf_key, at=at)
        if not verdict.accepted:
            return fail(
                SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                f"has a key that is not acceptable: {verdict.note}",
                n,
                "algorithm",
            )
        if verdict.note:
            notes.append(f"{position(n, n)} key: {verdict.note}")
    report.failure = _profile(leaf, n, n, opts, report.profile_notes)
    return report


def normalise_key_usage(names: Collection[str]) -> frozenset[str]:
    """Map aliases (``contentCommitment``) to RFC 5280 §4.2.1.3 names."""
    return frozenset(_KU_ALIASES.get(k, k) for k in names)
