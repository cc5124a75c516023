"""Trust anchors: which root certificates a chain may end at.

Example::

    >>> from signsvc.pki.trust import TrustStore
    >>> store = TrustStore.from_paths(["certs_test/gov-root-g2.crt.pem"])  # doctest: +SKIP
    >>> [a.label for a in store]  # doctest: +SKIP
    ['TEST ONLY RootCA chuyên dùng Chính phủ G2']
    >>> store = TrustStore.user()  # ~/.config/signsvc/trust or $SIGNSVC_TRUST_DIR  # doctest: +SKIP

Vietnam has no ETSI trusted list (DOMAIN.md): trust comes from anchors the user
configures. signsvc ships no root certificates; it *knows* the official ones by SHA-256
fingerprint (:data:`VN_PROFILE`) and labels them when the user adds their files, so
``signsvc trust list`` can say "Vietnam National Root CA (official)" or warn that the
government root is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from signsvc.errors import BadInputError, TrustError
from signsvc.pki._x509 import DEFAULT_CACHE, CertInfo, NameKey, describe

__all__ = [
    "VN_PROFILE",
    "KnownAnchor",
    "TrustAnchor",
    "TrustStore",
    "add_trust_anchor",
    "list_trust_anchors",
    "load_certificates",
    "read_certificates",
    "remove_trust_anchor",
    "user_trust_dir",
]

_CERT_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der"})
_MAX_FILE_BYTES = 16 * 1024 * 1024  # a trust bundle larger than this is not a bundle


@dataclass(frozen=True)
class KnownAnchor:
    """A certificate signsvc recognises by fingerprint (it does not ship the file)."""

    fingerprint: str
    """SHA-256 of the DER, upper-case hex without separators."""
    label: str
    """Name shown to users."""
    role: str
    """``"root"`` or ``"issuing CA"``."""
    source: str
    """Where the fingerprint comes from: a public copy of the certificate."""


_PUBLISHED = "https://github.com/nguyentvtk/eSign.Files/blob/dd3c0b29847488d7fe4711122d9554c104b6919d/server/trust/"
"""A public copy of the certificates the fingerprints below are taken from (an
open-source Vietnamese e-signature server's trust folder, pinned to a commit); each
fingerprint was recomputed from that file's DER. The roots' own publishers are NEAC
(rootca.gov.vn) and Ban Cơ yếu Chính phủ (ca.gov.vn)."""

VN_PROFILE: tuple[KnownAnchor, ...] = (
    KnownAnchor(
        "BAC8BF609AB420A8EE1780D74F4DE5C7F7184959D2A7375B0A75E4C29F0908E7",
        "Vietnam National Root CA (MIC, public CAs)",
        "root",
        # NEAC (Trung tâm Chứng thực điện tử quốc gia) publishes it as vnrca256.crt.
        f"{_PUBLISHED}national/vnrca256.crt",
    ),
    KnownAnchor(
        "F04BA4B459A7C9A1B971AD9B1CB833E695A80C79AEA63B174B66A70EDFE2FDB8",
        "RootCA chuyên dùng Chính phủ G2 (Ban Cơ yếu Chính phủ)",
        "root",
        f"{_PUBLISHED}vgca/rootcag2.crt",
    ),
    KnownAnchor(
        "D8CAB7A4AEF92E6BB2509D7C61CEE7B44F3731B2D21074963530277B366FAE4B",
        "CA phục vụ các cơ quan Nhà nước G2 (Ban Cơ yếu Chính phủ)",
        "issuing CA",
        f"{_PUBLISHED}vgca/cpcag2.crt",
    ),
)
"""The ``vn`` profile: the two Vietnamese roots and the G2 government issuing CA."""

_KNOWN = {k.fingerprint: k for k in VN_PROFILE}


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex().upper()


@dataclass(frozen=True)
class TrustAnchor:
    """One trusted certificate and how the user should see it."""

    certificate: x509.Certificate
    """The certificate; its subject and key are the anchor (RFC 5280 §6.1.1 (d))."""
    fingerprint: str
    """SHA-256 of the DER, upper-case hex."""
    label: str
    """The :class:`KnownAnchor` label when recognised, else the subject CN."""
    known: KnownAnchor | None = None
    """Set when the fingerprint is one signsvc knows (:data:`VN_PROFILE`)."""
    source: Path | None = None
    """File it was loaded from, if any."""

    @property
    def subject(self) -> str:
        """Subject DN in RFC 4514 form."""
        return self.certificate.subject.rfc4514_string()

    def to_json(self) -> dict[str, object]:
        """Plain-data form for ``signsvc trust list --json``."""
        return {
            "label": self.label,
            "subject": self.subject,
            "fingerprint_sha256": self.fingerprint,
            "known": self.known is not None,
            "role": self.known.role if self.known else None,
            "not_after": self.certificate.not_valid_after_utc.isoformat(),
            "source": str(self.source) if self.source else None,
        }


def load_certificates(data: bytes, *, path: str | os.PathLike[str] | None = None
                      ) -> list[x509.Certificate]:
    """Parse one DER certificate or a PEM bundle of any number of them.

    Raises:
        BadInputError: the bytes are neither (with ``path`` when given).
    """
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise BadInputError(f"not a PEM or DER certificate ({exc})", path=path) from exc
    return certs


def read_certificates(paths: Iterable[str | os.PathLike[str]]) -> list[x509.Certificate]:
    """Every certificate in these files (PEM bundles or DER) and folders (their
    ``.pem``, ``.crt``, ``.cer``, ``.der`` files), in order.

    Raises:
        BadInputError: a path cannot be read or holds no certificate (naming it).
    """
    return [cert for _, certs in _certificate_files(paths) for cert in certs]


def _certificate_files(
    paths: Iterable[str | os.PathLike[str]],
) -> Iterator[tuple[Path, list[x509.Certificate]]]:
    """(file, its certificates) for each file of these paths, folders expanded: the
    one reader behind :func:`read_certificates` and :meth:`TrustStore.from_paths`.

    Raises:
        BadInputError: a path is missing or unreadable, a file too large or holding no
            certificate (naming it).
    """
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise BadInputError("no such file or directory", path=path)
        try:
            for file in _files_under(path):
                if file.stat().st_size > _MAX_FILE_BYTES:
                    raise BadInputError("file too large for a certificate bundle", path=file)
                yield file, load_certificates(file.read_bytes(), path=file)
        except OSError as exc:
            raise BadInputError(f"cannot read: {exc.strerror or exc}", path=path) from exc


def _files_under(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(
            p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _CERT_SUFFIXES
        )
    return [path]


class TrustStore:
    """An immutable set of trust anchors, indexed by subject for path building."""

    __slots__ = ("_anchors", "_by_fp", "_by_raw_fp", "_by_subject", "_infos")

    def __init__(self, anchors: Iterable[TrustAnchor] = ()) -> None:
        self._anchors: tuple[TrustAnchor, ...] = ()
        self._by_fp: dict[str, TrustAnchor] = {}
        self._by_subject: dict[NameKey, list[CertInfo]] = {}
        self._infos: dict[bytes, CertInfo] = {}
        self._by_raw_fp: dict[bytes, TrustAnchor] = {}
        seen: list[TrustAnchor] = []
        for anchor in anchors:
            if anchor.fingerprint in self._by_fp:
                continue
            self._by_fp[anchor.fingerprint] = anchor
            seen.append(anchor)
            info = DEFAULT_CACHE._info(anchor.certificate)
            self._by_subject.setdefault(info.subject_key, []).append(info)
            self._infos[info.fingerprint] = info
            self._by_raw_fp[info.fingerprint] = anchor
        self._anchors = tuple(seen)

    @classmethod
    def from_certificates(
        cls, certificates: Iterable[x509.Certificate], *, source: Path | None = None
    ) -> TrustStore:
        """Trust exactly these certificates."""
        anchors = []
        for cert in certificates:
            if not isinstance(cert, x509.Certificate):
                raise TrustError(f"not a certificate: {type(cert).__name__}", path=source)
            fp = _fingerprint(cert)
            known = _KNOWN.get(fp)
            anchors.append(
                TrustAnchor(cert, fp, known.label if known else describe(cert), known, source)
            )
        return cls(anchors)

    @classmethod
    def from_paths(cls, paths: Iterable[str | os.PathLike[str]]) -> TrustStore:
        """Trust every certificate in these files and directories (PEM, DER, bundles).

        Raises:
            TrustError: a path does not exist or a file holds no certificate.
        """
        anchors: list[TrustAnchor] = []
        try:
            for file, certs in _certificate_files(paths):
                anchors.extend(cls.from_certificates(certs, source=file))
        except BadInputError as exc:
            raise TrustError(exc.reason, path=exc.path) from exc
        return cls(anchors)

    @classmethod
    def user(cls, directory: str | os.PathLike[str] | None = None) -> TrustStore:
        """The per-user anchors (:func:`user_trust_dir`); empty if the directory is absent."""
        folder = Path(directory) if directory is not None else user_trust_dir()
        if not folder.is_dir():
            return cls()
        return cls.from_paths([folder])

    def __or__(self, other: TrustStore) -> TrustStore:
        return TrustStore((*self._anchors, *other._anchors))

    def __iter__(self) -> Iterator[TrustAnchor]:
        return iter(self._anchors)

    def __len__(self) -> int:
        return len(self._anchors)

    def __contains__(self, cert: object) -> bool:
        return isinstance(cert, x509.Certificate) and _fingerprint(cert) in self._by_fp

    def __repr__(self) -> str:
        return f"TrustStore({[a.label for a in self._anchors]!r})"

    @property
    def anchors(self) -> tuple[TrustAnchor, ...]:
        """Every anchor, in the order added."""
        return self._anchors

    def anchor_for(self, cert: x509.Certificate) -> TrustAnchor | None:
        """The anchor entry of ``cert`` if it is trusted."""
        return self._by_fp.get(_fingerprint(cert))

    def _anchor_of(self, info: CertInfo) -> TrustAnchor | None:
        """The anchor entry of a parsed certificate, if it is trusted."""
        return self._by_raw_fp.get(info.fingerprint)

    def _issuers_named(self, key: NameKey) -> Sequence[CertInfo]:
        """Anchors whose subject is ``key`` (normalised, RFC 5280 §7.1)."""
        return self._by_subject.get(key, ())

    def _is_anchor(self, info: CertInfo) -> bool:
        """Whether this parsed certificate is one of the anchors."""
        return info.fingerprint in self._infos

    def _issuers_by_fingerprint(self, fingerprint: bytes) -> list[CertInfo]:
        """The anchor with this SHA-256 (raw bytes), as a list of zero or one."""
        info = self._infos.get(fingerprint)
        return [info] if info is not None else []

    def profile_status(self) -> tuple[tuple[KnownAnchor, bool], ...]:
        """Each :data:`VN_PROFILE` entry and whether this store holds it."""
        return tuple((k, k.fingerprint in self._by_fp) for k in VN_PROFILE)


def user_trust_dir() -> Path:
    """``$SIGNSVC_TRUST_DIR``, else ``$XDG_CONFIG_HOME/signsvc/trust``, else
    ``~/.config/signsvc/trust``."""
    explicit = os.environ.get("SIGNSVC_TRUST_DIR")
    if explicit:
        return Path(explicit).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME")
    base = Path(config).expanduser() if config else Path.home() / ".config"
    return base / "signsvc" / "trust"


def add_trust_anchor(
    source: str | os.PathLike[str] | x509.Certificate, *,
    directory: str | os.PathLike[str] | None = None
) -> TrustAnchor:
    """Copy one CA certificate into the user trust directory as ``<SHA-256>.pem``.

    Raises:
        TrustError: the file holds not exactly one certificate, or it is not a CA
            (basicConstraints cA=TRUE, RFC 5280 §4.2.1.9): trusting a leaf as an anchor
            is almost always a mistake.
    """
    folder = Path(directory) if directory is not None else user_trust_dir()
    src_path: Path | None = None
    if isinstance(source, x509.Certificate):
        cert = source
    else:
        src_path = Path(source).expanduser()
        if not src_path.is_file():
            raise TrustError("no such file", path=src_path)
        try:
            certs = load_certificates(src_path.read_bytes(), path=src_path)
        except BadInputError as exc:
            raise TrustError(exc.reason, path=src_path) from exc
        if len(certs) != 1:
            raise TrustError(f"expected one certificate, found {len(certs)}", path=src_path)
        cert = certs[0]
    fp = _fingerprint(cert)
    info = DEFAULT_CACHE._info(cert)
    if not info.is_ca:
        raise TrustError("not a CA certificate (basicConstraints cA is not TRUE)",
                         path=src_path, fingerprint=fp)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{fp}.pem"
    target.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    known = _KNOWN.get(fp)
    return TrustAnchor(cert, fp, known.label if known else describe(cert), known, target)


def list_trust_anchors(*, directory: str | os.PathLike[str] | None = None
                       ) -> tuple[TrustAnchor, ...]:
    """The anchors in the user trust directory (empty when it does not exist)."""
    return TrustStore.user(directory).anchors


def remove_trust_anchor(fingerprint: str, *,
                        directory: str | os.PathLike[str] | None = None) -> Path:
    """Delete the file of the anchor with this SHA-256 fingerprint (hex, any case,
    colons allowed) from the user trust directory; returns the path removed.

    Raises:
        TrustError: no anchor there has that fingerprint.
    """
    wanted = fingerprint.replace(":", "").strip().upper()
    for anchor in list_trust_anchors(directory=directory):
        if anchor.fingerprint == wanted and anchor.source is not None:
            anchor.source.unlink()
            return anchor.source
    folder = Path(directory) if directory is not None else user_trust_dir()
    raise TrustError("no trust anchor with this fingerprint", path=folder, fingerprint=wanted)
