"""Writing outputs so that no reader ever sees half a file.

Every output goes to a temporary file in the destination directory, is flushed and
fsync'ed, then linked into place (``link`` fails if the name exists, so an existing
output is never replaced unless the caller asked for it, in which case ``replace`` is
used). The directory is fsync'ed afterwards so the new name survives a power cut. A
failure or Ctrl-C at any point leaves at most the temporary file, which is removed.

The two steps can also be taken apart (:func:`write_temporary`, then
:func:`place`), so that something else happens between them: a signing batch commits
the document's journal row before its output gets its name. Such temporaries carry a
tag (the batch), so a later run can tell whose they are.

Example::

    >>> temporary = write_temporary(Path("out/qd.pdf"), b"%PDF-...", tag="3f2a")  # doctest: +SKIP
    >>> place(temporary, Path("out/qd.pdf"))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "TEMP_SUFFIX",
    "atomic_open",
    "atomic_write",
    "place",
    "remove_stale_temporaries",
    "sha256_file",
    "sha256_hex",
    "sync_folders",
    "temporary_tag",
    "write_temporary",
]

TEMP_SUFFIX = ".signsvc-partial"
_UMASK = os.umask(0o022)
os.umask(_UMASK)
"""Suffix of temporary outputs; a crashed run's leftovers can be recognised by it."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file's content, read in 1 MiB pieces.

    Raises:
        OSError: it cannot be read.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_temporary(path: Path, data: bytes, *, tag: str) -> Path:
    """``data`` in a complete, fsync'ed temporary file beside ``path``, named
    ``.NAME.TAG.RANDOM.signsvc-partial``; :func:`place` gives it its name.

    Raises:
        OSError: the directory is not writable, the disk is full, ... (nothing is
            left behind).
    """
    if not tag or "." in tag:
        raise ValueError("a temporary's tag is a non-empty word without dots")
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.{tag}.", suffix=TEMP_SUFFIX,
                                     dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # The temporary's name too: a journal that names it may rely on it after a
        # power cut (the rename into place can then be redone).
        _fsync_directory(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return Path(temporary)


def place(temporary: Path, path: Path, *, overwrite: bool = False,
          durable: bool = True) -> None:
    """Give a complete temporary file (:func:`write_temporary`) its final name.

    ``durable=False`` leaves the directory's fsync to the caller (:func:`sync_folders`),
    who can make it once for many renames.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false (the temporary
            stays, for the caller to remove).
        OSError: the rename failed.
    """
    if overwrite:
        os.replace(temporary, path)
    else:
        # link(2) refuses an existing target: no check-then-write race.
        os.link(temporary, path)
        os.unlink(temporary)
    if durable:
        _fsync_directory(path.parent)


def sync_folders(folders: Iterable[Path]) -> None:
    """fsync each folder: the renames made in them survive a power cut."""
    for folder in folders:
        _fsync_directory(folder)


def temporary_tag(name: str) -> str | None:
    """The tag of a temporary's file name (:func:`write_temporary`); None for any other
    name (a temporary of :func:`atomic_open` has no tag)."""
    if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
        return None
    parts = name[1:-len(TEMP_SUFFIX)].rsplit(".", 2)
    return parts[1] if len(parts) == 3 and parts[1] else None


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
        place(Path(temporary), path, overwrite=overwrite, durable=False)
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


def remove_stale_temporaries(directory: Path, name: str, *, tag: str | None = None) -> None:
    """Remove temporaries of ``name`` left by a killed process (best effort); with
    ``tag``, only those that tag names (one batch's)."""
    # glob.escape: a document may be called "QD [2026].pdf".
    prefix = glob.escape(f".{name}.{tag}." if tag else f".{name}.")
    for stale in directory.glob(f"{prefix}*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            stale.unlink()
