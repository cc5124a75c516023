"""Forged clients against the real ``signsvc serve`` (httpx, websockets, another user):
each refused at the gate, before a WebSocket is accepted, and nothing fetched."""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from certs_test.softhsm import SoftHSM
from tests.service.conftest import (
    SIGNSVC,
    RunningService,
    StartService,
    confirm_script,
    service_toml,
)
from tests.service.fileserver import FileServer

HEADERS = {"Content-Type": "application/json", "X-Signsvc-Request": "1"}


@pytest.fixture
def running(start_service: StartService, hsm: SoftHSM, files: FileServer,
            tmp_path: Path) -> RunningService:
    confirm, _log = confirm_script(tmp_path, approve=False)
    return start_service(service_toml(hsm, files.origin), confirm=confirm,
                         pin_env="SIGNSVC_TEST_PIN", port=None)


def _request(files: FileServer, url: str | None = None) -> dict[str, object]:
    return {"FileName": url or files.add("/a.pdf", b"%PDF-1.7\n"),
            "FileUploadHandler": files.origin + "/upload"}


def _decisions(running: RunningService) -> list[str]:
    with sqlite3.connect(running.journal_path) as db:
        return [r[0] for r in db.execute("SELECT decision FROM service_requests ORDER BY id")]


def _handshake_status(url: str, headers: dict[str, str]) -> int:
    """The HTTP status that refused the handshake (the socket never opened)."""
    with pytest.raises(InvalidStatus) as refused, connect(url, additional_headers=headers):
        pass
    return refused.value.response.status_code


def _raw_handshake(port: int, headers: dict[str, str]) -> int:
    """A WebSocket handshake with exactly these headers (the websockets client adds
    its own Host); the status of the answer (101 would be an accepted socket)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/SignApproved", headers={
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", **headers})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("host", ["attacker.example", "127.0.0.1.nip.io", "rebind.test:8987"])
def test_a_foreign_host_gets_400(running: RunningService, files: FileServer,
                                 host: str) -> None:
    response = httpx.post(running.base_url + "/SignApproved", headers={
        **HEADERS, "Origin": files.origin, "Host": host}, json=_request(files))
    assert response.status_code == 400
    assert response.json()["Status"] != 0
    assert "access-control-allow-origin" not in response.headers
    assert _raw_handshake(running.port, {"Origin": files.origin, "Host": host}) == 400
    assert files.log == []
    assert _decisions(running) == ["refused-host", "refused-host"]


@pytest.mark.parametrize("origin", ["https://evil.example", "null", None,
                                    "http://127.0.0.1", "http://localhost:{port}"])
def test_a_wrong_or_missing_origin_gets_403_before_accept(
        running: RunningService, files: FileServer, origin: str | None) -> None:
    headers = {} if origin is None else {"Origin": origin.format(port=files.port)}
    assert _handshake_status(running.ws_url + "/SignApproved", headers) == 403
    response = httpx.post(running.base_url + "/SignApproved", headers={**HEADERS, **headers},
                          json=_request(files))
    assert response.status_code == 403 and response.json()["Status"] != 0
    assert "access-control-allow-origin" not in response.headers
    assert files.log == []


def test_http_calls_need_json_and_the_custom_header(running: RunningService,
                                                    files: FileServer) -> None:
    form = httpx.post(running.base_url + "/SignApproved", headers={
        "Origin": files.origin, "X-Signsvc-Request": "1"}, data={"FileName": "x"})
    assert form.status_code == 415
    plain = httpx.post(running.base_url + "/SignApproved", headers={
        "Origin": files.origin, "X-Signsvc-Request": "1", "Content-Type": "text/plain"},
        content=json.dumps(_request(files)))
    assert plain.status_code == 415
    bare = httpx.post(running.base_url + "/SignApproved", headers={
        "Origin": files.origin, "Content-Type": "application/json"}, json=_request(files))
    assert bare.status_code == 403
    # Refused, but the allowed page may read why.
    assert bare.headers["access-control-allow-origin"] == files.origin
    assert files.log == []


def test_cors_preflight_only_for_the_allowed_origin(running: RunningService,
                                                    files: FileServer) -> None:
    asked = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type, x-signsvc-request",
             "Access-Control-Request-Private-Network": "true"}
    good = httpx.options(running.base_url + "/SignApproved",
                         headers={**asked, "Origin": files.origin})
    assert good.status_code == 204
    assert good.headers["access-control-allow-origin"] == files.origin
    assert good.headers["vary"] == "Origin"
    assert "x-signsvc-request" in good.headers["access-control-allow-headers"]
    assert not [h for h in good.headers if "private-network" in h]
    bad = httpx.options(running.base_url + "/SignApproved",
                        headers={**asked, "Origin": "https://evil.example"})
    assert bad.status_code == 403
    assert "access-control-allow-origin" not in bad.headers


def test_another_local_user_is_refused(running: RunningService, files: FileServer) -> None:
    """A client run as ``nobody`` (uid 65534 in /proc/net/tcp) with every header right."""
    client = (
        "import http.client, json, sys\n"
        f"c = http.client.HTTPConnection('127.0.0.1', {running.port}, timeout=30)\n"
        "c.request('POST', '/SignApproved', body=json.dumps({'FileName': sys.argv[2], "
        "'FileUploadHandler': sys.argv[1] + '/up'}), headers={'Origin': sys.argv[1], "
        "'Content-Type': 'application/json', 'X-Signsvc-Request': '1'})\n"
        "r = c.getresponse(); print(r.status, r.read().decode())\n")
    done = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", client,
                           files.origin, files.add("/a.pdf", b"%PDF-")],
                          capture_output=True, text=True, timeout=60, check=True)
    status, _, body = done.stdout.partition(" ")
    assert status == "403", done.stdout + done.stderr
    assert "another user" in json.loads(body)["Message"]
    assert files.log == []
    assert _decisions(running) == ["refused-peer"]


def test_a_hostile_file_name_makes_no_request_anywhere(
        running: RunningService, files: FileServer, other_files: FileServer) -> None:
    hostile = other_files.add("/steal.pdf", b"%PDF-1.7\n")
    for request in ({"FileName": [files.add("/a.pdf", b"%PDF-"), hostile],
                     "FileUploadHandler": files.origin + "/up"},
                    {"FileName": files.add("/a.pdf", b"%PDF-"),
                     "FileUploadHandler": other_files.origin + "/up"}):
        with connect(running.ws_url + "/SignApproved",
                     additional_headers={"Origin": files.origin}) as ws:
            ws.send(json.dumps(request))
            reply = json.loads(ws.recv())
        assert reply["Status"] != 0
        assert other_files.origin in reply["Message"]
    assert other_files.log == []
    assert files.log == []  # checked before the first request
    assert _decisions(running) == ["refused-url", "refused-url"]


def test_a_redirect_is_not_followed(running: RunningService, files: FileServer,
                                    other_files: FileServer) -> None:
    files.redirects["/moved.pdf"] = other_files.add("/a.pdf", b"%PDF-1.7\n")
    reply = httpx.post(running.base_url + "/SignApproved", headers={
        **HEADERS, "Origin": files.origin},
        json=_request(files, files.origin + "/moved.pdf")).json()
    assert reply["Status"] != 0 and "redirect" in reply["Message"]
    assert other_files.log == []


@pytest.mark.parametrize("call", ["SignPDF", "SignHash", "GetCertInfo", "SignFile", "Config"])
def test_calls_without_a_counterpart_are_unsupported(running: RunningService,
                                                     files: FileServer, call: str) -> None:
    with connect(running.ws_url + f"/{call}",
                 additional_headers={"Origin": files.origin}) as ws:
        ws.send(json.dumps(_request(files)))
        reply = json.loads(ws.recv())
    assert reply["Status"] != 0 and reply["Message"] == "unsupported"
    # ... after the gate: a foreign origin is refused first.
    assert _handshake_status(running.ws_url + f"/{call}", {"Origin": "https://evil.example"}
                             ) == 403


def test_a_second_batch_while_one_waits_is_busy(
        start_service: StartService, hsm: SoftHSM, files: FileServer, sample_pdf: bytes,
        tmp_path: Path) -> None:
    go = tmp_path / "go"
    waiting = tmp_path / "waiting"
    script = tmp_path / "slow.py"
    script.write_text("import os, sys, time\nsys.stdin.read()\n"
                      f"open({str(waiting)!r}, 'w').close()\n"
                      f"while not os.path.exists({str(go)!r}): time.sleep(0.05)\n"
                      "sys.exit(1)\n")
    running = start_service(service_toml(hsm, files.origin),
                            confirm=f"script:{sys.executable} {script}",
                            pin_env="SIGNSVC_TEST_PIN", port=None)
    url = files.add("/a.pdf", sample_pdf)
    with connect(running.ws_url + "/SignApproved",
                 additional_headers={"Origin": files.origin}) as first:
        first.send(json.dumps(_request(files, url)))
        _wait_for(waiting)
        second = httpx.post(running.base_url + "/SignApproved", headers={
            **HEADERS, "Origin": files.origin}, json=_request(files, url))
        assert second.status_code == 409
        assert second.json()["Message"].startswith("busy")
        go.touch()
        assert json.loads(first.recv())["Message"] == "denied by the user"


def test_an_unknown_origin_is_paired_through_the_confirmation(
        start_service: StartService, hsm: SoftHSM, files: FileServer, tmp_path: Path) -> None:
    confirm, log = confirm_script(tmp_path, approve=True)
    running = start_service(service_toml(hsm, "https://other.example"), confirm=confirm,
                            pin_env="SIGNSVC_TEST_PIN", port=None)
    assert _handshake_status(running.ws_url + "/SignPDF", {"Origin": files.origin}) == 403
    paired = running.home / "config" / "signsvc" / "paired-origins.toml"
    _wait_for(paired)
    assert json.loads(log.read_text().splitlines()[0]) == {"kind": "pair",
                                                           "origin": files.origin}
    assert files.origin in paired.read_text()
    with connect(running.ws_url + "/SignPDF", additional_headers={"Origin": files.origin}) as ws:
        ws.send(json.dumps(_request(files)))
        assert json.loads(ws.recv())["Message"] == "unsupported"
    assert "paired" in _decisions(running)
    assert _decisions(running)[:2] == ["pair-asked", "refused-origin"]


def test_with_pairing_off_an_unknown_origin_is_refused_without_a_question(
        start_service: StartService, hsm: SoftHSM, files: FileServer, tmp_path: Path) -> None:
    confirm, log = confirm_script(tmp_path, approve=True)
    config = service_toml(hsm, "https://other.example").replace(
        "[service]\n", "[service]\npairing = false\n", 1)
    assert "pairing = false" in config
    running = start_service(config, confirm=confirm, pin_env="SIGNSVC_TEST_PIN", port=None)
    assert _handshake_status(running.ws_url + "/SignPDF", {"Origin": files.origin}) == 403
    # A later request from the allowed origin is answered after the refused one was
    # handled (one process, in order): had a question been started, it would be logged.
    with connect(running.ws_url + "/SignPDF",
                 additional_headers={"Origin": "https://other.example"}) as ws:
        ws.send(json.dumps(_request(files)))
        assert json.loads(ws.recv())["Message"] == "unsupported"
    assert not log.exists()
    # With pairing on, "pair-asked" is recorded before the refusal (see the test above).
    assert _decisions(running)[:1] == ["refused-origin"]
    assert not {"pair-asked", "paired", "pair-refused"} & set(_decisions(running))
    assert not (running.home / "config" / "signsvc" / "paired-origins.toml").exists()


def _wait_for(path: Path) -> None:
    """Until ``path`` exists (a state the service reaches, not a time)."""
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_serve_refuses_to_run_as_root(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "the tests run as root"
    done = subprocess.run([str(SIGNSVC), "serve", "--port", "1", "--confirm", "script:true"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SIGNSVC_LANG": "en"})
    assert done.returncode == 2
    assert "must not run as root" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_configuration_stops_the_service_naming_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "service.toml"
    config.write_text('[service]\nallowed_origins = ["https://a.gov.vn/x"]\n')
    done = subprocess.run(
        ["unshare", "--user", "--map-user=1000", "--map-group=1000", "--", str(SIGNSVC),
         "serve", "--config", str(config), "--confirm", "script:true"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SIGNSVC_LANG": "en",
             "SIGNSVC_SYSTEM_CONFIG_DIR": str(tmp_path / "etc"),
             "XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert done.returncode == 2
    assert f"{config}: service.allowed_origins: " in done.stderr
    assert "Traceback" not in done.stderr
