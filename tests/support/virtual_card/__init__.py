"""A virtual PIV smart card on the real PC/SC stack, for tests and benchmarks.

``python-pkcs11 -> opensc-pkcs11.so -> pcscd -> vsmartcard-vpcd -> TCP -> card.py``:
everything below python-pkcs11 is the real middleware an official's PC runs, so PIN
lockout, removal, slow and failing cards behave as they do with a USB token.

In pytest, use the ``pcsc`` and ``virtual_card`` fixtures (:mod:`.fixtures`).
Elsewhere::

    from tests.support.virtual_card import PcscStack, running_card

    with PcscStack() as stack, running_card(stack) as card:
        module = drivers.load_module(card.module_path)
        with module.open(serial=card.serial) as session:
            session.login(card.pin)
            signature = session.key(cert_id=b"\\x01").sign(b"data")

Modules: :mod:`.card` (the emulator process), :mod:`.pcsc` (pcscd and OpenSC's
configuration), :mod:`.control` (one card driven from the test process),
:mod:`.fixtures` (the pytest plugin). The card's keys are TEST keys from certs_test/.
"""

from tests.support.virtual_card._piv import (
    ATR,
    DEFAULT_PIN,
    DEFAULT_TRIES,
    KEY_PIV_AUTH,
    KEY_SIGNATURE,
)
from tests.support.virtual_card.control import VirtualCard, opensc_token_label, running_card
from tests.support.virtual_card.pcsc import OPENSC_MODULE, PcscStack, missing

__all__ = [
    "ATR",
    "DEFAULT_PIN",
    "DEFAULT_TRIES",
    "KEY_PIV_AUTH",
    "KEY_SIGNATURE",
    "OPENSC_MODULE",
    "PcscStack",
    "VirtualCard",
    "missing",
    "opensc_token_label",
    "running_card",
]
