"""The suite's one rule for a missing system tool or package: skip on a developer
machine, fail in CI (``CI`` set), so that CI never goes green by skipping."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

from certs_test.softhsm import tools_missing

SPY = Path("/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so")
"""OpenSC's ``pkcs11-spy.so``: forwards to the module in ``PKCS11SPY`` and logs every
call (to ``PKCS11SPY_OUTPUT``), so the tests count C_Login calls."""


def skip_or_fail(message: str) -> NoReturn:
    """Skip the test with ``message``; in CI, fail it instead."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def need(*tools: str) -> None:
    """Skip when a tool is genuinely missing on a developer machine; fail in CI.

    Each tool is a command looked up on ``PATH``; ``"softhsm"`` stands for SoftHSM2's
    module and utilities (:func:`certs_test.softhsm.tools_missing`).
    """
    missing = [t for t in tools if shutil.which(t) is None]
    if "softhsm" in tools:
        missing = [m for m in missing if m != "softhsm"] + tools_missing()
    if missing:
        skip_or_fail(f"missing tools: {', '.join(missing)} (run scripts/setup.sh)")
