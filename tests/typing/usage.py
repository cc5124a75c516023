"""The public surface as an integrator uses it, checked by mypy (``scripts/test.sh``
runs mypy over this file; it is never executed). A change that breaks these lines
breaks every system that imports signsvc: make it on purpose or not at all.

Modelled on service-identity's ``tests/typing/api.py``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import assert_type

from cryptography import x509

import signsvc
from drivers import TokenInfo


def ask_pin(info: TokenInfo) -> str:
    return "123456"


def sign_one_with_a_token() -> None:
    # Signing a document needs one import.
    with signsvc.open_token_key(label="Nguyễn Văn A", pin=ask_pin) as key:
        assert_type(key, signsvc.TokenKey)
        result = signsvc.sign_pdf("in.pdf", Path("out.pdf"), key, level="B-T",
                                  tsa_url="http://127.0.0.1:18480/tsa", reason="Phê duyệt")
        assert_type(result, signsvc.SignResult)
        assert_type(result.passed, bool)
        assert_type(result.status, signsvc.SignStatus)
        assert_type(result.signing_time, datetime | None)


def sign_a_batch_with_pkcs12() -> None:
    key: signsvc.KeySigner = signsvc.Pkcs12Key.load("certs_test/official-rsa2048.p12", "1234")
    look = signsvc.AppearanceOptions(profile=signsvc.Profile.PERSONAL, anchor="Nguyễn Văn A")
    results = signsvc.sign_batch(["a.pdf", Path("b.pdf")], "out", key, jobs=2,
                                 level=signsvc.Level.B_B, appearance=look)
    assert_type(results, list[signsvc.SignResult])
    for result in signsvc.sign_iter(signsvc.collect_inputs(["in/"]), None, key,
                                    suffix="-da-ky", resume=True):
        assert_type(result.output, Path | None)


async def sign_inside_a_coroutine(key: signsvc.KeySigner) -> signsvc.SignResult:
    # Synchronous, safe in a running loop; to_thread keeps the loop responsive.
    return await asyncio.to_thread(signsvc.sign_pdf, "in.pdf", "out.pdf", key)


def verify_documents(anchors: list[x509.Certificate]) -> None:
    store = signsvc.TrustStore.from_certificates(anchors) | signsvc.TrustStore.user()
    document = signsvc.verify_pdf("signed.pdf", trust=store, revocation="hard-fail",
                                  at=datetime(2026, 1, 1, tzinfo=UTC))
    assert_type(document, signsvc.DocumentResult)
    assert_type(document.passed, bool)
    assert_type(document.indication, signsvc.Indication)
    assert_type(document.sub_indication, signsvc.SubIndication | None)
    for signature in document.signatures:
        assert_type(signature, signsvc.SignatureResult)
        assert_type(signature.passed, bool)
    mode: signsvc.RevocationMode = "soft-fail"
    batch = signsvc.verify_batch(["inbox/"], trust=store, jobs=2, revocation=mode,
                                 policy="historical")
    assert_type(batch, list[signsvc.DocumentResult])
    with signsvc.VerifyStore.open("store.sqlite3") as kept:
        signsvc.write_report("bao-cao.html", kept.iter_json, summary=kept.summary())


def validate_a_chain(leaf: x509.Certificate, ca: x509.Certificate) -> None:
    store = signsvc.TrustStore.from_paths(["certs_test/gov-root-g2.crt.pem"])
    anchor: signsvc.TrustAnchor = store.anchors[0]
    assert_type(anchor.certificate, x509.Certificate)
    result = signsvc.validate_chain(leaf, intermediates=[ca], trust=store,
                                    at=datetime.now(UTC),
                                    fetcher=signsvc.RevocationFetcher(online=False))
    assert_type(result, signsvc.ChainResult)
    assert_type(result.passed, bool)
    assert_type(result.path, tuple[x509.Certificate, ...])


def list_tokens() -> None:
    report = signsvc.inventory()
    assert_type(report, signsvc.Inventory)
    for module in report.modules:
        assert_type(module, signsvc.ModuleReport)


def handle_errors() -> None:
    try:
        signsvc.verify_pdf("x.pdf", trust=signsvc.TrustStore())
    except signsvc.ValidationSetupError as exc:
        assert_type(exc, signsvc.ValidationSetupError)
    except signsvc.SignsvcError:
        pass
