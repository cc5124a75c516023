"""The ``signsvc`` command in a fresh process, with a throw-away home and trust folder.

Example::

    done = run(tmp_path, "chain", "signer.pem", "--json")
    assert done.returncode == 0, done.stderr
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT

__all__ = ["run"]


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``signsvc ARGS`` with ``HOME`` and ``SIGNSVC_TRUST_DIR`` under ``tmp_path``."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "SIGNSVC_TRUST_DIR": str(tmp_path / "trust")}
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
