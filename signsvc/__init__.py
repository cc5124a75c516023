"""signsvc: digital signatures for Vietnamese government documents.

Example::

    >>> import signsvc
    >>> report = signsvc.inventory()  # modules -> tokens -> certificates  # doctest: +SKIP
    >>> print(report.to_json())  # doctest: +SKIP

The token layer lives in :mod:`drivers`; signsvc builds on it and never imports click.
Imports are kept light: listing tokens must not load pyHanko.
"""

from signsvc.algorithms import ValidationPolicy
from signsvc.appearance import AppearanceOptions, Profile
from signsvc.audit import AuditJournal
from signsvc.batch import sign_batch, sign_iter
from signsvc.chain import ChainResult, ValidationCache, validate_chain
from signsvc.errors import (
    AppearanceError,
    BadInputError,
    OutputError,
    PinSourceError,
    SigningError,
    SignsvcError,
    TrustError,
    ValidationSetupError,
)
from signsvc.hotplug import ReconnectingKey, TokenEvent
from signsvc.reports import REPORT_FORMATS, report_format, write_report
from signsvc.signing import Level, SignOptions, SignResult, sign_pdf
from signsvc.tokens import (
    Inventory,
    ModuleReport,
    TestSignResult,
    TokenReport,
    inventory,
    test_sign,
)
from signsvc.trust import TrustStore
from signsvc.verdicts import DocumentResult, SignatureResult
from signsvc.verify import verify_pdf
from signsvc.verify_batch import VerifyStore, collect_pdfs, verify_batch, verify_iter

__all__ = [
    "REPORT_FORMATS",
    "AppearanceError",
    "AppearanceOptions",
    "AuditJournal",
    "BadInputError",
    "ChainResult",
    "DocumentResult",
    "Inventory",
    "Level",
    "ModuleReport",
    "OutputError",
    "PinSourceError",
    "Profile",
    "ReconnectingKey",
    "SignOptions",
    "SignResult",
    "SignatureResult",
    "SigningError",
    "SignsvcError",
    "TestSignResult",
    "TokenEvent",
    "TokenReport",
    "TrustError",
    "TrustStore",
    "ValidationCache",
    "ValidationPolicy",
    "ValidationSetupError",
    "VerifyStore",
    "collect_pdfs",
    "inventory",
    "report_format",
    "sign_batch",
    "sign_iter",
    "sign_pdf",
    "test_sign",
    "validate_chain",
    "verify_batch",
    "verify_iter",
    "verify_pdf",
    "write_report",
]

__version__ = "0.1.0"
