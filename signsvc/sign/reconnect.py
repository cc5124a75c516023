"""Tokens pulled out and put back: how a batch waits, logs in again and tells the user.

Example::

    >>> from signsvc.sign.reconnect import ReconnectingKey
    >>> key = ReconnectingKey(token_key, pin=ask_pin)  # doctest: +SKIP
    >>> try:  # doctest: +SKIP
    ...     signature = key.sign(data)
    ... except TokenRemovedError as exc:
    ...     key.recover(120, notify=lambda event: print(event.text()))
    ...     signature = key.sign(data)  # a fresh session on the same token

:func:`signsvc.sign.batch.sign_iter` does this for a whole batch (``token_timeout=``).
Officials pull USB tokens out mid-work; DSS's local bridge NexU could not sign again
after a re-insertion until it was restarted (NexU issue 19). Here the same token,
identified by its serial, gets a fresh session and one new login.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import drivers
from drivers import SlotEvent
from signsvc._time import VIETNAM_TIME
from signsvc.tokens import PinSource

__all__ = ["ReconnectingKey", "TokenEvent", "slot_event_text", "watchable_modules"]

REMOVAL_SETTLE_SECONDS = 1.5
"""How long a module may keep listing a token it has lost (see
:func:`drivers.wait_for_token`'s ``settle``): measured 0.4-0.5 s with OpenSC and pcscd,
which polls a reader every ~0.4 s; three times that on a busy machine. Only a token
that never left (a card error) pays it, once per recovery."""

TokenEventKind = Literal["token-removed", "token-inserted", "token-timeout"]


@dataclass(frozen=True)
class TokenEvent:
    """What a batch tells its caller while it waits for a pulled-out token."""

    kind: TokenEventKind
    """``"token-removed"`` (the batch starts waiting), ``"token-inserted"`` (the same
    token is back and answers; the login follows) or ``"token-timeout"`` (it did not
    come back in time; the batch stops)."""
    token: str
    """Label of the token to insert."""
    serial: str
    """Its serial number: only this very token is accepted."""
    waiting_seconds: float
    """token-removed: how long the batch waits at most; the others: how long it
    waited."""
    document: Path | None = None
    """token-removed: the document whose signature failed (it is retried once)."""
    error: str | None = None
    """token-removed: what the module reported."""

    def to_json(self) -> dict[str, Any]:
        """``{"event", "token", "serial", "waiting_seconds", "document", "error"}``."""
        return {"event": self.kind, "token": self.token, "serial": self.serial,
                "waiting_seconds": round(self.waiting_seconds, 3),
                "document": None if self.document is None else str(self.document),
                "error": self.error}

    def text(self) -> str:
        """What to tell the person at the computer: which token to insert, how long the
        batch waits, how to finish later."""
        token = f"token {self.token!r} (serial {self.serial})"
        if self.kind == "token-removed":
            where = f" while signing {self.document}" if self.document else ""
            return (f"{token} was removed{where}.\nInsert {token} to continue; waiting "
                    f"up to {self.waiting_seconds:g} s (Ctrl-C stops; run the same "
                    "command with --resume to finish later).")
        if self.kind == "token-inserted":
            return f"{token} is back after {self.waiting_seconds:.1f} s; logging in again."
        return (f"{token} was not inserted again within {self.waiting_seconds:.0f} s; "
                "stopping. Run the same command with --resume to sign the rest.")


class ReconnectingKey:
    """A token key that a batch can bring back after the token was pulled out.

    Signs with the current :class:`drivers.TokenKey`; :meth:`recover` waits for the
    same token (same label and serial) to be inserted again, opens a fresh session and
    logs in once, with a PIN asked for again through ``pin`` or, only if the user opted
    in with ``keep_pin``, with the PIN kept in memory for this batch. A PIN the token
    refused is never tried again: a refusal ends the recovery (and the batch).

    Not thread-safe: the batch calls :meth:`recover` only when no document is being
    signed.
    """

    def __init__(self, key: drivers.TokenKey, *, pin: PinSource | None = None,
                 keep_pin: bool = False, poll_interval: float = 0.25,
                 on_login: Callable[[drivers.TokenInfo, BaseException | None], None]
                 | None = None) -> None:
        info = key.session.info
        if pin is None and not keep_pin and info.flags.login_required \
                and not info.flags.protected_auth_path:
            raise ValueError("recovering a token after re-insertion needs a way to log "
                             "in again: give pin= or keep_pin=True")
        self._key = key
        self._pin = pin
        self._keep_pin = keep_pin
        self._poll_interval = poll_interval
        self._module = drivers.load_module(key.session.info.module)
        """The module of the token (load_module caches by path: the same object)."""
        self._opened: list[drivers.TokenKey] = []
        self.on_login = on_login
        """Told after each login :meth:`recover` makes: the token, and None or the
        refusal (for the audit journal; never the PIN)."""
        self.certificate = key.certificate
        self.chain = key.chain
        self.key_type = key.key_type
        self.key_size = key.key_size

    def __enter__(self) -> ReconnectingKey:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def key(self) -> drivers.TokenKey:
        """The token key signing now."""
        return self._key

    def sign(self, data: bytes, *, hash_algorithm: str = "sha256", pss: bool = False) -> bytes:
        return self._key.sign(data, hash_algorithm=hash_algorithm, pss=pss)

    def recover(self, timeout: float, *, document: Path | None = None,
                error: str | None = None,
                notify: Callable[[TokenEvent], None] | None = None) -> None:
        """Wait up to ``timeout`` seconds for the token, then reopen and log in again.

        Raises:
            TokenRemovedError: the token was not inserted again in time.
            PinIncorrectError, PinLockedError, LoginCancelledError, PinSourceError: the
                new login failed; nothing is retried.
            KeyNotFoundError: a token with that serial came back without this key.
        """
        info = self._key.session.info
        label, serial = info.label, info.serial

        def tell(kind: TokenEventKind, seconds: float, **extra: Any) -> None:
            if notify is not None:
                notify(TokenEvent(kind, label, serial, seconds, **extra))

        tell("token-removed", timeout, document=document, error=error)
        start = time.monotonic()
        deadline = start + timeout
        while True:
            try:
                back = drivers.wait_for_token(
                    self._module, label=label, serial=serial,
                    timeout=max(0.0, deadline - time.monotonic()),
                    poll_interval=self._poll_interval, settle=REMOVAL_SETTLE_SECONDS)
            except drivers.TokenNotFoundError:
                tell("token-timeout", time.monotonic() - start)
                raise drivers.TokenRemovedError(
                    f"token {label!r} (serial {serial}) was not inserted again within "
                    f"{timeout:g} s", token=label) from None
            tell("token-inserted", time.monotonic() - start)
            # Asked only now, with the token back: a PIN-pad reader needs the token, and
            # a prompt before it would leave the user wondering what to do first.
            pin = None if self._keep_pin or self._pin is None else self._pin(back)
            try:
                key = self._key.reopen(pin)
            except (drivers.PinIncorrectError, drivers.PinLockedError,
                    drivers.LoginCancelledError, drivers.LoginRequiredError) as exc:
                if self.on_login is not None:
                    self.on_login(back, exc)
                raise
            except (drivers.TokenRemovedError, drivers.TokenNotFoundError):
                # Pulled out again before the new session was ready. A login cut short
                # by a removal is not a refused PIN; the PIN is asked for again (or the
                # kept one, which the token accepted, is used): wait again if time is left.
                if time.monotonic() >= deadline:
                    raise
                continue
            if self.on_login is not None:
                self.on_login(back, None)
            self._key = key
            self._opened.append(key)
            return

    def close(self) -> None:
        """Close the sessions :meth:`recover` opened (not the caller's original one)."""
        for key in self._opened:
            key.session.close()
        self._opened.clear()


def slot_event_text(event: SlotEvent) -> str:
    """One line for ``signsvc tokens --watch``: Vietnam time, what, which token, where."""
    when = event.at.astimezone(VIETNAM_TIME).isoformat(timespec="milliseconds")
    who = (f"{event.label!r} serial {event.serial}" if event.label is not None
           else "(unknown token)")
    return f"{when}  {event.kind:<8}  {who}  slot {event.slot_id}  {event.module}"


def watchable_modules(
    modules: Sequence[str | Path] = (),
) -> tuple[list[drivers.Pkcs11Module], list[str], bool]:
    """Load the modules to watch: given ones, else every module discovery finds.

    Returns:
        ``(loaded, problems, explicit_failed)``: the loaded modules, a message per
        module that failed to load, and whether one the caller named explicitly failed.
    """
    loaded: list[drivers.Pkcs11Module] = []
    problems: list[str] = []
    explicit_failed = False
    for entry in drivers.load_discovered(modules):
        if entry.module is not None:
            loaded.append(entry.module)
        else:
            problems.append(f"cannot watch {entry.candidate.path}: {entry.error}")
            explicit_failed |= entry.explicit
    return loaded, problems, explicit_failed
