"""Fuzzing the service: hypothesis over WebSocket messages (in process, through
starlette's TestClient), schemathesis over the HTTP calls of the real ``signsvc serve``
from the OpenAPI document it serves."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance
from starlette.testclient import TestClient

from certs_test.softhsm import SoftHSM
from signsvc.service.app import make_app
from signsvc.service.audit import ServiceAudit
from signsvc.service.config import ServiceConfig
from signsvc.service.consent import make_confirmer
from signsvc.service.openapi import openapi_document
from signsvc.service.schema import VGCA_KEYS
from tests.service.conftest import RunningService, StartService, confirm_script, service_toml
from tests.service.fileserver import FileServer

ORIGIN = "https://eoffice.gov.vn"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app in process. There is no socket: the peer is this process's user. No
    name resolves, so no request leaves it; the official always says no."""
    folder = tmp_path_factory.mktemp("fuzz")
    config = ServiceConfig(allowed_origins=frozenset({ORIGIN}),
                           paired_file=folder / "paired.toml")
    audit = ServiceAudit(folder / "audit.sqlite3")
    app = make_app(config, make_confirmer("script:false"), audit=audit,
                   peer_lookup=lambda peer, server: os.geteuid(),
                   resolver=lambda host, port: [])
    # Not entered as a context manager: the app has no lifespan to run.
    yield TestClient(app, base_url="http://127.0.0.1:8987")
    audit.close()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=16)
_URLS = st.sampled_from([ORIGIN + "/vb/1.pdf", "https://evil.example/a.pdf",
                         "file:///etc/passwd", ORIGIN + "/a.pdf;" + ORIGIN + "/b.pdf",
                         "http://2130706433/", "", "https://eoffice.gov.vn:0/x"])
_REQUESTS = st.fixed_dictionaries({}, optional={
    **{key: _JSON for key in VGCA_KEYS},
    "FileName": _URLS | st.lists(_URLS, max_size=60),
    "FileUploadHandler": _URLS,
    "IssuedDate": st.sampled_from(["05/01/2027", "2027-01-05", "31/02/2027", "x"]),
    "MetaData": st.lists(st.fixed_dictionaries({"Key": st.text(max_size=8),
                                                "Value": _JSON}), max_size=3),
    "PIN": st.text(max_size=4), "Extra": _JSON})
_MESSAGES = st.one_of(st.text(max_size=200), _JSON.map(json.dumps), _REQUESTS.map(json.dumps))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(call=st.sampled_from(["SignApproved", "SignIssued", "SignAppendix", "SignCopy",
                             "SignPDF"]), message=_MESSAGES)
def test_every_websocket_message_gets_one_well_formed_reply(
        client: TestClient, call: str, message: str) -> None:
    with client.websocket_connect(f"ws://127.0.0.1:8987/{call}",
                                  headers={"origin": ORIGIN}) as ws:
        ws.send_text(message)
        reply: Any = json.loads(ws.receive_text())
    assert isinstance(reply, dict)
    assert isinstance(reply["Status"], int) and reply["Status"] != 0
    assert isinstance(reply["Message"], str) and reply["Message"]
    assert not any("Traceback" in str(v) or "/tmp" in str(v) for v in reply.values())


def test_the_served_openapi_document_is_the_one_fuzzed(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == openapi_document()
    assert client.get("/openapi.json", headers={"host": "attacker.example"}).status_code == 400


SCHEMA = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture
def served(start_service: StartService, hsm: SoftHSM, files: FileServer,
           tmp_path: Path) -> RunningService:
    confirm, _log = confirm_script(tmp_path, approve=False)
    running = start_service(service_toml(hsm, files.origin), confirm=confirm,
                            pin_env="SIGNSVC_TEST_PIN", port=None)
    # The document schemathesis reads is the one the service serves.
    assert httpx.get(running.base_url + "/openapi.json").json() == openapi_document()
    return running


@SCHEMA.parametrize()
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_http_calls_conform_to_their_openapi_document(
        case: Any, served: RunningService, files: FileServer) -> None:
    # Not positive_data_acceptance: what the schema cannot say is refused with 400 after
    # it (a 31 February; a DocNumber an appendix needs; a URL that is no URL), and that is
    # a correct answer to a request the official could not sign.
    case.call_and_validate(base_url=served.base_url,
                           headers={"Origin": files.origin, "X-Signsvc-Request": "1"},
                           excluded_checks=[positive_data_acceptance])


def test_the_plugin_script_is_served_with_vgcas_functions(client: TestClient) -> None:
    response = client.get("/signsvc-plugin.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["x-content-type-options"] == "nosniff"
    for name in ("vgca_sign_approved", "vgca_sign_issued", "vgca_sign_appendix",
                 "vgca_sign_copy", "SIGNSVC_URL", "data-port", "ws://127.0.0.1:"):
        assert name in response.text
    assert client.post("/signsvc-plugin.js").status_code == 405
