"""``signsvc chain`` and ``signsvc trust`` end to end, in a fresh process each time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run
from tests.support.paths import PKI


def chain_json(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = run(tmp_path, "chain", *args, "--json")
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def pem(name: str) -> str:
    return str(PKI / f"{name}.crt.pem")


def test_valid_government_chain(tmp_path: Path) -> None:
    code, result = chain_json(tmp_path, pem("official-rsa2048"), "--intermediate",
                              pem("gov-ca-g2"), "--trust", pem("gov-root-g2"),
                              "--crl", str(PKI / "crl" / "gov-ca-g2.crl.der"),
                              "--crl", str(PKI / "crl" / "gov-root-g2.crl.pem"),
                              "--revocation", "hard-fail", "--at", "2026-11-27T10:00")
    assert code == 0
    assert (result["valid"], result["indication"], result["sub_indication"]) == (
        True, "TOTAL-PASSED", None)
    assert result["path"][0].startswith("CN=TEST ONLY RootCA chuyên dùng Chính phủ G2")
    assert result["path"][-1].startswith("CN=Nguyễn Thị Lấp Lánh Ánh")
    assert result["reason"]


def test_other_root_finds_no_chain(tmp_path: Path) -> None:
    code, result = chain_json(tmp_path, pem("official-rsa2048"), "--intermediate",
                              pem("gov-ca-g2"), "--trust", pem("vn-root"))
    assert code == 1
    assert (result["indication"], result["sub_indication"]) == (
        "INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")


def test_revoked_by_crl(tmp_path: Path) -> None:
    code, result = chain_json(tmp_path, pem("revoked"), "--intermediate", pem("gov-ca-g2"),
                              "--trust", pem("gov-root-g2"), "--crl",
                              str(PKI / "crl" / "gov-ca-g2.crl.der"), "--crl",
                              str(PKI / "crl" / "gov-root-g2.crl.der"),
                              "--revocation", "hard-fail", "--at", "2026-06-02")
    assert code == 1
    assert (result["indication"], result["sub_indication"]) == ("TOTAL-FAILED", "REVOKED")


@pytest.mark.parametrize(("policy", "code", "sub"), [
    ("default", 1, "CRYPTO_CONSTRAINTS_FAILURE"), ("historical", 0, None)])
def test_sha1_legacy_chain_needs_historical_policy(tmp_path: Path, policy: str, code: int,
                                                    sub: str | None) -> None:
    got, result = chain_json(tmp_path, pem("legacy-official"), "--intermediate",
                             pem("gov-ca-g1"), "--trust", pem("gov-root-g1"), "--revocation",
                             "off", "--at", "2016-01-01", "--policy", policy)
    assert (got, result["sub_indication"]) == (code, sub)
    if policy == "historical":
        assert result["algorithm_notes"]


def test_bad_input_and_usage_exit_2(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    done = run(tmp_path, "chain", str(garbage), "--trust", pem("gov-root-g2"))
    assert done.returncode == 2 and "garbage.pem" in done.stderr
    no_trust = run(tmp_path, "chain", pem("official-rsa2048"))
    assert no_trust.returncode == 2 and "trust" in no_trust.stderr


def test_trust_add_list_remove_and_default_store(tmp_path: Path) -> None:
    added = run(tmp_path, "trust", "add", pem("gov-root-g2"))
    assert added.returncode == 0, added.stderr
    listed = json.loads(run(tmp_path, "trust", "list", "--json").stdout)
    assert [a["subject"] for a in listed] == [
        "CN=TEST ONLY RootCA chuyên dùng Chính phủ G2,OU=TEST ONLY,O=Ban Cơ yếu Chính phủ,C=VN"]
    code, _ = chain_json(tmp_path, pem("official-rsa2048"), "--intermediate",
                         pem("gov-ca-g2"))  # the user trust folder is the default
    assert code == 0
    leaf = run(tmp_path, "trust", "add", pem("official-rsa2048"))
    assert leaf.returncode == 2 and "not a CA" in leaf.stderr
    removed = run(tmp_path, "trust", "remove", listed[0]["fingerprint_sha256"])
    assert removed.returncode == 0, removed.stderr
    assert json.loads(run(tmp_path, "trust", "list", "--json").stdout) == []


def test_bundle_leaf_first_validates_the_leaf_and_says_so(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(Path(pem("revoked")).read_text() + Path(pem("gov-ca-g2")).read_text())
    done = run(tmp_path, "chain", str(bundle), "--trust", pem("gov-root-g2"), "--crl",
               str(PKI / "crl" / "gov-ca-g2.crl.der"), "--crl",
               str(PKI / "crl" / "gov-root-g2.crl.der"), "--revocation", "hard-fail",
               "--at", "2026-06-02")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REVOKED" in done.stdout
    assert "validating the first certificate of the bundle; the other 1 are used as " \
           "intermediates" in done.stderr


def test_bundle_ca_first_is_refused_not_misread(tmp_path: Path) -> None:
    # A new user's bundle: the CA, then the (revoked) leaf. Validating the CA alone
    # would print TOTAL-PASSED and say nothing of the leaf.
    bundle = tmp_path / "ca-then-leaf.pem"
    bundle.write_text(Path(pem("gov-ca-g2")).read_text() + Path(pem("revoked")).read_text())
    done = run(tmp_path, "chain", str(bundle), "--trust", pem("gov-root-g2"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "TOTAL-PASSED" not in done.stdout
    assert str(bundle) in done.stderr
    assert "must start with the certificate to validate" in done.stderr
    assert "Traceback" not in done.stderr


def test_chain_json_names_the_refusing_rule(tmp_path: Path) -> None:
    code, result = chain_json(tmp_path, pem("expired"), "--intermediate",
                              pem("gov-ca-g2"), "--trust", pem("gov-root-g2"),
                              "--at", "2026-06-02")
    assert code == 1
    assert (result["rule"], result["rule_section"]) == ("validity", "RFC 5280 §6.1.3 (a)(2)")
    assert result["failed_index"] == 2
