"""``sign`` and ``verify`` read folders by one rule (signsvc._inputs): every PDF under
the folder, sub-folders included; ``sign --out`` mirrors the tree and never reads
its own output folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import PKI, ROOT

SAMPLE = ROOT / "samples" / "quyet-dinh-123.pdf"


def signsvc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args],
                          env={**os.environ, "P12": "1234"}, capture_output=True, text=True,
                          timeout=120, check=False)


def test_sign_mirrors_sub_folders_and_skips_its_output_folder(tmp_path: Path) -> None:
    source = tmp_path / "in"
    for relative in ("a.pdf", "phong-tu-phap/b.pdf", "phong-tu-phap/2026/c.pdf"):
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_bytes(SAMPLE.read_bytes())
    out = source / "da-ky"  # inside the input folder, as a clerk would put it
    args = ["sign", str(source), "--out", str(out), "--pkcs12",
            str(PKI / "official-rsa2048.p12"), "--pin-env", "P12", "--json",
            "--journal", str(tmp_path / "audit.sqlite3")]
    first = signsvc(*args)
    assert first.returncode == 0, first.stderr
    outputs = sorted(str(Path(json.loads(line)["output"]).relative_to(out))
                     for line in first.stdout.splitlines())
    assert outputs == ["a.pdf", "phong-tu-phap/2026/c.pdf", "phong-tu-phap/b.pdf"]
    second = signsvc(*args, "--resume")
    assert second.returncode == 0, second.stderr
    statuses = [json.loads(line)["status"] for line in second.stdout.splitlines()]
    assert statuses == ["skipped"] * 3  # the outputs were not taken as inputs

    verified = signsvc("verify", str(out), "--trust", str(PKI / "gov-root-g2.crt.pem"),
                       "--json", "--store", str(tmp_path / "store.sqlite3"))
    paths = sorted(json.loads(line)["path"] for line in verified.stdout.splitlines())
    assert paths == sorted(str(out / p) for p in outputs)


def test_two_inputs_of_one_name_in_different_folders_do_not_collide(tmp_path: Path) -> None:
    for folder in ("x", "y"):
        (tmp_path / "in" / folder).mkdir(parents=True)
        (tmp_path / "in" / folder / "qd.pdf").write_bytes(SAMPLE.read_bytes())
    done = signsvc("sign", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--pkcs12",
                   str(PKI / "official-rsa2048.p12"), "--pin-env", "P12", "--json",
                   "--journal", str(tmp_path / "audit.sqlite3"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "x" / "qd.pdf").exists()
    assert (tmp_path / "out" / "y" / "qd.pdf").exists()
