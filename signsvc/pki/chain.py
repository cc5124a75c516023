"""Certificate-chain validation: is this certificate trustworthy at this time?

Example::

    >>> from datetime import UTC, datetime
    >>> from cryptography import x509
    >>> from signsvc import TrustStore, validate_chain
    >>> pem = open("certs_test/official-rsa2048.chain.pem", "rb").read()  # doctest: +SKIP
    >>> chain = x509.load_pem_x509_certificates(pem)  # intermediate, root  # doctest: +SKIP
    >>> leaf = x509.load_pem_x509_certificate(  # doctest: +SKIP
    ...     open("certs_test/official-rsa2048.crt.pem", "rb").read())
    >>> result = validate_chain(leaf, intermediates=chain,  # doctest: +SKIP
    ...     trust=TrustStore.from_paths(["certs_test/gov-root-g2.crt.pem"]),
    ...     at=datetime(2026, 1, 1, tzinfo=UTC))
    >>> result.valid, result.indication.value  # doctest: +SKIP
    (True, 'TOTAL-PASSED')

The verdict is a :class:`ChainResult`, never an exception: only a question that cannot
be asked (a naive datetime, an unknown option, undecodable OCSP bytes) raises
:class:`~signsvc.errors.ValidationSetupError`. Verdicts use ETSI EN 319 102-1 terms
(:mod:`signsvc.pki.indications`).

Conformance: NIST PKITS (RFC 5280 §6.1 path processing, §6.3 CRLs): 245 of 246 cases
agree, verdict and reason; 4.1.5 cannot be loaded by cryptography (DSA parameter
inheritance), see ``tests/pki/test_chain_pkits.py``.

Work is bounded per call: path building has a budget of candidates and signature
checks (:mod:`signsvc.pki._pathbuild`), at most
:data:`MAX_PATHS_TRIED` complete paths are examined, and CRL-signer validation nests
at most :data:`MAX_SIGNER_DEPTH` levels.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509 import ocsp

from signsvc._i18n import text
from signsvc.errors import BadInputError, ValidationSetupError
from signsvc.pki._crl import CrlInfo, crl_info
from signsvc.pki._pathbuild import PathBuilder
from signsvc.pki._pathcheck import CheckOptions, Failure, check_path, normalise_key_usage, position
from signsvc.pki._profile import RULES as CHAIN_RULES
from signsvc.pki._profile import Rule
from signsvc.pki._x509 import (
    DEFAULT_CACHE,
    CertInfo,
    NameKey,
    ValidationCache,
    describe,
    name_key,
    subject_text,
)
from signsvc.pki.algorithms import ValidationPolicy, resolve_policy
from signsvc.pki.budget import BudgetExceededError, WorkBudget
from signsvc.pki.fetch import RevocationFetcher
from signsvc.pki.indications import Indication, SubIndication
from signsvc.pki.revocation import (
    CertificateRevocation,
    OcspContext,
    RevocationContext,
    RevocationMode,
    RevocationStatus,
    is_compromise,
    load_ocsp_response,
)
from signsvc.pki.trust import TrustStore

__all__ = [
    "CHAIN_RULES",
    "MAX_PATHS_TRIED",
    "MAX_SIGNER_DEPTH",
    "SIGNING_KEY_USAGE",
    "ChainResult",
    "Indication",
    "Rule",
    "SubIndication",
    "ValidationCache",
    "validate_chain",
]

MAX_PATHS_TRIED = 16
MAX_SIGNER_DEPTH = 3
DEFAULT_MAX_INTERMEDIATES = 12
SIGNING_KEY_USAGE = frozenset({"digitalSignature", "nonRepudiation"})
"""Pass as ``key_usage=`` when the leaf will be relied on for document signatures."""


@dataclass(frozen=True)
class ChainResult:
    """The verdict on one certificate chain (ETSI EN 319 102-1 §5.2.6 terms)."""

    valid: bool
    """The bottom line: True exactly when :attr:`indication` is TOTAL-PASSED."""
    indication: Indication
    """TOTAL-PASSED, TOTAL-FAILED or INDETERMINATE."""
    sub_indication: SubIndication | None
    """Why, when not passed (None when passed)."""
    reason: str
    """One sentence for humans."""
    path: tuple[x509.Certificate, ...]
    """The path examined, **trust anchor first, end entity last** (RFC 5280 order).
    On failure, the path that came closest (empty if none was found)."""
    failed_certificate: x509.Certificate | None = None
    """The certificate at fault, when one is."""
    failed_index: int | None = None
    """Its position in :attr:`path` (anchor = 0)."""
    algorithm_notes: tuple[str, ...] = ()
    """Weak algorithms or keys accepted under a historical policy, one line each."""
    notes: tuple[str, ...] = ()
    """Other things the user should know (soft-fail revocation gaps, later revocations)."""
    revocation: tuple[CertificateRevocation, ...] = ()
    """Revocation status per certificate of :attr:`path`, when checked."""
    anchor_label: str | None = None
    """Label of the trust anchor the path ends at."""
    validation_time: datetime | None = None
    """The time the chain was validated for (UTC)."""
    policy: str = "default"
    """Name of the :class:`~signsvc.pki.algorithms.ValidationPolicy` applied."""
    rule: str | None = None
    """Which requirement refused the chain (None when passed): an id of
    :data:`CHAIN_RULES`, e.g. ``"subject-key-identifier-missing"`` or
    ``"trust-anchor-expired"``; :attr:`failed_index` says at which certificate."""

    def __post_init__(self) -> None:
        if self.valid != (self.indication is Indication.TOTAL_PASSED):
            raise ValueError("valid must agree with indication")

    @property
    def passed(self) -> bool:
        """The bottom line (the same name on every result type): :attr:`valid`."""
        return self.valid

    def to_json(self) -> dict[str, object]:
        """Plain data for ``--json`` output; ``path`` lists subjects anchor first."""
        return {
            "valid": self.valid,
            "indication": self.indication.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "reason": self.reason,
            "path": [subject_text(c) for c in self.path],
            "failed_index": self.failed_index,
            "failed_certificate": (
                subject_text(self.failed_certificate)
                if self.failed_certificate is not None
                else None
            ),
            "algorithm_notes": list(self.algorithm_notes),
            "notes": list(self.notes),
            "revocation": [r.to_json() for r in self.revocation],
            "anchor": self.anchor_label,
            "validation_time": self.validation_time.isoformat() if self.validation_time else None,
            "policy": self.policy,
            "rule": self.rule,
            "rule_section": CHAIN_RULES[self.rule].section if self.rule in CHAIN_RULES else None,
        }


def _setup_error(argument: str, reason: str) -> ValidationSetupError:
    return ValidationSetupError(reason, argument=argument)


def _oids(argument: str, values: Collection[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise _setup_error(argument, "expected a collection of dotted OIDs, not one string")
    out = frozenset(values)
    for oid in out:
        parts = oid.split(".")
        if len(parts) < 2 or not all(p.isdigit() for p in parts):
            raise _setup_error(argument, f"{oid!r} is not a dotted OID")
    return out


def validate_chain(
    leaf: x509.Certificate,
    *,
    intermediates: Iterable[x509.Certificate] = (),
    trust: TrustStore,
    at: datetime,
    crls: Iterable[x509.CertificateRevocationList] = (),
    ocsp_responses: Iterable[ocsp.OCSPResponse | bytes] = (),
    revocation: RevocationMode = "soft-fail",
    policy: str | ValidationPolicy = "default",
    initial_policies: Collection[str] | None = None,
    explicit_policy: bool = False,
    inhibit_policy_mapping: bool = False,
    inhibit_any_policy: bool = False,
    extended_key_usage: Collection[str] | None = None,
    key_usage: Collection[str] | None = None,
    max_depth: int | None = None,
    cache: ValidationCache | None = None,
    fetcher: RevocationFetcher | None = None,
    budget: WorkBudget | None = None,
) -> ChainResult:
    """Build and validate a path from ``leaf`` to an anchor in ``trust`` at time ``at``.

    Args:
        leaf: the certificate to validate.
        intermediates: a pool to build from (any order, may hold unrelated, duplicate
            or cross-certificates).
        trust: the trust anchors.
        at: aware datetime the certificate must be valid at.
        crls, ocsp_responses: revocation data (OCSP as parsed objects or DER bytes).
        revocation: ``hard-fail`` (no usable data → INDETERMINATE/TRY_LATER),
            ``soft-fail`` (no usable data → passes, with a note), ``off``.
        policy: ``"default"``, ``"historical"`` or a :class:`ValidationPolicy`.
        initial_policies, explicit_policy, inhibit_policy_mapping, inhibit_any_policy:
            RFC 5280 §6.1.1 (c), (e)-(g); policies as dotted OIDs, None = any-policy.
        extended_key_usage: OIDs the leaf (and any CA with an EKU extension) must allow.
        key_usage: RFC 5280 §4.2.1.3 names of which the leaf's keyUsage must include at
            least one, e.g. :data:`SIGNING_KEY_USAGE`; None = not checked.
        max_depth: most intermediate certificates a path may hold (default 12).
        cache: where parsed certificates and verified signatures are kept across calls.
        fetcher: optional source of more CRLs / OCSP responses (cache dir, HTTP).
        budget: override the path-building work budget.

    Raises:
        ValidationSetupError: an argument is unusable (see the error's ``argument``).
    """
    if not isinstance(leaf, x509.Certificate):
        raise _setup_error(
            "leaf", f"expected a cryptography Certificate, got {type(leaf).__name__}"
        )
    if not isinstance(trust, TrustStore):
        raise _setup_error("trust", "expected a signsvc.TrustStore")
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise _setup_error("at", "expected an aware datetime (with a time zone)")
    if revocation not in ("hard-fail", "soft-fail", "off"):
        raise _setup_error("revocation", f"unknown mode {revocation!r}")
    if max_depth is not None and (not isinstance(max_depth, int) or max_depth < 0):
        raise _setup_error("max_depth", "expected a non-negative integer")
    pool_certs = list(intermediates)
    for cert in pool_certs:
        if not isinstance(cert, x509.Certificate):
            raise _setup_error("intermediates", f"not a Certificate: {type(cert).__name__}")
    if fetcher is not None and fetcher.online:
        pool_certs += _missing_issuers(leaf, pool_certs, trust, fetcher)
    crl_list = list(crls)
    for crl in crl_list:
        if not isinstance(crl, x509.CertificateRevocationList):
            raise _setup_error("crls", f"not a CertificateRevocationList: {type(crl).__name__}")
    try:
        responses = [load_ocsp_response(r) for r in ocsp_responses]
    except BadInputError as exc:
        raise _setup_error("ocsp_responses", exc.reason) from exc
    # Certificate and CRL times have whole seconds (RFC 5280 §4.1.2.5.1-2): a time
    # inside the notAfter second is still within it.
    at_utc = at.astimezone(UTC)
    opts = CheckOptions(
        at=at_utc.replace(microsecond=0),
        policy=resolve_policy(policy),
        initial_policies=_oids("initial_policies", initial_policies),
        explicit_policy=explicit_policy,
        inhibit_policy_mapping=inhibit_policy_mapping,
        inhibit_any_policy=inhibit_any_policy,
        extended_key_usage=_oids("extended_key_usage", extended_key_usage),
        key_usage=normalise_key_usage(key_usage) if key_usage is not None else None,
    )
    cache = cache if cache is not None else DEFAULT_CACHE
    run = _Run(
        trust=trust,
        cache=cache,
        opts=opts,
        mode=revocation,
        pool=PathBuilder.index([cache._info(c) for c in pool_certs]),
        crls=[crl_info(c, cache) for c in crl_list],
        responses=[*responses, *(fetcher._saved_ocsp() if fetcher is not None else ())],
        fetcher=fetcher,
        max_intermediates=DEFAULT_MAX_INTERMEDIATES if max_depth is None else max_depth,
        budget=budget if budget is not None else WorkBudget(),
        reported_at=at_utc,
    )
    return run.validate(cache._info(leaf), opts, anchor=None, depth=0, active=frozenset())


def _missing_issuers(leaf: x509.Certificate, pool: list[x509.Certificate],
                     trust: TrustStore, fetcher: RevocationFetcher) -> list[x509.Certificate]:
    """Intermediates the caller lacks, from caIssuers URLs (RFC 5280 §4.2.2.1), up to
    four levels: what a viewer fetches when a signer did not embed its CA."""
    found: list[x509.Certificate] = []
    current = leaf
    for _ in range(4):
        if (current.issuer == current.subject
                or any(c.subject == current.issuer for c in (*pool, *found))
                or trust._issuers_named(name_key(current.issuer))):
            break
        fetched = [c for c in fetcher.issuer_certificates(current)
                   if c.subject == current.issuer]
        if not fetched:
            break
        found += fetched
        current = fetched[0]
    return found


@dataclass
class _Outcome:
    path: list[CertInfo]
    failure: Failure | None
    notes: list[str] = field(default_factory=list)
    algorithm_notes: list[str] = field(default_factory=list)
    revocation: list[CertificateRevocation] = field(default_factory=list)


@dataclass
class _Run:
    """One validate_chain call: shared inputs, recursion for CRL signers."""

    trust: TrustStore
    cache: ValidationCache
    opts: CheckOptions
    mode: RevocationMode
    pool: dict[NameKey, list[CertInfo]]
    crls: list[CrlInfo]
    responses: list[ocsp.OCSPResponse]
    fetcher: RevocationFetcher | None
    max_intermediates: int
    budget: WorkBudget
    reported_at: datetime | None = None
    """The caller's time, to its microsecond (checks compare whole seconds)."""
    _crls_by_issuer: dict[NameKey, list[CrlInfo]] = field(default_factory=dict)
    _indirect: list[CrlInfo] = field(default_factory=list)

    def __post_init__(self) -> None:
        for crl in self.crls:
            self._crls_by_issuer.setdefault(crl.issuer_key, []).append(crl)
            if crl.indirect:
                self._indirect.append(crl)

    # -- top level ---------------------------------------------------------------------
    def validate(
        self,
        leaf: CertInfo,
        opts: CheckOptions,
        *,
        anchor: bytes | None,
        depth: int,
        active: frozenset[bytes],
    ) -> ChainResult:
        outcome = self._best(leaf, opts, anchor=anchor, depth=depth, active=active)
        return self._result(outcome, opts)

    def _result(self, outcome: _Outcome, opts: CheckOptions) -> ChainResult:
        path = tuple(c.cert for c in outcome.path)
        label = None
        if outcome.path:
            entry = self.trust._anchor_of(outcome.path[0])
            label = entry.label if entry is not None else None
        common = {
            "path": path,
            "algorithm_notes": tuple(outcome.algorithm_notes),
            "notes": tuple(outcome.notes),
            "revocation": tuple(outcome.revocation),
            "anchor_label": label,
            "validation_time": self.reported_at or opts.at,
            "policy": opts.policy.name,
        }
        failure = outcome.failure
        if failure is None:
            return ChainResult(
                valid=True,
                indication=Indication.TOTAL_PASSED,
                sub_indication=None,
                reason=f"valid at {(self.reported_at or opts.at).isoformat()}, chain ends at "
                       f"trust anchor {label}",
                **common,  # type: ignore[arg-type]
            )
        failed = path[failure.index] if failure.index is not None and path else None
        return ChainResult(
            valid=False,
            indication=failure.sub.indication,
            sub_indication=failure.sub,
            reason=failure.reason,
            failed_certificate=failed,
            failed_index=failure.index if failed is not None else None,
            rule=failure.rule,
            **common,  # type: ignore[arg-type]
        )

    def _best(
        self,
        leaf: CertInfo,
        opts: CheckOptions,
        *,
        anchor: bytes | None,
        depth: int,
        active: frozenset[bytes],
    ) -> _Outcome:
        if self.trust._is_anchor(leaf) and (anchor is None or leaf.fingerprint == anchor):
            # Trusted directly: its own validity and critical extensions still apply.
            alone = check_path([leaf], opts, self.cache)
            return _Outcome([leaf], alone.failure,
                            ["the certificate is itself a trust anchor", *alone.profile_notes],
                            algorithm_notes=alone.notes)
        builder = PathBuilder(
            trust=self.trust,
            pool=self.pool,
            cache=self.cache,
            at=opts.at,
            max_intermediates=self.max_intermediates,
            budget=self.budget,
        )
        first: _Outcome | None = None
        tried = 0
        try:
            for path in builder.paths(leaf):
                if anchor is not None and path[0].fingerprint != anchor:
                    continue
                outcome = self._check(path, opts, depth=depth, active=active)
                if outcome.failure is None:
                    return outcome
                first = first or outcome
                tried += 1
                if tried >= MAX_PATHS_TRIED:
                    break
        except BudgetExceededError as exc:
            said = str(exc)
            if first is not None and first.failure is not None:
                said += f"; best path found failed: {first.failure.reason}"
            return _Outcome(
                first.path if first else [leaf],
                Failure(SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, said, None,
                        "work-budget"),
            )
        if first is not None:
            return first
        if builder.link_failures:
            return self._link_failure_outcome(builder, opts)
        where = (text("the given trust anchor") if anchor is not None
                 else text("{count} trust anchor(s)", count=len(self.trust)))
        return _Outcome(
            [leaf],
            Failure(
                SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
                text("no chain from {subject!r} to {where}: the issuer name {issuer!r} "
                     "could not be matched", subject=describe(leaf.cert), where=where,
                     issuer=leaf.cert.issuer.rfc4514_string()),
                None,
                "no-path",
            ),
        )

    def _link_failure_outcome(self, builder: PathBuilder, opts: CheckOptions) -> _Outcome:
        failure = builder.link_failures[0]
        partial = failure.path  # [issuer, child, ..., leaf]
        issuer = partial[0]
        full = partial
        if not self.trust._is_anchor(issuer):
            # Find how the would-be issuer itself chains up, for a meaningful position.
            upper = PathBuilder(
                trust=self.trust, pool=self.pool, cache=self.cache, at=opts.at,
                max_intermediates=self.max_intermediates, budget=WorkBudget(200, 100),
            )
            try:
                found = next(upper.paths(issuer), None)
            except BudgetExceededError:
                found = None
            if found is not None:
                full = [*found, *partial[1:]]
        index = len(full) - len(partial) + 1
        n = len(full) - 1
        return _Outcome(
            full,
            Failure(
                SubIndication.SIG_CRYPTO_FAILURE,
                text("the signature of {who} could not be verified with its issuer's key "
                     "({reason})", who=position(index, n), reason=failure.reason),
                index,
                "signature",
            ),
        )

    # -- one path ----------------------------------------------------------------------
    def _check(
        self, path: list[CertInfo], opts: CheckOptions, *, depth: int, active: frozenset[bytes]
    ) -> _Outcome:
        report = check_path(path, opts, self.cache)
        outcome = _Outcome(path, report.failure, notes=list(report.profile_notes),
                           algorithm_notes=report.notes)
        if self.mode == "off":
            return outcome
        failure = report.failure
        if failure is not None:
            if (
                failure.sub is SubIndication.OUT_OF_BOUNDS_NO_POE
                and failure.index  # not the anchor (index 0): it has no revocation status
                and opts.at > path[failure.index].not_after
            ):
                self._refine_expired(path, failure.index, opts, depth, active, outcome)
            return outcome
        ctx = self._revocation_context(path, opts, depth, active, opts.at)
        n = len(path) - 1
        for i in range(1, n + 1):
            info = path[i]
            if info.ocsp_nocheck:
                # RFC 6960 §4.2.2.2.1: id-pkix-ocsp-nocheck — trusted for its lifetime.
                outcome.revocation.append(
                    CertificateRevocation(i, subject_text(info.cert), RevocationStatus.NOT_CHECKED,
                                          "none", "id-pkix-ocsp-nocheck")
                )
                continue
            status = ctx.check(path, i)
            outcome.revocation.append(status)
            problem = self._judge(status, i, n, opts, outcome.notes)
            if problem is not None:
                outcome.failure = problem
                return outcome
        return outcome

    def _judge(
        self, status: CertificateRevocation, i: int, n: int, opts: CheckOptions, notes: list[str]
    ) -> Failure | None:
        where = position(i, n)
        if status.status == "revoked":
            when = status.revocation_time
            retro = opts.policy.retroactive_key_compromise and is_compromise(status.reason)
            if when is not None and when > opts.at and not retro:
                notes.append(f"{where} was revoked later, at {when.isoformat()} ({status.reason})")
                return None
            said = text("{detail}: {who} is revoked", detail=status.detail, who=where)
            if when is not None and when > opts.at:
                sub = SubIndication.REVOKED_NO_POE if i == n else SubIndication.REVOKED_CA_NO_POE
                return Failure(sub, text("{reason} (key compromise treated as retroactive)",
                                         reason=said), i, "revocation")
            sub = SubIndication.REVOKED if i == n else SubIndication.REVOKED_CA_NO_POE
            return Failure(sub, said, i, "revocation")
        if status.status == "unknown":
            if self.mode == "hard-fail":
                return Failure(
                    SubIndication.TRY_LATER,
                    text("no usable revocation information for {who}: {detail}", who=where,
                         detail=status.detail),
                    i,
                    "revocation",
                )
            notes.append(f"revocation of {where} not established (soft-fail): {status.detail}")
        return None

    def _refine_expired(
        self,
        path: list[CertInfo],
        index: int,
        opts: CheckOptions,
        depth: int,
        active: frozenset[bytes],
        outcome: _Outcome,
    ) -> None:
        # ETSI EN 319 102-1 §5.2.6: OUT_OF_BOUNDS_NOT_REVOKED when revocation data issued
        # while the certificate was still valid shows it not revoked.
        expiry = path[index].not_after
        ctx = self._revocation_context(path, opts, depth, active, expiry)
        status = ctx.check(path, index)
        outcome.revocation.append(status)
        failure = outcome.failure
        if failure is None:
            return
        issued = status.this_update
        if status.status == "good" and issued is not None and issued <= expiry:
            outcome.failure = Failure(
                SubIndication.OUT_OF_BOUNDS_NOT_REVOKED,
                f"{failure.reason}; revocation data from {issued.isoformat()} shows "
                "it was not revoked before expiry",
                index,
                failure.rule,
            )
        elif status.status == "revoked":
            revoked = self._judge(status, index, len(path) - 1, opts, outcome.notes)
            if revoked is not None:
                outcome.failure = revoked

    def _revocation_context(
        self,
        path: list[CertInfo],
        opts: CheckOptions,
        depth: int,
        active: frozenset[bytes],
        at: datetime,
    ) -> RevocationContext:
        anchor_fp = path[0].fingerprint
        signer_opts = CheckOptions(at=opts.at, policy=opts.policy)

        def validate_signer(cand: CertInfo) -> str | None:
            if depth + 1 > MAX_SIGNER_DEPTH:
                return "CRL issuer validation nested too deeply"
            result = self.validate(
                cand, signer_opts, anchor=anchor_fp, depth=depth + 1,
                active=active | {cand.fingerprint},
            )
            return None if result.valid else result.reason

        fetcher = self.fetcher
        return RevocationContext(
            crls_by_issuer=self._crls_by_issuer,
            indirect_crls=self._indirect,
            ocsp_ctx=OcspContext(self.responses, self.cache, at),
            pool=self.pool,
            anchors=[a for a in self.trust._issuers_by_fingerprint(anchor_fp)],
            validate_signer=validate_signer,
            active=active,
            extra_crls=(
                (lambda info, online: fetcher._crls_for(info, self.cache, online=online))
                if fetcher
                else None
            ),
            extra_ocsp=fetcher._ocsp_for if fetcher else None,
        )

