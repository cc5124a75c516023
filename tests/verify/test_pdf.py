"""verify_pdf on real signed PDFs: what each part of the verdict reports.

The PDFs are signed at test time by signsvc (PKCS#12 keys from certs_test/) and, for
the time-stamped levels, by the test PKI's TSA on 127.0.0.1. The attack corpus and
the comparison with pyHanko's validator are in test_attacks.py and
test_agreement.py.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from certs_test.services import TestServices
from drivers import Pkcs12Key
from signsvc.errors import ValidationSetupError
from signsvc.pki.indications import Indication, SubIndication
from signsvc.pki.trust import TrustStore
from signsvc.sign.pdf import sign_pdf
from signsvc.verify.pdf import verify_pdf
from signsvc.verify.results import Coverage, ModificationLevel
from tests.support.paths import PKI
from tests.support.pdfs import write_one_page_pdf

ROOTS = TrustStore.from_paths([PKI / "gov-root-g2.crt.pem", PKI / "vn-root.crt.pem"])
G2_ROOT = x509.load_pem_x509_certificate((PKI / "gov-root-g2.crt.pem").read_bytes())
SAMPLE = PKI.parent / "samples" / "quyet-dinh-123.pdf"


def _key(name: str) -> Pkcs12Key:
    return Pkcs12Key.load(PKI / f"{name}.p12", "1234")


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, services: TestServices) -> dict[str, Path]:
    """One document per case, signed once for the module."""
    out = tmp_path_factory.mktemp("signed")
    docs: dict[str, Path] = {}

    def sign(name: str, source: Path, key: str = "official-rsa2048", **kw: object) -> Path:
        result = sign_pdf(source, out / f"{name}.pdf", _key(key), **kw)  # type: ignore[arg-type]
        assert result.status == "signed", result.error
        docs[name] = out / f"{name}.pdf"
        return docs[name]

    sign("bb", SAMPLE)
    sign("bt", SAMPLE, level="B-T", tsa_url=services.tsa_url)
    sign("blt", SAMPLE, level="B-LT", tsa_url=services.tsa_url,
         trust=[G2_ROOT])
    sign("blta", SAMPLE, level="B-LTA", tsa_url=services.tsa_url,
         trust=[G2_ROOT])
    sign("two", docs["bb"], key="org-omon", field="Signature2")
    sign("ec", SAMPLE, key="official-ec")
    sign("revoked", SAMPLE, key="revoked", level="B-T", tsa_url=services.tsa_url)
    sign("public", SAMPLE, key="official-rsa3072")
    return docs


def test_one_signature_whole_file(signed: dict[str, Path]) -> None:
    result = verify_pdf(signed["bb"], trust=ROOTS)
    assert result.indication is Indication.TOTAL_PASSED, result.reason
    assert result.passed and result.sub_indication is None
    assert result.revisions == 2
    [sig] = result.signatures
    assert sig.field == "Signature1" and sig.kind == "signature"
    assert sig.signer is not None and sig.signer.common_name == "Nguyễn Thị Lấp Lánh Ánh"
    assert sig.signer.serial == "5e1c5e0000000008"
    assert sig.integrity is not None and sig.integrity.intact
    assert sig.integrity.digest_algorithm == "sha256"
    assert sig.integrity.signing_certificate_ok is True
    assert sig.coverage is Coverage.ENTIRE_FILE and sig.revision == 2
    assert sig.modification is not None and sig.modification.level is ModificationLevel.NONE
    assert sig.timestamp is None
    assert sig.chain is not None and sig.chain.valid
    assert sig.ltv is not None and not sig.ltv.offline
    assert sig.sub_filter == "ETSI.CAdES.detached"
    assert sig.claimed_signing_time is not None
    assert abs(sig.claimed_signing_time - datetime.now(UTC)) < timedelta(hours=1)
    doc = result.to_json()
    assert doc["status"] == "TOTAL-PASSED"
    assert doc["signatures"][0]["intact"] is True
    assert doc["signatures"][0]["modification"] == "none"


def test_ecdsa_signature(signed: dict[str, Path]) -> None:
    [sig] = verify_pdf(signed["ec"], trust=ROOTS).signatures
    assert sig.passed, sig.reason
    assert sig.integrity is not None and sig.integrity.signature_algorithm == "ecdsa"


def test_untrusted_root_is_indeterminate(signed: dict[str, Path]) -> None:
    result = verify_pdf(signed["public"], trust=TrustStore.from_paths(
        [PKI / "gov-root-g2.crt.pem"]))
    assert result.indication is Indication.INDETERMINATE
    assert result.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert verify_pdf(signed["public"], trust=ROOTS).passed


def test_time_stamp_is_checked_and_used(signed: dict[str, Path]) -> None:
    [sig] = verify_pdf(signed["bt"], trust=ROOTS).signatures
    assert sig.passed, sig.reason
    ts = sig.timestamp
    assert ts is not None and ts.valid and ts.time is not None
    assert ts.tsa is not None and ts.tsa.common_name == "TEST ONLY TSA Ban Cơ yếu"
    assert sig.chain is not None and sig.chain.validation_time == ts.time
    # Validated after every certificate expired (2045): the TSA's certificate no longer
    # validates either, so the time-stamp proves nothing (that is what B-LTA's document
    # time-stamps are for) and the signature is judged at `at`.
    later = datetime(2046, 6, 1, tzinfo=UTC)
    [late] = verify_pdf(signed["bt"], trust=ROOTS, at=later, revocation="off").signatures
    assert late.timestamp is not None and not late.timestamp.valid
    assert "TSA" in late.timestamp.reason
    assert late.indication is Indication.INDETERMINATE
    assert late.chain is not None and late.chain.validation_time == later
    [bare] = verify_pdf(signed["bb"], trust=ROOTS, at=later, revocation="off").signatures
    assert bare.sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE


def test_b_lt_validates_offline(signed: dict[str, Path]) -> None:
    [sig] = verify_pdf(signed["blt"], trust=ROOTS, revocation="hard-fail").signatures
    assert sig.passed, sig.reason
    assert sig.ltv is not None and sig.ltv.offline, sig.ltv
    assert sig.coverage is Coverage.ENTIRE_REVISION
    assert sig.modification is not None
    assert sig.modification.level is ModificationLevel.ALLOWED
    assert "validation data" in sig.modification.details[0]


def test_b_lta_document_timestamp(signed: dict[str, Path]) -> None:
    result = verify_pdf(signed["blta"], trust=ROOTS, revocation="hard-fail")
    assert result.passed, result.reason
    kinds = [s.kind for s in result.signatures]
    assert kinds == ["signature", "document-timestamp"]
    doc_ts = result.signatures[1]
    assert doc_ts.sub_filter == "ETSI.RFC3161"
    # pyHanko adds the TSA's validation data in one more update after the time-stamp.
    assert doc_ts.coverage is Coverage.ENTIRE_REVISION
    assert doc_ts.modification is not None
    assert doc_ts.modification.level is ModificationLevel.ALLOWED
    assert doc_ts.timestamp is not None and doc_ts.timestamp.valid


def test_second_signature_is_an_allowed_change(signed: dict[str, Path]) -> None:
    result = verify_pdf(signed["two"], trust=ROOTS)
    assert result.passed, result.reason
    first, second = result.signatures
    assert first.revision == 2 and second.revision == 3
    assert first.modification is not None
    assert first.modification.level is ModificationLevel.ALLOWED
    assert any("Signature2" in d for d in first.modification.details)
    assert second.signer is not None and second.signer.common_name == "UBND quận Ô Môn"


def test_revoked_signer_needs_revocation_data(signed: dict[str, Path]) -> None:
    # Offline and soft-fail (the default): nothing says it is revoked; a note says so.
    offline = verify_pdf(signed["revoked"], trust=ROOTS)
    [sig] = offline.signatures
    assert sig.chain is not None and any("revocation" in n for n in sig.chain.notes)
    # Online, the CRL from the test PKI decides (revoked 2026-03-15, keyCompromise).
    online = verify_pdf(signed["revoked"], trust=ROOTS, online=True)
    assert online.indication is Indication.TOTAL_FAILED, online.reason
    assert online.sub_indication is SubIndication.REVOKED
    # Hard-fail without data: cannot tell.
    hard = verify_pdf(signed["revoked"], trust=ROOTS, revocation="hard-fail")
    assert hard.indication is Indication.INDETERMINATE
    assert hard.sub_indication is SubIndication.TRY_LATER


def test_a_changed_byte_is_a_hash_failure(signed: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(signed["bb"].read_bytes())
    at = data.index(b"/MediaBox")
    data[at + 1] = ord("m")  # inside the signed range
    (tmp_path / "x.pdf").write_bytes(bytes(data))
    result = verify_pdf(tmp_path / "x.pdf", trust=ROOTS)
    assert result.indication is Indication.TOTAL_FAILED
    assert result.sub_indication is SubIndication.HASH_FAILURE
    assert not result.signatures[0].intact


def test_a_changed_signature_is_a_crypto_failure(signed: dict[str, Path],
                                                 tmp_path: Path) -> None:
    from asn1crypto import cms

    data = signed["bb"].read_bytes()
    start = data.index(b"/Contents <") + len(b"/Contents <")
    end = data.index(b">", start)
    der = bytes.fromhex(data[start:end].decode())
    info = cms.ContentInfo.load(der)
    si = info["content"]["signer_infos"][0]
    sig = bytearray(si["signature"].native)
    sig[10] ^= 1
    si["signature"] = bytes(sig)
    new = info.dump().hex().encode()
    new += b"0" * ((end - start) - len(new))
    (tmp_path / "x.pdf").write_bytes(data[:start] + new + data[end:])
    result = verify_pdf(tmp_path / "x.pdf", trust=ROOTS)
    assert result.sub_indication is SubIndication.SIG_CRYPTO_FAILURE, result.reason
    assert result.signatures[0].integrity is not None
    assert result.signatures[0].integrity.digest_ok
    assert not result.signatures[0].integrity.signature_ok


def test_unsigned_and_unreadable(tmp_path: Path) -> None:
    unsigned = verify_pdf(write_one_page_pdf(tmp_path / "u.pdf"), trust=ROOTS)
    assert unsigned.indication is Indication.INDETERMINATE and unsigned.unsigned
    assert unsigned.reason == "the document has no signature"
    (tmp_path / "n.pdf").write_text("<html>not a pdf</html>")
    bad = verify_pdf(tmp_path / "n.pdf", trust=ROOTS)
    assert bad.error == "not a PDF (no %PDF- header)" and bad.error_type == "BadInputError"
    missing = verify_pdf(tmp_path / "missing.pdf", trust=ROOTS)
    assert missing.error is not None and "missing.pdf" in missing.error


def test_xref_stream_document_is_read_fast(tmp_path: Path) -> None:
    """A PDF 1.5 file with a cross-reference stream and object streams (as Word and
    LibreOffice write them): the fast reader must handle it, not fall back."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    source = io.BytesIO(SAMPLE.read_bytes())
    writer = copy_into_new_writer(PdfFileReader(source))
    writer.stream_xrefs = True
    buf = io.BytesIO()
    writer.write(buf)
    (tmp_path / "x.pdf").write_bytes(buf.getvalue())
    assert b"/XRef" in buf.getvalue()
    result = sign_pdf(tmp_path / "x.pdf", tmp_path / "signed.pdf", _key("official-rsa2048"))
    assert result.status == "signed", result.error
    verdict = verify_pdf(tmp_path / "signed.pdf", trust=ROOTS)
    assert verdict.passed, verdict.reason
    assert not any("pyHanko's reader" in n for n in verdict.signatures[0].notes)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValidationSetupError):
        verify_pdf(SAMPLE, trust=[])  # type: ignore[arg-type]
    with pytest.raises(ValidationSetupError):
        verify_pdf(SAMPLE, trust=ROOTS, at=datetime(2026, 1, 1))
    with pytest.raises(ValidationSetupError):
        verify_pdf(SAMPLE, trust=ROOTS, policy="lenient")
    with pytest.raises(ValidationSetupError):
        verify_pdf(SAMPLE, trust=ROOTS, revocation="maybe")  # type: ignore[arg-type]


def test_missing_intermediate_is_fetched_online(tmp_path: Path,
                                                services: TestServices) -> None:
    """A signer that embeds only its own certificate (no CA): offline the chain cannot
    be built; online the CA comes from the caIssuers URL (RFC 5280 §4.2.2.1), as a
    viewer would fetch it."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    p12 = signers.SimpleSigner.load_pkcs12(str(PKI / "org-omon.p12"), passphrase=b"1234")
    assert p12 is not None
    lonely = signers.SimpleSigner(signing_cert=p12.signing_cert, signing_key=p12.signing_key,
                                  cert_registry=SimpleCertificateStore())
    with SAMPLE.open("rb") as inf:
        out = io.BytesIO()
        signers.sign_pdf(IncrementalPdfFileWriter(inf),
                         signers.PdfSignatureMetadata(field_name="Signature1"),
                         signer=lonely, output=out)
    path = tmp_path / "lonely.pdf"
    path.write_bytes(out.getvalue())
    offline = verify_pdf(path, trust=ROOTS)
    assert offline.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    services.reset_hits()
    online = verify_pdf(path, trust=ROOTS, online=True)
    assert online.passed, online.reason
    assert services.hits.get("/certs/gov-ca-g2.crt", 0) == 1
    assert online.signatures[0].chain is not None
    assert len(online.signatures[0].chain.path) == 3


def _resign_with_wrong_ess(data: bytes, key_name: str) -> bytes:
    """The same signature, its ESS signing-certificate-v2 hash replaced and the signed
    attributes signed again with the signer's own key: intact, but the attribute names
    another certificate (the substitution RFC 5035 §1 guards against)."""
    from asn1crypto import cms
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    start = data.rindex(b"/Contents <") + len(b"/Contents <")
    end = data.index(b">", start)
    info = cms.ContentInfo.load(bytes.fromhex(data[start:end].decode()))
    si = info["content"]["signer_infos"][0]
    for attr in si["signed_attrs"]:
        if attr["type"].native == "signing_certificate_v2":
            attr["values"][0]["certs"][0]["cert_hash"] = b"\x00" * 32
    signed = si["signed_attrs"].dump(force=True)
    key = serialization.load_pem_private_key((PKI / f"{key_name}.key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    si["signature"] = key.sign(b"\x31" + signed[1:], padding.PKCS1v15(), hashes.SHA256())
    new = info.dump(force=True).hex().encode()
    assert len(new) <= end - start
    return data[:start] + new + b"0" * (end - start - len(new)) + data[end:]


def test_signing_certificate_attribute_must_name_the_signer(signed: dict[str, Path],
                                                            tmp_path: Path) -> None:
    path = tmp_path / "ess.pdf"
    path.write_bytes(_resign_with_wrong_ess(signed["bb"].read_bytes(), "official-rsa2048"))
    result = verify_pdf(path, trust=ROOTS)
    [sig] = result.signatures
    assert sig.integrity is not None
    assert sig.integrity.digest_ok and sig.integrity.signature_ok
    assert sig.integrity.signing_certificate_ok is False
    assert result.sub_indication is SubIndication.NO_SIGNING_CERTIFICATE_FOUND
    # Verdicts are memoised per signer across a batch: the genuine file still passes,
    # and the forged one still fails after it.
    assert verify_pdf(signed["bb"], trust=ROOTS).passed
    assert not verify_pdf(path, trust=ROOTS).passed
