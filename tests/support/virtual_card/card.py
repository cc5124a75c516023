"""The virtual PIV card as a process: inserted into vpcd's reader over TCP.

Run by hand (PIN 123456, keys from certs_test/)::

    python -m tests.support.virtual_card.card              # card inserted until Ctrl-C
    python -m tests.support.virtual_card.card --trace      # and log every APDU to stderr

Tests start it through :func:`tests.support.virtual_card.control.running_card`, which drives it
over ``--control``, a Unix socket taking one JSON object per line (``{"cmd": "unplug"}``)
and answering one (``{"ok": true, ...}``). It is a separate process because the
test process and the ``signsvc`` CLI it spawns both reach the card through OpenSC, and
the card must go on answering while the test process sits in a C call (a C extension
may hold the GIL there; python-pkcs11 0.10.1 happens to release it in ``C_Sign``).
A card started by hand registers like the tests' cards, so the next test run stops it:
it would otherwise answer in place of the test's card.

The vpcd protocol (vsmartcard's ``vpcd.c``): vpcd listens on TCP port 35963 for reader
0; the card connects (= inserted) and closes (= removed). Each message either way is a
2-byte big-endian length and a payload. vpcd sends a 1-byte control code (0 power off,
1 power on, 2 reset, 4 "send your ATR", which it also sends every ~400 ms to poll
presence) or a command APDU; the card answers the ATR request and each APDU, nothing
else. vpcd accepts one card at a time; a second one waits in its accept queue.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.paths import PKI
from tests.support.virtual_card import _runtime
from tests.support.virtual_card._piv import (
    ATR,
    DEFAULT_GUID,
    DEFAULT_PIN,
    DEFAULT_TRIES,
    CardProfile,
    CardRemoved,
    PivApplet,
    StateStore,
)

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963
"""vpcd's port for reader 0 (``CHANNELID 0x8C7B`` in its reader.conf)."""

CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4


class Faults:
    """The faults a test can inject into signature commands (GENERAL AUTHENTICATE).

    Applied in this order to each signature command: removal after N signatures (the
    card leaves before answering), delay (a slow token), then an injected status word
    instead of the signature.

    An injected status word covers one signature *request*: when the very next command
    the card receives is a signature with the same key (no command in between), it is
    answered the same way without using up ``count``. That next command is OpenSC's
    automatic retry: framework-pkcs15.c ``pkcs15_prkey_sign`` calls
    ``sc_pkcs15_compute_signature`` a second time on any error for keys without a
    PKCS#15 path (all PIV keys), inside the same card lock. A card with a fault would
    fail the retry too, and without this one ``C_Sign`` would need ``count=2`` (9A),
    or report the retry's 69 82 (9C, whose "PIN Always" status the first attempt used).
    """

    def __init__(self, store: StateStore, sleep: Callable[[float], bool]) -> None:
        self._store = store
        self._sleep = sleep
        self._lock = threading.Lock()
        self.delay = 0.0
        self.fail_sw: int | None = None
        self.fail_count = 0
        self.remove_at: int | None = None
        """Signature count at which the next signature command removes the card."""
        self._failed: tuple[int, int, int] | None = None
        """(key, command number, SW) of the last injected failure."""

    def remove_after(self, signatures: int) -> None:
        with self._lock:
            self.remove_at = self._store.state.sign_count + signatures

    def set_delay(self, seconds: float) -> None:
        with self._lock:
            self.delay = max(0.0, seconds)

    def fail_next(self, sw: int, count: int) -> None:
        with self._lock:
            self.fail_sw, self.fail_count = sw, max(0, count)

    def clear(self) -> None:
        with self._lock:
            self.delay, self.fail_sw, self.fail_count, self.remove_at = 0.0, None, 0, None
            self._failed = None

    def before_signature(self, key: int, command: int) -> int | None:
        with self._lock:
            remove = (self.remove_at is not None
                      and self._store.state.sign_count >= self.remove_at)
            if remove:
                self.remove_at = None
            delay = self.delay
        if remove:
            raise CardRemoved
        if delay and not self._sleep(delay):
            raise CardRemoved  # pulled out while it was "computing"
        with self._lock:
            failed, self._failed = self._failed, None
            if failed is not None and failed[:2] == (key, command - 1):
                self._failed = (key, command, failed[2])  # the host's immediate retry
                return failed[2]
            if self.fail_count > 0 and self.fail_sw is not None:
                self.fail_count -= 1
                self._failed = (key, command, self.fail_sw)
                return self.fail_sw
        return None


class VpcdLink:
    """The card's contacts: a TCP connection to vpcd that exists while inserted.

    A background thread connects while the card is wanted in the reader (retrying until
    vpcd listens), then serves vpcd's messages. :meth:`unplug` shuts the socket down,
    which vpcd sees at its next poll as the card leaving.
    """

    def __init__(self, applet: PivApplet, host: str = VPCD_HOST, port: int = VPCD_PORT,
                 log: Callable[[str], None] | None = None) -> None:
        self.applet = applet
        self.host, self.port = host, port
        self._log = log or (lambda _: None)
        self._cond = threading.Condition()
        self._want = False
        self._closing = False
        self._sock: socket.socket | None = None
        self._accepted = False
        self._removed = threading.Event()
        self._removed.set()
        self._thread = threading.Thread(target=self._run, name="vpcd-link", daemon=True)
        self._thread.start()

    # -- control (any thread) --------------------------------------------------------

    @property
    def plugged(self) -> bool:
        """The card is wanted in the reader (it may still be connecting)."""
        return self._want

    @property
    def present(self) -> bool:
        """Connected, and vpcd has talked to it (so it is not waiting in the accept queue)."""
        return self._sock is not None and self._accepted

    def plug(self) -> None:
        with self._cond:
            self._want = True
            self._removed.clear()
            self._cond.notify_all()

    def unplug(self) -> None:
        with self._cond:
            self._want = False
            self._removed.set()
            sock = self._sock
            self._cond.notify_all()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with self._cond:
            self._closing = True
        self.unplug()
        self._thread.join(timeout=5)

    def sleep(self, seconds: float) -> bool:
        """Wait like a slow card computing; False if the card was removed meanwhile."""
        return not self._removed.wait(seconds)

    # -- the link thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._want and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
            sock = self._connect()
            if sock is None:
                continue
            try:
                self._serve(sock)
            except OSError as exc:
                self._log(f"link: {exc}")
            finally:
                with self._cond:
                    self._sock = None
                    self._accepted = False
                with contextlib.suppress(OSError):
                    sock.close()
                self.applet.reset()  # power is gone with the contacts
                self._log("link: card out of the reader")

    def _connect(self) -> socket.socket | None:
        while True:
            with self._cond:
                if not self._want or self._closing:
                    return None
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
            except OSError:
                self._removed.wait(0.05)  # vpcd not listening yet (pcscd starting)
                continue
            sock.settimeout(None)
            # No Nagle delay on our small answers, no delayed ACK of vpcd's commands
            # (tcp(7); QUICKACK is re-armed after every read, see _recv_exact).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _quickack(sock)
            with self._cond:
                if not self._want or self._closing:
                    sock.close()
                    return None
                self._sock = sock
            self._log(f"link: connected to vpcd {self.host}:{self.port}")
            return sock

    def _serve(self, sock: socket.socket) -> None:
        while True:
            header = _recv_exact(sock, 2)
            if header is None:
                return  # vpcd went away, or unplug() shut the socket
            payload = _recv_exact(sock, int.from_bytes(header, "big"))
            if payload is None:
                return
            self._accepted = True
            if len(payload) == 1:
                code = payload[0]
                if code == CTRL_ATR:
                    sock.sendall(len(ATR).to_bytes(2, "big") + ATR)
                elif code in (CTRL_OFF, CTRL_ON, CTRL_RESET):
                    self.applet.reset()
                continue
            if not payload:
                continue
            try:
                response = self.applet.transmit(payload)
            except CardRemoved:
                self._log("link: fault: card removed during a signature")
                with self._cond:
                    self._want = False
                    self._removed.set()
                return
            if not self._want:
                return  # unplugged while a slow command ran: no answer
            sock.sendall(len(response).to_bytes(2, "big") + response)


def _quickack(sock: socket.socket) -> None:
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    """Read exactly ``n`` bytes, acknowledging each segment at once.

    vpcd (Debian's 0.8) writes a message's 2-byte length and its payload with two
    send() calls and leaves Nagle on: the payload waits until the length is ACKed.
    Linux delays that ACK by ~40 ms unless TCP_QUICKACK is set, and the kernel clears
    QUICKACK by itself (tcp(7)), so it is set again after every read: that takes an
    APDU from ~43-88 ms down to well under a millisecond.
    """
    chunks = bytearray()
    while len(chunks) < n:
        try:
            chunk = sock.recv(n - len(chunks))
        except OSError:
            return None
        if not chunk:
            return None
        _quickack(sock)
        chunks += chunk
    return bytes(chunks)


class Emulator:
    """One card: applet, non-volatile state, faults and link, driven by commands."""

    def __init__(self, profile: CardProfile, state_file: Path | None, *,
                 max_tries: int = DEFAULT_TRIES, host: str = VPCD_HOST, port: int = VPCD_PORT,
                 trace: bool = False) -> None:
        def log(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

        self.store = StateStore(state_file, max_tries=max_tries)
        self.applet = PivApplet(profile, self.store, trace=log if trace else None)
        self.link = VpcdLink(self.applet, host, port, log=log)
        self.faults = Faults(self.store, self.link.sleep)
        self.applet.hook = self.faults
        self.stopped = threading.Event()

    def status(self) -> dict[str, Any]:
        state = self.store.state
        return {
            "present": self.link.present,
            "plugged": self.link.plugged,
            "tries_left": state.tries_left,
            "max_tries": state.max_tries,
            "verify_count": state.verify_count,
            "sign_count": state.sign_count,
            "delay": self.faults.delay,
            "fail_sw": self.faults.fail_sw,
            "fail_count": self.faults.fail_count,
            "remove_at": self.faults.remove_at,
            "pid": os.getpid(),
        }

    def command(self, request: dict[str, Any]) -> dict[str, Any]:
        """Carry out one control request; the answer always includes the status."""
        cmd = request.get("cmd")
        if cmd == "plug":
            self.link.plug()
        elif cmd == "unplug":
            self.link.unplug()
        elif cmd == "remove_after":
            self.faults.remove_after(int(request["signatures"]))
        elif cmd == "set_delay":
            self.faults.set_delay(float(request["seconds"]))
        elif cmd == "fail_next":
            self.faults.fail_next(int(request["sw"]), int(request.get("count", 1)))
        elif cmd == "clear_faults":
            self.faults.clear()
        elif cmd == "shutdown":
            self.stopped.set()
        elif cmd != "status":
            return {"ok": False, "error": f"unknown command {cmd!r}"}
        return {"ok": True, **self.status()}

    def close(self) -> None:
        self.link.close()


class _ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    emulator: Emulator


class _ControlHandler(socketserver.StreamRequestHandler):
    server: _ControlServer

    def handle(self) -> None:
        for line in self.rfile:
            try:
                request = json.loads(line)
                answer = self.server.emulator.command(request)
            except (ValueError, KeyError, TypeError) as exc:
                answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            self.wfile.write(json.dumps(answer).encode() + b"\n")
            self.wfile.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.virtual_card.card",
        description="A virtual PIV smart card (TEST keys from certs_test/) inserted into "
                    "vsmartcard's vpcd reader; pcscd must be running with vpcd.")
    parser.add_argument("--host", default=VPCD_HOST, help="vpcd's address (%(default)s)")
    parser.add_argument("--port", type=int, default=VPCD_PORT,
                        help="vpcd's port: 35963 is reader 0 (%(default)s)")
    parser.add_argument("--state", type=Path,
                        help="JSON file keeping the PIN retry counter and the counters "
                             "(default: in memory only)")
    parser.add_argument("--control", type=Path,
                        help="Unix socket for JSON-line control (plug, unplug, faults)")
    parser.add_argument("--pin", help=f"user PIN (default: $SIGNSVC_VCARD_PIN, else "
                                      f"{DEFAULT_PIN})")
    parser.add_argument("--tries", type=int, default=DEFAULT_TRIES,
                        help="PIN retry counter of a new state file (%(default)s)")
    parser.add_argument("--pki", type=Path, default=PKI,
                        help="directory with official-rsa2048 and official-ec keys and "
                             "certificates (%(default)s)")
    parser.add_argument("--guid", help="CHUID GUID, 32 hex digits (sets the token serial)")
    parser.add_argument("--unplugged", action="store_true",
                        help="start outside the reader (plug it in over --control)")
    parser.add_argument("--trace", action="store_true", help="log each APDU to stderr")
    parser.add_argument("--parent-pid", type=int,
                        help="exit when this process (the test run) dies")
    args = parser.parse_args(argv)

    if args.parent_pid:
        _runtime.die_with_parent(args.parent_pid)
    _runtime.register("card", os.getpid())
    guid = bytes.fromhex(args.guid) if args.guid else DEFAULT_GUID
    pin = args.pin or os.environ.get("SIGNSVC_VCARD_PIN") or DEFAULT_PIN
    profile = CardProfile.from_pki(args.pki, pin=pin, guid=guid)
    emulator = Emulator(profile, args.state, max_tries=args.tries, host=args.host,
                        port=args.port, trace=args.trace)
    server: _ControlServer | None = None
    try:
        if args.control is not None:
            with contextlib.suppress(FileNotFoundError):
                args.control.unlink()
            server = _ControlServer(str(args.control), _ControlHandler)
            server.emulator = emulator
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             name="control", daemon=True).start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: emulator.stopped.set())
        if not args.unplugged:
            emulator.link.plug()
        print(f"virtual PIV card pid {os.getpid()}: vpcd {args.host}:{args.port}"
              + (f", control {args.control}" if args.control else ""),
              file=sys.stderr, flush=True)
        emulator.stopped.wait()  # a control "shutdown", SIGTERM or SIGINT
    finally:
        emulator.close()
        if server is not None:
            server.shutdown()
            server.server_close()
            with contextlib.suppress(FileNotFoundError):
                args.control.unlink()
        _runtime.unregister("card", os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
