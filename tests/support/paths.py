"""Where the repository and its committed test PKI are.

Importing this module also puts the repository on ``sys.path`` (as conftest did), so
``certs_test`` (the TEST-ONLY PKI, its SoftHSM helper and services) imports from any
test module, and from the virtual card's emulator process.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository."""
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PKI = ROOT / "certs_test"
"""The committed TEST-ONLY PKI: certificates, keys, CRLs, manifest.json."""
