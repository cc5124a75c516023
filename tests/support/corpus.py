"""A folder of documents as officials collect them, for the batch verification tests
(tests/verify/test_batch.py) and ``signsvc verify`` (tests/cli/test_cli_verify.py):
signed, tampered, unsigned, not-a-PDF and truncated, in nested sub-folders.

Example::

    files = make_corpus(tmp_path)             # name -> path
    assert files["signed"].parent == tmp_path
"""

from __future__ import annotations

import shutil
from pathlib import Path

import drivers
from signsvc.sign.pdf import sign_pdf
from tests.support import badpdfs
from tests.support.paths import PKI, ROOT


def signer() -> drivers.Pkcs12Key:
    return drivers.Pkcs12Key.load(PKI / "official-rsa2048.p12", "1234")


def make_corpus(directory: Path) -> dict[str, Path]:
    """Signed, tampered, unsigned, not-a-PDF and truncated documents, one sub-folder."""
    (directory / "nested" / "deeper").mkdir(parents=True)
    key = signer()
    files = {
        "signed": directory / "qd-123-signed.pdf",
        "signed2": directory / "nested" / "deeper" / "qd-125-signed.PDF",
        "appendix": directory / "nested" / "phu-luc-signed.pdf",
    }
    sign_pdf(ROOT / "samples" / "quyet-dinh-123.pdf", files["signed"], key)
    sign_pdf(ROOT / "samples" / "quyet-dinh-125-hai-trang.pdf", files["signed2"], key)
    sign_pdf(ROOT / "samples" / "phu-luc-123.pdf", files["appendix"], key)
    data = bytearray(files["signed"].read_bytes())
    data[len(data) // 3] ^= 0x01  # inside the first signed byte range
    files["tampered"] = directory / "qd-123-tampered.pdf"
    files["tampered"].write_bytes(bytes(data))
    files["unsigned"] = directory / "unsigned.pdf"
    shutil.copy(ROOT / "samples" / "quyet-dinh-124-placeholder.pdf", files["unsigned"])
    files["not_pdf"] = badpdfs.not_a_pdf(directory)
    files["truncated"] = badpdfs.truncated(directory, source=files["signed"])
    (directory / "notes.txt").write_text("not collected: not *.pdf")
    return files
