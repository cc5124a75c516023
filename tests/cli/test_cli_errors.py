"""Every error reaches the user as one line naming the file and the reason, with the
exit code cli_common.ExitCode documents; a traceback only with -v (before or after
the subcommand). Each case ran into a traceback before (issue 12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from certs_test.services import TestServices
from tests.support.paths import PKI, ROOT

SAMPLE = ROOT / "samples" / "quyet-dinh-123.pdf"
LEAF = PKI / "official-rsa2048.crt.pem"
G2 = PKI / "gov-root-g2.crt.pem"


def signsvc(*args: str, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args],
                          env={**os.environ, "P12": "1234", **(env or {})},
                          capture_output=True, text=True, timeout=120, check=False)


def one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """The error line, after checking it is the only thing on stderr and no traceback."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    error = [line for line in lines if line.startswith(("signsvc: error:", "Error:"))]
    assert len(error) == 1, done.stderr
    for word in words:
        assert word in error[0], (word, error[0])
    return error[0]


def sign_with_pkcs12(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return signsvc("sign", str(SAMPLE), "--pkcs12", str(PKI / "official-rsa2048.p12"),
                   "--pin-env", "P12", "--journal", str(tmp_path / "audit.sqlite3"), *extra)


def test_out_folder_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    done = sign_with_pkcs12(tmp_path, "--out", str(tmp_path / "a-file" / "out"))
    assert done.returncode == 2
    one_line_error(done, str(tmp_path / "a-file" / "out"), "Not a directory")


def test_out_folder_under_proc(tmp_path: Path) -> None:
    done = sign_with_pkcs12(tmp_path, "--out", "/proc/signsvc-test/out")
    assert done.returncode == 2
    one_line_error(done, "/proc/signsvc-test/out", "cannot create the output folder")


def test_a_journal_that_is_not_a_database(tmp_path: Path) -> None:
    journal = tmp_path / "notes.txt"
    journal.write_text("ghi chú, không phải cơ sở dữ liệu\n" * 50)
    for command in (["sign", str(SAMPLE), "--pkcs12", str(PKI / "official-rsa2048.p12"),
                     "--pin-env", "P12", "--out", str(tmp_path / "out")], ["audit"]):
        done = signsvc(*command, "--journal", str(journal))
        assert done.returncode == 2, command
        one_line_error(done, str(journal), "not a signsvc audit journal")
    assert journal.read_text().startswith("ghi chú")  # never overwritten


@pytest.mark.parametrize("moment", ["0001-01-01", "9999-12-31T23:59:59-10:00"])
def test_dates_at_the_edge_of_the_calendar(moment: str) -> None:
    done = signsvc("chain", str(LEAF), "--trust", str(G2), "--at", moment)
    assert done.returncode == 2
    one_line_error(done, "--at", moment, "outside the range")


def test_a_broken_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[pkcs11]\nmodules = ["/usr/lib/x.so"\n')
    done = signsvc("tokens", env={"SIGNSVC_CONFIG": str(config), "SIGNSVC_PKCS11_MODULE": ""})
    assert done.returncode == 3
    one_line_error(done, str(config))


def test_a_chain_bundle_that_cannot_be_read(tmp_path: Path) -> None:
    folder = tmp_path / "certs"
    folder.mkdir()
    (folder / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    done = sign_with_pkcs12(tmp_path, "--out", str(tmp_path / "out"), "--chain",
                            str(folder / "broken.pem"))
    assert done.returncode == 2
    one_line_error(done, str(folder / "broken.pem"), "not a PEM or DER certificate")


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_before_or_after_the_subcommand_shows_the_traceback(
        tmp_path: Path, where: str) -> None:
    journal = tmp_path / "notes.txt"
    journal.write_text("not a database\n" * 50)
    args = ["audit", "--journal", str(journal)]
    done = signsvc(*(["-v", *args] if where == "before" else [*args, "-v"]))
    assert done.returncode == 2
    assert "Traceback" in done.stderr and "OutputError" in done.stderr
    assert done.stderr.rstrip().splitlines()[-1].startswith("signsvc: error:")


def test_fetch_is_the_old_name_of_online(services: TestServices) -> None:
    # The leaf alone: its issuing CA comes from the caIssuers URL only when fetching.
    offline = signsvc("chain", str(LEAF), "--trust", str(G2), "--json")
    assert offline.returncode == 1
    assert json.loads(offline.stdout)["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    for flag in ("--online", "--fetch"):
        done = signsvc("chain", str(LEAF), "--trust", str(G2), flag, "--json")
        assert done.returncode == 0, done.stdout
        assert json.loads(done.stdout)["valid"] is True
    assert "--fetch" not in signsvc("chain", "--help").stdout  # documented once, as --online
    assert "--online" in signsvc("verify", "--help").stdout


def test_trust_takes_folders_for_sign_too(tmp_path: Path) -> None:
    roots = tmp_path / "roots"
    roots.mkdir()
    (roots / "g2.pem").write_bytes(G2.read_bytes())
    done = sign_with_pkcs12(tmp_path, "--out", str(tmp_path / "out"), "--trust", str(roots),
                            "--json")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / SAMPLE.name).exists()


@pytest.mark.parametrize("named_by", ["--module", "environment", "config file"])
def test_a_module_that_fails_exits_the_same_however_it_was_named(
        tmp_path: Path, named_by: str) -> None:
    broken = tmp_path / "libvendor-token.so"
    broken.write_text("not a shared library")
    config = tmp_path / "config.toml"
    config.write_text(f'[pkcs11]\nmodules = ["{broken}"]\n')
    args: list[str] = []
    env = {"SIGNSVC_PKCS11_MODULE": "", "SIGNSVC_CONFIG": str(tmp_path / "none.toml")}
    if named_by == "--module":
        args = ["--module", str(broken)]
    elif named_by == "environment":
        env["SIGNSVC_PKCS11_MODULE"] = str(broken)
    else:
        env["SIGNSVC_CONFIG"] = str(config)
    listing = signsvc("tokens", *args, env=env)
    assert listing.returncode == 3
    assert f"cannot load PKCS#11 module {broken}" in listing.stdout
    signing = signsvc("sign", str(SAMPLE), "--out", str(tmp_path / "out"), "--pin-env",
                      "P12", "--journal", str(tmp_path / "audit.sqlite3"), *args, env=env)
    assert signing.returncode == 3
    one_line_error(signing, f"cannot load PKCS#11 module {broken}", "not a shared library")


def test_every_command_takes_verbose_and_says_its_exit_codes() -> None:
    import click

    import cli

    def commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
        found = []
        for name, command in group.commands.items():
            found.append((f"{prefix} {name}", command))
            if isinstance(command, click.Group):
                found += commands(command, f"{prefix} {name}")
        return found

    every = commands(cli.cli, "signsvc")
    assert len(every) >= 9
    for name, command in every:
        if isinstance(command, click.Group):
            continue
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert "-v" in options, name
    assert "Exit codes" in (cli.cli.help or "")


def test_an_unwritable_report_is_refused_before_the_batch(tmp_path: Path) -> None:
    done = signsvc("verify", str(SAMPLE), "--trust", str(G2), "--report",
                   "/proc/signsvc-test/report.html", "--store", str(tmp_path / "s.sqlite3"))
    assert done.returncode == 2
    one_line_error(done, "/proc/signsvc-test/report.html", "cannot write into")
    assert done.stdout == ""  # nothing was verified
    assert not (tmp_path / "s.sqlite3").exists()


def test_a_failed_document_is_one_line_naming_it_once(tmp_path: Path) -> None:
    broken = tmp_path / "hong.pdf"
    broken.write_bytes(b"%PDF-1.7\nnot really\n")
    done = sign_with_pkcs12(tmp_path, str(broken), "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    [failed] = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert failed.count(str(broken)) == 1, failed


def test_the_revocation_choices_are_the_library_modes() -> None:
    import cli
    from signsvc.pki import REVOCATION_MODES

    for name in ("chain", "verify"):
        [option] = [p for p in cli.cli.commands[name].params if p.name == "revocation"]
        assert tuple(option.type.choices) == REVOCATION_MODES, name  # type: ignore[attr-defined]


FINALIZER_INTERRUPT = """
import sys, time
sys.path.insert(0, sys.argv[1])
import click
from cli_common import run

class Pipe:
    def __del__(self):
        raise KeyboardInterrupt  # as a Ctrl-C landing in Connection.__del__

@click.command()
def work():
    Pipe()  # collected at once: the interrupt is raised inside __del__
    for _ in range(500):
        time.sleep(0.01)
    print("not interrupted")

run(work, [])
"""


def test_a_ctrl_c_inside_a_finalizer_stops_the_command_without_a_traceback() -> None:
    done = subprocess.run([sys.executable, "-c", FINALIZER_INTERRUPT, str(ROOT)],
                          capture_output=True, text=True, timeout=60, check=False)
    # Python would print "Exception ignored in ... Traceback" and go on, the Ctrl-C lost.
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert done.returncode == 130, done.stderr
    assert "not interrupted" not in done.stdout
    # One line, as for any Ctrl-C (click reports it as an abort).
    assert done.stderr.strip().splitlines() == ["signsvc: aborted"], done.stderr
