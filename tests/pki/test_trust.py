"""TrustStore, the built-in vn profile and the user trust directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from signsvc import (
    TrustError,
    TrustStore,
)
from signsvc.pki.trust import (
    VN_PROFILE,
    add_trust_anchor,
    list_trust_anchors,
    remove_trust_anchor,
    user_trust_dir,
)
from tests.support.chains import (
    PKI,
    cert,
    check,
    store,
)

# -- trust store and the user trust directory -----------------------------------------------


def test_user_trust_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNSVC_TRUST_DIR", str(tmp_path / "anchors"))
    assert user_trust_dir() == tmp_path / "anchors"
    assert list_trust_anchors() == ()
    added = add_trust_anchor(PKI / "gov-root-g2.crt.pem")
    assert added.source == tmp_path / "anchors" / f"{added.fingerprint}.pem"
    assert added.fingerprint == cert("gov-root-g2").fingerprint(hashes.SHA256()).hex().upper()
    assert [a.fingerprint for a in list_trust_anchors()] == [added.fingerprint]
    assert check("official-rsa2048", trust=TrustStore.user()).valid
    with pytest.raises(TrustError):
        add_trust_anchor(PKI / "official-rsa2048.crt.pem")  # a leaf is not an anchor
    removed = remove_trust_anchor(added.fingerprint.lower())
    assert removed == added.source
    assert not removed.exists()
    with pytest.raises(TrustError):
        remove_trust_anchor(added.fingerprint)


def test_default_user_trust_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SIGNSVC_TRUST_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert user_trust_dir() == tmp_path / "signsvc" / "trust"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_trust_dir() == tmp_path / "home" / ".config" / "signsvc" / "trust"


def test_vn_profile_knows_the_official_fingerprints(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {k.fingerprint for k in VN_PROFILE if k.role == "root"} == {
        "BAC8BF609AB420A8EE1780D74F4DE5C7F7184959D2A7375B0A75E4C29F0908E7",
        "F04BA4B459A7C9A1B971AD9B1CB833E695A80C79AEA63B174B66A70EDFE2FDB8",
    }
    # Labelling works by fingerprint: pretend the test root is the official one.
    import signsvc.pki.trust as trust_module

    fp = cert("vn-root").fingerprint(hashes.SHA256()).hex().upper()
    monkeypatch.setitem(trust_module._KNOWN, fp, VN_PROFILE[0])
    labelled = TrustStore.from_certificates([cert("vn-root")])
    anchor = labelled.anchors[0]
    assert anchor.label == "Vietnam National Root CA (MIC, public CAs)"
    assert anchor.to_json()["known"] is True
    assert [present for _, present in store("vn-root").profile_status()] == [False] * 3
