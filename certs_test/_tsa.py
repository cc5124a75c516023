"""RFC 3161 time-stamping for the TEST-ONLY PKI: TimeStampReq checks, TSTInfo and token.

:class:`_TimeStampAuthority` turns one DER TimeStampReq into a DER TimeStampResp, signed
with the test PKI's ``tsa`` key. The HTTP side (RFC 3161 §3.4) lives in
:mod:`certs_test.services`.

TEST ONLY: every key that signs these responses is public.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from certs_test._ocsp import SigningKey

# RFC 3161 §2.4.1: the hashedMessage length must match the algorithm of the imprint.
_IMPRINT_SIZES = {"sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64,
                  "sha3_224": 28, "sha3_256": 32, "sha3_384": 48, "sha3_512": 64}


def _sign(key: SigningKey, data: bytes) -> tuple[bytes, str]:
    """Sign with SHA-256; return the signature and its asn1crypto algorithm name."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256()), "sha256_rsa"
    return key.sign(data, ec.ECDSA(hashes.SHA256())), "sha256_ecdsa"


def _tsp_rejection(fail_info: str, text: str) -> bytes:
    """A TimeStampResp with status rejection (RFC 3161 §2.4.2).

    The token "MUST NOT be present" then, but asn1crypto's TimeStampResp wrongly makes
    timeStampToken mandatory, so the SEQUENCE is assembled around the PKIStatusInfo.
    """
    status = tsp.PKIStatusInfo({"status": "rejection", "status_string": [text],
                                "fail_info": {fail_info}})
    der: bytes = core.Sequence(contents=status.dump()).dump()
    return der


class _TimeStampAuthority:
    """RFC 3161 time-stamping unit signing with the ``tsa`` key of the test PKI."""

    def __init__(self, cert: asn1_x509.Certificate, key: SigningKey,
                 extra_certs: tuple[asn1_x509.Certificate, ...], policy: str) -> None:
        self._cert = cert
        self._key = key
        self._extra_certs = extra_certs
        self.policy = policy
        self._lock = threading.Lock()
        self._serial = 0

    def _next_serial(self) -> int:
        # RFC 3161 §2.4.2: serialNumber must be unique per TSA. Microseconds since the
        # epoch, bumped when two requests share one, stay increasing across restarts too.
        with self._lock:
            self._serial = max(self._serial + 1, time.time_ns() // 1000)
            return self._serial

    def respond(self, der: bytes) -> bytes:
        """Answer one DER TimeStampReq with a DER TimeStampResp."""
        try:
            request = tsp.TimeStampReq.load(der, strict=True)
            request.native  # noqa: B018 (parses every field, so errors surface here)
        except (ValueError, TypeError, KeyError):
            return _tsp_rejection("bad_data_format", "not a DER TimeStampReq")
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        if request["version"].native != "v1":
            return _tsp_rejection("bad_request", "only TimeStampReq version 1 is supported")
        if algorithm not in _IMPRINT_SIZES:
            return _tsp_rejection("bad_alg", f"unsupported hash algorithm {algorithm}")
        if len(imprint["hashed_message"].native) != _IMPRINT_SIZES[algorithm]:
            return _tsp_rejection("bad_data_format", f"hashedMessage is not a {algorithm} "
                                  "digest")
        requested_policy = request["req_policy"].native
        if requested_policy is not None and requested_policy != self.policy:
            return _tsp_rejection("unaccepted_policy", f"this TSA only uses {self.policy}")
        if request["extensions"].native:
            # RFC 3161 §2.4.1: a TSA that does not recognise an extension must reject.
            return _tsp_rejection("unaccepted_extensions", "no extensions are supported")
        token = self._token(request, datetime.now(UTC))
        response: bytes = tsp.TimeStampResp({"status": tsp.PKIStatusInfo({"status": "granted"}),
                                             "time_stamp_token": token}).dump()
        return response

    def _token(self, request: tsp.TimeStampReq, gen_time: datetime) -> cms.ContentInfo:
        """The TimeStampToken: CMS SignedData over a TSTInfo (RFC 3161 §2.4.2)."""
        cert = self._cert
        tst_info = tsp.TSTInfo({
            "version": "v1",
            "policy": self.policy,
            # "MUST have the same value as the similar field in TimeStampReq".
            "message_imprint": tsp.MessageImprint.load(request["message_imprint"].dump()),
            "serial_number": self._next_serial(),
            "gen_time": gen_time,  # asn1crypto drops trailing zeros of the fraction (§2.4.2)
            "tsa": asn1_x509.GeneralName(name="directory_name", value=cert.subject),
        })
        if request["nonce"].native is not None:
            tst_info["nonce"] = request["nonce"].native
        content = tst_info.dump()
        # RFC 5816 §2.2.1: ESSCertIDv2 (hashAlgorithm sha256 is the DEFAULT, so omitted)
        # binds the token to the TSA certificate; RFC 5652 §5.3 requires content-type and
        # message-digest whenever signed attributes are present.
        signing_certificate = tsp.SigningCertificateV2({"certs": [tsp.ESSCertIDv2({
            "cert_hash": hashlib.sha256(cert.dump()).digest(),
            "issuer_serial": {
                "issuer": [asn1_x509.GeneralName(name="directory_name", value=cert.issuer)],
                "serial_number": cert.serial_number,
            },
        })]})
        attributes = [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest",
                              "values": [hashlib.sha256(content).digest()]}),
            cms.CMSAttribute({"type": "signing_certificate_v2",
                              "values": [signing_certificate]}),
        ]
        # DER SET OF is sorted by encoding (X.690 §11.6); RFC 5652 §5.4 signs that SET.
        signed_attrs = cms.CMSAttributes(sorted(attributes, key=lambda a: a.dump()))
        signature, signature_algorithm = _sign(self._key, signed_attrs.dump())
        signer_info = cms.SignerInfo({
            # issuerAndSerialNumber (version 1), not subjectKeyIdentifier: pyHanko's
            # token reader only understands the former.
            "version": "v1",
            "sid": cms.SignerIdentifier(name="issuer_and_serial_number", value={
                "issuer": cert.issuer, "serial_number": cert.serial_number}),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": signature_algorithm},
            "signature": signature,
        })
        signed_data: dict[str, Any] = {
            "version": "v3",  # RFC 5652 §5.1: eContentType other than id-data
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info",
                                   "content": core.ParsableOctetString(content)},
            "signer_infos": [signer_info],
        }
        if request["cert_req"].native:
            # RFC 3161 §2.4.1: certReq true -> the TSA certificate MUST be included.
            signed_data["certificates"] = [cert, *self._extra_certs]
        return cms.ContentInfo({"content_type": "signed_data",
                                "content": cms.SignedData(signed_data)})
