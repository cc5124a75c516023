"""How much work one chain validation may do (a public leaf of :mod:`signsvc.pki`).

Example::

    >>> from signsvc.pki import WorkBudget
    >>> budget = WorkBudget(max_expansions=100)
    >>> # validate_chain(leaf, trust=store, budget=budget); then budget.expansions
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BudgetExceededError", "WorkBudget"]


class BudgetExceededError(Exception):
    """Path building used up its :class:`WorkBudget`."""


@dataclass
class WorkBudget:
    """Work allowed for one validation call; it also counts what was spent.

    Path building in a pool of cross-certificates can branch without end
    (RFC 4158 §2.4.2): past the budget, the call ends INDETERMINATE ("work budget")
    instead of running on."""

    max_expansions: int = 2_000
    """Certificates whose issuers may be looked up (DFS node visits)."""
    max_signatures: int = 500
    """Link signatures that may be checked (cached results count too)."""
    expansions: int = 0
    """Spent so far."""
    signatures: int = 0
    """Spent so far."""

    def spend_expansion(self) -> None:
        self.expansions += 1
        if self.expansions > self.max_expansions:
            raise BudgetExceededError(
                f"path building stopped after examining {self.max_expansions} candidate "
                "issuers (work budget)"
            )

    def spend_signature(self) -> None:
        self.signatures += 1
        if self.signatures > self.max_signatures:
            raise BudgetExceededError(
                f"path building stopped after {self.max_signatures} signature checks "
                "(work budget)"
            )
