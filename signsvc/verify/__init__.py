"""Verifying signed PDFs: ETSI EN 319 102-1 verdicts, batches, the result store,
reports.

Example::

    >>> from signsvc.pki import TrustStore
    >>> from signsvc.verify import verify_pdf
    >>> store = TrustStore.from_paths(["certs_test/gov-root-g2.crt.pem"])  # doctest: +SKIP
    >>> verify_pdf("signed.pdf", trust=store).indication  # doctest: +SKIP
    <Indication.TOTAL_PASSED: 'TOTAL-PASSED'>

Private modules: ``_pdfscan`` and ``_pdffilters`` (the strict PDF reader), ``_pdfdoc``
(signatures and revisions of a document, pyHanko's difference analysis),
``_cmsparts`` and ``_cmscheck`` (the CMS SignedData), ``_store`` (SQLite),
``_workers`` (processes with time and memory limits), ``_daskplugin`` (what runs
in a Dask worker), ``_report_html``.
"""

from signsvc.verify.batch import (
    FreshResult,
    StoredResult,
    VerifyStore,
    verify_batch,
    verify_blocks,
    verify_iter,
)
from signsvc.verify.cluster import Cluster
from signsvc.verify.pdf import verify_pdf
from signsvc.verify.reports import REPORT_FORMATS, report_format, write_report
from signsvc.verify.results import (
    CertificateSummary,
    Coverage,
    DocumentResult,
    Integrity,
    Ltv,
    Modification,
    ModificationLevel,
    SignatureKind,
    SignatureResult,
    TimestampResult,
)

__all__ = [
    "REPORT_FORMATS",
    "CertificateSummary",
    "Cluster",
    "Coverage",
    "DocumentResult",
    "FreshResult",
    "Integrity",
    "Ltv",
    "Modification",
    "ModificationLevel",
    "SignatureKind",
    "SignatureResult",
    "StoredResult",
    "TimestampResult",
    "VerifyStore",
    "report_format",
    "verify_batch",
    "verify_blocks",
    "verify_iter",
    "verify_pdf",
    "write_report",
]
