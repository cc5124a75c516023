"""Fixtures for the local signing service: the real ``signsvc serve`` as a non-root user.

Tests run as root, and the service refuses root. So :func:`start_service` starts it in
a user namespace where this process's uid 0 is uid 1000
(``unshare --user --map-user=1000 --map-group=1000``): inside, ``geteuid()`` is 1000
and ``/proc/net/tcp`` shows this process's sockets (and a root-launched chromium's) as
uid 1000, the service's own user, while a client run as ``nobody`` shows 65534, so the
peer check passes for the tests' clients and refuses ``nobody``'s.

The service signs with the session's SoftHSM token (``hsm``, tests/conftest.py).

Example::

    def test_x(start_service, files):
        running = start_service(service_toml(hsm, files.origin), confirm=approve,
                                pin_env="PIN", port=None)
        httpx.post(running.base_url + "/SignApproved", ...)
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from certs_test.softhsm import USER_PIN, SoftHSM
from tests.service.fileserver import FileServer
from tests.support.paths import PKI, ROOT
from tests.support.tokens import ANH

SIGNSVC = Path(sys.executable).parent / "signsvc"
"""The console script of the venv running the tests."""
SAMPLES = ROOT / "samples"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningService:
    """A ``signsvc serve`` process (see :func:`start_service`)."""

    process: subprocess.Popen[bytes]
    port: int
    config_path: Path
    """The ``--config`` file."""
    journal_path: Path
    """The signing journal (``SIGNSVC_AUDIT_DB``), where the audit tables are too."""
    home: Path
    """Its folder: ``config/`` is XDG_CONFIG_HOME, ``etc/`` the admin's."""
    stderr_path: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def stderr(self) -> str:
        """What it printed on standard error so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def service_toml(hsm: SoftHSM, origin: str, *, extra: str = "", cert_id: str = "01") -> str:
    """A configuration allowing ``origin``, signing with Ánh's key on the test token,
    every call configured (box placements: they fit any A4 page)."""
    images = PKI / "images"
    return f"""
[service]
allowed_origins = [{json.dumps(origin)}]

[token]
module = {json.dumps(str(hsm.module))}
label = {json.dumps(ANH)}
cert_id = "{cert_id}"

[appearance.approved]
signature_image = {json.dumps(str(images / "signature.png"))}
page = -1
box_mm = [110, 200, 70, 30]

[appearance.issued]
seal_image = {json.dumps(str(images / "seal.png"))}
seal_size_mm = 36
org_name = "UBND quận Ô Môn"
page = -1
box_mm = [110, 200, 70, 30]
number_box_mm = [30, 40, 60, 8]
date_box_mm = [110, 40, 80, 8]
place = "Cần Thơ"
force = true

[appearance.appendix]

[appearance.copy]
copy_form = "SAO Y"
org_name = "UBND quận Ô Môn"
{extra}
"""


def confirm_script(folder: Path, *, approve: bool = True) -> tuple[str, Path]:
    """A ``--confirm script:CMD`` that appends each question it gets (one JSON line)
    to a log and approves (exit 0) or denies (exit 1); (spec, log)."""
    log = folder / "consent.log"
    script = folder / ("approve.py" if approve else "deny.py")
    script.write_text(
        "import sys\n"
        f"open({str(log)!r}, 'a', encoding='utf-8').write(sys.stdin.read().strip() + '\\n')\n"
        f"sys.exit({0 if approve else 1})\n", encoding="utf-8")
    return f"script:{sys.executable} {script}", log


StartService = Callable[..., RunningService]


@pytest.fixture
def start_service(hsm: SoftHSM, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[StartService]:
    """Factory: ``start_service(config_text, *, confirm, pin_env, port, env=None)``
    starts ``signsvc serve --config <config_text> --confirm <confirm> [--pin-env VAR]``
    as uid 1000, on ``port`` (None: a free one), waits until the port answers, and
    stops it at the end of the test. ``pin_env`` names a variable set to the test
    token's PIN (unless ``env`` sets it). Languages: English (``SIGNSVC_LANG=en``)."""
    started: list[RunningService] = []

    def start(config_text: str, *, confirm: str, pin_env: str | None = None,
              port: int | None = None, env: dict[str, str] | None = None,
              args: tuple[str, ...] = ()) -> RunningService:
        home = tmp_path_factory.mktemp("service")
        for name in ("etc", "config", "data", "run"):
            (home / name).mkdir()
        config_path = home / "service.toml"
        config_path.write_text(config_text, encoding="utf-8")
        journal = home / "data" / "audit.sqlite3"
        chosen = port or free_port()
        environment = {**hsm.env, "SIGNSVC_SYSTEM_CONFIG_DIR": str(home / "etc"),
                       "XDG_CONFIG_HOME": str(home / "config"),
                       "XDG_DATA_HOME": str(home / "data"),
                       "XDG_RUNTIME_DIR": str(home / "run"),
                       "SIGNSVC_AUDIT_DB": str(journal), "SIGNSVC_LANG": "en",
                       "TMPDIR": str(home / "run")}
        environment.pop("DISPLAY", None)
        if pin_env is not None:
            environment[pin_env] = USER_PIN
        environment.update(env or {})
        command = ["unshare", "--user", "--map-user=1000", "--map-group=1000", "--",
                   str(SIGNSVC), "serve", "--port", str(chosen), "--config", str(config_path),
                   "--confirm", confirm, *(("--pin-env", pin_env) if pin_env else ()), *args]
        stderr_path = home / "stderr.txt"
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL,
                                       stderr=stderr, stdin=subprocess.DEVNULL)
        running = RunningService(process, chosen, config_path, journal, home, stderr_path)
        started.append(running)
        _wait_until_listening(running)
        return running

    yield start
    for running in started:
        running.stop()


def _wait_until_listening(running: RunningService) -> None:
    """Until 127.0.0.1:port accepts a connection; fails with the service's stderr if
    it exits first (a bad config) or never listens."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise AssertionError(f"signsvc serve exited {running.process.returncode}: "
                                 f"{running.stderr}")
        try:
            with socket.create_connection(("127.0.0.1", running.port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    running.stop()
    raise AssertionError(f"signsvc serve did not listen: {running.stderr}")


@pytest.fixture
def files() -> Iterator[FileServer]:
    """The e-office's document server on 127.0.0.1 (its origin is the caller's)."""
    with FileServer() as server:
        yield server


@pytest.fixture
def other_files() -> Iterator[FileServer]:
    """Another site's server: it must never receive a request."""
    with FileServer() as server:
        yield server


@pytest.fixture(scope="session")
def sample_pdf() -> bytes:
    """A real one-page decision (samples/quyet-dinh-123.pdf)."""
    return (SAMPLES / "quyet-dinh-123.pdf").read_bytes()
