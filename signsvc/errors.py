"""Errors of the signsvc library: one root, :class:`SignsvcError`.

Token and module failures keep their own root, :class:`drivers.errors.TokenError`;
signsvc never wraps them, so a caller catches ``TokenError`` for "the token said no"
and ``SignsvcError`` for everything signsvc itself decides.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BadInputError", "PinSourceError", "SignsvcError"]


class SignsvcError(Exception):
    """Root of every error signsvc raises itself."""


class BadInputError(SignsvcError):
    """An input the caller supplied cannot be used.

    Attributes:
        path: the file concerned, when there is one.
        reason: what is wrong with it, in words for the user.
    """

    def __init__(self, reason: str, *, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class PinSourceError(SignsvcError):
    """No PIN could be obtained (empty variable, nothing on stdin, no terminal)."""
