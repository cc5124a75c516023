"""The signing API as an integrator meets it: paths as str or os.PathLike, the options
passed one way (keywords, the same for one document and a batch), string statuses,
and a call from inside a running event loop (a web service's handler)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

import signsvc
from drivers import Pkcs12Key
from signsvc.sign import SignStatus
from tests.support.paths import PKI, ROOT

SAMPLE = ROOT / "samples" / "quyet-dinh-123.pdf"


@pytest.fixture(scope="module")
def key() -> Pkcs12Key:
    return Pkcs12Key.load(PKI / "official-rsa2048.p12", "1234")


class _PathLike(os.PathLike[str]):
    """Not a Path: what some frameworks hand over for uploaded files."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def __fspath__(self) -> str:
        return str(self._path)


def test_sign_pdf_takes_str_and_pathlike(tmp_path: Path, key: Pkcs12Key) -> None:
    by_str = signsvc.sign_pdf(str(SAMPLE), str(tmp_path / "a.pdf"), key)
    by_pathlike = signsvc.sign_pdf(_PathLike(SAMPLE), _PathLike(tmp_path / "b.pdf"), key)
    for result, name in ((by_str, "a.pdf"), (by_pathlike, "b.pdf")):
        assert result.status is SignStatus.SIGNED and result.passed
        assert result.output == tmp_path / name
        assert (tmp_path / name).read_bytes().startswith(SAMPLE.read_bytes())


def test_options_are_the_same_keywords_for_one_and_many(tmp_path: Path,
                                                        key: Pkcs12Key) -> None:
    one = signsvc.sign_pdf(SAMPLE, tmp_path / "one.pdf", key, reason="Phê duyệt",
                           field="KyDuyet")
    [many] = signsvc.sign_batch([str(SAMPLE)], str(tmp_path / "out"), key,
                                reason="Phê duyệt", field="KyDuyet")
    assert one.field == many.field == "KyDuyet"
    assert many.status == "signed"  # a StrEnum: equal to the JSON string
    for output in (tmp_path / "one.pdf", tmp_path / "out" / SAMPLE.name):
        assert _signature_dictionary(output) == ("KyDuyet", "Phê duyệt")


def _signature_dictionary(path: Path) -> tuple[str, str]:
    """(field name, /Reason) of the document's one signature, as pyHanko reads them."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    with path.open("rb") as f:
        [signature] = PdfFileReader(f).embedded_signatures
        return signature.field_name, str(signature.sig_object["/Reason"])


def test_an_unknown_option_is_refused_by_name(tmp_path: Path, key: Pkcs12Key) -> None:
    with pytest.raises(TypeError, match=r"unknown signing option.*lvl"):
        signsvc.sign_pdf(SAMPLE, tmp_path / "x.pdf", key, lvl="B-T")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"unknown signing option.*options"):
        signsvc.sign_batch([SAMPLE], tmp_path, key,
                           options=signsvc.SignOptions())  # type: ignore[call-arg]
    assert not (tmp_path / "x.pdf").exists()


def test_sign_pdf_works_inside_a_running_event_loop(tmp_path: Path, key: Pkcs12Key) -> None:
    loop_threads: list[int] = []

    async def handler() -> signsvc.SignResult:
        loop_threads.append(threading.get_ident())
        # Called directly from the coroutine, as a web handler would.
        return signsvc.sign_pdf(SAMPLE, tmp_path / "in-loop.pdf", key, reason="Ký số")

    result = asyncio.run(handler())
    assert result.status is SignStatus.SIGNED
    assert loop_threads == [threading.get_ident()]  # the loop ran in this thread
    signed = (tmp_path / "in-loop.pdf").read_bytes()
    document = signsvc.verify_pdf(tmp_path / "in-loop.pdf",
                                  trust=signsvc.TrustStore.from_paths(
                                      [PKI / "gov-root-g2.crt.pem"]),
                                  revocation="off")
    assert document.signatures[0].intact, document.signatures[0].reason
    assert len(signed) > SAMPLE.stat().st_size
    # No signer thread outlives the call.
    assert not [t for t in threading.enumerate() if t.name == "signsvc-pyhanko-loop"]


def test_sign_batch_inline_inside_a_running_event_loop(tmp_path: Path, key: Pkcs12Key) -> None:
    async def handler() -> list[signsvc.SignResult]:
        return signsvc.sign_batch([SAMPLE], tmp_path / "out", key, jobs=1)

    [result] = asyncio.run(handler())
    assert result.status is SignStatus.SIGNED, result.error
    assert (tmp_path / "out" / SAMPLE.name).exists()
