"""signsvc: digital signatures for Vietnamese government documents.

Example::

    >>> import signsvc
    >>> report = signsvc.inventory()  # modules -> tokens -> certificates  # doctest: +SKIP
    >>> print(report.to_json())  # doctest: +SKIP

The token layer lives in :mod:`drivers`; signsvc builds on it and never imports click.
Imports are kept light: listing tokens must not load pyHanko.
"""

from signsvc.errors import BadInputError, PinSourceError, SignsvcError
from signsvc.tokens import (
    Inventory,
    ModuleReport,
    TestSignResult,
    TokenReport,
    inventory,
    test_sign,
)

__all__ = [
    "BadInputError",
    "Inventory",
    "ModuleReport",
    "PinSourceError",
    "SignsvcError",
    "TestSignResult",
    "TokenReport",
    "inventory",
    "test_sign",
]

__version__ = "0.1.0"
