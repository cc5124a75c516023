"""Real token-driver files that cannot be loaded, the way officials' PCs have them: a
32-bit driver on a 64-bit system (FPT-CA's Debian package), a driver whose library
dependency is not installed (OpenSSL 1.1, gone from Debian 12), built with gcc when it
is there.

Without gcc (or without 32-bit support), the 32-bit driver is this machine's zlib with
its ELF class byte set to 32-bit: an ELF header of the wrong class, which dlopen
refuses the same way ("wrong ELF class: ELFCLASS32").

Example::

    path = thirty_two_bit_module(tmp_path / "fptca_v4.so")
    assert drivers.module.foreign_binary(path).startswith("a 32-bit")
"""

from __future__ import annotations

import ctypes.util
import shutil
import subprocess
from pathlib import Path

_SOURCE = "unsigned long C_GetFunctionList(void **list) { *list = 0; return 5; }\n"
"""A function named like a PKCS#11 module's entry point (returns CKR_GENERAL_ERROR):
the library would be a candidate module if it could be loaded at all."""


def libz() -> Path:
    """This machine's zlib, an ELF shared library for this machine."""
    name = ctypes.util.find_library("z")
    assert name is not None, "zlib is part of every Debian system"
    for directory in ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64",
                      "/usr/lib"):
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(name)


def _gcc(*args: str) -> bool:
    if shutil.which("gcc") is None:
        return False
    done = subprocess.run(["gcc", *args], capture_output=True, text=True, check=False)
    return done.returncode == 0


def thirty_two_bit_module(path: Path) -> Path:
    """A 32-bit x86 shared library with ``C_GetFunctionList`` at ``path``."""
    source = path.with_suffix(".c")
    source.write_text(_SOURCE, encoding="ascii")
    # -nostdlib: no 32-bit C library needs to be installed (gcc-multilib is not).
    if not _gcc("-m32", "-nostdlib", "-shared", "-fPIC", "-o", str(path), str(source)):
        data = bytearray(libz().read_bytes())
        data[4] = 1  # EI_CLASS = ELFCLASS32 (System V gABI, "ELF Identification")
        path.write_bytes(bytes(data))
    source.unlink()
    return path


def module_missing_a_dependency(path: Path, needed: str = "libcrypto.so.1.1"
                                ) -> tuple[Path, str]:
    """A library at ``path`` that links against a library which is not installed;
    returns the path and the missing library's name.

    With gcc: a stub ``needed`` is built, the module linked against it, and the stub
    deleted. Without gcc: zlib whose DT_NEEDED ``libc.so.6`` is renamed to
    ``libq.so.6`` (same length), and that is the name returned.
    """
    source = path.with_suffix(".c")
    source.write_text(_SOURCE, encoding="ascii")
    stub_dir = path.parent / f".{path.name}.stub"
    stub_dir.mkdir()
    stub = stub_dir / needed
    stub_source = stub_dir / "stub.c"
    stub_source.write_text("int SCardEstablishContext(void) { return 0; }\n", encoding="ascii")
    built = (_gcc("-shared", "-fPIC", f"-Wl,-soname,{needed}", "-o", str(stub),
                  str(stub_source))
             # --no-as-needed: keep DT_NEEDED although no symbol of the stub is used.
             and _gcc("-shared", "-fPIC", "-o", str(path), str(source), "-Wl,--no-as-needed",
                      str(stub)))
    shutil.rmtree(stub_dir)
    source.unlink()
    if not built:
        path.write_bytes(libz().read_bytes().replace(b"libc.so.6\0", b"libq.so.6\0"))
        return path, "libq.so.6"
    return path, needed


def register_with_p11kit(config_home: Path, name: str, module: Path) -> Path:
    """A user p11-kit registration (``$XDG_CONFIG_HOME/pkcs11/modules/NAME.module``),
    as a vendor's installer writes one: discovery finds ``module`` through it."""
    directory = config_home / "pkcs11" / "modules"
    directory.mkdir(parents=True, exist_ok=True)
    entry = directory / f"{name}.module"
    entry.write_text(f"module: {module}\n", encoding="utf-8")
    return entry
