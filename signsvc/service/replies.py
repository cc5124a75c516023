"""What the service answers: VGCA's reply shape, and its ``Status`` numbers.

VGCA's plugin answers ``{"Status": 0, "Message": ..., "FileName": ..., "FileServer":
..., "DocumentNumber": ..., "DocumentDate": ...}``, ``Status`` 0 on success. Its
non-zero values are not documented publicly, so signsvc's are its own
(:class:`Status`); pages test ``Status == 0`` (or ``!= 0``), which keeps them
compatible. ``Message`` is said in the service's language (``signsvc --lang``).

Example::

    >>> reply(Status.UNSUPPORTED, "unsupported")
    {'Status': 3, 'Message': 'unsupported'}
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

__all__ = ["Refusal", "Status", "reply"]


class Status(IntEnum):
    """The ``Status`` of a reply."""

    OK = 0
    """Signed and uploaded (for a batch: every document)."""
    REFUSED = 1
    """The gate refused the caller (Host, Origin, headers, another local user) or a
    document URL (another site, a redirect)."""
    BAD_REQUEST = 2
    """The request is not a VGCA request signsvc accepts (schema, limits)."""
    UNSUPPORTED = 3
    """A VGCA call signsvc does not offer."""
    DENIED = 4
    """The official said no, or did not answer in time."""
    BUSY = 5
    """Another batch is waiting for the official or being signed."""
    DOCUMENT = 6
    """A document could not be fetched (or is no PDF), or its upload failed."""
    TOKEN = 7
    """The token: not found, PIN refused or locked, removed."""
    SIGNING = 8
    """The signature could not be made (the document, the certificate, the TSA)."""
    NOT_CONFIGURED = 9
    """This computer's configuration does not say how this call's signature looks."""
    INTERNAL = 70
    """A bug in signsvc."""


class Refusal(Exception):  # noqa: N818 -- a refusal is an answer, not a failure
    """A request ends here with this reply (and, over HTTP, this status code).

    Attributes:
        http_status: the HTTP status (a refused WebSocket handshake gets it too).
        status: the reply's ``Status``.
        message: the reply's ``Message``, already translated.
        decision: the word the audit journal records (``refused-origin``, ...).
        headers: HTTP headers the answer needs (``Allow`` with a 405).
    """

    def __init__(self, http_status: int, status: Status, message: str, *,
                 decision: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status = status
        self.message = message
        self.decision = decision
        self.headers = dict(headers or {})

    def reply(self) -> dict[str, Any]:
        """The JSON reply."""
        return reply(self.status, self.message)


def reply(status: Status, message: str, **fields: Any) -> dict[str, Any]:
    """A VGCA reply: ``Status`` (a plain int), ``Message``, then ``fields``."""
    return {"Status": int(status), "Message": message, **fields}
