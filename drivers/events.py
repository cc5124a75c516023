"""Tokens going in and out: slot events, and waiting for a pulled token to come back.

Example::

    >>> module = load_module("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")  # doctest: +SKIP
    >>> for event in watch(module, timeout=60):  # doctest: +SKIP
    ...     print(event.kind, event.label, event.serial)
    inserted VGCA 0123456789
    >>> info = wait_for_token(module, label="VGCA", serial="0123456789",
    ...                       timeout=120)  # doctest: +SKIP

Officials pull USB tokens out in the middle of work; DSS's bridge NexU could not sign
again after a re-insertion until it was restarted. This module is what lets a batch
notice the token is back and carry on.

How events are seen. PKCS#11 has one event call, ``C_WaitForSlotEvent`` (v3.0 §5.5),
and python-pkcs11 0.10.1's wrapper of it raises ``TypeError`` as soon as an event
arrives, so it is called through the module's own function list (:mod:`drivers._ckapi`)
in its non-blocking form, under the module lock, once per ``poll_interval``. A blocking
wait is not used: the module was initialised without locking (``C_Initialize(NULL)``
promises no concurrent calls) and could only be interrupted by ``C_Finalize``, which
would kill the signing session too. The slot list (``C_GetSlotList(CK_TRUE)``) is read on
every tick as well, because many modules have no events: SoftHSM answers
``CKR_NO_EVENT`` forever, some vendor modules ``CKR_FUNCTION_NOT_SUPPORTED``. Events
then only say *which* slot to read again (a token swapped for another between two
ticks); presence is always decided by the slot list.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from drivers._translate import CKR_FUNCTION_NOT_SUPPORTED, CKR_OK
from drivers.errors import TokenError, TokenNotFoundError
from drivers.module import Pkcs11Module, TokenInfo, selection_text

__all__ = ["SlotEvent", "SlotEventKind", "wait_for_token", "watch"]

SlotEventKind = Literal["present", "inserted", "removed"]

_STABLE_SECONDS = 0.5
"""A token must answer this long before :func:`wait_for_token` trusts it: right after
an insertion the card is still being read (OpenSC: a fresh session and login work
0.4-0.5 s after re-insertion), and a token wobbling in a worn USB port comes and goes.
The PIN is asked for only after this, so it is never spent on a token about to vanish."""

_MAX_LISTING_FAILURES = 20
"""Consecutive failed slot listings (5 s at the default interval) before a watch gives
up: one failure while a token comes or goes is normal, twenty are a broken module."""

_MAX_EVENTS_PER_TICK = 64
"""Bound on draining ``C_WaitForSlotEvent``: a module that reports the same event
forever must not hang the watch."""


@dataclass(frozen=True)
class SlotEvent:
    """A token appeared in or left a slot."""

    kind: SlotEventKind
    """``"inserted"``, ``"removed"``, or ``"present"`` (already there when the watch
    started; only with ``include_present``)."""
    module: Path
    """Resolved path of the module whose slot it is."""
    slot_id: int
    """PKCS#11 slot ID."""
    label: str | None
    """Token label; for a removal, the label the token had (None if never read)."""
    serial: str | None
    """Token serial; for a removal, the serial the token had."""
    monotonic: float
    """``time.monotonic()`` when the change was seen."""
    at: datetime
    """Wall-clock time (UTC) when the change was seen."""
    token: TokenInfo | None = None
    """The full token information for ``present``/``inserted``; None for a removal."""

    def to_json(self) -> dict[str, object]:
        return {"event": self.kind, "module": str(self.module), "slot_id": self.slot_id,
                "token": self.label, "serial": self.serial,
                "time": self.at.isoformat().replace("+00:00", "Z")}


class _ModuleWatch:
    """The token state of one module's slots, updated one tick at a time."""

    def __init__(self, module: Pkcs11Module) -> None:
        self.module = module
        self.events_supported = True
        """False once the module answered CKR_FUNCTION_NOT_SUPPORTED."""
        self.known: dict[int, TokenInfo] = {}

    def _event_slots(self) -> set[int]:
        """Slots ``C_WaitForSlotEvent(CKF_DONT_BLOCK)`` reports changed since the last call."""
        slots: set[int] = set()
        if not self.events_supported:
            return slots
        for _ in range(_MAX_EVENTS_PER_TICK):
            with self.module.lock:
                rv, slot = self.module.functions.wait_for_slot_event()
            if rv == CKR_OK:
                slots.add(slot)
                continue
            if rv == CKR_FUNCTION_NOT_SUPPORTED:
                self.events_supported = False
            # CKR_NO_EVENT, or any failure: the slot list below decides anyway.
            break
        return slots

    def _read(self, changed: set[int]) -> dict[int, TokenInfo]:
        """Tokens present now. A slot's token information is read again only when the
        slot is new, was reported by an event, or the module has no events."""
        present: dict[int, TokenInfo] = {}
        for slot_id, slot in self.module._present_slots().items():
            previous = self.known.get(slot_id)
            if previous is not None and self.events_supported and slot_id not in changed:
                present[slot_id] = previous
                continue
            info = self.module._token_info(slot)
            # None: a card still being read, a blank token: not (yet) a token to report.
            if info is not None:
                present[slot_id] = info
        return present

    def start(self) -> list[TokenInfo]:
        """Take the current state as the baseline, dropping events already queued (a
        module reports the cards found at start-up as events too)."""
        self._event_slots()
        self.known = self._read(set())
        return list(self.known.values())

    def tick(self) -> list[SlotEvent]:
        """The changes since the previous tick, removals first."""
        changed = self._event_slots()
        present = self._read(changed)
        now, at = time.monotonic(), datetime.now(UTC)
        path = self.module.path
        events: list[SlotEvent] = []
        for slot_id, old in self.known.items():
            now_there = present.get(slot_id)
            # A different serial in the same slot: the token was swapped between ticks.
            # The same serial again is not reported: no hand re-inserts a token within
            # one tick, and an event on an unchanged slot is most often the tail of a
            # change the slot list already showed.
            if now_there is None or now_there.serial != old.serial:
                events.append(SlotEvent("removed", path, slot_id, old.label, old.serial,
                                        now, at))
        for slot_id, new in present.items():
            before = self.known.get(slot_id)
            if before is None or before.serial != new.serial:
                events.append(SlotEvent("inserted", path, slot_id, new.label, new.serial,
                                        now, at, new))
        self.known = present
        return events


def watch(
    modules: Pkcs11Module | Iterable[Pkcs11Module],
    *,
    timeout: float | None = None,
    poll_interval: float = 0.25,
    include_present: bool = False,
) -> Generator[SlotEvent, None, None]:
    """Yield a :class:`SlotEvent` each time a token is inserted or removed.

    Args:
        modules: one loaded module or several (watched in turn, one thread).
        timeout: stop after this many seconds; None watches until the caller stops
            iterating (close the generator, or Ctrl-C).
        poll_interval: seconds between two looks at the slots. Changes are seen within
            about this time plus the module's own detection delay (OpenSC + pcscd:
            0.15-0.2 s).
        include_present: first yield a ``"present"`` event per token already there.

    The module lock is held only for each short call, never between ticks, so a batch
    can keep signing with the same module while it is watched.

    Raises:
        TokenError: a module failed to list its slots many times in a row.
    """
    watched = [_ModuleWatch(m) for m in
               ((modules,) if isinstance(modules, Pkcs11Module) else modules)]
    deadline = None if timeout is None else time.monotonic() + timeout
    for state in watched:
        baseline = state.start()
        if include_present:
            now, at = time.monotonic(), datetime.now(UTC)
            for info in baseline:
                yield SlotEvent("present", state.module.path, info.slot_id, info.label,
                                info.serial, now, at, info)
    failures = 0
    while True:
        for state in watched:
            try:
                events = state.tick()
            except TokenError:
                # One failed listing while a token comes or goes is normal (see
                # Pkcs11Module._slots); the state stays as it was until the next tick.
                failures += 1
                if failures >= _MAX_LISTING_FAILURES:
                    raise
                continue
            failures = 0
            yield from events
        pause = poll_interval
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            pause = min(pause, remaining)
        time.sleep(pause)


def _answers(module: Pkcs11Module, info: TokenInfo) -> bool:
    """True when a session opens on the token and its certificates can be read.

    Just after a re-insertion the slot already shows the token while the card is still
    being read (OpenSC: a fresh session works 0.4-0.5 s later); right after a removal
    during a signature it still shows it for ~0.2 s. Only a token that answers is back.
    No login is attempted here: a PIN is never spent on a probe.
    """
    try:
        with module.open(token=info) as session:
            session.certificates()
    except TokenError:
        return False
    return True


def wait_for_token(
    module: Pkcs11Module,
    *,
    serial: str,
    label: str | None = None,
    timeout: float,
    poll_interval: float = 0.25,
    settle: float = 0.0,
) -> TokenInfo:
    """Wait until the token with ``serial`` (and ``label``, if given) is present and
    has answered for half a second, then return its information.

    Use after :class:`~drivers.errors.TokenRemovedError` to know when to call
    :meth:`drivers.TokenKey.reopen`. The serial identifies the token: another official's
    token inserted in the meantime is not taken for it.

    Args:
        settle: the caller has just seen the token fail as if pulled out; give the
            module up to this many seconds to show it gone before believing it is
            still there. The slot list lags behind a removal: pcscd looks at a reader
            every ~0.4 s, and until then OpenSC lists the token and even opens sessions
            on it from its memory (measured: 0.4-0.5 s after the card left). A token
            that never left (a card error rather than a removal) is accepted after
            ``settle`` seconds.

    Raises:
        TokenNotFoundError: it did not come back (and answer) within ``timeout`` seconds;
            failures to list the slots meanwhile count as "not back yet".
    """
    start = time.monotonic()
    deadline = start + timeout
    seen_gone = settle <= 0
    answering_since: float | None = None
    tokens: list[TokenInfo] = []
    while True:
        try:
            tokens = module.tokens()
        except TokenError:
            # A slot list read while a token comes or goes can fail (CKR_SLOT_ID_INVALID
            # from a slot that just vanished): ask again at the next poll.
            tokens = []
            answering_since = None
        else:
            found = next((t for t in tokens if t.matches(label, serial)), None)
            now = time.monotonic()
            if found is None:
                seen_gone, answering_since = True, None
            elif not (seen_gone or now - start >= settle) or not _answers(module, found):
                answering_since = None
            elif answering_since is None:
                answering_since = now
            if answering_since is not None and now - answering_since >= _STABLE_SECONDS:
                assert found is not None
                return found
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TokenNotFoundError(
                f"{selection_text(label, serial)} in {module.path} within {timeout:g} s",
                [t.label for t in tokens])
        time.sleep(min(poll_interval, remaining))
