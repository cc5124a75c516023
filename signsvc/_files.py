"""Writing outputs so that no reader ever sees half a file.

Every output goes to a temporary file in the destination directory, is flushed and
fsync'ed, then linked into place (``link`` fails if the name exists, so an existing
output is never replaced unless the caller asked for it, in which case ``replace`` is
used). The directory is fsync'ed afterwards so the new name survives a power cut. A
failure or Ctrl-C at any point leaves at most the temporary file, which is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["TEMP_SUFFIX", "atomic_open", "atomic_write", "remove_stale_temporaries", "sha256_hex"]

TEMP_SUFFIX = ".signsvc-partial"
_UMASK = os.umask(0o022)
os.umask(_UMASK)
"""Suffix of temporary outputs; a crashed run's leftovers can be recognised by it."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` atomically.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        OSError: the directory is not writable, the disk is full, ...
    """
    with atomic_open(path, overwrite=overwrite) as handle:
        handle.write(data)


@contextlib.contextmanager
def atomic_open(path: Path, *, overwrite: bool = False,
                buffering: int = -1) -> Iterator[BinaryIO]:
    """A binary stream whose content appears at ``path`` only once it is complete:
    for output written piece by piece (reports) as well as in one go.

    Raises:
        FileExistsError: on closing, ``path`` exists and ``overwrite`` is false.
        OSError: the directory is not writable, the disk is full, ...
    """
    directory = path.parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX,
                                     dir=directory)
    try:
        # mkstemp creates 0600; an output gets the mode any new file would get.
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb", buffering=buffering) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            # link(2) refuses an existing target: no check-then-write race.
            os.link(temporary, path)
            os.unlink(temporary)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temporaries(directory: Path, name: str) -> None:
    """Remove temporaries of ``name`` left by a killed process (best effort)."""
    for stale in directory.glob(f".{name}.*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            stale.unlink()
