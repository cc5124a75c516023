"""The test PKI services (certs_test/services.py), checked by independent real clients.

Every request goes over real HTTP to 127.0.0.1. The clients share no code with the server:
urllib for HTTP, ``cryptography`` to parse and verify CRLs and OCSP responses, pyHanko's
``HTTPTimeStamper`` and ``pyhanko_certvalidator`` for time stamps and path validation.
Expected values (dates, reasons, policy OID) are written out, not read from the server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import InsufficientRevinfoError, RevokedError

from certs_test.services import PortInUseError, TestServices
from tests.support.paths import PKI, ROOT

POLICY = "2.999.3161.1"
CAS = ("vn-root", "vnpt-ca", "viettel-ca", "gov-root-g2", "gov-ca-g2", "gov-root-g1",
       "gov-ca-g1")
# leaf -> issuer, for every CA-issued end-entity certificate.
LEAVES = {
    "official-rsa2048": "gov-ca-g2", "official-rsa3072": "vnpt-ca", "official-ec": "gov-ca-g2",
    "official-viettel": "viettel-ca", "org-omon": "gov-ca-g2", "org-sonoivu": "gov-ca-g2",
    "expired": "gov-ca-g2", "not-yet-valid": "gov-ca-g2", "revoked": "gov-ca-g2",
    "revoked-public": "vnpt-ca", "wrong-ku": "gov-ca-g2", "tsa": "gov-ca-g2",
    "ocsp-gov-ca-g2": "gov-ca-g2", "ocsp-vnpt-ca": "vnpt-ca", "legacy-official": "gov-ca-g1",
}
REVOKED_IN = {"gov-ca-g2": {"revoked"}, "vnpt-ca": {"revoked-public"}}


def cert(name: str) -> x509.Certificate:
    return x509.load_der_x509_certificate((PKI / f"{name}.crt.der").read_bytes())


def asn1_cert(name: str) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load((PKI / f"{name}.crt.der").read_bytes())


def http(url: str, data: bytes | None = None,
         headers: Mapping[str, str] | None = None) -> tuple[int, Mapping[str, str], bytes]:
    """One real HTTP request: (status, headers, body), without raising on 4xx/5xx."""
    request = urllib.request.Request(url, data=data, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def assert_recent(moment: datetime) -> None:
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=1), moment


# --------------------------------------------------------------------------- CRL and certs


@pytest.mark.parametrize("ca", CAS)
def test_crl_is_the_committed_signed_der(services: TestServices, ca: str) -> None:
    status, headers, body = http(services.crl_url(ca))

    assert status == 200
    assert headers["Content-Type"] == "application/pkix-crl"
    assert body == (PKI / "crl" / f"{ca}.crl.der").read_bytes()
    crl = x509.load_der_x509_crl(body)
    issuer = cert(ca)
    assert crl.issuer == issuer.subject
    public_key = issuer.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    # cryptography will not check SHA-1 signatures itself (the G1 hierarchy).
    assert crl.signature_hash_algorithm is not None
    public_key.verify(crl.signature, crl.tbs_certlist_bytes, padding.PKCS1v15(),
                      crl.signature_hash_algorithm)
    assert {r.serial_number for r in crl} == {cert(n).serial_number
                                              for n in REVOKED_IN.get(ca, set())}


def test_crl_url_matches_the_cdp_and_accepts_a_bare_name(services: TestServices) -> None:
    cdp = cert("official-rsa2048").extensions.get_extension_for_class(
        x509.CRLDistributionPoints).value
    full_name = cdp[0].full_name
    assert full_name is not None
    assert full_name[0].value == services.crl_url("gov-ca-g2")
    assert services.crl_url("gov-ca-g2") == "http://127.0.0.1:18480/crl/gov-ca-g2.crl"

    status, _, body = http(f"{services.base_url}/crl/gov-ca-g2")

    assert status == 200
    assert body == (PKI / "crl" / "gov-ca-g2.crl.der").read_bytes()


@pytest.mark.parametrize(("leaf", "issuer"), sorted(LEAVES.items()))
def test_ca_issuers_url_serves_the_issuer_in_der(services: TestServices, leaf: str,
                                                 issuer: str) -> None:
    aia = cert(leaf).extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    url = next(d.access_location.value for d in aia
               if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS)

    status, headers, body = http(url)

    assert status == 200
    assert headers["Content-Type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(body).subject == cert(leaf).issuer
    assert body == (PKI / f"{issuer}.crt.der").read_bytes()


@pytest.mark.parametrize("path", ["/certs/gov-ca-g2", "/certs/gov-ca-g2.cer",
                                  "/certs/gov-ca-g2.der", "/certs/gov-ca-g2.crt.der"])
def test_certificate_path_forms(services: TestServices, path: str) -> None:
    status, _, body = http(services.base_url + path)

    assert status == 200
    assert body == (PKI / "gov-ca-g2.crt.der").read_bytes()


@pytest.mark.parametrize("path", ["/crl/nope.crl", "/certs/nope.crt", "/ocsp/nope",
                                  "/certs/..%2Fmanifest.json", "/certs/../manifest.json",
                                  "/manifest.json", "/crl/gov-ca-g2.crl/x"])
def test_unknown_paths_are_404(services: TestServices, path: str) -> None:
    status, _, body = http(services.base_url + path)

    assert status == 404
    assert b"BEGIN" not in body and b"entities" not in body


def test_post_to_a_crl_is_405(services: TestServices) -> None:
    status, headers, _ = http(services.crl_url("gov-ca-g2"), data=b"x")

    assert status == 405
    assert headers["Allow"] == "GET"


# --------------------------------------------------------------------------- OCSP


def ocsp_request(leaf: str, issuer: str, *, algorithm: hashes.HashAlgorithm | None = None,
                 nonce: bytes | None = b"signsvc-nonce-01") -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert(leaf), cert(issuer),
                                                        algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def post_ocsp(services: TestServices, ca: str, der: bytes) -> ocsp.OCSPResponse:
    status, headers, body = http(services.ocsp_url(ca), data=der,
                                 headers={"Content-Type": "application/ocsp-request"})
    assert status == 200
    assert headers["Content-Type"] == "application/ocsp-response"
    return ocsp.load_der_ocsp_response(body)


def verify_ocsp_signature(response: ocsp.OCSPResponse, signer: x509.Certificate) -> None:
    public_key = signer.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert response.signature_hash_algorithm is not None
    public_key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(),
                      response.signature_hash_algorithm)


def key_id(certificate: x509.Certificate) -> bytes:
    """The SHA-1 key hash of RFC 6960 §4.2.2.3 ResponderID byKey (= the SKI here)."""
    return certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest


def test_ocsp_good_signed_by_the_delegated_responder(services: TestServices) -> None:
    services.reset_hits()
    response = post_ocsp(services, "gov-ca-g2", ocsp_request("official-rsa2048", "gov-ca-g2"))

    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == cert("official-rsa2048").serial_number
    assert isinstance(response.hash_algorithm, hashes.SHA1)
    responder, ca = cert("ocsp-gov-ca-g2"), cert("gov-ca-g2")
    assert response.certificates == [responder]
    assert response.responder_key_hash == key_id(responder)
    verify_ocsp_signature(response, responder)
    responder.verify_directly_issued_by(ca)
    assert response.extensions.get_extension_for_class(
        x509.OCSPNonce).value.nonce == b"signsvc-nonce-01"
    assert_recent(response.produced_at_utc)
    assert_recent(response.this_update_utc)
    assert response.next_update_utc == response.this_update_utc + timedelta(days=1)
    assert services.hits == {"/ocsp/gov-ca-g2": 1}


@pytest.mark.parametrize(("leaf", "ca", "responder", "revoked_at", "reason"), [
    ("revoked", "gov-ca-g2", "ocsp-gov-ca-g2", datetime(2026, 3, 15, 8, tzinfo=UTC),
     x509.ReasonFlags.key_compromise),
    ("revoked-public", "vnpt-ca", "ocsp-vnpt-ca", datetime(2026, 2, 1, tzinfo=UTC),
     x509.ReasonFlags.superseded),
])
def test_ocsp_revoked(services: TestServices, leaf: str, ca: str, responder: str,
                      revoked_at: datetime, reason: x509.ReasonFlags) -> None:
    response = post_ocsp(services, ca, ocsp_request(leaf, ca))

    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == revoked_at
    assert response.revocation_reason == reason
    assert response.certificates == [cert(responder)]
    verify_ocsp_signature(response, cert(responder))


@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256()])
def test_ocsp_signed_by_the_ca_itself_without_a_responder(services: TestServices,
                                                          algorithm: hashes.HashAlgorithm
                                                          ) -> None:
    response = post_ocsp(services, "viettel-ca",
                         ocsp_request("official-viettel", "viettel-ca", algorithm=algorithm))

    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.hash_algorithm.name == algorithm.name
    assert response.certificates == []
    assert response.responder_key_hash == key_id(cert("viettel-ca"))
    verify_ocsp_signature(response, cert("viettel-ca"))


def by_hash(issuer: str, serial: int) -> bytes:
    """A CertID for ``serial`` under ``issuer`` (no certificate needed)."""
    ca = cert(issuer)
    name_hash = hashlib.sha1(ca.subject.public_bytes()).digest()
    key_hash = key_id(ca)  # generate.py's SKI is RFC 5280 §4.2.1.2 method 1: the same hash
    return ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        name_hash, key_hash, serial, hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)


@pytest.mark.parametrize(("ca", "request_der"), [
    ("gov-ca-g2", lambda: by_hash("gov-ca-g2", 0x1234)),  # never issued
    ("gov-ca-g2", lambda: by_hash("gov-ca-g2", cert("official-rsa3072").serial_number)),
    ("gov-ca-g2", lambda: ocsp_request("official-viettel", "viettel-ca")),  # other issuer
], ids=["unissued-serial", "serial-of-another-ca", "certid-of-another-ca"])
def test_ocsp_unknown(services: TestServices, ca: str, request_der: Any) -> None:
    response = post_ocsp(services, ca, request_der())

    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    verify_ocsp_signature(response, cert("ocsp-gov-ca-g2"))


def test_ocsp_malformed_request(services: TestServices) -> None:
    response = post_ocsp(services, "gov-ca-g2", b"not an OCSP request")

    assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    status, _, body = http(f"{services.ocsp_url('gov-ca-g2')}/bm90IGEgcmVxdWVzdA==")
    assert status == 200
    assert ocsp.load_der_ocsp_response(body).response_status == \
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST


@pytest.mark.parametrize("encode", [
    lambda der: quote(base64.b64encode(der).decode(), safe=""),  # RFC 6960 §A.1
    lambda der: base64.b64encode(der).decode(),  # '/' and '+' left raw, as some clients do
    lambda der: base64.urlsafe_b64encode(der).decode().rstrip("="),
], ids=["percent-encoded", "raw-base64", "base64url"])
def test_ocsp_get_form(services: TestServices, encode: Any) -> None:
    services.reset_hits()
    # This nonce makes the base64 text contain both '+' and '/'.
    der = ocsp_request("revoked", "gov-ca-g2", nonce=b"\xfb\xff\xbf" * 6)
    assert "+" in base64.b64encode(der).decode() and "/" in base64.b64encode(der).decode()

    status, headers, body = http(f"{services.ocsp_url('gov-ca-g2')}/{encode(der)}")

    assert status == 200
    assert headers["Content-Type"] == "application/ocsp-response"
    response = ocsp.load_der_ocsp_response(body)
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.serial_number == cert("revoked").serial_number
    assert services.hits == {"/ocsp/gov-ca-g2": 1}


def test_failing_switch_answers_500_then_recovers(services: TestServices) -> None:
    der = ocsp_request("official-rsa2048", "gov-ca-g2")
    services.reset_hits()

    with services.failing("ocsp", "crl"):
        assert http(services.ocsp_url("gov-ca-g2"), data=der)[0] == 500
        assert http(services.crl_url("gov-ca-g2"))[0] == 500
        assert http(services.cert_url("gov-ca-g2"))[0] == 200

    assert post_ocsp(services, "gov-ca-g2", der).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert services.fail_ocsp is False and services.fail_crl is False
    assert services.hit_count("ocsp") == 2
    assert services.hits == {"/ocsp/gov-ca-g2": 2, "/crl/gov-ca-g2.crl": 1,
                             "/certs/gov-ca-g2.crt": 1}


# --------------------------------------------------------------------------- TSA


def signed_attr(signer_info: cms.SignerInfo, name: str) -> Any:
    values = [a["values"][0] for a in signer_info["signed_attrs"] if a["type"].native == name]
    assert len(values) == 1, name
    return values[0]


def test_tsa_token_content_and_signature(services: TestServices) -> None:
    digest = hashlib.sha256(b"van ban TEST ONLY").digest()
    stamper = HTTPTimeStamper(services.tsa_url)
    nonce, request = stamper.request_cms(digest, "sha256")

    response = asyncio.run(stamper.async_request_tsa_response(request))

    assert response["status"]["status"].native == "granted"
    token = response["time_stamp_token"]
    assert token["content_type"].native == "signed_data"
    signed_data = token["content"]
    assert signed_data["encap_content_info"]["content_type"].native == "tst_info"
    tst_info_der = signed_data["encap_content_info"]["content"].contents
    tst_info = tsp.TSTInfo.load(tst_info_der)
    assert tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert tst_info["message_imprint"]["hashed_message"].native == digest
    assert tst_info["nonce"].native == nonce
    assert tst_info["policy"].native == POLICY
    assert_recent(tst_info["gen_time"].native)
    tsa, tsa_asn1 = cert("tsa"), asn1_cert("tsa")
    assert tst_info["tsa"].chosen == tsa_asn1.subject

    signer_info = signed_data["signer_infos"][0]
    sid = signer_info["sid"].chosen
    assert (sid["issuer"], sid["serial_number"].native) == (tsa_asn1.issuer, tsa.serial_number)
    assert signed_attr(signer_info, "content_type").native == "tst_info"
    assert signed_attr(signer_info, "message_digest").native == \
        hashlib.sha256(tst_info_der).digest()
    ess = signed_attr(signer_info, "signing_certificate_v2")["certs"][0]
    assert ess["hash_algorithm"]["algorithm"].native == "sha256"
    assert ess["cert_hash"].native == hashlib.sha256(tsa.public_bytes(
        serialization.Encoding.DER)).digest()
    assert ess["issuer_serial"]["serial_number"].native == tsa.serial_number
    # RFC 5652 §5.4: the signature is over the DER SET OF (tag 0x31), not the [0] form.
    to_verify = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    public_key = tsa.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signer_info["signature"].native, to_verify, padding.PKCS1v15(),
                      hashes.SHA256())
    # certReq was true: the TSA certificate (and its issuing CA) come along.
    embedded = {c.chosen.dump() for c in signed_data["certificates"]}
    assert embedded == {tsa_asn1.dump(), asn1_cert("gov-ca-g2").dump()}

    second = asyncio.run(stamper.async_timestamp(digest, "sha256"))
    later = second["content"]["encap_content_info"]["content"].parsed
    assert later["serial_number"].native > tst_info["serial_number"].native


def test_tsa_token_validates_with_pyhanko_and_live_revocation(services: TestServices) -> None:
    digest = hashlib.sha256(b"another document").digest()

    async def run() -> dict[str, Any]:
        token = await HTTPTimeStamper(services.tsa_url).async_timestamp(digest, "sha256")
        context = ValidationContext(trust_roots=[asn1_cert("gov-root-g2")],
                                    allow_fetching=True, revocation_mode="hard-fail")
        try:
            result: dict[str, Any] = await validate_tst_signed_data(
                token["content"], context, lambda _algorithm: digest)
            return result
        finally:
            await context.aclose()

    status = asyncio.run(run())

    assert status["intact"] is True
    assert status["valid"] is True
    assert status["trust_problem_indic"] is None
    assert status["signing_cert"].dump() == asn1_cert("tsa").dump()
    assert_recent(status["timestamp"])


def post_tsa(url: str, request: tsp.TimeStampReq) -> bytes:
    status, headers, body = http(url, data=request.dump(),
                                 headers={"Content-Type": "application/timestamp-query"})
    assert status == 200
    assert headers["Content-Type"] == "application/timestamp-reply"
    return body


def rejection(body: bytes) -> tsp.PKIStatusInfo:
    """The PKIStatusInfo of a TimeStampResp that must hold nothing else (RFC 3161 §2.4.2).

    asn1crypto's TimeStampResp cannot load it: it wrongly requires timeStampToken.
    """
    return tsp.PKIStatusInfo.load(core.Sequence.load(body).contents, strict=True)


def tsa_request(digest: bytes = b"\x01" * 32, algorithm: str = "sha256",
                **fields: Any) -> tsp.TimeStampReq:
    return tsp.TimeStampReq({"version": "v1", "message_imprint": {
        "hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest}, **fields})


def test_tsa_without_cert_req_embeds_no_certificates(services: TestServices) -> None:
    response = tsp.TimeStampResp.load(post_tsa(services.tsa_url, tsa_request(cert_req=False)))

    assert response["status"]["status"].native == "granted"
    signed_data = response["time_stamp_token"]["content"]
    assert signed_data["certificates"].native is None
    assert signed_data["encap_content_info"]["content"].parsed["nonce"].native is None


@pytest.mark.parametrize(("request_fields", "fail_info"), [
    ({"digest": b"\x01" * 20}, "bad_data_format"),  # a SHA-1-sized digest sold as SHA-256
    ({"algorithm": "md5", "digest": b"\x01" * 16}, "bad_alg"),
    ({"req_policy": "1.2.3.4"}, "unaccepted_policy"),
])
def test_tsa_rejections(services: TestServices, request_fields: dict[str, Any],
                        fail_info: str) -> None:
    status = rejection(post_tsa(services.tsa_url, tsa_request(**request_fields)))

    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {fail_info}


def test_tsa_rejects_garbage(services: TestServices) -> None:
    status, _, body = http(services.tsa_url, data=b"\x30\x03\x02\x01",
                           headers={"Content-Type": "application/timestamp-query"})

    assert status == 200
    assert rejection(body)["fail_info"].native == {"bad_data_format"}


def test_tsa_basic_auth(tsa_auth_services: TestServices) -> None:
    url = tsa_auth_services.tsa_url
    assert tsa_auth_services.tsa_auth is not None
    user, password = tsa_auth_services.tsa_auth
    query = tsa_request().dump()
    wrong = "Basic " + base64.b64encode(f"{user}:wrong".encode()).decode()
    digest = hashlib.sha256(b"authenticated").digest()

    status, headers, _ = http(url, data=query)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith('Basic realm="')
    assert http(url, data=query, headers={"Authorization": wrong})[0] == 401
    with pytest.raises(TimestampRequestError):
        asyncio.run(HTTPTimeStamper(url).async_timestamp(digest, "sha256"))

    # The header that HTTPTimeStamper(auth=(user, password)) sends, set directly: with
    # aiohttp >= 3.14 its auth= path emits DeprecationWarnings.
    basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    token = asyncio.run(HTTPTimeStamper(url, headers={"Authorization": basic}).async_timestamp(
        digest, "sha256"))

    tst_info = token["content"]["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == digest
    assert tsa_auth_services.hits == {"/tsa": 4}


# --------------------------------------------------------------------------- pyHanko fetchers


async def validate(name: str, root: str) -> list[str]:
    """Validate ``name`` at now, hard-fail, fetching everything (no intermediates given)."""
    context = ValidationContext(trust_roots=[asn1_cert(root)], allow_fetching=True,
                                revocation_mode="hard-fail")
    try:
        validator = CertificateValidator(asn1_cert(name), validation_context=context)
        path = await validator.async_validate_usage({"non_repudiation"})
        return [c.subject.native["common_name"] for c in path]
    finally:
        await context.aclose()


def test_pyhanko_validates_hard_fail_from_the_live_services(services: TestServices) -> None:
    services.reset_hits()

    path = asyncio.run(validate("official-rsa2048", "gov-root-g2"))

    assert path == ["TEST ONLY RootCA chuyên dùng Chính phủ G2",
                    "TEST ONLY CA phục vụ các cơ quan Nhà nước G2", "Nguyễn Thị Lấp Lánh Ánh"]
    hits = services.hits
    assert hits["/certs/gov-ca-g2.crt"] >= 1  # AIA caIssuers: the intermediate
    assert hits["/ocsp/gov-ca-g2"] >= 1  # the leaf's status
    assert hits["/crl/gov-root-g2.crl"] >= 1  # the intermediate's status


def test_pyhanko_sees_revocation_through_the_services(services: TestServices) -> None:
    with pytest.raises(RevokedError, match="2026-03-15"):
        asyncio.run(validate("revoked", "gov-root-g2"))
    with pytest.raises(RevokedError, match="2026-02-01"):
        asyncio.run(validate("revoked-public", "vn-root"))


def test_pyhanko_hard_fail_needs_the_services(services: TestServices) -> None:
    with services.failing("ocsp", "crl"), pytest.raises(InsufficientRevinfoError):
        asyncio.run(validate("official-rsa2048", "gov-root-g2"))
    # OCSP down but CRLs up: hard-fail is still satisfied, through the leaf's CRL.
    services.reset_hits()
    with services.failing("ocsp"):
        assert asyncio.run(validate("official-rsa2048", "gov-root-g2"))[-1] == \
            "Nguyễn Thị Lấp Lánh Ánh"
    assert services.hits["/crl/gov-ca-g2.crl"] >= 1


# --------------------------------------------------------------------------- lifecycle, CLI


def test_second_instance_on_a_taken_port_fails_clearly(services: TestServices) -> None:
    with pytest.raises(PortInUseError, match=r"18480.*already in use") as caught:
        TestServices(PKI, port=services.port).start()
    assert caught.value.port == 18480


def test_free_port_delay_and_stop() -> None:
    with TestServices(PKI, port=0, delay=0.3) as running:
        assert running.port not in (0, 18480)
        assert running.base_url == f"http://127.0.0.1:{running.port}"
        started = time.monotonic()
        assert http(running.crl_url("vn-root"))[0] == 200
        assert time.monotonic() - started >= 0.3
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(running.crl_url("vn-root"), timeout=2)
    with pytest.raises(ValueError, match="unknown CA"):
        running.ocsp_url("nope")


def test_command_line_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "certs_test.services", "--port", "0", "--tsa-user", "u",
         "--tsa-password", "p"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(6)]
        match = re.search(r"on (http://127\.0\.0\.1:\d+) ", banner[0])
        assert match, banner
        status, _, body = http(f"{match.group(1)}/crl/gov-ca-g2.crl")
        assert (status, body) == (200, (PKI / "crl" / "gov-ca-g2.crl.der").read_bytes())
        assert http(f"{match.group(1)}/tsa", data=b"x")[0] == 401
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=5)
    assert process.returncode == 0, err
    assert "/tsa  (basic auth, user 'u')" in banner[4]
    assert banner[5].split() == ["CAs", "vn-root,", "vnpt-ca,", "viettel-ca,", "gov-root-g2,",
                                 "gov-ca-g2,", "gov-root-g1,", "gov-ca-g1"]
