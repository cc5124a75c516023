"""What signing a document gives: the PAdES level and the per-document result (a leaf).

Example::

    >>> from signsvc.sign.results import Level, SignStatus
    >>> Level("B-LT").needs_revocation
    True
    >>> SignStatus("skipped") is SignStatus.SKIPPED
    True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from cryptography import x509

__all__ = ["DocumentProgress", "Level", "Phase", "SignResult", "SignStatus", "SkipReason"]

Phase = Literal["reading", "signing", "writing"]
"""Where a document is: read and checked, being signed (pyHanko, the TSA, the token),
written to its temporary file."""


class Level(StrEnum):
    """PAdES baseline levels (ETSI EN 319 142-1 §6)."""

    B_B = "B-B"
    """Signature only."""
    B_T = "B-T"
    """Plus an RFC 3161 signature time-stamp."""
    B_LT = "B-LT"
    """Plus the certificates, CRLs and OCSP responses in the DSS (offline validation)."""
    B_LTA = "B-LTA"
    """Plus a document time-stamp over everything."""

    @property
    def needs_tsa(self) -> bool:
        return self is not Level.B_B

    @property
    def needs_revocation(self) -> bool:
        return self in (Level.B_LT, Level.B_LTA)


class SignStatus(StrEnum):
    """What happened to one document (the ``status`` of ``signsvc sign --json``)."""

    SIGNED = "signed"
    """Signed now; the output was written."""
    FAILED = "failed"
    """Not signed; ``error`` says why."""
    SKIPPED = "skipped"
    """Already signed by an earlier run (``resume``); nothing written."""


class SkipReason(StrEnum):
    """Why a document was skipped (the ``skip_reason`` of ``signsvc sign --json``)."""

    ALREADY_SIGNED = "already-signed"
    """Its output already holds it signed (``resume``): by hash in the journal, or
    the output starts with the input and its last signature covers it, intact."""
    OWN_OUTPUT = "own-output"
    """It is signsvc's signed output of another input of the same batch (its name is
    that input's output name, or the journal says signsvc signed it from one of them):
    signing it again would add a signature on every run."""


@dataclass(frozen=True)
class DocumentProgress:
    """A document of a batch reached a new phase (for progress displays)."""

    input: Path
    """The document."""
    phase: Phase
    """reading, signing or writing."""
    size: int | None = None
    """Its size in bytes, when known."""


@dataclass(frozen=True)
class SignResult:
    """What happened to one document."""

    input: Path
    """The input document (never modified)."""
    output: Path | None
    """The signed document; None when nothing was written."""
    status: SignStatus
    """Signed, failed, or skipped (already signed, ``resume``)."""
    input_sha256: str | None = None
    """SHA-256 of the input as read (hex); None if it could not be read."""
    output_sha256: str | None = None
    """SHA-256 of the output (hex)."""
    signing_time: datetime | None = None
    """When the signature was made (UTC, whole seconds as in ``/M``)."""
    certificate: x509.Certificate | None = None
    """The signer's certificate."""
    level: Level | None = None
    """PAdES level applied."""
    field: str | None = None
    """Signature field name used."""
    error: str | None = None
    """Why it failed, for the user; None on success."""
    error_type: str | None = None
    """Class name of the error (``BadInputError``, ``PinLockedError``, ...)."""
    exception: BaseException | None = dataclasses.field(default=None, repr=False, compare=False)
    """The exception itself (not serialised)."""
    skip_reason: SkipReason | None = None
    """Why it was skipped; None unless ``status`` is skipped."""
    source: Path | None = None
    """For a skipped own output (:attr:`SkipReason.OWN_OUTPUT`): the input it is the
    signed output of."""
    note: str | None = None
    """What else the user should know, e.g. that it was signed with ``force`` despite
    an unusable certificate (and why)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", SignStatus(self.status))
        if self.skip_reason is not None:
            object.__setattr__(self, "skip_reason", SkipReason(self.skip_reason))

    @property
    def passed(self) -> bool:
        """True unless the document failed (signed now, or already signed before)."""
        return self.status is not SignStatus.FAILED

    @property
    def ok(self) -> bool:
        """Old name of :attr:`passed`."""
        return self.passed

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object of ``signsvc sign``: a contract other tools parse."""
        cert = self.certificate
        return {
            "input": str(self.input),
            "output": str(self.output) if self.output else None,
            "status": self.status,
            "error": self.error,
            "error_type": self.error_type,
            "sha256": self.output_sha256,
            "input_sha256": self.input_sha256,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "level": self.level.value if self.level else None,
            "field": self.field,
            "signer": cert.subject.rfc4514_string() if cert else None,
            "signer_serial": format(cert.serial_number, "x") if cert else None,
            "skip_reason": self.skip_reason,
            "source": str(self.source) if self.source else None,
            "note": self.note,
        }
