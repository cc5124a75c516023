"""The hand DER walk of SignedData agrees with asn1crypto's, and BER still reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers import Pkcs12Key
from signsvc._der import read_tlv
from signsvc.sign.pdf import sign_pdf
from signsvc.verify._cmsparts import CmsFormatError, _split_asn1, split_signed_data
from tests.support.paths import PKI


@pytest.fixture(scope="module")
def cms_der(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("cms") / "signed.pdf"
    key = Pkcs12Key.load(PKI / "official-rsa2048.p12", "1234")
    result = sign_pdf(PKI.parent / "samples" / "quyet-dinh-123.pdf", out, key)
    assert result.status == "signed", result.error
    data = Path(out).read_bytes()
    start = data.rindex(b"/Contents <") + len(b"/Contents <")
    return bytes.fromhex(data[start : data.index(b">", start)].decode())


def _indefinite(der: bytes) -> bytes:
    """The same ContentInfo with its outer SEQUENCE in BER indefinite-length form."""
    _, start, end = read_tlv(der, 0, len(der))
    return b"\x30\x80" + der[start:end] + b"\x00\x00"


def test_der_walk_matches_asn1crypto(cms_der: bytes) -> None:
    walked = split_signed_data(cms_der)  # /Contents zero padding included
    assert walked == _split_asn1(cms_der)
    assert walked.signer_count == 1 and len(walked.certificates) == 3
    assert walked.signed_attrs is not None and walked.signed_attrs[0] == 0xA0
    assert len(walked.signature) == 256 and walked.econtent is None


def test_ber_goes_through_asn1crypto(cms_der: bytes) -> None:
    assert split_signed_data(_indefinite(cms_der)) == split_signed_data(cms_der)


@pytest.mark.parametrize(
    "bad", [b"", b"\x30\x05\x06\x03", b"\x04\x00", b"\x30\x84\xff\xff\xff\xff"])
def test_garbage_is_a_format_error(bad: bytes) -> None:
    with pytest.raises(CmsFormatError):
        split_signed_data(bad)
