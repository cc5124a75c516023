"""The Vietnamese trust material shipped in ``signsvc/pki/data/``, read on first use.

``vn-roots.pem`` (the roots of the opt-in ``vn`` profile), ``vn-intermediates.pem``
(issuing CAs and time-stamping certificates) and ``vn-sources.tsv`` (role, label and
public source of each) are written by ``scripts/refresh_vn_trust.py``, which keeps only
certificates whose signatures verify up to a shipped root. Nothing is read at import:
``signsvc --help`` must not pay for it. The labels (the TSV, a few kilobytes) are read
for the first trust store built; the certificates only when a path needs an issuer the
caller did not give, or when the material is listed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from signsvc.errors import TrustError
from signsvc.pki._x509 import DEFAULT_CACHE, CertInfo, NameKey, name_key

__all__ = ["DATA", "ROOTS_FILE", "Entry", "certificates", "entries", "issuers_named"]

DATA = Path(__file__).resolve().with_name("data")
"""The folder of the shipped files (package data, listed in pyproject.toml)."""
ROOTS_FILE = DATA / "vn-roots.pem"
INTERMEDIATES_FILE = DATA / "vn-intermediates.pem"
SOURCES_FILE = DATA / "vn-sources.tsv"

ROLES = ("root", "issuing CA", "time-stamping CA", "time-stamping authority")
_ISSUING_ROLES = frozenset({"issuing CA", "time-stamping CA"})
_COLUMNS = ("sha256", "role", "label", "subject", "issuer", "not_before", "not_after",
            "signature_hash", "source")


@dataclass(frozen=True)
class Entry:
    """One row of ``vn-sources.tsv``."""

    fingerprint: str
    role: str
    label: str
    source: str


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TrustError(f"the shipped Vietnamese trust material is missing: "
                         f"{exc.strerror or exc}", path=path) from exc


@functools.cache
def entries() -> dict[str, Entry]:
    """Every shipped certificate's row, by SHA-256 (upper-case hex).

    Raises:
        TrustError: the file is missing or not in the expected form.
    """
    lines = _read(SOURCES_FILE).decode("utf-8").splitlines()
    if not lines or tuple(lines[0].split("\t")) != _COLUMNS:
        raise TrustError("unexpected header", path=SOURCES_FILE)
    found = {}
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(_COLUMNS) or cells[1] not in ROLES:
            raise TrustError(f"line {number} is not a certificate row", path=SOURCES_FILE)
        found[cells[0]] = Entry(cells[0], cells[1], cells[2], cells[8])
    return found


@functools.cache
def certificates() -> tuple[tuple[x509.Certificate, Entry], ...]:
    """Every shipped certificate with its row: the roots, then the others, in file order.

    Raises:
        TrustError: a file is missing, or a certificate has no row or the wrong role for
            its file (a root outside ``vn-roots.pem`` would become an anchor).
    """
    rows = entries()
    out = []
    for path, roots in ((ROOTS_FILE, True), (INTERMEDIATES_FILE, False)):
        try:
            certs = x509.load_pem_x509_certificates(_read(path))
        except ValueError as exc:
            raise TrustError(f"not a PEM bundle ({exc})", path=path) from exc
        for cert in certs:
            entry = rows.get(cert.fingerprint(hashes.SHA256()).hex().upper())
            if entry is None or (entry.role == "root") != roots:
                raise TrustError("a certificate without its row in vn-sources.tsv, or in "
                                 "the wrong file", path=path)
            out.append((cert, entry))
    return tuple(out)


@functools.cache
def _issuer_index() -> dict[NameKey, list[x509.Certificate]]:
    # Built once per process (two threads racing here build the same index twice,
    # harmlessly). Only CAs can issue (RFC 5280 §6.1.4 (k)): time-stamping authorities
    # are listed, not offered to path building.
    index: dict[NameKey, list[x509.Certificate]] = {}
    for cert, entry in certificates():
        if entry.role in _ISSUING_ROLES:
            index.setdefault(name_key(cert.subject), []).append(cert)
    return index


_parsed: dict[NameKey, tuple[CertInfo, ...]] = {}


def issuers_named(key: NameKey) -> Sequence[CertInfo]:
    """Shipped issuing CAs whose subject is ``key`` (normalised, RFC 5280 §7.1).

    A miss, the usual answer, costs a dictionary lookup once the index exists; the
    certificates of a name are read into :class:`CertInfo` when first asked for.

    Raises:
        TrustError: the shipped files are missing or damaged.
    """
    hit = _parsed.get(key)
    if hit is not None:
        return hit
    certs = _issuer_index().get(key)
    if not certs:
        return ()  # not remembered: misses come from arbitrary inputs
    hit = _parsed[key] = tuple(DEFAULT_CACHE._info(c) for c in certs)
    return hit
