"""The TSA's and the revocation sources' failures are named with the URL and the cause:
connection refused, HTTP status, wrong content type, a response that is not a
time-stamp response, no answer in time; OCSP and CRL fetches at B-LT. Real loopback
servers on 127.0.0.1 (the test PKI's services and tests/support/servers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

import signsvc
from certs_test.services import TestServices
from drivers import Pkcs12Key
from signsvc.errors import RevocationFetchError, TimestampError
from tests.support.paths import PKI
from tests.support.pdfs import write_one_page_pdf
from tests.support.servers import BadServer, closed_port


@pytest.fixture(scope="module")
def key() -> Pkcs12Key:
    return Pkcs12Key.load(PKI / "official-rsa2048.p12", "1234")


def _tsa_failure(tmp_path: Path, key: Pkcs12Key, url: str, **options: object
                 ) -> TimestampError:
    doc = write_one_page_pdf(tmp_path / "qd.pdf")
    with pytest.raises(TimestampError) as caught:
        signsvc.sign_pdf(doc, tmp_path / "out.pdf", key, level="B-T", tsa_url=url,
                         **options)  # type: ignore[arg-type]
    error = caught.value
    assert error.url == url
    assert str(error) == f"{doc}: the time-stamping authority {url} failed: {error.cause}"
    assert isinstance(error, signsvc.SigningError)
    assert not (tmp_path / "out.pdf").exists()
    return error


def test_connection_refused(tmp_path: Path, key: Pkcs12Key) -> None:
    port = closed_port()
    error = _tsa_failure(tmp_path, key, f"http://127.0.0.1:{port}/tsa")
    assert error.cause == f"connection refused by 127.0.0.1:{port} (no service listens there)"


@pytest.mark.parametrize(("status", "words"), [
    (500, "it answered HTTP 500 Internal Server Error"),
    (503, "it answered HTTP 503 Service Unavailable"),
    (404, "it answered HTTP 404 Not Found"),
])
def test_an_http_error_status(tmp_path: Path, key: Pkcs12Key, status: int, words: str) -> None:
    with BadServer(status=status) as server:
        error = _tsa_failure(tmp_path, key, server.url)
    assert error.cause == words


def test_the_test_tsa_failing(tmp_path: Path, key: Pkcs12Key, services: TestServices) -> None:
    with services.failing("tsa"):
        error = _tsa_failure(tmp_path, key, services.tsa_url)
    assert error.cause == "it answered HTTP 500 Internal Server Error"


def test_not_a_tsa_at_that_address(tmp_path: Path, key: Pkcs12Key) -> None:
    with BadServer(content_type="text/html; charset=utf-8", body=b"<html>portal</html>") as server:
        error = _tsa_failure(tmp_path, key, server.url)
    assert error.cause == ("it answered with content type text/html; charset=utf-8, not an "
                           "RFC 3161 time-stamp response: no such service at this address")


def test_a_response_that_is_not_a_time_stamp_response(tmp_path: Path, key: Pkcs12Key) -> None:
    with BadServer(body=b"\x30\x03\x02\x01\x07") as server:  # DER, but not TimeStampResp
        error = _tsa_failure(tmp_path, key, server.url)
    assert error.cause.startswith("its answer is not an RFC 3161 time-stamp response (")


def test_no_answer_in_time(tmp_path: Path, key: Pkcs12Key) -> None:
    with BadServer(delay=3.0) as server:
        error = _tsa_failure(tmp_path, key, server.url, timeout=0.5)
    assert error.cause == "it did not answer within 0.5 s"


def test_a_tsa_failure_fails_each_document_with_the_same_words(tmp_path: Path,
                                                                key: Pkcs12Key) -> None:
    docs = [write_one_page_pdf(tmp_path / f"{n}.pdf") for n in range(3)]
    url = f"http://127.0.0.1:{closed_port()}/tsa"
    results = signsvc.sign_batch(docs, tmp_path / "out", key, level="B-T", tsa_url=url)
    assert [(r.status, r.error_type) for r in results] == [("failed", "TimestampError")] * 3
    assert all(f"the time-stamping authority {url} failed: connection refused" in (r.error or "")
               for r in results)


def test_b_lt_names_the_revocation_source_that_failed(tmp_path: Path, key: Pkcs12Key,
                                                      services: TestServices) -> None:
    root = x509.load_pem_x509_certificate((PKI / "gov-root-g2.crt.pem").read_bytes())
    doc = write_one_page_pdf(tmp_path / "qd.pdf")
    with services.failing("ocsp", "crl"), pytest.raises(RevocationFetchError) as caught:
        signsvc.sign_pdf(doc, tmp_path / "out.pdf", key, level="B-LT",
                         tsa_url=services.tsa_url, trust=[root])
    error = caught.value
    crl = f"{services.base_url}/crl/gov-root-g2.crl"
    assert crl in error.urls
    assert f"{crl}: it answered HTTP 500 Internal Server Error" in error.cause
    assert str(error).startswith(f"{doc}: cannot collect the revocation data (OCSP, CRL) the "
                                 "signature needs: ")
    assert not (tmp_path / "out.pdf").exists()
