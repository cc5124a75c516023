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
pyHanko's ``Signer``.
"""

from signsvc._inputs import InputFile
from signsvc.sign.batch import sign_batch, sign_iter
from signsvc.sign.journal import AuditEntry, AuditJournal, default_journal_path
from signsvc.sign.pdf import DocumentSigner, SignOptions, sign_pdf
from signsvc.sign.reconnect import ReconnectingKey, TokenEvent
from signsvc.sign.results import Level, SignResult, SignStatus

__all__ = [
    "AuditEntry",
    "AuditJournal",
    "DocumentSigner",
    "InputFile",
    "Level",
    "ReconnectingKey",
    "SignOptions",
    "SignResult",
    "SignStatus",
    "TokenEvent",
    "default_journal_path",
    "sign_batch",
    "sign_iter",
    "sign_pdf",
]
