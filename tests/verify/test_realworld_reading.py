"""Files other producers made, read by the strict reader (issue 13).

The corpus lies beside the repository (``../shared/corpora/realworld-dev``, see its
README): public test files of iText and RUB-NDS, not made by signsvc.
"""

from __future__ import annotations

from pathlib import Path

from signsvc import TrustStore, verify_pdf
from signsvc.verify._pdfdoc import read_document
from signsvc.verify.results import Coverage

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "realworld-dev"
ITEXT = CORPUS / "itext_itext-java" / "DocumentRevisionsValidatorIntegrationTest"
RUB = CORPUS / "RUB-NDS_PDF-Tester" / "2020" / "2"


def test_a_linearized_signed_file_is_read_strictly() -> None:
    # ISO 32000-1 Annex F: the first-page section (near offset 0) is newer in the /Prev
    # chain than the main section at the end; together they are the first revision.
    data = (ITEXT / "linearizedDoc.pdf").read_bytes()
    view = read_document(data)
    assert view.fallback_reason is None
    assert view.revision_ends is not None
    assert view.revision_ends[0] == view.revision_ends[1]
    assert view.revision_ends[-1] == len(data)
    result = verify_pdf(ITEXT / "linearizedDoc.pdf", trust=TrustStore.vn())
    first = result.signatures[0]
    assert first.integrity is not None and first.integrity.intact
    assert first.coverage is Coverage.ENTIRE_REVISION


def test_a_signature_on_a_linearized_original_covers_its_revision() -> None:
    # The approval signature of RUB-NDS's honest original signs the linearized first
    # revision; it was reported as covering "neither the file nor a revision".
    data = (RUB / "02_NDA_cert_p2_sign_original.pdf").read_bytes()
    view = read_document(data)
    assert view.fallback_reason is None
    assert view.revision_ends == [164014, 164014, len(data)]
    result = verify_pdf(RUB / "02_NDA_cert_p2_sign_original.pdf", trust=TrustStore.vn())
    by_name = {s.field: s for s in result.signatures}
    assert by_name["Signature4"].coverage is Coverage.ENTIRE_REVISION
    assert by_name["Signature"].coverage is Coverage.ENTIRE_FILE
