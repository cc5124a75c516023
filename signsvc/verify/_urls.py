"""Documents named by fsspec URLs (``s3://``, ``gcs://``, ``abfs://``, ``file://``...).

An archive that outgrows one machine often lives in object storage, which no worker
mounts. A batch then takes URLs: they are expanded here (a folder-like URL to every
``*.pdf`` under it, sorted, as :func:`~signsvc.collect_pdfs` does for folders), their
size and modification time read for the store, and each worker fetches its own
documents into a private temporary file, verifies it, and reports it by its URL
(:attr:`~signsvc.verify.results.DocumentResult.url`).

fsspec is part of ``signsvc[cluster]`` and imported only when a URL is given; a
protocol's own package (s3fs, gcsfs, adlfs) is the admin's to install.

Example::

    >>> from signsvc.verify._urls import expand, is_url
    >>> is_url("s3://luu-tru/2026/"), is_url("/srv/luu-tru")
    (True, False)
    >>> expand(["s3://luu-tru/2026/"])  # doctest: +SKIP
    ['s3://luu-tru/2026/qd-0001.pdf', ...]
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from signsvc.errors import BadInputError
from signsvc.verify.results import DocumentResult

__all__ = ["MAX_FETCH", "ListedUrl", "expand", "fetch_and_verify", "is_url", "stat_url"]

MAX_FETCH = 2 << 30
"""Bytes fetched for one document at most (2 GiB): past it the document is an error;
the strict reader refuses far less anyway."""
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_CHUNK = 1 << 20


def is_url(text: str | os.PathLike[str]) -> bool:
    """Whether ``text`` is a URL (``scheme://...``) rather than a local path."""
    return isinstance(text, str) and _SCHEME.match(text) is not None


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError as exc:
        raise BadInputError("URLs need fsspec: pip install 'signsvc[cluster]'") from exc
    return fsspec


def _filesystem(url: str) -> tuple[Any, str]:
    try:
        fs, path = _fsspec().core.url_to_fs(url)
    except (ImportError, ValueError) as exc:  # an unknown protocol, its package missing
        raise BadInputError(f"{url}: {exc}") from exc
    return fs, path


class ListedUrl(str):
    """A URL as :func:`expand` listed it, with the size and modification time the
    listing gave: the batch plans it without asking the storage again (one request
    per object, at archive scale, is the listing's cost twice over)."""

    __slots__ = ("mtime_ns", "size")

    size: int | None
    mtime_ns: int | None

    def __new__(cls, url: str, info: Mapping[str, Any]) -> ListedUrl:
        listed = super().__new__(cls, url)
        listed.size, listed.mtime_ns = _size_and_mtime(info)
        return listed


def expand(urls: Iterable[str]) -> list[str]:
    """Each URL as the documents it names: a file as itself, a folder (or prefix) as
    every ``*.pdf`` under it, sorted, each once (as :class:`ListedUrl`).

    Raises:
        BadInputError: a URL names nothing, or its protocol is not available.
    """
    out: list[str] = []
    seen: set[str] = set()
    for url in urls:
        fs, path = _filesystem(url)
        try:
            info = fs.info(path)
            found = ({p: i for p, i in sorted(fs.find(path, detail=True).items())
                      if p.lower().endswith(".pdf")}
                     if info.get("type") == "directory" else {path: info})
        except FileNotFoundError:
            raise BadInputError(f"{url}: no such file or folder") from None
        except OSError as exc:
            raise BadInputError(f"{url}: {exc}") from exc
        for item, details in found.items():
            full = item if is_url(item) else fs.unstrip_protocol(item)
            if full not in seen:
                seen.add(full)
                out.append(ListedUrl(full, details))
    return out


def stat_url(url: str) -> tuple[int | None, int | None]:
    """(size, modification time in ns) of the document at ``url``, each None when the
    storage does not say; what the store compares on ``--resume``. A
    :class:`ListedUrl` answers from its listing.

    Raises:
        BadInputError: the URL names nothing, or its protocol is not available.
    """
    if isinstance(url, ListedUrl):
        return url.size, url.mtime_ns
    fs, path = _filesystem(url)
    try:
        info = fs.info(path)
    except OSError as exc:
        raise BadInputError(f"{url}: {exc}") from exc
    return _size_and_mtime(info)


def _size_and_mtime(info: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """Size and modification time (ns) from an fsspec info dict, whatever the storage
    calls the time."""
    size = info.get("size")
    when = next((info[k] for k in ("mtime", "LastModified", "updated", "created")
                 if info.get(k) is not None), None)
    seconds: float | None = None
    if isinstance(when, datetime):
        seconds = when.timestamp()
    elif isinstance(when, int | float):
        seconds = float(when)
    elif isinstance(when, str):
        try:
            seconds = datetime.fromisoformat(when).timestamp()
        except ValueError:
            seconds = None
    return (int(size) if isinstance(size, int) else None,
            None if seconds is None else int(seconds * 1e9))


def fetch_and_verify(verify: Callable[[Path], DocumentResult], url: str) -> DocumentResult:
    """Fetch ``url`` into a private temporary file (never kept), verify it with
    ``verify``, and report it by its URL.

    Raises:
        BadInputError: the document cannot be fetched, or is over :data:`MAX_FETCH`.
    """
    fs, path = _filesystem(url)
    with tempfile.TemporaryDirectory(prefix="signsvc-url-") as folder:
        local = Path(folder) / "document.pdf"
        try:
            with fs.open(path, "rb") as source, local.open("wb") as target:
                copied = 0
                while chunk := source.read(_CHUNK):
                    copied += len(chunk)
                    if copied > MAX_FETCH:
                        raise BadInputError(f"{url}: larger than {MAX_FETCH >> 20} MiB")
                    target.write(chunk)
        except OSError as exc:
            raise BadInputError(f"{url}: cannot be fetched: {exc}") from exc
        result = verify(local)
    return replace(result, path=Path(path), url=url)
