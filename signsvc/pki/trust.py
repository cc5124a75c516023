"""Trust anchors: which root certificates a chain may end at.

Example::

    >>> from signsvc.pki.trust import TrustStore
    >>> store = TrustStore.from_paths(["certs_test/gov-root-g2.crt.pem"])  # doctest: +SKIP
    >>> [a.label for a in store]  # doctest: +SKIP
    ['TEST ONLY RootCA chuyên dùng Chính phủ G2']
    >>> store = TrustStore.user()  # ~/.config/signsvc/trust or $SIGNSVC_TRUST_DIR  # doctest: +SKIP
    >>> vn = TrustStore.vn()  # the opt-in profile: NEAC's and Ban Cơ yếu Chính phủ's roots
    >>> "RootCA chuyên dùng Chính phủ G2 (Ban Cơ yếu Chính phủ)" in [a.label for a in vn]
    True

Vietnam has no ETSI trusted list (DOMAIN.md): trust comes from anchors the user
configures. Nothing is trusted by default. signsvc ships the Vietnamese trust material
(``signsvc/pki/data/``, rebuilt by ``scripts/refresh_vn_trust.py`` from public copies,
each signature verified up to its root, each source recorded: :func:`vn_trust_material`):

- the roots (NEAC's Vietnam National Root CA and its successors, Ban Cơ yếu Chính phủ's
  G1 and G2 roots) as the **opt-in** profile :meth:`TrustStore.vn`
  (``--trust-profile vn``);
- the licensed issuing CAs' certificates, which path building consults when the
  caller's certificates and anchors hold no issuer that verifies (real signed PDFs
  carry only the signer's certificate). They are never anchors: a chain through them
  must still end at an anchor the caller trusts. Turn them off with
  ``known_intermediates=False`` on the :class:`TrustStore`.

Every trust store labels the shipped certificates it holds by SHA-256 fingerprint, so
``signsvc trust list`` says "Vietnam National Root CA (MIC, public CAs)"; the
:data:`VN_PROFILE` entries are the ones it expects a Vietnamese verifier to hold.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from signsvc.errors import BadInputError, TrustError
from signsvc.pki import _vnbundle
from signsvc.pki._x509 import DEFAULT_CACHE, CertInfo, NameKey, describe

__all__ = [
    "TRUST_PROFILES",
    "VN_PROFILE",
    "KnownAnchor",
    "ShippedCertificate",
    "TrustAnchor",
    "TrustStore",
    "add_trust_anchor",
    "list_trust_anchors",
    "load_certificates",
    "read_certificates",
    "remove_trust_anchor",
    "trust_profile_file",
    "user_trust_dir",
    "vn_trust_material",
]

_CERT_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der"})
_MAX_FILE_BYTES = 16 * 1024 * 1024  # a trust bundle larger than this is not a bundle


@dataclass(frozen=True)
class KnownAnchor:
    """A certificate signsvc recognises by fingerprint, to label it."""

    fingerprint: str
    """SHA-256 of the DER, upper-case hex without separators."""
    label: str
    """Name shown to users."""
    role: str
    """``"root"``, ``"issuing CA"``, ``"time-stamping CA"`` or ``"time-stamping
    authority"`` (a TSA's own certificate, not a CA)."""
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
"""What a Vietnamese verifier is expected to trust: the current roots of the two
hierarchies and the G2 government issuing CA (:meth:`TrustStore.profile_status`). The
whole shipped profile is :meth:`TrustStore.vn`; these labels win over the shipped ones."""

TRUST_PROFILES = ("vn",)
"""Names of the shipped trust profiles (``--trust-profile``)."""

_KNOWN = {k.fingerprint: k for k in VN_PROFILE}


@functools.cache
def _shipped_labels() -> dict[str, KnownAnchor]:
    return {fp: KnownAnchor(fp, e.label, e.role, e.source)
            for fp, e in _vnbundle.entries().items()}


def _known(fingerprint: str) -> KnownAnchor | None:
    """The :data:`VN_PROFILE` entry of this SHA-256, else the shipped material's."""
    return _KNOWN.get(fingerprint) or _shipped_labels().get(fingerprint)


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex().upper()


@dataclass(frozen=True)
class ShippedCertificate:
    """One certificate of the Vietnamese trust material signsvc ships."""

    certificate: x509.Certificate
    """The certificate."""
    fingerprint: str
    """SHA-256 of the DER, upper-case hex."""
    role: str
    """``"root"`` (an anchor of :meth:`TrustStore.vn`), ``"issuing CA"`` or
    ``"time-stamping CA"`` (consulted by path building, never anchors), or
    ``"time-stamping authority"`` (a TSA's own certificate, listed only)."""
    label: str
    """The CA's name as written in the certificate, with its organisation."""
    source: str
    """The public copy it was taken from, ``repository@commit:path``."""

    @property
    def is_root(self) -> bool:
        """The bottom line: whether ``--trust-profile vn`` trusts it as an anchor."""
        return self.role == "root"

    @property
    def subject(self) -> str:
        """Subject DN in RFC 4514 form."""
        return self.certificate.subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        """Issuer DN in RFC 4514 form."""
        return self.certificate.issuer.rfc4514_string()

    def expired(self, at: datetime) -> bool:
        """Whether ``at`` (aware) is past its notAfter."""
        return at > self.certificate.not_valid_after_utc

    def to_json(self, *, at: datetime) -> dict[str, object]:
        """Plain data for ``signsvc trust list --profile vn --json`` (``expired`` at ``at``)."""
        return {
            "role": self.role,
            "label": self.label,
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.certificate.not_valid_before_utc.isoformat(),
            "not_after": self.certificate.not_valid_after_utc.isoformat(),
            "expired": self.expired(at),
            "fingerprint_sha256": self.fingerprint,
            "source": self.source,
        }


def vn_trust_material() -> tuple[ShippedCertificate, ...]:
    """Every certificate of the shipped Vietnamese trust material: the roots, then the
    issuing CAs and time-stamping certificates (read on first call).

    Raises:
        TrustError: the shipped files are missing or damaged (a broken installation).
    """
    return tuple(
        ShippedCertificate(cert, entry.fingerprint, entry.role,
                           (_known(entry.fingerprint) or entry).label, entry.source)
        for cert, entry in _vnbundle.certificates())


def trust_profile_file(name: str) -> Path:
    """The shipped certificate file of a trust profile (``"vn"``: its roots), for what
    takes files (``--trust``, :meth:`TrustStore.from_paths`, other tools).

    Raises:
        TrustError: not a name of :data:`TRUST_PROFILES`.
    """
    if name not in TRUST_PROFILES:
        raise TrustError(f"unknown trust profile {name!r} (known: {', '.join(TRUST_PROFILES)})")
    return _vnbundle.ROOTS_FILE


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
    """Set when the fingerprint is one signsvc knows (:data:`VN_PROFILE`, or the
    shipped Vietnamese material)."""
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
    """An immutable set of trust anchors, indexed by subject for path building.

    ``known_intermediates`` (default True): when building a path, an issuer that neither
    the caller's certificates nor the anchors supply is looked for among the Vietnamese
    issuing CAs signsvc ships (:func:`vn_trust_material`). They are never anchors, so
    they only complete a chain that ends at an anchor of this store anyway. False builds
    from the caller's certificates alone.
    """

    __slots__ = ("_anchors", "_by_fp", "_by_raw_fp", "_by_subject", "_infos",
                 "_known_intermediates")

    def __init__(self, anchors: Iterable[TrustAnchor] = (), *,
                 known_intermediates: bool = True) -> None:
        self._known_intermediates = bool(known_intermediates)
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
        cls, certificates: Iterable[x509.Certificate], *, source: Path | None = None,
        known_intermediates: bool = True,
    ) -> TrustStore:
        """Trust exactly these certificates."""
        anchors = []
        for cert in certificates:
            if not isinstance(cert, x509.Certificate):
                raise TrustError(f"not a certificate: {type(cert).__name__}", path=source)
            fp = _fingerprint(cert)
            known = _known(fp)
            anchors.append(
                TrustAnchor(cert, fp, known.label if known else describe(cert), known, source)
            )
        return cls(anchors, known_intermediates=known_intermediates)

    @classmethod
    def from_paths(cls, paths: Iterable[str | os.PathLike[str]], *,
                   known_intermediates: bool = True) -> TrustStore:
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
        return cls(anchors, known_intermediates=known_intermediates)

    @classmethod
    def user(cls, directory: str | os.PathLike[str] | None = None, *,
             known_intermediates: bool = True) -> TrustStore:
        """The per-user anchors (:func:`user_trust_dir`); empty if the directory is absent."""
        folder = Path(directory) if directory is not None else user_trust_dir()
        if not folder.is_dir():
            return cls(known_intermediates=known_intermediates)
        return cls.from_paths([folder], known_intermediates=known_intermediates)

    @classmethod
    def vn(cls, *, known_intermediates: bool = True) -> TrustStore:
        """The opt-in ``vn`` profile: the Vietnamese roots signsvc ships (NEAC's Vietnam
        National Root CA and its successors, Ban Cơ yếu Chính phủ's G1 and G2 roots),
        and no intermediate (``signsvc trust list --profile vn`` lists them).

        Raises:
            TrustError: the shipped files are missing or damaged.
        """
        return cls.from_certificates(
            [cert for cert, entry in _vnbundle.certificates() if entry.role == "root"],
            source=_vnbundle.ROOTS_FILE, known_intermediates=known_intermediates)

    @property
    def known_intermediates(self) -> bool:
        """Whether path building may use the shipped Vietnamese issuing CAs."""
        return self._known_intermediates

    def with_known_intermediates(self, enabled: bool) -> TrustStore:
        """The same anchors, with :attr:`known_intermediates` set to ``enabled``."""
        return TrustStore(self._anchors, known_intermediates=enabled)

    def __or__(self, other: TrustStore) -> TrustStore:
        # Turned off on either side stays off: someone asked for a closed pool.
        return TrustStore((*self._anchors, *other._anchors),
                          known_intermediates=self._known_intermediates
                          and other._known_intermediates)

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as the anchors' DER and sources (the parsed keys do not pickle):
        a distributed verification sends the store to every worker once."""
        anchors = tuple((a.certificate.public_bytes(serialization.Encoding.DER),
                         None if a.source is None else str(a.source))
                        for a in self._anchors)
        return _unpickle_store, (anchors, self._known_intermediates)

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

    def _extra_issuers_named(self, key: NameKey) -> Sequence[CertInfo]:
        """Shipped Vietnamese issuing CAs whose subject is ``key``, when
        :attr:`known_intermediates` is set (read on first use, once per process)."""
        if not self._known_intermediates:
            return ()
        return _vnbundle.issuers_named(key)

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
    known = _known(fp)
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


def _unpickle_store(anchors: tuple[tuple[bytes, str | None], ...],
                    known_intermediates: bool) -> TrustStore:
    """The :meth:`TrustStore.__reduce__` counterpart: the same anchors and labels."""
    found: list[TrustAnchor] = []
    for der, source in anchors:
        found.extend(TrustStore.from_certificates(
            [x509.load_der_x509_certificate(der)],
            source=None if source is None else Path(source)))
    return TrustStore(found, known_intermediates=known_intermediates)
