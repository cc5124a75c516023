"""pytest plugin: the ``pcsc`` and ``virtual_card`` fixtures.

Registered by ``pytest_plugins = ["tests.support.virtual_card.fixtures"]`` in
tests/conftest.py.

* ``pcsc`` (session): pcscd with vpcd running and OpenSC configured; stopped at the
  end of the session.
* ``virtual_card`` (function): a fresh card (PIN 123456, 3 tries, counters at 0, no
  faults) in the reader and visible to PKCS#11; removed and stopped at teardown, and
  the reader is empty again before the next test gets its card.

``OPENSC_CONF`` is exported in ``pytest_configure``, before any test module can load
``opensc-pkcs11.so``: OpenSC reads it once, in ``C_Initialize``, and python-pkcs11
keeps the module loaded for the whole process. Subprocesses get it from
``VirtualCard.env``.

Set ``SIGNSVC_VCARD_DEBUG=1`` to keep pcscd's APDU log and each card's APDU trace
(their directories are printed at teardown).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from tests.support.tools import need
from tests.support.virtual_card.control import VirtualCard, running_card
from tests.support.virtual_card.pcsc import PcscStack, missing

__all__ = ["pcsc", "virtual_card"]

_DEBUG = os.environ.get("SIGNSVC_VCARD_DEBUG", "") not in ("", "0")
_stack: PcscStack | None = None
_previous_conf: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _stack, _previous_conf
    if _stack is not None:
        return
    _previous_conf = os.environ.get("OPENSC_CONF")
    _stack = PcscStack(debug=_DEBUG)
    _stack.export_opensc_conf()


def pytest_unconfigure(config: pytest.Config) -> None:
    global _stack
    if _stack is None:
        return
    _stack.stop()
    _stack = None
    if _previous_conf is None:
        os.environ.pop("OPENSC_CONF", None)
    else:
        os.environ["OPENSC_CONF"] = _previous_conf


@pytest.fixture(scope="session")
def pcsc() -> Iterator[PcscStack]:
    """pcscd + vpcd running and ``OPENSC_CONF`` exported; stopped at session end."""
    need(*missing())  # the suite's skip-locally, fail-in-CI rule
    assert _stack is not None, "tests.support.virtual_card.fixtures was not configured"
    _stack.start()
    try:
        yield _stack
    finally:
        _stack.stop()
        if _DEBUG:
            print(f"\nvirtual card: pcscd log in {_stack.log_path}", file=sys.stderr)


@pytest.fixture
def virtual_card(pcsc: PcscStack) -> Iterator[VirtualCard]:
    """A fresh virtual PIV card, inserted and visible to PKCS#11."""
    with running_card(pcsc, trace=_DEBUG, keep_workdir=_DEBUG) as card:
        yield card
    if _DEBUG:
        print(f"\nvirtual card: log and state in {card.workdir}", file=sys.stderr)
