"""Refuse before the token is touched, and never sign our own outputs: the library
side (``plan_batch``, ``sign_batch``, ``sign_pdf``) with the test PKI's unusable
certificates and real documents. The command line's side, with SoftHSM tokens and
PIN counting, is in tests/cli/test_cli_sign.py."""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

import signsvc
from drivers import Pkcs12Key
from signsvc.errors import CertificateProblem, CertificateUnusableError
from signsvc.sign._certcheck import certificate_problems
from signsvc.sign.journal import AuditJournal
from signsvc.sign.plan import plan_batch
from signsvc.sign.results import SkipReason
from tests.support import badpdfs
from tests.support.paths import PKI
from tests.support.pdfcheck import pdfsig
from tests.support.pdfs import write_one_page_pdf


def p12(name: str) -> Pkcs12Key:
    return Pkcs12Key.load(PKI / f"{name}.p12", "1234")


def cert(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((PKI / f"{name}.crt.pem").read_bytes())


def docs(directory: Path, count: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return [write_one_page_pdf(directory / f"qd-{n}.pdf", f"Quyet dinh {n}")
            for n in range(count)]


@pytest.mark.parametrize(("name", "problem"), [
    ("expired", CertificateProblem.EXPIRED),
    ("not-yet-valid", CertificateProblem.NOT_YET_VALID),
    ("wrong-ku", CertificateProblem.KEY_USAGE),
])
def test_b_b_with_an_unusable_certificate_is_refused(tmp_path: Path, name: str,
                                                    problem: CertificateProblem) -> None:
    inputs = docs(tmp_path / "in", 2)
    with pytest.raises(CertificateUnusableError) as caught:
        signsvc.sign_batch(inputs, tmp_path / "out", p12(name))
    assert caught.value.problems == (problem,)
    assert caught.value.certificate == cert(name)
    assert not (tmp_path / "out").exists()  # raised before planning: nothing made
    with pytest.raises(CertificateUnusableError):
        signsvc.sign_pdf(inputs[0], tmp_path / "one.pdf", p12(name))
    assert not (tmp_path / "one.pdf").exists()


def test_force_signs_and_every_result_and_row_says_why(tmp_path: Path) -> None:
    inputs = docs(tmp_path / "in", 2)
    with AuditJournal.open(tmp_path / "j.sqlite3") as journal:
        results = signsvc.sign_batch(inputs, tmp_path / "out", p12("wrong-ku"), force=True,
                                     journal=journal)
        notes = [e.note for e in journal.entries()]
    expected = ("signed with --force although the certificate's key usage allows neither "
                "digitalSignature nor nonRepudiation: it is not a signing certificate")
    assert [(r.status, r.note) for r in results] == [("signed", expected)] * 2
    assert notes == [expected] * 2
    assert signsvc.sign_pdf(inputs[0], tmp_path / "one.pdf", p12("expired"),
                            force=True).note.startswith("signed with --force although the "
                                                        "certificate expired on 2025-01-01")


def test_the_checks_by_themselves() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert certificate_problems(cert("official-rsa2048"), at=now) == []
    assert certificate_problems(cert("official-ec"), at=now) == []  # EC, digitalSignature
    # Valid once, expired later: the signing time decides.
    assert certificate_problems(cert("expired"), at=datetime(2024, 6, 1, tzinfo=UTC)) == []
    assert [p for p, _ in certificate_problems(cert("legacy-official"), at=now)] == [
        CertificateProblem.EXPIRED]
    # A chain is checked only against anchors given; then it must reach one.
    trusted = certificate_problems(cert("official-rsa2048"), at=now,
                                   trust=[cert("gov-root-g2")],
                                   intermediates=[cert("gov-ca-g2")])
    assert trusted == []
    [(problem, words)] = certificate_problems(cert("official-rsa2048"), at=now,
                                              trust=[cert("vn-root")],
                                              intermediates=[cert("gov-ca-g2")])
    assert problem is CertificateProblem.UNTRUSTED
    assert words.startswith("no valid chain to the trust anchors given: ")


def test_own_outputs_are_skipped_by_name_and_not_journaled(tmp_path: Path) -> None:
    inputs = docs(tmp_path / "in", 2)
    key = p12("official-rsa2048")
    with AuditJournal.open(tmp_path / "j.sqlite3") as journal:
        first = signsvc.sign_batch(signsvc.collect_inputs([tmp_path / "in"]), None, key,
                                   suffix="-da-ky", journal=journal)
        assert [r.status for r in first] == ["signed", "signed"]
        rows = len(journal.entries())
        again = signsvc.sign_batch(signsvc.collect_inputs([tmp_path / "in"]), None, key,
                                   suffix="-da-ky", journal=journal, resume=True)
        assert len(journal.entries()) == rows + 2  # the two resume skips; not the outputs
    by_name = {r.input.name: r for r in again}
    assert {n: (r.status, r.skip_reason) for n, r in by_name.items()} == {
        "qd-0.pdf": ("skipped", SkipReason.ALREADY_SIGNED),
        "qd-1.pdf": ("skipped", SkipReason.ALREADY_SIGNED),
        "qd-0-da-ky.pdf": ("skipped", SkipReason.OWN_OUTPUT),
        "qd-1-da-ky.pdf": ("skipped", SkipReason.OWN_OUTPUT),
    }
    assert by_name["qd-0-da-ky.pdf"].source == inputs[0]
    assert by_name["qd-0-da-ky.pdf"].to_json()["skip_reason"] == "own-output"


def test_a_signed_output_given_alone_is_signed_again(tmp_path: Path) -> None:
    """The registry clerk's case (Decree 30/2020 Art. 14): the leader's signed output,
    given without its original, is an input like any other."""
    (original,) = docs(tmp_path / "in", 1)
    with AuditJournal.open(tmp_path / "j.sqlite3") as journal:
        signsvc.sign_batch([original], tmp_path / "leader", p12("official-rsa2048"),
                           journal=journal)
        issued = signsvc.sign_batch([tmp_path / "leader" / original.name], tmp_path / "issued",
                                    p12("org-omon"), journal=journal)
    assert [r.status for r in issued] == ["signed"]
    assert [s.signature_valid for s in pdfsig(tmp_path / "issued" / original.name)] == [True,
                                                                                        True]


def test_planning_checks_every_input_without_a_key(tmp_path: Path) -> None:
    good = docs(tmp_path / "in", 1)[0]
    bad = tmp_path / "bad"
    bad.mkdir()
    exists = write_one_page_pdf(tmp_path / "in" / "co-roi.pdf")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "co-roi.pdf").write_bytes(b"precious")
    plan = plan_batch([good, badpdfs.not_a_pdf(bad), badpdfs.empty_file(bad),
                       tmp_path / "missing.pdf", bad, exists], tmp_path / "out")
    assert [j.input for j in plan.jobs] == [good]
    words = {r.input.name: r.error for r in plan.settled}
    assert words == {
        "not-a-pdf-html.pdf": f"{bad / 'not-a-pdf-html.pdf'}: not a PDF (no %PDF- header)",
        "empty.pdf": f"{bad / 'empty.pdf'}: not a PDF (an empty file)",
        "missing.pdf": f"{tmp_path / 'missing.pdf'}: cannot read: No such file or directory",
        "bad": f"{bad}: is a folder, not a PDF file",
        "co-roi.pdf": f"{tmp_path / 'out' / 'co-roi.pdf'}: exists already (use --overwrite to "
                      "replace it, or --resume to skip documents already signed)",
    }
    assert (tmp_path / "out" / "co-roi.pdf").read_bytes() == b"precious"
    assert plan.total == 6


def test_an_owner_password_only_pdf_is_signed_as_viewers_open_it(tmp_path: Path) -> None:
    source = badpdfs.encrypted(tmp_path, user_password="")
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    result = signsvc.sign_pdf(source, tmp_path / "signed.pdf", p12("official-rsa2048"))
    assert result.status == "signed"
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    [seen] = pdfsig(tmp_path / "signed.pdf")
    assert seen.signature_valid and seen.total_document_signed


def test_an_owner_who_forbids_signing_is_obeyed(tmp_path: Path) -> None:
    from pyhanko.pdf_utils.crypt import StandardSecurityHandler
    from pyhanko.pdf_utils.crypt.permissions import StandardPermissions
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    path = tmp_path / "chi-in.pdf"
    with badpdfs.GOOD.open("rb") as handle:
        writer = copy_into_new_writer(PdfFileReader(handle))
        writer._assign_security_handler(StandardSecurityHandler.build_from_pw(
            "chu-so-huu", "", perms=StandardPermissions.ALLOW_PRINTING
            | StandardPermissions.ALLOW_CONTENT_EXTRACTION))
        with path.open("wb") as out:
            writer.write(out)
    (result,) = signsvc.sign_batch([path], tmp_path / "out", p12("official-rsa2048"))
    assert result.status == "failed" and result.error_type == "BadInputError"
    assert "owner's permissions forbid filling in forms and signatures" in (result.error or "")
    # With the owner's password, it is the owner signing: allowed.
    owner = signsvc.sign_pdf(path, tmp_path / "owner.pdf", p12("official-rsa2048"),
                             password="chu-so-huu")
    assert owner.status == "signed"


def test_a_field_name_typed_decomposed_fills_the_field(tmp_path: Path) -> None:
    (doc,) = docs(tmp_path / "in", 1)
    first = signsvc.sign_pdf(doc, tmp_path / "a.pdf", p12("official-rsa2048"),
                             field="Chủ tịch")
    assert first.field == "Chủ tịch"
    with pytest.raises(signsvc.BadInputError, match="'Chủ tịch' is already signed"):
        signsvc.sign_pdf(tmp_path / "a.pdf", tmp_path / "b.pdf", p12("org-omon"),
                         field=unicodedata.normalize("NFD", "Chủ tịch"))
