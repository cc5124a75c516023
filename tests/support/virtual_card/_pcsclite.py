"""A few PC/SC calls through libpcsclite, to watch a reader without touching PKCS#11.

The harness waits for "card present" / "card gone" here rather than through OpenSC:
OpenSC's ``C_GetSlotList`` decides token presence from exactly this reader state
(reader-pcsc.c ``refresh_attributes`` calls ``SCardGetStatusChange`` with a zero
timeout on every call), so once pcscd reports the reader empty, a fresh
``C_GetSlotList(tokenPresent=TRUE)`` in any process lists no token there, and once
it reports our card present and powered, the next one lists the token. Asking
pcscd directly costs no APDU, no extra OpenSC context in the test process, and blocks
on the event instead of polling.

pcsc-lite on Linux: ``DWORD`` and ``LONG`` are C ``unsigned long`` / ``long``
(pcsclite's wintypes.h), ``SCARD_READERSTATE`` is unpacked, ``MAX_ATR_SIZE`` is 33.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time

DWORD = ctypes.c_ulong
LONG = ctypes.c_long
SCARDCONTEXT = LONG

SCARD_SCOPE_SYSTEM = 2
SCARD_S_SUCCESS = 0
SCARD_E_TIMEOUT = 0x8010000A
SCARD_E_NO_READERS_AVAILABLE = 0x8010002E
SCARD_E_NO_SERVICE = 0x8010001D
SCARD_E_UNKNOWN_READER = 0x80100009
INFINITE = 0xFFFFFFFF

SCARD_STATE_UNAWARE = 0x0000
SCARD_STATE_CHANGED = 0x0002
SCARD_STATE_UNKNOWN = 0x0004
SCARD_STATE_UNAVAILABLE = 0x0008
SCARD_STATE_EMPTY = 0x0010
SCARD_STATE_PRESENT = 0x0020
SCARD_STATE_MUTE = 0x0200


class _ReaderState(ctypes.Structure):
    _fields_ = (
        ("szReader", ctypes.c_char_p),
        ("pvUserData", ctypes.c_void_p),
        ("dwCurrentState", DWORD),
        ("dwEventState", DWORD),
        ("cbAtr", DWORD),
        ("rgbAtr", ctypes.c_ubyte * 33),
    )


class PcscError(OSError):
    """A PC/SC call failed; ``code`` is the SCARD_E_* value."""

    def __init__(self, call: str, code: int) -> None:
        super().__init__(f"{call} failed: {code:#010x}")
        self.code = code


def _load() -> ctypes.CDLL:
    name = ctypes.util.find_library("pcsclite") or "libpcsclite.so.1"
    lib = ctypes.CDLL(name)
    lib.SCardEstablishContext.argtypes = (DWORD, ctypes.c_void_p, ctypes.c_void_p,
                                          ctypes.POINTER(SCARDCONTEXT))
    lib.SCardEstablishContext.restype = LONG
    lib.SCardReleaseContext.argtypes = (SCARDCONTEXT,)
    lib.SCardReleaseContext.restype = LONG
    lib.SCardListReaders.argtypes = (SCARDCONTEXT, ctypes.c_char_p, ctypes.c_char_p,
                                     ctypes.POINTER(DWORD))
    lib.SCardListReaders.restype = LONG
    lib.SCardGetStatusChange.argtypes = (SCARDCONTEXT, DWORD, ctypes.POINTER(_ReaderState),
                                         DWORD)
    lib.SCardGetStatusChange.restype = LONG
    return lib


class PcscClient:
    """One PC/SC context on the system's pcscd. Not thread-safe; close it when done."""

    def __init__(self) -> None:
        self._lib = _load()
        self._ctx = SCARDCONTEXT()
        rv = self._lib.SCardEstablishContext(SCARD_SCOPE_SYSTEM, None, None,
                                             ctypes.byref(self._ctx))
        if rv != SCARD_S_SUCCESS:
            raise PcscError("SCardEstablishContext", rv & 0xFFFFFFFF)

    def close(self) -> None:
        if self._ctx.value:
            self._lib.SCardReleaseContext(self._ctx)
            self._ctx = SCARDCONTEXT()

    def __enter__(self) -> PcscClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def readers(self) -> list[str]:
        """Reader names pcscd offers now (empty if none)."""
        size = DWORD(0)
        rv = self._lib.SCardListReaders(self._ctx, None, None, ctypes.byref(size)) & 0xFFFFFFFF
        if rv == SCARD_E_NO_READERS_AVAILABLE:
            return []
        if rv != SCARD_S_SUCCESS:
            raise PcscError("SCardListReaders", rv)
        buffer = ctypes.create_string_buffer(size.value)
        rv = self._lib.SCardListReaders(self._ctx, None, buffer, ctypes.byref(size)) & 0xFFFFFFFF
        if rv == SCARD_E_NO_READERS_AVAILABLE:
            return []
        if rv != SCARD_S_SUCCESS:
            raise PcscError("SCardListReaders", rv)
        return [r.decode() for r in buffer.raw[:size.value].split(b"\0") if r]

    def state(self, reader: str) -> tuple[int, bytes]:
        """``(event state flags, ATR)`` of ``reader`` now."""
        return self._status(reader, SCARD_STATE_UNAWARE, 0) or (0, b"")

    def _status(self, reader: str, current: int, timeout_ms: int) -> tuple[int, bytes] | None:
        rs = _ReaderState()
        name = reader.encode()
        rs.szReader = name
        rs.dwCurrentState = current
        rv = self._lib.SCardGetStatusChange(self._ctx, timeout_ms, ctypes.byref(rs), 1)
        rv &= 0xFFFFFFFF
        if rv == SCARD_E_TIMEOUT:
            return None
        if rv != SCARD_S_SUCCESS:
            raise PcscError("SCardGetStatusChange", rv)
        return int(rs.dwEventState), bytes(rs.rgbAtr[:rs.cbAtr])

    def wait(self, reader: str, *, present: bool, atr: bytes | None = None,
             timeout: float = 10.0) -> float:
        """Block until ``reader`` holds a card (with this ATR, if given) or is empty.

        Returns:
            Seconds waited.

        Raises:
            TimeoutError: the state did not come within ``timeout``.
        """
        start = time.monotonic()
        deadline = start + timeout
        current = SCARD_STATE_UNAWARE
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"reader {reader!r} still {'empty' if present else 'holds a card'} "
                    f"after {timeout:.1f} s")
            result = self._status(reader, current, max(1, int(remaining * 1000)))
            if result is None:
                continue
            flags, found_atr = result
            if present:
                done = bool(flags & SCARD_STATE_PRESENT) and not flags & SCARD_STATE_MUTE and (
                    atr is None or found_atr == atr)
            else:
                done = bool(flags & SCARD_STATE_EMPTY)
            if done:
                return time.monotonic() - start
            # Wait for the next change from this state (CHANGED is not a state).
            current = flags & ~SCARD_STATE_CHANGED
