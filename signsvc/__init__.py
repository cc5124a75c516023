"""signsvc: digital signatures for Vietnamese government documents.

Example::

    >>> import signsvc
    >>> with signsvc.open_token_key(label="Nguyễn Văn A", pin=ask_pin) as key:  # doctest: +SKIP
    ...     signsvc.sign_pdf("quyet-dinh.pdf", "quyet-dinh-da-ky.pdf", key, level="B-T",
    ...                      tsa_url="http://tsa.example.vn")
    >>> store = signsvc.TrustStore.from_paths(["roots/"])  # doctest: +SKIP
    >>> signsvc.verify_pdf("quyet-dinh-da-ky.pdf", trust=store).passed  # doctest: +SKIP
    True

The rooms: :mod:`signsvc.sign` (signing, batches, audit journal),
:mod:`signsvc.appearance` (Decree 30/2020 appearances), :mod:`signsvc.pki` (chains,
revocation, trust), :mod:`signsvc.verify` (PDF verdicts, batches, reports),
:mod:`signsvc.tokens` (listing tokens, opening a key); the token layer itself is
:mod:`drivers`. Every name below is importable from ``signsvc`` directly, but is loaded
only when first used, so ``import signsvc`` (and the command line) starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from signsvc import _version

if TYPE_CHECKING:
    from drivers import KeySigner, Pkcs12Key, ProtectedAuth, TokenKey
    from signsvc._inputs import InputFile, collect_inputs, collect_pdfs
    from signsvc.appearance import AppearanceOptions, Profile
    from signsvc.errors import (
        AppearanceError,
        BadInputError,
        CertificateProblem,
        CertificateUnusableError,
        OutputError,
        PinSourceError,
        RevocationFetchError,
        SigningError,
        SignsvcError,
        TimestampError,
        TrustError,
        ValidationSetupError,
    )
    from signsvc.pki import (
        ChainResult,
        Indication,
        RevocationFetcher,
        RevocationMode,
        SubIndication,
        TrustAnchor,
        TrustStore,
        ValidationCache,
        ValidationPolicy,
        validate_chain,
    )
    from signsvc.sign import (
        AuditJournal,
        BatchPlan,
        DocumentProgress,
        Job,
        Level,
        LoginEntry,
        ReconnectingKey,
        RecoveredOutput,
        SignOptions,
        SignResult,
        SignStatus,
        SkipReason,
        TokenEvent,
        plan_batch,
        sign_batch,
        sign_iter,
        sign_pdf,
    )
    from signsvc.tokens import (
        Inventory,
        ModuleReport,
        TestSignResult,
        TokenReport,
        inventory,
        open_token_key,
        test_sign,
    )
    from signsvc.verify import (
        REPORT_FORMATS,
        DocumentResult,
        SignatureResult,
        VerifyStore,
        report_format,
        verify_batch,
        verify_iter,
        verify_pdf,
        write_report,
    )

__all__ = [
    "REPORT_FORMATS",
    "AppearanceError",
    "AppearanceOptions",
    "AuditJournal",
    "BadInputError",
    "BatchPlan",
    "CertificateProblem",
    "CertificateUnusableError",
    "ChainResult",
    "DocumentProgress",
    "DocumentResult",
    "Indication",
    "InputFile",
    "Inventory",
    "Job",
    "KeySigner",
    "Level",
    "LoginEntry",
    "ModuleReport",
    "OutputError",
    "PinSourceError",
    "Pkcs12Key",
    "Profile",
    "ProtectedAuth",
    "ReconnectingKey",
    "RecoveredOutput",
    "RevocationFetchError",
    "RevocationFetcher",
    "RevocationMode",
    "SignOptions",
    "SignResult",
    "SignStatus",
    "SignatureResult",
    "SigningError",
    "SignsvcError",
    "SkipReason",
    "SubIndication",
    "TestSignResult",
    "TimestampError",
    "TokenEvent",
    "TokenKey",
    "TokenReport",
    "TrustAnchor",
    "TrustError",
    "TrustStore",
    "ValidationCache",
    "ValidationPolicy",
    "ValidationSetupError",
    "VerifyStore",
    "collect_inputs",
    "collect_pdfs",
    "inventory",
    "open_token_key",
    "plan_batch",
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

__version__ = _version.__version__

_HOME = {
    "drivers": ("KeySigner", "Pkcs12Key", "ProtectedAuth", "TokenKey"),
    "signsvc._inputs": ("InputFile", "collect_inputs", "collect_pdfs"),
    "signsvc.appearance": ("AppearanceOptions", "Profile"),
    "signsvc.errors": ("AppearanceError", "BadInputError", "CertificateProblem",
                       "CertificateUnusableError", "OutputError", "PinSourceError",
                       "RevocationFetchError", "SigningError", "SignsvcError",
                       "TimestampError", "TrustError", "ValidationSetupError"),
    "signsvc.pki": ("ChainResult", "Indication", "RevocationFetcher", "RevocationMode",
                    "SubIndication", "TrustAnchor", "TrustStore", "ValidationCache",
                    "ValidationPolicy", "validate_chain"),
    "signsvc.sign": ("AuditJournal", "BatchPlan", "DocumentProgress", "Job", "Level",
                     "LoginEntry", "ReconnectingKey", "RecoveredOutput", "SignOptions",
                     "SignResult", "SignStatus", "SkipReason", "TokenEvent", "plan_batch",
                     "sign_batch", "sign_iter", "sign_pdf"),
    "signsvc.tokens": ("Inventory", "ModuleReport", "TestSignResult", "TokenReport",
                       "inventory", "open_token_key", "test_sign"),
    "signsvc.verify": ("REPORT_FORMATS", "DocumentResult", "SignatureResult", "VerifyStore",
                       "report_format", "verify_batch", "verify_iter", "verify_pdf",
                       "write_report"),
}
"""Where each public name is defined (PEP 562 lazy attributes: nothing is imported
before it is used). A test checks this against ``__all__``."""
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}
_SUBPACKAGES = frozenset({"appearance", "errors", "pki", "sign", "tokens", "verify"})


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"signsvc.{name}")
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'signsvc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
