"""Helpers shared by the token-fault tests (tests/sign/test_token_recovery.py on
SoftHSM2, tests/sign/test_token_faults.py on the virtual PIV card): documents to sign, a
PIN callback that counts, the check that every output is complete and validates with
pyHanko, and the CLI run in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from drivers import TokenInfo
from signsvc._files import TEMP_SUFFIX
from tests.support.paths import ROOT
from tests.support.pdfcheck import pyhanko_validate
from tests.support.pdfs import write_one_page_pdf


def documents(directory: Path, count: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return [write_one_page_pdf(directory / f"qd-{n:02d}.pdf", f"Quyet dinh {n} - TEST ONLY")
            for n in range(count)]


def assert_outputs_sound(out: Path, names: list[str], common_name: str | None = None) -> None:
    """Exactly ``names`` are in ``out``, no temporary file, each one a complete PDF whose
    one signature pyHanko finds intact, valid and covering the whole file."""
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    assert not list(out.glob(f"*{TEMP_SUFFIX}"))
    for name in names:
        [status] = pyhanko_validate(out / name)
        assert status.intact and status.valid, status.summary
        assert status.coverage == "ENTIRE_FILE"
        if common_name is not None:
            assert status.signer_common_name == common_name


class PinCounter:
    """A PIN callback that records each time the batch asks again."""

    def __init__(self, pin: str) -> None:
        self.pin = pin
        self.asked: list[str] = []

    def __call__(self, info: TokenInfo) -> str:
        self.asked.append(info.label)
        return self.pin


def cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
