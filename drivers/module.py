"""Loaded PKCS#11 modules and the tokens in their slots.

Example::

    >>> from drivers import load_module
    >>> module = load_module("/usr/lib/softhsm/libsofthsm2.so")  # doctest: +SKIP
    >>> [t.label for t in module.tokens()]  # doctest: +SKIP
    ['Nguyễn Thị Lấp Lánh Ánh']
    >>> with module.open(label="Nguyễn Thị Lấp Lánh Ánh") as session:  # doctest: +SKIP
    ...     session.login(pin)
    ...     key = session.key()

Thread safety: vendor modules are often not thread-safe, and python-pkcs11 initialises
every module with ``C_Initialize(NULL)``, which tells even SoftHSM to drop its own
locking (four threads with separate sessions crashed it five runs out of five). So each
loaded module carries one re-entrant lock, and every call into it holds that lock.
"""

from __future__ import annotations

import contextlib
import platform
import struct
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pkcs11.exceptions as p11e
from pkcs11._pkcs11 import lib as pkcs11_lib
from pkcs11.constants import TokenFlag

from drivers._ckapi import FunctionList
from drivers._translate import translated
from drivers._types import TokenFlags, TokenInfo
from drivers._types import selection_text as selection_text
from drivers.discovery import ModuleCandidate, discover_modules, vendor_for
from drivers.errors import (
    AmbiguousSelectionError,
    ModuleLoadError,
    ModuleLoadReason,
    TokenNotFoundError,
)
from drivers.session import TokenSession, label_mapper

__all__ = [
    "LoadedCandidate",
    "Pkcs11Module",
    "TokenFlags",
    "TokenInfo",
    "load_discovered",
    "load_module",
]


_loaded: dict[Path, Pkcs11Module] = {}
_loaded_lock = threading.Lock()


_ELF_MACHINES = {3: "x86", 62: "x86-64", 40: "ARM", 183: "ARM64", 8: "MIPS", 20: "PowerPC",
                 21: "PowerPC64", 43: "SPARC", 243: "RISC-V"}
"""ELF ``e_machine`` values (System V ABI, "Machine Information") seen in token drivers."""
_HOST_MACHINES = {"x86_64": 62, "amd64": 62, "i386": 3, "i686": 3, "x86": 3, "aarch64": 183,
                  "arm64": 183, "armv7l": 40, "riscv64": 243, "ppc64le": 21}


def _host() -> tuple[int, int | None]:
    """(bits, ELF machine) of this Python process."""
    return struct.calcsize("P") * 8, _HOST_MACHINES.get(platform.machine().lower())


def foreign_binary(path: Path) -> str | None:
    """What the file is, when it is a library this process cannot load: a 32-bit ELF
    under a 64-bit Python, an ELF for another processor, a Windows DLL or a macOS
    library; None when it looks loadable (or is no binary at all)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(20)
    except OSError:
        return None
    bits, machine = _host()
    here = f"this program is {bits}-bit {_ELF_MACHINES.get(machine or -1, platform.machine())}"
    if head[:2] == b"MZ":
        return f"a Windows DLL; {here} on {platform.system()}"
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        return f"a macOS library; {here} on {platform.system()}"
    if head[:4] != b"\x7fELF" or len(head) < 20:
        return None
    # ELF header (System V gABI): EI_CLASS at 4 (1: 32-bit, 2: 64-bit), EI_DATA at 5
    # (1: little-endian), e_machine at 18 in that byte order.
    file_bits = {1: 32, 2: 64}.get(head[4])
    file_machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    name = _ELF_MACHINES.get(file_machine, f"machine {file_machine}")
    if file_bits is not None and (file_bits != bits or
                                  (machine is not None and file_machine != machine)):
        return f"a {file_bits}-bit {name} library; {here}"
    return None


def _classify_load_error(path: Path, detail: str) -> ModuleLoadReason:
    """Read dlopen's message (``dlerror()``) for a file that exists.

    glibc says "X: cannot open shared object file" both when X is a missing
    dependency and when X is the module itself built for another machine, so which
    file it names decides.
    """
    if "C_GetFunctionList" in detail:
        return ModuleLoadReason.NOT_PKCS11
    if "cannot open shared object file" in detail:
        named = detail.split(": ", 1)[0]
        if named and Path(named).name not in (path.name, path.resolve().name):
            return ModuleLoadReason.MISSING_DEPENDENCY
        return ModuleLoadReason.NOT_A_LIBRARY
    if any(
        word in detail
        for word in ("file too short", "invalid ELF", "wrong ELF class", "Is a directory",
                     "not a dynamic", "cannot read file data", "ELF load command",
                     "ELF file")
    ):
        return ModuleLoadReason.NOT_A_LIBRARY
    return ModuleLoadReason.INIT_FAILED


def _already_loaded(resolved: Path) -> pkcs11_lib | None:
    """A python-pkcs11 handle another component (e.g. pyHanko) opened under another name.

    python-pkcs11 caches by path string; initialising the same library a second time
    fails with "already initialized", so reuse the handle it already has.
    """
    loaded: dict[str, pkcs11_lib] = getattr(pkcs11, "_loaded", {})
    for name, lib in loaded.items():
        if Path(name).resolve() == resolved:
            return lib
    return None


def load_module(path: str | Path) -> Pkcs11Module:
    """Load (once per process) the PKCS#11 module at ``path``.

    Symlinks are resolved first: python-pkcs11 caches modules by path string, so the
    same library reached through two names would otherwise be initialised twice and
    fail with "already initialized".

    Raises:
        ModuleLoadError: naming the path and the reason (missing, not a library, not
            a PKCS#11 module, initialisation failed).
    """
    given = Path(path).expanduser()
    if not given.exists():
        raise ModuleLoadError(given, ModuleLoadReason.NOT_FOUND)
    if not given.is_file():
        raise ModuleLoadError(given, ModuleLoadReason.NOT_A_LIBRARY, "not a regular file")
    resolved = given.resolve()
    with _loaded_lock:
        module = _loaded.get(resolved)
        if module is None:
            try:
                lib = _already_loaded(resolved) or pkcs11.lib(str(resolved))
            except p11e.PKCS11Error as exc:
                # "OS exception while loading <path>: <dlerror()>"
                message = str(exc)
                prefix = f"while loading {resolved}: "
                detail = message.split(prefix, 1)[1] if prefix in message else message
                reason = _classify_load_error(resolved, detail)
                foreign = foreign_binary(resolved)
                if foreign is not None:
                    raise ModuleLoadError(given, ModuleLoadReason.WRONG_ARCHITECTURE,
                                          foreign) from exc
                missing = None
                if reason is ModuleLoadReason.MISSING_DEPENDENCY:
                    missing = Path(detail.split(": ", 1)[0]).name
                raise ModuleLoadError(given, reason, detail, missing=missing) from exc
            module = Pkcs11Module(resolved, lib)
            _loaded[resolved] = module
    return module


@dataclass(frozen=True)
class LoadedCandidate:
    """A module :func:`load_discovered` tried to load: the module, or why it failed."""

    candidate: ModuleCandidate
    """Where the module was found."""
    module: Pkcs11Module | None
    """The loaded module; None when loading failed."""
    error: ModuleLoadError | None
    """Why loading failed; None when it worked."""

    def __post_init__(self) -> None:
        if (self.module is None) == (self.error is None):
            raise ValueError("a LoadedCandidate has either a module or an error")

    @property
    def explicit(self) -> bool:
        """True when the user named this module: ``--module``, the
        ``SIGNSVC_PKCS11_MODULE`` variable or the config file. A failure to load one
        is an error, the same whichever way it was named; a module found on its own
        (p11-kit registry, vendor profiles) that fails is skipped."""
        return self.candidate.named

    def module_or_raise(self) -> Pkcs11Module:
        """The loaded module.

        Raises:
            ModuleLoadError: the one loading it raised.
        """
        if self.error is not None:
            raise self.error
        assert self.module is not None
        return self.module


def load_discovered(
    modules: Sequence[str | Path] = (),
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    registry_dirs: Iterable[Path] | None = None,
    platform: str | None = None,
) -> Iterator[LoadedCandidate]:
    """Load each module :func:`~drivers.discovery.discover_modules` lists, in its order.

    A module that fails to load is yielded with its :class:`ModuleLoadError` instead of
    raising: the caller decides, usually from :attr:`LoadedCandidate.explicit`,
    whether to report it (a module the user named) or skip it (a discovered one: a
    broken vendor module must not hide the official's token). Modules are loaded one
    at a time, as the iteration reaches them, so a caller that stops early loads no
    further module.

    Args:
        modules: module paths the user named; empty means discovery (the other
            arguments are passed to :func:`~drivers.discovery.discover_modules`).
    """
    candidates = discover_modules(modules, environ=environ, config_file=config_file,
                                  registry_dirs=registry_dirs, platform=platform)
    for candidate in candidates:
        try:
            module = load_module(candidate.path)
        except ModuleLoadError as exc:
            yield LoadedCandidate(candidate, None, exc)
        else:
            yield LoadedCandidate(candidate, module, None)


class Pkcs11Module:
    """A loaded PKCS#11 module: its slots, its tokens, and the lock serialising it.

    Obtain one with :func:`load_module`; instances are shared per resolved path.
    """

    def __init__(self, path: Path, lib: pkcs11_lib) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._lib = lib
        self._functions: FunctionList | None = None
        self.manufacturer = lib.manufacturer_id.strip()
        self.description = lib.library_description.strip()

    def __repr__(self) -> str:
        return f"<Pkcs11Module {self.path}>"

    @property
    def vendor(self) -> str:
        """The vendor profile's name for this module, else its ``manufacturerID``."""
        return vendor_for(self.path) or self.manufacturer

    @property
    def functions(self) -> FunctionList:
        """Raw function list, for the calls python-pkcs11 gets wrong (see _ckapi)."""
        with self.lock:
            if self._functions is None:
                self._functions = FunctionList(self.path)
            return self._functions

    def _slots(self) -> list[pkcs11.Slot]:
        # python-pkcs11 0.10.1's get_slots() sizes its buffer with the first
        # C_GetSlotList call and then walks that many entries even when the second call
        # (PKCS#11 v3.0 §5.5) returned fewer: a token pulled out between the two calls
        # gives CKR_SLOT_ID_INVALID for a slot that is no longer listed. Read again.
        with self.lock, translated("list slots"):
            for _ in range(2):
                with contextlib.suppress(p11e.SlotIDInvalid):
                    return list(self._lib.get_slots(token_present=True))
            return list(self._lib.get_slots(token_present=True))

    def _present_slots(self) -> dict[int, pkcs11.Slot]:
        """Slots holding a token now, by slot ID (for :mod:`drivers.events`)."""
        return {int(slot.slot_id): slot for slot in self._slots()}

    def tokens(self) -> list[TokenInfo]:
        """The tokens present now, one per slot.

        A slot whose token cannot be read (a half-inserted card, a vendor bug) is
        skipped instead of hiding every other token, unlike python-pkcs11's
        ``get_tokens()``, which aborts on the first broken slot.
        """
        found = []
        for slot in self._slots():
            info = self._token_info(slot)
            if info is not None:
                found.append(info)
        return found

    def _token_info(self, slot: pkcs11.Slot) -> TokenInfo | None:
        with self.lock:
            try:
                token = slot.get_token()
                if not token.flags & TokenFlag.TOKEN_INITIALIZED:
                    # SoftHSM's spare slot, a blank card: nothing to sign with.
                    return None
                return TokenInfo(
                    module=self.path,
                    slot_id=int(slot.slot_id),
                    slot_description=slot.slot_description.strip(),
                    label=token.label,
                    serial=token.serial.rstrip(b"\0 ").decode("ascii", "replace"),
                    manufacturer=token.manufacturer_id.strip(),
                    model=token.model.strip(),
                    flags=TokenFlags.from_bits(int(token.flags)),
                )
            except p11e.PKCS11Error:
                return None

    def find_token(self, *, label: str | None = None, serial: str | None = None) -> TokenInfo:
        """The one token matching ``label`` and/or ``serial``.

        With neither given, the module must hold exactly one token.

        Raises:
            TokenNotFoundError: nothing matches.
            AmbiguousSelectionError: several tokens match.
        """
        tokens = self.tokens()
        matches = [t for t in tokens if t.matches(label, serial)]
        if not matches:
            raise TokenNotFoundError(f"{selection_text(label, serial)} in {self.path}",
                                     [t.label for t in tokens], label=label)
        if len(matches) > 1:
            raise AmbiguousSelectionError("token", [t.describe() for t in matches])
        return matches[0]

    def open(
        self,
        *,
        label: str | None = None,
        serial: str | None = None,
        token: TokenInfo | None = None,
    ) -> TokenSession:
        """Open a session on one token (see :meth:`find_token` for the selection)."""
        info = token or self.find_token(label=label, serial=serial)
        for slot in self._slots():
            if int(slot.slot_id) == info.slot_id:
                with self.lock, translated("open session", token=info.label):
                    session = slot.get_token().open(attribute_mapper=label_mapper())
                return TokenSession(self, info, session)
        raise TokenNotFoundError(f"label {info.label!r} (slot {info.slot_id} is empty now)")
