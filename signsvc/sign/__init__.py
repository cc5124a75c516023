"""Signing PDFs: one document, a batch with one PIN, the audit journal, token
re-insertion.

Example::

    >>> from drivers import Pkcs12Key
    >>> from signsvc.sign import sign_batch
    >>> key = Pkcs12Key.load("certs_test/official-rsa2048.p12", "1234")  # doctest: +SKIP
    >>> results = sign_batch(["in/a.pdf", "in/b.pdf"], "out", key)  # doctest: +SKIP
    >>> [r.status for r in results]  # doctest: +SKIP
    ['signed', 'signed']

pyHanko applies the signatures (:mod:`signsvc.sign.pdf`); the CMS is built once per
document from a template (``_template``); ``_pyhanko_signer`` adapts a driver key to
pyHanko's ``Signer``. :func:`plan_batch` decides, before any key is used, what a batch
will sign (:mod:`signsvc.sign.plan`); the certificate is checked before the PIN
(``_certcheck``); the TSA's and OCSP/CRL failures are named (``_network``).
"""

from signsvc._inputs import InputFile
from signsvc.sign._runners import Job
from signsvc.sign.batch import sign_batch, sign_iter
from signsvc.sign.journal import (
    AuditEntry,
    AuditJournal,
    LoginEntry,
    RecoveredOutput,
    default_journal_path,
)
from signsvc.sign.pdf import DocumentSigner, SignOptions, sign_pdf
from signsvc.sign.plan import BatchPlan, plan_batch
from signsvc.sign.reconnect import ReconnectingKey, TokenEvent
from signsvc.sign.results import DocumentProgress, Level, SignResult, SignStatus, SkipReason

__all__ = [
    "AuditEntry",
    "AuditJournal",
    "BatchPlan",
    "DocumentProgress",
    "DocumentSigner",
    "InputFile",
    "Job",
    "Level",
    "LoginEntry",
    "ReconnectingKey",
    "RecoveredOutput",
    "SignOptions",
    "SignResult",
    "SignStatus",
    "SkipReason",
    "TokenEvent",
    "default_journal_path",
    "plan_batch",
    "sign_batch",
    "sign_iter",
    "sign_pdf",
]
