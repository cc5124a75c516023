"""``--trust-profile vn`` and ``signsvc trust list --profile vn``, end to end in a fresh
process, with the real Vietnamese certificates signsvc ships."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import cli_common
from signsvc.pki.trust import TRUST_PROFILES, trust_profile_file
from tests.support.cli import run
from tests.support.paths import PKI, ROOT

LICENSE_KEY_GENERATOR = ROOT / "tests/data/vn-ca/vgca-license-key-generator.cer"
"""A real end-entity certificate issued by the G1 government CA (a shipped intermediate)."""
G1_ROOT = "F7BC89054CEC7F12730D7B8CD3EB7955B163835087E5EB873EDFB584763B3F90"
G1_CA = "75E969C07BA35C29C72BBC1BFB880F20F3891A619B00B77EB02CA6160736A1FE"


def chain_json(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = run(tmp_path, "chain", str(LICENSE_KEY_GENERATOR), "--revocation", "off",
               "--at", "2020-01-01", *args, "--json")
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_trust_list_profile_vn_json(tmp_path: Path) -> None:
    done = run(tmp_path, "trust", "list", "--profile", "vn", "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert len(listed) == 73
    assert [e["role"] for e in listed].count("root") == 10
    by_fp = {e["fingerprint_sha256"]: e for e in listed}
    g2 = by_fp["F04BA4B459A7C9A1B971AD9B1CB833E695A80C79AEA63B174B66A70EDFE2FDB8"]
    assert g2["label"] == "RootCA chuyên dùng Chính phủ G2 (Ban Cơ yếu Chính phủ)"
    assert (g2["role"], g2["expired"], g2["not_after"]) == (
        "root", False, "2048-08-14T07:36:39+00:00")
    assert g2["source"] == ("nguyentvtk/eSign.Files@dd3c0b29847488d7fe4711122d9554c104b6919d:"
                            "server/trust/vgca/rootcag2.crt")
    viettel_2015 = by_fp["684CAF190176D13158808EF193B2D20575399A87FD9E8C5BEDC09065A184841A"]
    assert (viettel_2015["role"], viettel_2015["expired"]) == ("issuing CA", True)
    assert viettel_2015["issuer"].startswith("CN=MIC National Root CA,")
    assert {e["role"] for e in listed} == {
        "root", "issuing CA", "time-stamping CA", "time-stamping authority"}
    # The user trust folder is untouched and still listed without --profile.
    assert json.loads(run(tmp_path, "trust", "list", "--json").stdout) == []


def test_trust_list_profile_vn_text(tmp_path: Path) -> None:
    done = run(tmp_path, "trust", "list", "--profile", "vn")
    assert done.returncode == 0, done.stderr
    blocks = done.stdout.split("\n")
    first = blocks.index("Cơ quan chứng thực số Bộ Ngoại giao (Ban Cơ yếu Chính phủ)  "
                         "[issuing CA]")
    assert blocks[first + 2] == "  valid 2016-04-07 to 2029-12-15"
    viettel = blocks.index("Viettel-CA (Viettel Group)  [issuing CA]")
    assert blocks[viettel + 2] == "  valid 2015-10-02 to 2020-10-02 (expired)"
    assert "10 roots (trusted only with --trust-profile vn); 57 issuing and time-stamping " \
           "CAs" in done.stderr


def test_chain_with_trust_profile_vn_builds_through_a_shipped_ca(tmp_path: Path) -> None:
    code, result = chain_json(tmp_path, "--trust-profile", "vn", "--policy", "historical")
    assert code == 0, result["reason"]
    assert result["path"][:2] == [
        "CN=Co quan chung thuc so chuyen dung Chinh phu (RootCA),O=Ban Co yeu Chinh phu,C=VN",
        "CN=Co quan chung thuc so Chinh phu,O=Ban Co yeu Chinh phu,C=VN"]
    assert result["anchor"] == ("Co quan chung thuc so chuyen dung Chinh phu (RootCA) "
                                "(Ban Co yeu Chinh phu)")
    # --trust adds to the profile.
    code, both = chain_json(tmp_path, "--trust", str(PKI / "gov-root-g2.crt.pem"),
                            "--trust-profile", "vn", "--policy", "historical")
    assert code == 0 and both["path"] == result["path"]


def test_without_the_profile_the_shipped_ca_is_no_anchor(tmp_path: Path) -> None:
    code, result = chain_json(tmp_path, "--trust", str(PKI / "gov-root-g2.crt.pem"),
                              "--policy", "historical")
    assert code == 1
    assert result["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    no_trust = run(tmp_path, "chain", str(LICENSE_KEY_GENERATOR))
    assert no_trust.returncode == 2 and "no trust anchor" in no_trust.stderr


def test_trust_profile_is_offered_wherever_trust_is(tmp_path: Path) -> None:
    for command in ("chain", "verify", "sign"):
        done = run(tmp_path, command, "--help")
        assert done.returncode == 0, done.stderr
        assert "--trust-profile [vn]" in done.stdout, command
    bad = run(tmp_path, "verify", str(ROOT / "samples"), "--trust-profile", "eu")
    assert bad.returncode == 2 and "'eu' is not 'vn'" in bad.stderr


def test_verify_accepts_the_profile_as_its_only_trust(tmp_path: Path) -> None:
    # An unsigned sample: exit 1 (not TOTAL-PASSED) rather than 2 ("no trust anchor").
    done = run(tmp_path, "verify", str(ROOT / "samples" / "quyet-dinh-123.pdf"),
               "--trust-profile", "vn", "--store", str(tmp_path / "store.sqlite3"), "--json")
    assert done.returncode == 1, done.stderr
    line = json.loads(done.stdout.splitlines()[0])
    assert (line["status"], line["reason"]) == ("INDETERMINATE", "the document has no signature")


@pytest.mark.parametrize(("args", "expected"), [
    ((), ()),
    (("--trust", "a.pem"), ("a.pem",)),
    (("--trust-profile", "vn"), ("<vn>",)),
    (("--trust-profile", "vn", "--trust", "a.pem"), ("a.pem", "<vn>")),
])
def test_trust_option_hands_the_profile_file_to_the_command(
        tmp_path: Path, args: tuple[str, ...], expected: tuple[str, ...]) -> None:
    (tmp_path / "a.pem").write_text("")
    seen: list[tuple[Path, ...]] = []

    @click.command()
    @cli_common.trust_option()
    def command(trust_paths: tuple[Path, ...]) -> None:
        seen.append(trust_paths)

    argv = [str(tmp_path / a) if a.endswith(".pem") else a for a in args]
    result = CliRunner().invoke(command, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    shown = tuple("<vn>" if p == trust_profile_file("vn") else p.name for p in seen[0])
    assert shown == expected


def test_cli_profile_choices_match_the_library() -> None:
    assert cli_common.TRUST_PROFILES == TRUST_PROFILES
