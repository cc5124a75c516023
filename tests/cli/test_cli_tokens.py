"""``signsvc tokens`` end to end, in a fresh process, on real SoftHSM2 tokens.

PIN attempts are counted by OpenSC's ``pkcs11-spy.so``, a real PKCS#11 module that
forwards to SoftHSM and logs every call: the proof that one PIN given is one C_Login.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from certs_test.softhsm import SoftHSM
from tests.support.modules import (
    module_missing_a_dependency,
    register_with_p11kit,
    thirty_two_bit_module,
)
from tests.support.paths import PKI, ROOT
from tests.support.tokens import ALWAYS_AUTH, ANH, TOKENS, TWIN_LABEL, VIETTEL
from tests.support.tools import SPY

MANIFEST = json.loads((PKI / "manifest.json").read_text(encoding="utf-8"))


def _serials() -> dict[str, str]:
    return {e["name"]: e["serial"] for e in MANIFEST["entities"]}


def run(hsm: SoftHSM, *args: str, stdin: str | None = None,
        extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**hsm.env, **(extra_env or {})}
    env.pop("SIGNSVC_PKCS11_MODULE", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args],
        env=env, input=stdin if stdin is not None else "", capture_output=True, text=True,
        timeout=60, check=False,
    )


def tokens_json(hsm: SoftHSM, *args: str, **kw: Any) -> dict[str, Any]:
    done = run(hsm, "tokens", "--module", str(hsm.module), "--json", *args, **kw)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_json_lists_every_token_and_pairs_every_key(hsm: SoftHSM) -> None:
    report = tokens_json(hsm)
    (module,) = report["modules"]
    assert module["path"] == str(hsm.module)
    assert module["vendor"] == "SoftHSM2"
    assert module["error"] is None
    labels = sorted(t["label"] for t in module["tokens"])
    assert labels == sorted([*TOKENS, TWIN_LABEL, TWIN_LABEL, ALWAYS_AUTH])

    serials = _serials()
    for token in module["tokens"]:
        assert set(token) >= {"label", "serial", "manufacturer", "model", "flags",
                              "certificates"}
        assert token["flags"] == {"login_required": True, "protected_auth_path": False,
                                  "pin_count_low": token["flags"]["pin_count_low"],
                                  "pin_final_try": False, "pin_locked": False}
        if token["label"] == ALWAYS_AUTH:
            # Its key was created without a public-key object: nothing shows the pair
            # before login, and the listing must not claim one.
            assert [(c["id"], c["has_private_key"]) for c in token["certificates"]] == [
                ("09", False)]
            continue
        expected = {i.cert_id: i for i in TOKENS.get(token["label"], []) if i.cert_id}
        assert {c["id"] for c in token["certificates"]} == set(expected)
        for cert in token["certificates"]:
            ident = expected[cert["id"]]
            assert cert["label"] == ident.cert_label
            assert cert["serial"] == serials[ident.name]
            # Before login a pair shows through its public-key object.
            assert cert["has_private_key"] is (ident.key_id is not None), cert


def test_json_certificate_fields(hsm: SoftHSM) -> None:
    report = tokens_json(hsm)
    token = next(t for t in report["modules"][0]["tokens"] if t["label"] == VIETTEL)
    cert = next(c for c in token["certificates"] if c["id"] == "a1")
    assert cert["common_name"] == "TRẦN NGỌC TÚ"
    assert cert["subject"].startswith("CN=TRẦN NGỌC TÚ,")
    assert "CN=TEST ONLY Viettel-CA SHA2" in cert["issuer"]
    assert cert["not_before"] == "2025-01-01T00:00:00Z"
    assert cert["not_after"] == "2045-12-31T23:59:59Z"
    assert (cert["key_type"], cert["key_size"]) == ("RSA", 2048)
    assert cert["key_usage"] == ["digitalSignature", "nonRepudiation"]


def test_login_shows_private_keys_and_orphans(hsm: SoftHSM) -> None:
    report = tokens_json(hsm, "--token", ANH, "--pin-env", "PIN", "--login",
                         extra_env={"PIN": "123456"})
    (token,) = report["modules"][0]["tokens"]
    assert token["logged_in"] is True
    matches = {c["id"]: c["key_match"] for c in token["certificates"]}
    assert matches == {"01": "id", "02": "id", "bb": "public-key", "0e": None, "c1": None}
    assert [k["id"] for k in token["orphan_keys"]] == ["0f"]


def _spy_logins(hsm: SoftHSM, tmp_path: Path, *args: str,
                pin: str) -> tuple[subprocess.CompletedProcess[str], int]:
    if not SPY.is_file():
        pytest.fail(f"{SPY} missing (opensc-pkcs11 package)")
    log = tmp_path / "spy.log"
    done = run(hsm, "tokens", "--module", str(SPY), *args, "--pin-env", "PIN",
               extra_env={"PKCS11SPY": str(hsm.module), "PKCS11SPY_OUTPUT": str(log),
                          "PIN": pin})
    calls = log.read_text(encoding="utf-8", errors="replace").count(": C_Login\n")
    return done, calls


def test_test_sign_logs_in_exactly_once(hsm: SoftHSM, tmp_path: Path) -> None:
    done, logins = _spy_logins(hsm, tmp_path, "--token", ANH, "--cert-id", "01",
                               "--test-sign", "--json", pin="123456")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["verified"] is True
    assert result["certificate"]["common_name"] == "Nguyễn Thị Lấp Lánh Ánh"
    assert result["signature_length"] == 256
    assert logins == 1


def test_wrong_pin_one_attempt_exit_3(hsm: SoftHSM, tmp_path: Path) -> None:
    done, logins = _spy_logins(hsm, tmp_path, "--token", "Sở Nội vụ", "--test-sign",
                               pin="987654")
    assert done.returncode == 3
    assert logins == 1
    # python-pkcs11's Token.open(user_pin=...) leaks the session when C_Login fails;
    # signsvc's own login must leave every opened session closed.
    log = (tmp_path / "spy.log").read_text(encoding="utf-8", errors="replace")
    assert log.count(": C_OpenSession\n") >= 1
    assert log.count(": C_OpenSession\n") == log.count(": C_CloseSession\n")
    assert "PIN is incorrect" in done.stderr
    assert "Sở Nội vụ" in done.stderr
    assert "987654" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_always_authenticate_key_gets_context_login(hsm: SoftHSM, tmp_path: Path) -> None:
    done, logins = _spy_logins(hsm, tmp_path, "--token", ALWAYS_AUTH, "--test-sign",
                               "--login", pin="123456")
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "spy.log").read_text(encoding="utf-8", errors="replace")
    # PKCS#11 v2.40 §5.2: C_Login(CKU_USER) once, then C_Login(CKU_CONTEXT_SPECIFIC)
    # after C_SignInit for the one test signature.
    assert logins == 2
    assert log.count("userType = CKU_USER\n") == 1
    assert log.count("userType = CKU_CONTEXT_SPECIFIC") == 1


def test_wrong_pin_with_login_listing_exit_3(hsm: SoftHSM) -> None:
    done = run(hsm, "tokens", "--module", str(hsm.module), "--token", ANH, "--login",
               "--pin-env", "PIN", "--json", extra_env={"PIN": "111111"})
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr.startswith("signsvc: error: the PIN is incorrect")
    assert f"(token '{ANH}')" in done.stderr


def test_ec_key_test_sign(hsm: SoftHSM) -> None:
    done = run(hsm, "tokens", "--module", str(hsm.module), "--token", ANH, "--cert-id", "02",
               "--pin-stdin", "--test-sign", "--json", stdin="123456\n")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["verified"] is True
    assert result["certificate"]["key_type"] == "EC"


def test_no_pin_source_without_terminal_is_usage_error(hsm: SoftHSM) -> None:
    done = run(hsm, "tokens", "--module", str(hsm.module), "--token", ANH, "--test-sign")
    assert done.returncode == 2
    assert "--pin-env" in done.stderr


def test_pin_is_never_an_argument(hsm: SoftHSM) -> None:
    done = run(hsm, "tokens", "--pin", "123456")
    assert done.returncode == 2
    assert "No such option" in done.stderr


def test_ambiguous_token_label(hsm: SoftHSM) -> None:
    done = run(hsm, "tokens", "--module", str(hsm.module), "--token", TWIN_LABEL,
               "--pin-env", "PIN", "--test-sign", extra_env={"PIN": "123456"})
    assert done.returncode == 3
    assert "2 tokens match" in done.stderr


@pytest.mark.parametrize("kind", ["missing", "text", "elf"])
def test_bad_module_paths(hsm: SoftHSM, tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}-module.so"
    if kind == "text":
        path.write_text("not a library\n")
    elif kind == "elf":
        libz = next(p for p in (Path("/usr/lib/x86_64-linux-gnu/libz.so.1"),
                                Path("/lib/x86_64-linux-gnu/libz.so.1")) if p.exists())
        shutil.copy(libz, path)
    done = run(hsm, "tokens", "--module", str(path), "--json")
    assert done.returncode == 3
    (module,) = json.loads(done.stdout)["modules"]
    assert str(path) in module["error"]
    reason = {"missing": "no such file", "text": "not a shared library",
              "elf": "not a PKCS#11 module"}[kind]
    assert reason in module["error"]
    table = run(hsm, "tokens", "--module", str(path))
    assert table.returncode == 3
    assert f"error: cannot load PKCS#11 module {path}: {reason}" in table.stdout


def test_table_output_names_tokens_with_diacritics(hsm: SoftHSM) -> None:
    done = run(hsm, "tokens", "--module", str(hsm.module))
    assert done.returncode == 0, done.stderr
    assert f"Token '{ANH}'" in done.stdout
    assert "label \"TRẦN NGỌC TÚ's Viettel-CA SHA2 Certificate\"" in done.stdout


def test_listing_does_not_load_pyhanko(hsm: SoftHSM) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(ROOT / "cli.py"), "tokens", "--module",
         str(hsm.module), "--json"],
        env=hsm.env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "drivers" in imported  # the trace is real (the token layer itself loads lazily)
    assert not any(name.startswith("pyhanko") for name in imported)


def test_console_script_installed() -> None:
    script = Path(sys.executable).parent / "signsvc"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == "signsvc, version 0.1.0"


# -- labels as people type them; modules that do not load ------------------------------


def test_a_label_typed_in_decomposed_unicode_finds_the_token(hsm: SoftHSM) -> None:
    typed = unicodedata.normalize("NFD", ANH)
    assert typed != ANH
    report = tokens_json(hsm, "--token", typed)
    assert [t["label"] for t in report["modules"][0]["tokens"]] == [ANH]
    done = run(hsm, "tokens", "--module", str(hsm.module), "--token", typed, "--cert-id",
               "01", "--pin-env", "PIN", "--test-sign", extra_env={"PIN": "123456"})
    assert done.returncode == 0, done.stderr
    assert f"on token {ANH!r}: OK" in done.stdout


@pytest.mark.parametrize("as_json", [False, True])
def test_an_unknown_label_exits_3_listing_the_labels_present(hsm: SoftHSM,
                                                             as_json: bool) -> None:
    done = run(hsm, "tokens", "--module", str(hsm.module), "--token", "Không có",
               *(["--json"] if as_json else []))
    assert done.returncode == 3, done.stdout
    assert done.stdout == ""
    assert done.stderr.startswith("signsvc: error: no token with label 'Không có'")
    for label in (ANH, VIETTEL, ALWAYS_AUTH):
        assert repr(label) in done.stderr
    assert "(no token present)" not in done.stdout + done.stderr


def test_a_driver_found_but_not_loadable_is_listed_with_the_reason_and_a_hint(
        hsm: SoftHSM, tmp_path: Path) -> None:
    """Found on its own (Viettel's ~/.uid/ folder, and a vendor's p11-kit registration):
    listed with why it cannot load and what to do, and the tokens of the modules that
    do load are still listed (exit 0: the user named neither)."""
    home = tmp_path / "home"
    (home / ".uid").mkdir(parents=True)
    viettel = thirty_two_bit_module(home / ".uid" / "viettel-ca_v6.so")
    safenet, missing = module_missing_a_dependency(tmp_path / "libeTPkcs11.so")
    register_with_p11kit(home / ".config", "safenet", safenet)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    done = run(hsm, "tokens", "--json", extra_env=env)
    assert done.returncode == 0, done.stderr
    modules = {Path(m["path"]): m for m in json.loads(done.stdout)["modules"]}
    assert modules[viettel]["source"] == "vendor"
    assert modules[viettel]["vendor"] == "Viettel-CA"
    assert "built for another kind of computer (a 32-bit x86 library" in \
        modules[viettel]["error"]
    assert "64-bit driver" in modules[viettel]["hint"]
    assert modules[safenet]["source"] == "p11-kit"
    assert f"a library it needs is not installed ({missing}" in modules[safenet]["error"]
    assert modules[safenet]["hint"].startswith(f"Install the package that has {missing}") or \
        "apt-file search" in modules[safenet]["hint"]
    assert any(ANH in [t["label"] for t in m["tokens"]] for m in modules.values())
    table = run(hsm, "tokens", extra_env=env)
    assert f"Module {viettel}  [Viettel-CA; vendor]" in table.stdout
    assert "  hint: Install the token driver built for this computer" in table.stdout
    # Selecting a token that is not there names the modules that could not be loaded.
    missing_token = run(hsm, "tokens", "--token", "Không có", extra_env=env)
    assert missing_token.returncode == 3
    assert "Modules found but not loadable: " in missing_token.stderr
    assert f"{viettel}: built for another kind of computer" in missing_token.stderr


def test_a_named_module_that_does_not_load_prints_the_hint(hsm: SoftHSM,
                                                           tmp_path: Path) -> None:
    path = thirty_two_bit_module(tmp_path / "fptca_v4.so")
    done = run(hsm, "tokens", "--module", str(path), "--token", ANH, "--test-sign",
               "--pin-env", "PIN", extra_env={"PIN": "123456"})
    assert done.returncode == 3
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"signsvc: error: cannot load PKCS#11 module {path}")
    assert lines[1].startswith("signsvc: hint: Install the token driver built for this")


def test_wrong_pin_is_said_in_vietnamese(hsm: SoftHSM) -> None:
    """The token layer's English message (drivers._text.Text) is said in the language
    of the run at the CLI's error boundary; the JSON and the journal stay English."""
    done = run(hsm, "--lang", "vi", "tokens", "--module", str(hsm.module), "--token", ANH,
               "--login", "--pin-env", "PIN", extra_env={"PIN": "111111"})
    assert done.returncode == 3
    # Earlier wrong PINs in this session may have set the token's "count low" flag,
    # which adds its own (translated) warning before the token's name.
    assert done.stderr.startswith("signsvc: lỗi: mã PIN không đúng"), done.stderr
    assert f"(thiết bị ký số '{ANH}')" in done.stderr
    assert "111111" not in done.stderr + done.stdout
