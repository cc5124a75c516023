"""Where more revocation data comes from: a local cache directory and, only when asked,
the network.

Example::

    >>> from signsvc.pki.fetch import RevocationFetcher
    >>> fetcher = RevocationFetcher(cache_dir="~/.cache/signsvc/crl")  # offline  # doctest: +SKIP
    >>> online = RevocationFetcher(cache_dir="/tmp/crl", online=True, timeout=5)  # doctest: +SKIP
    >>> validate_chain(leaf, trust=store, at=now, fetcher=online)  # doctest: +SKIP

Offline by default: validating a signature must not phone home unless the user says so
(archives, air-gapped government networks). Online fetches follow the certificate's
CRL distribution points (RFC 5280 §4.2.1.13), OCSP responders in its
authorityInformationAccess (RFC 6960 §4.1, HTTP POST per RFC 6960 Appendix A.1) and,
for a missing intermediate, its caIssuers URL (RFC 5280 §4.2.2.1).

Bounds: each HTTP request has a timeout (default 5 s) and a size cap (default 32 MiB
for CRLs, 64 KiB for OCSP); a URL that failed is not retried within the same fetcher;
only ``http`` and ``https`` URLs are followed. Failures never raise: they are kept in
:attr:`RevocationFetcher.errors` and the validation simply lacks that data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from signsvc.pki._crl import CrlInfo, crl_info
from signsvc.pki._x509 import CertInfo, NameKey, ValidationCache, name_key

__all__ = ["RevocationFetcher"]

_CRL_SUFFIXES = frozenset({".crl", ".pem", ".der"})


def _is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


_MAX_ISSUER_BYTES = 1024 * 1024


def _parse_certificates(data: bytes) -> list[x509.Certificate]:
    for load in (lambda d: [x509.load_der_x509_certificate(d)],
                 x509.load_pem_x509_certificates,
                 pkcs7.load_der_pkcs7_certificates):
        try:
            return list(load(data))
        except ValueError:
            continue
    return []


def _parse_crl(data: bytes) -> x509.CertificateRevocationList | None:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        return None


class RevocationFetcher:
    """Supplies CRLs and OCSP responses beyond those the caller passed."""

    def __init__(
        self,
        *,
        cache_dir: Path | str | None = None,
        online: bool = False,
        timeout: float = 5.0,
        max_crl_bytes: int = 32 * 1024 * 1024,
        max_ocsp_bytes: int = 64 * 1024,
    ) -> None:
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        self.online = online
        self.timeout = timeout
        self.max_crl_bytes = max_crl_bytes
        self.max_ocsp_bytes = max_ocsp_bytes
        self.errors: list[str] = []
        """Fetch and parse failures, as "URL: reason" lines."""
        self._local: dict[NameKey, list[x509.CertificateRevocationList]] | None = None
        self._by_url: dict[str, x509.CertificateRevocationList | None] = {}
        self._ocsp: dict[tuple[int, bytes], ocsp.OCSPResponse | None] = {}
        self._local_ocsp: list[ocsp.OCSPResponse] | None = None
        self._issuers: dict[str, list[x509.Certificate]] = {}

    # -- CRLs --------------------------------------------------------------------------
    def _load_local(self) -> dict[NameKey, list[x509.CertificateRevocationList]]:
        if self._local is None:
            self._local = {}
            if self.cache_dir is not None and self.cache_dir.is_dir():
                for file in sorted(self.cache_dir.iterdir()):
                    if file.suffix.lower() not in _CRL_SUFFIXES or not file.is_file():
                        continue
                    if file.stat().st_size > self.max_crl_bytes:
                        continue
                    crl = _parse_crl(file.read_bytes())
                    if crl is not None:
                        self._local.setdefault(name_key(crl.issuer), []).append(crl)
        return self._local

    def _crls_for(
        self, info: CertInfo, cache: ValidationCache, *, online: bool = False
    ) -> list[CrlInfo]:
        """CRLs that may cover ``info``: from the cache directory, or (``online`` and the
        fetcher allows it) fetched from its CRL distribution points."""
        if not online:
            found = list(self._load_local().get(info.issuer_key, ()))
        else:
            found = []
            if self.online:
                for url in self._dp_urls(info):
                    crl = self._fetch_crl(url)
                    if crl is not None:
                        found.append(crl)
        return [crl_info(c, cache) for c in found]

    @staticmethod
    def _dp_urls(info: CertInfo) -> list[str]:
        urls = []
        for dp in info.crl_dps or ():
            for name in dp.full_name or ():
                if isinstance(name, x509.UniformResourceIdentifier) and _is_http(name.value):
                    urls.append(name.value)
        return urls

    def _fetch_crl(self, url: str) -> x509.CertificateRevocationList | None:
        if url in self._by_url:
            return self._by_url[url]
        data = self._http(url, None, self.max_crl_bytes)
        crl = _parse_crl(data) if data is not None else None
        if data is not None and crl is None:
            self.errors.append(f"{url}: not a CRL")
        if crl is not None and self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha256(url.encode()).hexdigest()[:32] + ".crl"
            (self.cache_dir / name).write_bytes(crl.public_bytes(serialization.Encoding.DER))
        self._by_url[url] = crl
        return crl

    # -- OCSP --------------------------------------------------------------------------
    def _saved_ocsp(self) -> list[ocsp.OCSPResponse]:
        """OCSP responses saved in the cache directory (``*.ocsp``, DER)."""
        if self._local_ocsp is None:
            self._local_ocsp = []
            if self.cache_dir is not None and self.cache_dir.is_dir():
                for file in sorted(self.cache_dir.glob("*.ocsp")):
                    if file.is_file() and file.stat().st_size <= self.max_ocsp_bytes:
                        try:
                            self._local_ocsp.append(ocsp.load_der_ocsp_response(file.read_bytes()))
                        except ValueError:
                            self.errors.append(f"{file}: not an OCSP response")
        return self._local_ocsp

    def _ocsp_for(self, info: CertInfo, issuer: CertInfo) -> list[ocsp.OCSPResponse]:
        """A fresh OCSP response for ``info`` from its responder (online only)."""
        if not self.online or not info.aia_ocsp:
            return []
        key = (info.cert.serial_number, issuer.fingerprint)
        if key not in self._ocsp:
            self._ocsp[key] = self._ask(info, issuer)
        resp = self._ocsp[key]
        return [resp] if resp is not None else []

    def _ask(self, info: CertInfo, issuer: CertInfo) -> ocsp.OCSPResponse | None:
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(info.cert, issuer.cert, hashes.SHA1())  # RFC 6960 §4.1.1 CertID
            .build()
            .public_bytes(serialization.Encoding.DER)
        )
        for url in info.aia_ocsp:
            if not _is_http(url):
                continue
            data = self._http(url, request, self.max_ocsp_bytes)
            if data is None:
                continue
            try:
                resp = ocsp.load_der_ocsp_response(data)
            except ValueError:
                self.errors.append(f"{url}: not an OCSP response")
                continue
            successful = resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
            if self.cache_dir is not None and successful:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                name = hashlib.sha256(request).hexdigest()[:32] + ".ocsp"
                (self.cache_dir / name).write_bytes(data)
            return resp
        return None

    # -- issuers -----------------------------------------------------------------------
    def issuer_certificates(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """The certificates at ``cert``'s caIssuers URLs (RFC 5280 §4.2.2.1), online only.

        A signer's container often lacks the intermediate CA; viewers fetch it from
        here. DER, PEM or a certs-only PKCS#7 bundle (RFC 5280 §4.2.2.1 allows both).
        """
        if not self.online:
            return []
        try:
            aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
        except x509.ExtensionNotFound:
            return []
        found: list[x509.Certificate] = []
        for desc in aia.value:
            if (desc.access_method != AuthorityInformationAccessOID.CA_ISSUERS
                    or not isinstance(desc.access_location, x509.UniformResourceIdentifier)):
                continue
            url = desc.access_location.value
            if not _is_http(url):
                continue
            if url not in self._issuers:
                data = self._http(url, None, _MAX_ISSUER_BYTES)
                self._issuers[url] = _parse_certificates(data) if data is not None else []
                if data is not None and not self._issuers[url]:
                    self.errors.append(f"{url}: no certificate in the response")
            found += self._issuers[url]
        return found

    # -- HTTP --------------------------------------------------------------------------
    def _http(self, url: str, body: bytes | None, limit: int) -> bytes | None:
        headers = {"User-Agent": "signsvc"}
        if body is not None:
            headers["Content-Type"] = "application/ocsp-request"
        import urllib.request  # only online: an offline batch never pays for it

        req = urllib.request.Request(url, data=body, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                data: bytes = resp.read(limit + 1)
        except (OSError, ValueError) as exc:
            self.errors.append(f"{url}: {exc}")
            return None
        if len(data) > limit:
            self.errors.append(f"{url}: response larger than {limit} bytes")
            return None
        return data
