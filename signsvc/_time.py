"""Vietnam time, the one display zone (a leaf: anything may import it).

Times are aware and in UTC inside signsvc; they are shown in Indochina Time
(UTC+07:00, no daylight saving), as Decree 30/2020 App. I asks for ISO 8601 with
+07:00.

Example::

    >>> from datetime import UTC, datetime
    >>> from signsvc._time import vietnam_iso
    >>> vietnam_iso(datetime(2026, 3, 12, 1, 30, tzinfo=UTC))
    '2026-03-12T08:30:00+07:00'
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["VIETNAM_TIME", "as_local_input", "vietnam_iso"]

VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")
"""Indochina Time, the display zone (Decree 30/2020 App. I: ISO 8601 with +07:00)."""


def vietnam_iso(moment: datetime) -> str:
    """``moment`` in Vietnam time, ISO 8601 to the second (``...+07:00``)."""
    return moment.astimezone(VIETNAM_TIME).replace(microsecond=0).isoformat()


def as_local_input(moment: datetime) -> datetime:
    """A time a person typed: without a zone it means Vietnam time, what an admin or
    official here means by "9:00"."""
    return moment if moment.tzinfo else moment.replace(tzinfo=VIETNAM_TIME)
