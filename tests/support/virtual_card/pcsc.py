"""The real PC/SC stack for the virtual card: pcscd with vpcd, and OpenSC's config.

Outside pytest (benchmarks)::

    from tests.support.virtual_card import PcscStack, running_card

    with PcscStack() as stack, running_card(stack) as card:
        module = drivers.load_module(card.module_path)
        ...

What :meth:`PcscStack.start` does, and why:

1. Writes a private ``opensc.conf`` (only the PIV-II driver: detection is one driver's
   match, not thirty; no file cache: every run reads the card, and a cached
   certificate cannot hide a card change) and exports ``OPENSC_CONF``. OpenSC reads it
   in ``C_Initialize`` and python-pkcs11 keeps modules loaded for the whole process, so
   this must happen before anything in the process loads ``opensc-pkcs11.so`` (the
   pytest plugin does it in ``pytest_configure``).
2. Takes an exclusive lock (``flock`` on :data:`LOCK_FILE`), held until :meth:`stop`:
   vpcd's port and pcscd's socket are machine-wide, so two test runs at once would
   plug their cards into each other. A second run waits for the first.
3. Stops leftovers of a crashed run (pid files in ``$TMPDIR/signsvc-virtual-card``):
   an old emulator still connected to vpcd would answer in place of the new card.
4. Starts ``pcscd --foreground`` with a private reader configuration (vpcd on port
   35963, the ``-c`` directory also marks the process as ours), under
   ``setpriv --pdeathsig TERM`` so that it dies with the test run, and waits until
   ``/run/pcscd/pcscd.comm`` exists, vpcd listens and the reader is listed.

No systemd is needed (CI has none). A pcscd that the harness did not start (a desktop's
socket-activated one) is reused if it offers vpcd's reader, and left running.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from tests.support.virtual_card import _runtime
from tests.support.virtual_card._pcsclite import PcscClient, PcscError

OPENSC_MODULE = Path("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")
"""OpenSC's PKCS#11 module on Debian 12 (package opensc-pkcs11)."""
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
"""vsmartcard's reader driver (package vsmartcard-vpcd)."""
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
PCSCD_PIDFILE = Path("/run/pcscd/pcscd.pid")
VPCD_PORT = 35963
READER = "Virtual PCD 00 00"
"""vpcd reader 0 as pcscd names it (FRIENDLYNAME + slot numbers)."""
LOCK_FILE = _runtime.RUNTIME_DIR / "lock"

OPENSC_CONF_TEXT = """\
# Written by tests/support/virtual_card/pcsc.py for the virtual PIV card. TEST ONLY.
app default {
    card_drivers = PIV-II;
    framework pkcs15 {
        use_file_caching = no;
    }
}
"""

VPCD_READER_CONF = f"""\
# vpcd reader 0 on TCP port {VPCD_PORT} (0x8C7B), as in /etc/reader.conf.d/vpcd.
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:0x8C7B
LIBPATH      {VPCD_DRIVER}
CHANNELID    0x8C7B
"""


def missing() -> list[str]:
    """What the stack needs that is not installed (empty when complete)."""
    needs = [("pcscd", shutil.which("pcscd")), ("setpriv", shutil.which("setpriv")),
             (str(VPCD_DRIVER), VPCD_DRIVER.is_file() or None),
             (str(OPENSC_MODULE), OPENSC_MODULE.is_file() or None)]
    return [name for name, found in needs if not found]


def write_opensc_conf(directory: Path) -> Path:
    """Write the private OpenSC configuration into ``directory`` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "opensc.conf"
    path.write_text(OPENSC_CONF_TEXT, encoding="utf-8")
    return path


def vpcd_listening(port: int = VPCD_PORT) -> bool:
    """True if something listens on TCP ``port``, read from /proc/net/tcp{,6}.

    Never by connecting: a connection to vpcd *is* a card insertion.
    """
    wanted = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 3 and fields[1].endswith(wanted) and fields[3] == "0A":
                    return True
    return False


def _running_pcscd() -> int | None:
    """The pid in pcscd's pid file if that process is a live pcscd."""
    try:
        pid = int(PCSCD_PIDFILE.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if "pcscd" in _runtime.cmdline(pid) else None


class PcscStack:
    """pcscd + vpcd running, OpenSC configured; see the module docstring.

    Attributes:
        module_path: OpenSC's PKCS#11 module.
        opensc_conf: the private OpenSC configuration file.
        reader: the vpcd reader the card goes into.
        workdir: temporary directory for logs and configuration.
    """

    def __init__(self, workdir: Path | None = None, *, debug: bool = False,
                 lock_timeout: float = 900.0, start_timeout: float = 15.0) -> None:
        self._own_workdir = workdir is None
        self.workdir = _runtime.make_workdir("pcsc") if workdir is None else workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        if debug:
            (self.workdir / _runtime.KEEP).touch()
        self.debug = debug
        self.lock_timeout = lock_timeout
        self.start_timeout = start_timeout
        self.module_path = OPENSC_MODULE
        self.reader = READER
        self.opensc_conf = write_opensc_conf(self.workdir)
        self._lock: IO[str] | None = None
        self._pcscd: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._external = False
        self._client: PcscClient | None = None

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses that use OpenSC (CLI runs, pkcs11-tool)."""
        return {**os.environ, "OPENSC_CONF": str(self.opensc_conf)}

    @property
    def log_path(self) -> Path:
        return self.workdir / "pcscd.log"

    @property
    def running(self) -> bool:
        return self._lock is not None

    def export_opensc_conf(self) -> None:
        """Point this process's OpenSC at the private configuration (before it loads)."""
        current = os.environ.get("OPENSC_CONF")
        if current != str(self.opensc_conf) and _opensc_loaded():
            raise RuntimeError(
                f"opensc-pkcs11.so is already loaded with OPENSC_CONF={current}; "
                "export the harness's configuration before anything loads OpenSC")
        os.environ["OPENSC_CONF"] = str(self.opensc_conf)

    # -- life cycle --------------------------------------------------------------------

    def __enter__(self) -> PcscStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> PcscStack:
        """Bring the stack up (idempotent); see the module docstring."""
        if self.running:
            return self
        absent = missing()
        if absent:
            raise FileNotFoundError(f"PC/SC stack incomplete, missing: {', '.join(absent)} "
                                    "(run scripts/setup.sh)")
        self.export_opensc_conf()
        self._acquire_lock()
        try:
            for leftover in _runtime.stop_leftovers():
                print(f"virtual card: stopped leftover {leftover}", file=sys.stderr)
            if _running_pcscd() is not None:
                self._external = True  # not ours (ours are gone): use it, leave it
            else:
                self._start_pcscd()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop pcscd (if started here) and release the lock; idempotent."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._pcscd is not None:
            _runtime.stop_pid(self._pcscd.pid, _runtime.PCSCD_MARKER, timeout=5)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._pcscd.wait(timeout=2)
            _runtime.unregister("pcscd", self._pcscd.pid)
            self._pcscd = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None
        if self._own_workdir and not self.debug:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _acquire_lock(self) -> None:
        LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
        handle = LOCK_FILE.open("a+")
        deadline = time.monotonic() + self.lock_timeout
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise TimeoutError(
                        f"another test run holds {LOCK_FILE} (the virtual card's PC/SC "
                        f"stack) for more than {self.lock_timeout:.0f} s") from None
                if not told:
                    print(f"virtual card: waiting for another run to release {LOCK_FILE}",
                          file=sys.stderr)
                    told = True
                time.sleep(0.2)
        self._lock = handle

    def _start_pcscd(self) -> None:
        # Stale files of a pcscd that died (SIGKILL) without cleaning up.
        for stale in (PCSCD_SOCKET, PCSCD_PIDFILE):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        confdir = self.workdir / f"{_runtime.PCSCD_MARKER}-reader.conf.d"
        confdir.mkdir(exist_ok=True)
        (confdir / "vpcd").write_text(VPCD_READER_CONF, encoding="utf-8")
        command = ["setpriv", "--pdeathsig", "TERM", "pcscd", "--foreground",
                   "-c", str(confdir)]
        if self.debug:
            command += ["--debug", "--apdu"]
        self._log = self.log_path.open("wb")
        self._pcscd = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self._log,
                                       stderr=subprocess.STDOUT)
        _runtime.register("pcscd", self._pcscd.pid)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._pcscd is not None and self._pcscd.poll() is not None:
                raise RuntimeError(f"pcscd exited with {self._pcscd.returncode}: "
                                   f"{self.log_path.read_text(errors='replace')[-2000:]}")
            if PCSCD_SOCKET.exists() and vpcd_listening():
                try:
                    if self._client is None:
                        self._client = PcscClient()
                    if self.reader in self._client.readers():
                        return
                except PcscError:
                    pass  # pcscd not answering yet
            if time.monotonic() > deadline:
                what = "pcscd" if not self._external else "the running pcscd"
                raise TimeoutError(f"{what} did not offer reader {self.reader!r} within "
                                   f"{self.start_timeout:.0f} s (log: {self.log_path})")
            time.sleep(0.02)

    # -- reader state ------------------------------------------------------------------

    def wait_card(self, *, present: bool, atr: bytes | None = None,
                  timeout: float = 10.0) -> float:
        """Block until the reader holds a card (with ``atr``) or is empty; seconds waited."""
        if self._client is None:
            self._client = PcscClient()
        return self._client.wait(self.reader, present=present, atr=atr, timeout=timeout)

    def card_state(self) -> tuple[int, bytes]:
        """The reader's PC/SC state flags and ATR now."""
        if self._client is None:
            self._client = PcscClient()
        return self._client.state(self.reader)


def _opensc_loaded() -> bool:
    """True if opensc-pkcs11.so is mapped into this process."""
    with contextlib.suppress(OSError):
        return "opensc-pkcs11" in Path("/proc/self/maps").read_text()
    return False
