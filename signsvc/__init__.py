"""signsvc: digital signatures for Vietnamese government documents.

Example::

    >>> import signsvc
    >>> report = signsvc.inventory()  # modules -> tokens -> certificates  # doctest: +SKIP
    >>> print(report.to_json())  # doctest: +SKIP

The token layer lives in :mod:`drivers`; signsvc builds on it and never imports click.
Imports are kept light: listing tokens must not load pyHanko.
"""

from signsvc.audit import AuditJournal
from signsvc.batch import sign_batch
from signsvc.errors import (
    BadInputError,
    OutputError,
    PinSourceError,
    SigningError,
    SignsvcError,
)
from signsvc.signing import Level, SignOptions, SignResult, sign_pdf
from signsvc.tokens import (
    Inventory,
    ModuleReport,
    TestSignResult,
    TokenReport,
    inventory,
    test_sign,
)

__all__ = [
    "AuditJournal",
    "BadInputError",
    "Inventory",
    "Level",
    "ModuleReport",
    "OutputError",
    "PinSourceError",
    "SignOptions",
    "SignResult",
    "SigningError",
    "SignsvcError",
    "TestSignResult",
    "TokenReport",
    "inventory",
    "sign_batch",
    "sign_pdf",
    "test_sign",
]

__version__ = "0.1.0"
