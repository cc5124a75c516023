"""SoftHSM2 tokens whose certificate must not sign: expired, not yet valid, and one
whose key usage is keyEncipherment only (certs_test/: ``expired``, ``not-yet-valid``,
``wrong-ku``), each with its key under CKA_ID 01 and the issuing CA under c1, imported
as a user would (see :mod:`tests.support.tokens`).

A SoftHSM configuration of their own, so the session's tokens
(``tests/support/tokens.py``) stay as the other tests know them; used by command-line
tests, which run in a fresh process with :attr:`SoftHSM.env`.

Example::

    hsm = build_problem_tokens(tmp_path)
    assert set(PROBLEM_TOKENS) == {"Hết hạn", "Chưa tới hạn", "Sai mục đích"}
"""

from __future__ import annotations

from pathlib import Path

from certs_test.softhsm import SoftHSM
from tests.support.paths import PKI

PROBLEM_TOKENS = {
    "Hết hạn": "expired",
    "Chưa tới hạn": "not-yet-valid",
    "Sai mục đích": "wrong-ku",
}
"""Token label -> the certs_test/ entity on it."""


def build_problem_tokens(directory: Path) -> SoftHSM:
    hsm = SoftHSM(directory)
    for label, name in PROBLEM_TOKENS.items():
        hsm.init_token(label)
        hsm.add_identity(label, name, id_hex="01", key_label="",
                         cert_label=f"{label}'s Ban Cơ yếu Chính phủ Certificate")
        hsm.import_cert(label, PKI / "gov-ca-g2.crt.der", id_hex="c1",
                        label="CA phục vụ các cơ quan Nhà nước G2")
    return hsm
