"""Certification path building over a pool of certificates (RFC 4158, simplified).

Depth-first from the end-entity certificate towards the trust anchors. Candidate
issuers are found by normalised subject name; among several, those whose
subjectKeyIdentifier matches the child's authorityKeyIdentifier come first, then those
valid at the validation time, then the newest. Each link's signature is checked as the
link is made (cached across calls), so a bad branch is cut at its first bad link
instead of being explored to the anchor.

When neither the anchors nor the caller's pool hold an issuer that verifies a
certificate's signature, the shipped Vietnamese issuing CAs of that name are tried
(:meth:`TrustStore._extra_issuers_named`; off with ``known_intermediates=False``): real
signed PDFs carry only the signer's certificate. They extend a path like pool members
but never end one, so they cannot make a certificate trusted that does not chain to an
anchor; a shipped CA whose key does not verify is not reported as a link failure (it is
not something the caller gave), so without a path the verdict stays "no chain found".

Bounds (never hang, never explode):

- depth: at most ``max_intermediates`` certificates between leaf and anchor, not
  counting self-issued ones (key rollover; RFC 5280 §6.1.4 (l) does not count them
  either), and never more than ``max_intermediates`` + :data:`SELF_ISSUED_SLACK` in all;
- loops: a certificate, or a (subject, key identifier) pair, appears once per path,
  which also stops cross-certificate cycles (A→B→A);
- total work: a :class:`WorkBudget` of candidate expansions and signature checks per call;
  when spent, :class:`BudgetExceededError` is raised and the caller reports INDETERMINATE.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from signsvc.pki._x509 import CertInfo, NameKey, ValidationCache
from signsvc.pki.budget import WorkBudget
from signsvc.pki.trust import TrustStore

__all__ = ["SELF_ISSUED_SLACK", "LinkFailure", "PathBuilder"]

SELF_ISSUED_SLACK = 4
"""Self-issued intermediates a path may hold beyond ``max_intermediates``."""


@dataclass
class LinkFailure:
    """A name-matching issuer whose key did not verify the child's signature."""

    path: list[CertInfo]
    """The partial path, anchor side first, ending with the child whose signature failed."""
    reason: str


@dataclass
class PathBuilder:
    """Builds candidate paths for one validation call."""

    trust: TrustStore
    pool: dict[NameKey, list[CertInfo]]
    cache: ValidationCache
    at: datetime
    max_intermediates: int
    budget: WorkBudget = field(default_factory=WorkBudget)
    link_failures: list[LinkFailure] = field(default_factory=list)

    @staticmethod
    def index(infos: Sequence[CertInfo]) -> dict[NameKey, list[CertInfo]]:
        """Index a pool by subject (duplicates by DER dropped)."""
        pool: dict[NameKey, list[CertInfo]] = {}
        seen: set[bytes] = set()
        for info in infos:
            if info.fingerprint in seen:
                continue
            seen.add(info.fingerprint)
            pool.setdefault(info.subject_key, []).append(info)
        return pool

    def paths(self, leaf: CertInfo) -> Iterator[list[CertInfo]]:
        """Every path from ``leaf`` to an anchor, best first, anchor first in each."""
        chain = [leaf]
        seen = {leaf.fingerprint}
        yield from self._extend(chain, seen, {(leaf.subject_key, leaf.ski)})

    def _order(self, candidates: Sequence[CertInfo], child: CertInfo) -> list[CertInfo]:
        at = self.at

        def rank(c: CertInfo) -> tuple[int, int, float]:
            if child.aki is not None and c.ski is not None:
                key_rank = 0 if c.ski == child.aki else 2
            else:
                key_rank = 1
            valid = 0 if c.not_before <= at <= c.not_after else 1
            return key_rank, valid, -c.not_before.timestamp()

        if len(candidates) == 1:
            return list(candidates)
        return sorted(candidates, key=rank)

    def _link(self, child: CertInfo, issuer: CertInfo, chain: list[CertInfo], *,
              report: bool = True) -> bool:
        key = issuer.key
        if key is None:
            if report:
                self.link_failures.append(
                    LinkFailure([issuer, *reversed(chain)], issuer.key_error or "no public key")
                )
            return False
        self.budget.spend_signature()
        if self.cache._signature_ok(child, issuer):
            return True
        if not report:
            return False
        self.link_failures.append(
            LinkFailure(
                [issuer, *reversed(chain)],
                child.sig_error or "signature does not verify with the issuer's public key",
            )
        )
        return False

    def _extend(
        self,
        chain: list[CertInfo],
        seen: set[bytes],
        seen_keys: set[tuple[NameKey, bytes | None]],
    ) -> Iterator[list[CertInfo]]:
        self.budget.spend_expansion()
        child = chain[-1]
        linked = False
        for anchor in self._order(self.trust._issuers_named(child.issuer_key), child):
            if anchor.fingerprint in seen:
                continue
            if self._link(child, anchor, chain):
                linked = True
                yield [anchor, *reversed(chain)]
        if len(chain) - 1 >= self.max_intermediates + SELF_ISSUED_SLACK:
            return
        pooled = yield from self._through(self.pool.get(child.issuer_key, ()), chain, seen,
                                          seen_keys, report=True)
        if not (linked or pooled):
            yield from self._through(self.trust._extra_issuers_named(child.issuer_key),
                                     chain, seen, seen_keys, report=False)

    def _through(
        self,
        candidates: Sequence[CertInfo],
        chain: list[CertInfo],
        seen: set[bytes],
        seen_keys: set[tuple[NameKey, bytes | None]],
        *,
        report: bool,
    ) -> Generator[list[CertInfo], None, bool]:
        """Paths through each of ``candidates`` as the next intermediate; returns whether
        any of them verified the child's signature."""
        linked = False
        child = chain[-1]
        full = sum(1 for c in chain[1:] if not c.self_issued) >= self.max_intermediates
        for cand in self._order(candidates, child):
            if cand.fingerprint in seen or self.trust._is_anchor(cand):
                continue
            if full and not cand.self_issued:
                continue
            key_id = (cand.subject_key, cand.ski)
            if cand.ski is not None and key_id in seen_keys:
                continue
            if not self._link(child, cand, chain, report=report):
                continue
            linked = True
            chain.append(cand)
            seen.add(cand.fingerprint)
            seen_keys.add(key_id)
            try:
                yield from self._extend(chain, seen, seen_keys)
            finally:
                chain.pop()
                seen.discard(cand.fingerprint)
                seen_keys.discard(key_id)
        return linked
