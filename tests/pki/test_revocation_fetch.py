"""RevocationFetcher: CRLs and OCSP responses from a cache directory and over HTTP
on 127.0.0.1, as validate_chain uses them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from certs_test.services import TestServices
from signsvc import validate_chain
from signsvc.pki.fetch import RevocationFetcher
from signsvc.pki.indications import SubIndication
from tests.support.chains import (
    ALL_ROOTS,
    AT,
    cert,
    check,
    crl,
    ec_key,
    issue,
    key,
    ocsp_response,
    store,
)


def test_fetcher_cache_dir_and_online(tmp_path: Path, services: TestServices) -> None:
    """The committed gov-ca-g2 CRL, served by the test PKI services on 127.0.0.1."""
    dp = x509.CRLDistributionPoints([x509.DistributionPoint(
        [x509.UniformResourceIdentifier(services.crl_url("gov-ca-g2"))], None, None, None)])
    leaf = issue("Fetched", cert("gov-ca-g2").subject, ec_key(11), key("gov-ca-g2"), ca=False,
                 serial=4242, extra=[(dp, False)])
    options: dict[str, object] = {"intermediates": [cert("gov-ca-g2")],
                                  "trust": store(*ALL_ROOTS), "at": AT, "revocation": "hard-fail"}
    offline = validate_chain(leaf, crls=[crl("gov-root-g2")],
                             fetcher=RevocationFetcher(cache_dir=tmp_path), **options)  # type: ignore[arg-type]
    assert offline.sub_indication is SubIndication.TRY_LATER
    online = RevocationFetcher(cache_dir=tmp_path, online=True, timeout=5)
    result = validate_chain(leaf, crls=[crl("gov-root-g2")], fetcher=online, **options)  # type: ignore[arg-type]
    assert result.valid, (result.reason, online.errors)
    stored = list(tmp_path.glob("*.crl"))
    assert len(stored) == 1
    # The fetched CRL now serves offline validation from the cache directory.
    again = validate_chain(leaf, crls=[crl("gov-root-g2")],
                           fetcher=RevocationFetcher(cache_dir=tmp_path), **options)  # type: ignore[arg-type]
    assert again.valid


@pytest.fixture
def ocsp_server() -> Iterator[str]:
    """A real OCSP responder on 127.0.0.1: answers "good" for any certificate of
    gov-ca-g2, signed by the delegated responder ocsp-gov-ca-g2 (RFC 6960 §A.1, POST)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = ocsp.load_der_ocsp_request(
                self.rfile.read(int(self.headers["Content-Length"]))
            )
            now = datetime(2026, 3, 31, tzinfo=UTC)
            builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial_number,
                algorithm=request.hash_algorithm,
                cert_status=ocsp.OCSPCertStatus.GOOD,
                this_update=now,
                next_update=now + timedelta(days=7),
                revocation_time=None,
                revocation_reason=None,
            )
            responder = cert("ocsp-gov-ca-g2")
            body = (
                builder.responder_id(ocsp.OCSPResponderEncoding.HASH, responder)
                .certificates([responder])
                .sign(key("ocsp-gov-ca-g2"), hashes.SHA256())
                .public_bytes(serialization.Encoding.DER)
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ocsp"
    finally:
        server.shutdown()
        server.server_close()


def test_fetcher_asks_the_ocsp_responder_online(tmp_path: Path, ocsp_server: str) -> None:
    aia = x509.AuthorityInformationAccess([x509.AccessDescription(
        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_server))])
    leaf = issue("Asks OCSP", cert("gov-ca-g2").subject, ec_key(13), key("gov-ca-g2"),
                 ca=False, serial=777, extra=[(aia, False)])
    options: dict[str, object] = {"intermediates": [cert("gov-ca-g2")], "at": AT,
                                  "trust": store(*ALL_ROOTS), "crls": [crl("gov-root-g2")],
                                  "revocation": "hard-fail"}
    assert validate_chain(leaf, **options).sub_indication is SubIndication.TRY_LATER  # type: ignore[arg-type]
    fetcher = RevocationFetcher(cache_dir=tmp_path, online=True)
    result = validate_chain(leaf, fetcher=fetcher, **options)  # type: ignore[arg-type]
    assert result.valid, (result.reason, fetcher.errors)
    assert (result.revocation[-1].source, result.revocation[-1].status) == ("ocsp", "good")
    assert len(list(tmp_path.glob("*.ocsp"))) == 1  # kept for offline use


def test_fetcher_reads_ocsp_responses_from_the_cache_dir(tmp_path: Path) -> None:
    resp = ocsp_response("official-rsa2048")
    (tmp_path / "answer.ocsp").write_bytes(resp.public_bytes(serialization.Encoding.DER))
    (tmp_path / "junk.ocsp").write_bytes(b"not der")
    fetcher = RevocationFetcher(cache_dir=tmp_path)
    result = check("official-rsa2048", crls=[crl("gov-root-g2")], fetcher=fetcher)
    assert result.valid, result.reason
    assert result.revocation[-1].source == "ocsp"
    assert fetcher.errors == [f"{tmp_path / 'junk.ocsp'}: not an OCSP response"]


def test_fetcher_records_unreachable_urls() -> None:
    fetcher = RevocationFetcher(online=True, timeout=2)
    dp = x509.CRLDistributionPoints([x509.DistributionPoint(
        [x509.UniformResourceIdentifier("http://127.0.0.1:9/nothing.crl")], None, None, None)])
    leaf = issue("Unreachable", cert("gov-ca-g2").subject, ec_key(12), key("gov-ca-g2"),
                 ca=False, extra=[(dp, False)])
    result = validate_chain(leaf, intermediates=[cert("gov-ca-g2")], trust=store(*ALL_ROOTS),
                            at=AT, crls=[crl("gov-root-g2")], revocation="hard-fail",
                            fetcher=fetcher)
    assert result.sub_indication is SubIndication.TRY_LATER
    assert [e.split(": ")[0] for e in fetcher.errors] == ["http://127.0.0.1:9/nothing.crl"]
    assert "online:" in result.reason
