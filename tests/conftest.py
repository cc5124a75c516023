"""Shared fixtures: the test PKI and real SoftHSM2 tokens set up like a user's.

SoftHSM reads ``SOFTHSM2_CONF`` once, when the module is first initialised in a
process, and python-pkcs11 keeps modules loaded. So one session-wide SoftHSM
configuration holds every test token, and it is exported before anything loads the
module. Tests that need a fresh process (PIN counting, CLI) run ``signsvc`` in a
subprocess with :attr:`SoftHSM.env`.

Fixtures only: the constants and helpers tests share are in :mod:`tests.support`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from certs_test.services import TestServices
from certs_test.softhsm import USER_PIN, SoftHSM
from tests.support.paths import PKI
from tests.support.tokens import add_always_authenticate_key, build
from tests.support.tools import need

pytest_plugins = ["tests.support.virtual_card.fixtures"]


@pytest.fixture(scope="session")
def hsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHSM]:
    """The session's SoftHSM with every token of :data:`tests.support.tokens.TOKENS`
    (PIN ``123456``)."""
    need("softhsm", "softhsm2-util", "pkcs11-tool")
    hsm = build(tmp_path_factory.mktemp("softhsm"))
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
    add_always_authenticate_key(hsm)
    yield hsm
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture(scope="session")
def pin() -> str:
    return USER_PIN


@pytest.fixture(scope="session")
def pki() -> Path:
    return PKI


@pytest.fixture(scope="session")
def services() -> Iterator[TestServices]:
    """The test PKI's CRL, certificate, OCSP and TSA services, for the whole session.

    They listen on 127.0.0.1:18480, the port baked into every certificate's CDP and AIA
    URLs, so pyHanko finds them on its own. Tests that flip ``delay``/``fail_*`` restore
    them (use ``services.failing(...)``); compare ``hits`` after ``reset_hits()``.
    """
    with TestServices(PKI) as running:
        yield running


@pytest.fixture
def tsa_auth_services() -> Iterator[TestServices]:
    """A second instance on a free port whose TSA requires HTTP basic auth
    (``tsa_auth`` holds the credentials). Only its TSA URL is meaningful: certificates
    point at port 18480."""
    with TestServices(PKI, port=0, tsa_auth=("tsa-user", "tsa-pass-TEST-ONLY")) as running:
        yield running
