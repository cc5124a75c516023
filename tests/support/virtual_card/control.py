"""Driving one virtual card from the test process: start, plug, unplug, faults, counters.

    >>> with PcscStack() as stack, running_card(stack) as card:  # doctest: +SKIP
    ...     module = drivers.load_module(card.module_path)
    ...     [t.serial for t in module.tokens()] == [card.serial]
    True

The emulator (:mod:`tests.support.virtual_card.card`) runs as a child process; this side talks
to it over a Unix socket with one JSON object per line. Waits for the card to appear
or disappear are made on the PC/SC reader state (see :mod:`tests.support.virtual_card._pcsclite`
for why that is what OpenSC's ``C_GetSlotList`` sees), never through the test
process's own PKCS#11 module, whose sessions a test may be holding on purpose.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.support.paths import PKI, ROOT
from tests.support.virtual_card import _runtime
from tests.support.virtual_card._piv import ATR, DEFAULT_PIN, DEFAULT_TRIES, CardProfile
from tests.support.virtual_card.pcsc import PcscStack

__all__ = ["VirtualCard", "opensc_token_label", "running_card"]


def opensc_token_label(certificate: x509.Certificate) -> str:
    """The PKCS#11 token label OpenSC gives a PIV card: the CN of its first certificate
    (pkcs15-piv.c), in the 32-byte ``CK_TOKEN_INFO.label`` (the PIN is labelled "PIN",
    so framework-pkcs15.c appends nothing)."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else "PIV_II"
    cn = value if isinstance(value, str) else value.decode("utf-8", "replace")
    return cn.encode("utf-8")[:32].decode("utf-8", "ignore").rstrip()


class VirtualCard:
    """A running emulator: a virtual PIV token in vpcd's reader 0.

    Attributes:
        module_path: OpenSC's PKCS#11 module, the one that sees this card.
        env: full environment for subprocesses (``os.environ`` + ``OPENSC_CONF``).
        pin: the user PIN (``123456``).
        label: the token label OpenSC reports (the 9A certificate's CN).
        serial: the token serial OpenSC reports (from the CHUID GUID; stable across
            re-insertion).
        rsa_cert: certificate of key 9A (RSA-2048, PIV Authentication, PIN once).
        ec_cert: certificate of key 9C (P-256, Digital Signature, PIN always).
        atr: the card's ATR.
        state_file: the card's non-volatile memory (JSON: retry counter, counters).
        log_path: the emulator's log (APDUs with ``trace=True``).
    """

    def __init__(self, stack: PcscStack, workdir: Path, profile: CardProfile,
                 process: subprocess.Popen[bytes], control: Path, timeout: float) -> None:
        self.stack = stack
        self.module_path = str(stack.module_path)
        self.env = stack.env
        self.pin = profile.pin
        self.rsa_cert = profile.rsa_cert
        self.ec_cert = profile.ec_cert
        self.label = opensc_token_label(profile.rsa_cert)
        self.serial = profile.serial
        self.atr = ATR
        self.workdir = workdir
        self.state_file = workdir / "state.json"
        self.log_path = workdir / "card.log"
        self.timeout = timeout
        self._process = process
        self._control = control

    def __repr__(self) -> str:
        return f"<VirtualCard {self.label!r} serial {self.serial} pid {self._process.pid}>"

    # -- control channel ---------------------------------------------------------------

    def _call(self, cmd: str, **args: Any) -> dict[str, Any]:
        if self._process.poll() is not None:
            raise RuntimeError(f"the card emulator exited ({self._process.returncode}); "
                               f"log: {self.log_path}")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            sock.connect(str(self._control))
            sock.sendall(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
            with sock.makefile("rb") as answers:
                answer: dict[str, Any] = json.loads(answers.readline())
        if not answer.get("ok"):
            raise RuntimeError(f"card emulator refused {cmd!r}: {answer.get('error')}")
        return answer

    def status(self) -> dict[str, Any]:
        """Everything the emulator reports: counters, faults, presence."""
        return self._call("status")

    # -- insertion ---------------------------------------------------------------------

    def unplug(self, *, wait: bool = True) -> None:
        """Pull the card out (the emulator closes its vpcd connection).

        With ``wait``, return once pcscd reports the reader empty: from then on a fresh
        ``C_GetSlotList(tokenPresent=TRUE)`` in any process lists no token (checked on
        the PC/SC reader state, not through this process's PKCS#11 module).
        """
        self._call("unplug")
        if wait:
            self.stack.wait_card(present=False, timeout=self.timeout)

    def plug(self, *, wait: bool = True) -> None:
        """Put the card (same state file: same PIN counter) back in.

        With ``wait``, return once pcscd reports it present and powered with its ATR,
        i.e. the next ``C_GetSlotList`` in any process lists the token.
        """
        self._call("plug")
        if wait:
            self.stack.wait_card(present=True, atr=self.atr, timeout=self.timeout)

    @property
    def present(self) -> bool:
        """The card is in the reader: connected to vpcd and accepted by it.

        This is the card's side; pcscd notices a change at its next poll (~0.4 s), so
        use :meth:`plug`/:meth:`unplug` with ``wait`` to synchronise with PKCS#11.
        """
        return bool(self._call("status")["present"])

    # -- faults ------------------------------------------------------------------------

    def remove_after(self, signatures: int) -> None:
        """Let ``signatures`` more signatures through, then leave the reader during the
        next GENERAL AUTHENTICATE, before answering it (the card stays out until
        :meth:`plug`)."""
        self._call("remove_after", signatures=signatures)

    def set_delay(self, seconds: float) -> None:
        """Sleep ``seconds`` before answering each signature command (a slow token)."""
        self._call("set_delay", seconds=seconds)

    def fail_next(self, sw: int, count: int = 1) -> None:
        """Answer the next ``count`` signature requests with status word ``sw``
        instead of signing (``0x6F00`` -> CKR_GENERAL_ERROR, ``0x6982`` ->
        CKR_USER_NOT_LOGGED_IN).

        A request is one ``C_Sign``: OpenSC repeats a failed GENERAL AUTHENTICATE once
        at once, and the card answers that repeat the same way (see
        :class:`tests.support.virtual_card.card.Faults`).
        """
        self._call("fail_next", sw=sw, count=count)

    def clear_faults(self) -> None:
        """No delay, no injected status word, no pending removal."""
        self._call("clear_faults")

    # -- counters ----------------------------------------------------------------------

    @property
    def verify_count(self) -> int:
        """VERIFY commands that carried a PIN (not the empty status query) since the
        card was made."""
        return int(self._call("status")["verify_count"])

    @property
    def sign_count(self) -> int:
        """Signatures the card computed since it was made."""
        return int(self._call("status")["sign_count"])

    @property
    def tries_left(self) -> int:
        """The PIN retry counter (0 = locked)."""
        return int(self._call("status")["tries_left"])

    # -- end -------------------------------------------------------------------------

    def stop(self) -> None:
        """Remove the card (waiting until the reader is empty) and end the emulator."""
        if self._process.poll() is None:
            with contextlib.suppress(OSError, RuntimeError, TimeoutError):
                self.unplug(wait=True)
            with contextlib.suppress(OSError, RuntimeError):
                self._call("shutdown")
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        else:
            # It died on its own: make sure pcscd has seen the card go.
            with contextlib.suppress(TimeoutError):
                self.stack.wait_card(present=False, timeout=self.timeout)


@contextlib.contextmanager
def running_card(
    stack: PcscStack,
    *,
    pin: str = DEFAULT_PIN,
    tries: int = DEFAULT_TRIES,
    plugged: bool = True,
    trace: bool = False,
    state_file: Path | None = None,
    timeout: float = 10.0,
    keep_workdir: bool = False,
) -> Iterator[VirtualCard]:
    """A fresh virtual card in vpcd's reader 0, removed and stopped on exit.

    Args:
        stack: a started :class:`~tests.support.virtual_card.pcsc.PcscStack`.
        pin: the user PIN.
        tries: the retry counter of a new card.
        plugged: insert it (and wait until PKCS#11 can see it) before yielding.
        trace: log every APDU to ``card.log`` (PINs redacted).
        state_file: reuse this non-volatile memory instead of a fresh one.
        timeout: seconds to wait for any state change before failing.
        keep_workdir: leave the log and state file behind (for debugging).
    """
    if not stack.running:
        raise RuntimeError("start the PcscStack before inserting a card")
    # The reader must be empty: a card left by someone else would be seen instead.
    stack.wait_card(present=False, timeout=timeout)
    workdir = _runtime.make_workdir("card")
    if keep_workdir:
        (workdir / _runtime.KEEP).touch()
    if state_file is not None:
        shutil.copyfile(state_file, workdir / "state.json")
    control = workdir / "control.sock"
    profile = CardProfile.from_pki(PKI, pin=pin)
    command = [sys.executable, "-m", "tests.support.virtual_card.card", "--unplugged",
               "--control", str(control), "--state", str(workdir / "state.json"),
               "--tries", str(tries), "--parent-pid", str(os.getpid())]
    if trace:
        command.append("--trace")
    # The PIN goes in the environment, not on the command line (visible in ps).
    env = {**os.environ, "SIGNSVC_VCARD_PIN": pin}
    with (workdir / "card.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT)
    card = VirtualCard(stack, workdir, profile, process, control, timeout)
    try:
        _wait_control(card, process, control, timeout)
        if plugged:
            card.plug(wait=True)
        yield card
    finally:
        card.stop()
        if state_file is not None and card.state_file.exists():
            shutil.copyfile(card.state_file, state_file)
        if not keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def _wait_control(card: VirtualCard, process: subprocess.Popen[bytes], control: Path,
                  timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the card emulator exited with {process.returncode}: "
                               + card.log_path.read_text(errors="replace")[-2000:])
        if control.exists():
            with contextlib.suppress(OSError):
                card.status()
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the card emulator did not start within {timeout:.0f} s")
        time.sleep(0.01)
