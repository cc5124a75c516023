"""``signsvc origins list|revoke``: the sites allowed to ask for signatures, and
forgetting one the official paired by mistake (the real command, its real files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from signsvc.service.gate import paired_origins, write_paired
from tests.support.paths import ROOT


def signsvc(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIGNSVC_SYSTEM_CONFIG_DIR": str(home / "etc"),
           "XDG_CONFIG_HOME": str(home / "config"), "SIGNSVC_LANG": "en"}
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def desk(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "service.toml").write_text(
        '[service]\nallowed_origins = ["https://eoffice.cantho.gov.vn"]\n')
    (tmp_path / "config" / "signsvc").mkdir(parents=True)
    write_paired(tmp_path / "config" / "signsvc" / "paired-origins.toml",
                 ["https://dichvucong.example.vn", "https://mot-trang.example"])
    return tmp_path


def test_list_shows_configured_and_paired_sites(tmp_path: Path) -> None:
    home = desk(tmp_path)
    done = signsvc(home, "origins", "list", "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert listed["configured"] == ["https://eoffice.cantho.gov.vn"]
    assert listed["paired"] == ["https://dichvucong.example.vn", "https://mot-trang.example"]
    assert listed["pairing"] is True
    text = signsvc(home, "origins", "list").stdout
    assert "https://eoffice.cantho.gov.vn  (configuration)" in text
    assert "signsvc origins revoke https://mot-trang.example" in text


def test_revoke_forgets_a_paired_site_and_nothing_else(tmp_path: Path) -> None:
    home = desk(tmp_path)
    paired = home / "config" / "signsvc" / "paired-origins.toml"
    done = signsvc(home, "origins", "revoke", "HTTPS://Mot-Trang.example:443")
    assert done.returncode == 0, done.stderr
    assert "https://mot-trang.example is no longer paired" in done.stdout
    assert paired_origins(paired) == ["https://dichvucong.example.vn"]
    again = signsvc(home, "origins", "revoke", "https://mot-trang.example")
    assert again.returncode == 2 and "is not paired" in again.stderr
    configured = signsvc(home, "origins", "revoke", "https://eoffice.cantho.gov.vn")
    assert configured.returncode == 2
    assert "allowed by the configuration" in configured.stderr
    assert str(home / "etc" / "service.toml") in configured.stderr
    assert paired_origins(paired) == ["https://dichvucong.example.vn"]
    for done in (again, configured):
        assert "Traceback" not in done.stderr
    bad = signsvc(home, "origins", "revoke", "mot-trang.example/x")
    assert bad.returncode == 2 and "is not an origin" in bad.stderr
