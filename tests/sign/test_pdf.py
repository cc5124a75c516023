"""sign_pdf at every PAdES level, checked by pyHanko's validator and poppler's pdfsig,
against the real TSA/OCSP/CRL services of the test PKI on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyhanko.sign.fields import SigSeedSubFilter  # noqa: F401 - pyHanko is the peer here

import signsvc
from certs_test.services import TestServices
from certs_test.softhsm import SoftHSM
from drivers import Pkcs12Key, TokenKey
from signsvc.sign._pyhanko_signer import KeySignerAdapter
from signsvc.sign._template import TemplateSigner
from tests.support import badpdfs
from tests.support.paths import PKI, ROOT
from tests.support.pdfcheck import pdfsig, pyhanko_validate, trusted_nssdb
from tests.support.pdfs import write_one_page_pdf
from tests.support.tokens import ANH

SAMPLES = sorted((ROOT / "samples").glob("*.pdf"))


def p12(name: str) -> Pkcs12Key:
    return Pkcs12Key.load(PKI / f"{name}.p12", "1234")


@pytest.fixture(scope="module")
def nssdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trusted_nssdb(tmp_path_factory.mktemp("nss"))


@pytest.fixture
def token_key(hsm: SoftHSM, pin: str) -> Iterator[TokenKey]:
    with signsvc.tokens.open_token_key([hsm.module], label=ANH, cert_id=b"\x01",
                                       pin=lambda _: pin) as key:
        yield key


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    return write_one_page_pdf(tmp_path / "quyet-dinh.pdf")


def test_template_cms_is_byte_identical_to_pyhanko(tmp_path: Path) -> None:
    """RSA PKCS#1 v1.5 is deterministic, so both paths must give the same DER."""
    key = p12("official-rsa2048")
    ours, theirs = TemplateSigner(key), KeySignerAdapter(key)
    for digest in (hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()):
        a = asyncio.run(ours.async_sign(digest, "sha256", use_pades=True)).dump()
        b = asyncio.run(theirs.async_sign(digest, "sha256", use_pades=True)).dump()
        assert a == b


def test_template_not_used_for_non_pades_signatures() -> None:
    """adbe.pkcs7.detached carries signing-time: no template, pyHanko builds it."""
    signer = TemplateSigner(p12("official-rsa2048"))
    digest = hashlib.sha256(b"x").digest()
    asyncio.run(signer.async_sign(digest, "sha256", use_pades=False))
    assert signer._templates == {}


def test_token_signature_validates_in_pyhanko_and_pdfsig(doc: Path, tmp_path: Path,
                                                         token_key: TokenKey,
                                                         nssdb: Path) -> None:
    before = doc.read_bytes()
    out = tmp_path / "out.pdf"
    result = signsvc.sign_pdf(doc, out, token_key, reason="Phê duyệt", location="Cần Thơ")
    assert doc.read_bytes() == before
    assert result.status == "signed" and result.field == "Signature1"
    [checked] = pyhanko_validate(out)
    assert checked.intact and checked.valid and checked.trusted and checked.bottom_line
    assert checked.coverage == "ENTIRE_FILE"
    assert checked.signer_common_name == "Nguyễn Thị Lấp Lánh Ánh"
    assert checked.md_algorithm == "sha256"
    [seen] = pdfsig(out, nssdir=nssdb)
    assert seen.signature_valid and seen.total_document_signed and seen.nss_chain_trusted
    assert seen.signature_type == "ETSI.CAdES.detached"
    assert seen.signer_common_name == "Nguyễn Thị Lấp Lánh Ánh"


@pytest.mark.parametrize("name", ["official-ec", "official-rsa3072", "official-viettel"])
def test_other_keys_and_the_public_hierarchy(doc: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "out.pdf"
    signsvc.sign_pdf(doc, out, p12(name))
    [checked] = pyhanko_validate(out)
    assert checked.bottom_line, checked.summary


def test_leader_then_organisation_both_stay_valid(doc: Path, tmp_path: Path,
                                                  token_key: TokenKey, nssdb: Path) -> None:
    leader, issued = tmp_path / "leader.pdf", tmp_path / "issued.pdf"
    signsvc.sign_pdf(doc, leader, token_key)
    second = signsvc.sign_pdf(leader, issued, p12("org-omon"))
    assert second.field == "Signature2"
    first_check, org_check = pyhanko_validate(issued)
    assert first_check.signer_common_name == "Nguyễn Thị Lấp Lánh Ánh"
    assert first_check.bottom_line and first_check.coverage == "ENTIRE_REVISION"
    assert first_check.modification_level in ("NONE", "FORM_FILLING")
    assert org_check.signer_common_name == "UBND quận Ô Môn" and org_check.bottom_line
    assert [s.signature_valid for s in pdfsig(issued, nssdir=nssdb)] == [True, True]


def test_signing_an_already_signed_field_is_refused(doc: Path, tmp_path: Path) -> None:
    signed = tmp_path / "signed.pdf"
    signsvc.sign_pdf(doc, signed, p12("official-rsa2048"), field="ChuTich")
    with pytest.raises(signsvc.BadInputError, match="already signed"):
        signsvc.sign_pdf(signed, tmp_path / "again.pdf", p12("org-omon"), field="ChuTich")


def test_b_t_embeds_a_signature_timestamp(doc: Path, tmp_path: Path,
                                          services: TestServices) -> None:
    out = tmp_path / "out.pdf"
    services.reset_hits()
    result = signsvc.sign_pdf(doc, out, p12("official-rsa2048"), level="B-T",
                              tsa_url=services.tsa_url)
    assert result.level == signsvc.Level.B_T
    assert services.hits.get("/tsa", 0) >= 1
    [checked] = pyhanko_validate(out)
    assert checked.bottom_line and checked.timestamp is not None
    assert abs((checked.timestamp - result.signing_time).total_seconds()) < 60  # type: ignore[operator]


def test_b_t_with_tsa_basic_auth(doc: Path, tmp_path: Path,
                                 tsa_auth_services: TestServices) -> None:
    key = p12("official-rsa2048")
    url = tsa_auth_services.tsa_url
    denied = signsvc.sign_batch([doc], tmp_path / "a", key, level="B-T", tsa_url=url)
    assert denied[0].status == "failed" and denied[0].error_type == "TimestampError"
    assert isinstance(denied[0].exception, signsvc.SigningError)
    assert (f"the time-stamping authority {url} failed: it answered HTTP 401 Unauthorized "
            "(it needs a user and password: --tsa-user, --tsa-password-env)") in (
        denied[0].error or "")
    auth = tsa_auth_services.tsa_auth
    assert auth is not None
    ok = signsvc.sign_batch([doc], tmp_path / "b", key, level="B-T", tsa_url=url,
                            tsa_auth=auth)
    assert ok[0].status == "signed"
    assert pyhanko_validate(ok[0].output)[0].timestamp is not None  # type: ignore[arg-type]


def test_b_lt_validates_offline(doc: Path, tmp_path: Path, services: TestServices,
                                nssdb: Path) -> None:
    out = tmp_path / "out.pdf"
    signsvc.sign_pdf(doc, out, p12("official-rsa2048"), level="B-LT",
                     tsa_url=services.tsa_url, trust=[_root("gov-root-g2")])
    services.reset_hits()
    [checked] = pyhanko_validate(out, level="LT", allow_fetching=False)
    assert services.hit_count() == 0  # everything came from the document
    # Revocation data was required (REQUIRE_REVINFO) and came from the DSS alone.
    assert checked.dss and checked.trusted and not checked.revoked, checked.summary
    assert checked.bottom_line, checked.summary
    # Without a document time-stamp the ETSI past-validation has no proof of existence
    # for the CA certificates: pyHanko's AdES process says so, as it should for B-LT.
    assert checked.ades_indication == "INDETERMINATE:NO_POE"
    assert pdfsig(out, nssdir=nssdb)[0].signature_valid


def test_b_lta_adds_a_document_timestamp(doc: Path, tmp_path: Path,
                                         services: TestServices) -> None:
    out = tmp_path / "out.pdf"
    signsvc.sign_pdf(doc, out, p12("official-rsa2048"), level="B-LTA",
                     tsa_url=services.tsa_url, trust=[_root("gov-root-g2")])
    services.reset_hits()
    [checked] = pyhanko_validate(out, level="LTA", allow_fetching=False)
    assert services.hit_count() == 0
    assert checked.archive_timestamp is not None and checked.bottom_line, checked.summary


def test_b_lt_without_a_root_is_bad_input(doc: Path, tmp_path: Path, token_key: TokenKey,
                                          services: TestServices) -> None:
    """The demo token holds the issuing CA but not the root."""
    with pytest.raises(signsvc.BadInputError, match="root certificate"):
        signsvc.sign_pdf(doc, tmp_path / "out.pdf", token_key, level="B-LT",
                         tsa_url=services.tsa_url)


def test_tsa_down_fails_the_document_not_the_batch(tmp_path: Path,
                                                   services: TestServices) -> None:
    docs = [write_one_page_pdf(tmp_path / f"{n}.pdf") for n in range(2)]
    with services.failing("tsa"):
        results = signsvc.sign_batch(docs, tmp_path / "out", p12("official-rsa2048"),
                                     level="B-T", tsa_url=services.tsa_url)
    assert [r.status for r in results] == ["failed", "failed"]
    assert all(r.error_type == "TimestampError" for r in results)
    assert all(f"the time-stamping authority {services.tsa_url} failed: it answered HTTP "
               "500 Internal Server Error" in (r.error or "") for r in results)
    assert not (tmp_path / "out" / "0.pdf").exists()


def test_level_above_b_b_needs_a_tsa() -> None:
    with pytest.raises(signsvc.BadInputError, match="time-stamping"):
        signsvc.SignOptions(level=signsvc.Level.B_T)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.stem for s in SAMPLES])
def test_sample_decisions_sign_and_validate(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / sample.name
    signsvc.sign_pdf(sample, out, p12("official-rsa2048"))
    [checked] = pyhanko_validate(out)
    assert checked.bottom_line, checked.summary


def test_what_pyhanko_accepts_and_refuses(tmp_path: Path) -> None:
    """The bad-input cases of the closing note: what is signed, what is refused."""
    key = p12("official-rsa2048")
    outcome = {}
    for maker in (badpdfs.broken_xref, badpdfs.pdfa, badpdfs.already_signed,
                  badpdfs.zero_pages):
        source = maker(tmp_path)
        (result,) = signsvc.sign_batch([source], tmp_path / "out", key)
        outcome[maker.__name__] = (result.status, result.error_type)
        if result.status == "signed":
            assert result.output is not None
            assert all(s.intact and s.valid for s in pyhanko_validate(result.output))
    assert outcome == {
        # pyHanko does not rebuild a broken cross-reference table (strict or not).
        "broken_xref": ("failed", "BadInputError"),
        "pdfa": ("signed", None),
        "already_signed": ("signed", None),
        "zero_pages": ("failed", "BadInputError"),
    }
    pdfa_out = (tmp_path / "out").glob("pdfa*.pdf")
    # An incremental update keeps the PDF/A identification (XMP pdfaid) untouched.
    assert all(b"pdfaid:part" in p.read_bytes() for p in pdfa_out)


def _root(name: str) -> object:
    from cryptography import x509

    return x509.load_pem_x509_certificate((PKI / f"{name}.crt.pem").read_bytes())
