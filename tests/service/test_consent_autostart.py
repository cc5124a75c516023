"""The systemd user unit and the XDG autostart file shipped in the package: they
parse strictly, systemd itself finds nothing to warn about, and they run
``signsvc serve`` with write access exactly where the service writes."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from signsvc.service.config import paired_origins_file
from signsvc.sign._batchlock import default_lock_folder
from signsvc.sign.journal import default_journal_path

_DATA = resources.files("signsvc.service") / "data"
UNIT = _DATA / "signsvc.service"
DESKTOP = _DATA / "signsvc-autostart.desktop"


def parse(text: str, *, key: str) -> dict[str, dict[str, str]]:
    """Sections of an INI-like file (systemd unit or desktop entry), refusing what
    either format would ignore or misread: text outside a section, a line that is
    not ``[Section]`` or ``Key=Value``, a repeated section or key."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith(("#", ";")):
            continue
        if header := re.fullmatch(r"\[([^\[\]]+)\]", line):
            assert header[1] not in sections, f"line {number}: [{header[1]}] again"
            current = sections[header[1]] = {}
            continue
        pair = re.fullmatch(rf"({key})=(.*)", line)
        assert pair and current is not None, f"line {number}: {line!r}"
        assert pair[1] not in current, f"line {number}: {pair[1]} again"
        current[pair[1]] = pair[2]
    return sections


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A user with the XDG defaults (what %h/... in the unit stands for)."""
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "SIGNSVC_AUDIT_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    return tmp_path


def test_the_unit_runs_serve_sandboxed_but_writing_where_the_service_writes(
        home: Path) -> None:
    unit = parse(UNIT.read_text(encoding="utf-8"), key=r"[A-Z][A-Za-z]*")
    assert sorted(unit) == ["Install", "Service", "Unit"]
    service = unit["Service"]
    assert service["ExecStart"].split()[-2:] == ["signsvc", "serve"]
    assert {k: service[k] for k in ("NoNewPrivileges", "ProtectSystem", "PrivateTmp")} == {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes"}
    assert service["RestrictAddressFamilies"].split()[:3] == ["AF_UNIX", "AF_INET", "AF_INET6"]

    def in_unit(path: Path) -> str:
        return "%h/" + str(path.relative_to(home))

    # The journal and the paired origins, under the same defaults the code uses.
    writable = service["ReadWritePaths"].split()
    assert in_unit(default_journal_path().parent) in writable
    assert in_unit(paired_origins_file().parent) in writable
    assert service["ExecStartPre"].split()[-2:] == writable
    # The batch locks `signsvc sign` shares, in the runtime folder, kept at stop.
    assert default_lock_folder() == home / "run" / service["RuntimeDirectory"]
    assert service["RuntimeDirectoryPreserve"] == "yes"
    assert unit["Install"] == {"WantedBy": "graphical-session.target"}


def verify(unit: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify --user`` of ``unit`` (as signsvc.service), offline: a
    user manager needs only a runtime folder to load it."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    path = tmp_path / "signsvc.service"
    path.write_text(unit, encoding="utf-8")
    return subprocess.run(["systemd-analyze", "verify", "--user", str(path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                               "XDG_RUNTIME_DIR": str(runtime)})


def test_systemd_finds_nothing_to_warn_about_in_the_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd here: the strict parse above is the check")
    done = verify(UNIT.read_text(encoding="utf-8"), tmp_path)
    # verify exits 0 on unknown keys and bad values too: only its silence is a pass.
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_systemd_would_report_a_broken_unit(tmp_path: Path) -> None:
    # The check above can fail: the same unit with one typo is reported.
    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd here")
    done = verify(UNIT.read_text(encoding="utf-8").replace(
        "ProtectSystem=strict", "ProtectSystem=strikt"), tmp_path)
    assert "signsvc.service:" in done.stderr and "strikt" in done.stderr


_DESKTOP_KEYS = {"Type", "Version", "Name", "GenericName", "Comment", "TryExec", "Exec",
                 "Terminal", "NoDisplay", "Icon", "Hidden", "OnlyShowIn", "NotShowIn"}
"""Keys the Desktop Entry Specification 1.5 defines that an autostart entry may use."""


def test_the_autostart_entry_is_a_valid_desktop_entry() -> None:
    entry = parse(DESKTOP.read_text(encoding="utf-8"),
                  key=r"[A-Za-z0-9-]+(?:\[[a-z]{2}(?:_[A-Z]{2})?\])?")
    assert list(entry) == ["Desktop Entry"]
    keys = entry["Desktop Entry"]
    for name in keys:
        base = name.split("[")[0]
        assert base in _DESKTOP_KEYS or base.startswith("X-"), name
    assert keys["Type"] == "Application"
    assert keys["Exec"] == "signsvc serve"
    assert keys["TryExec"] == keys["Exec"].split()[0]
    assert {keys["Terminal"], keys["NoDisplay"]} <= {"true", "false"}
    assert keys["Name[vi]"] and keys["Comment[vi]"]
