"""SoftHSM2 tokens loaded from the test PKI, set up the way a user would.

Keys go in with ``softhsm2-util --import`` and certificates with OpenSC's
``pkcs11-tool --write-object``, exactly as a CA's helpdesk or an official would do it,
so the tests exercise the same objects (and the same odd labels) real tokens carry.

Used by the tests' fixtures and by the README's demo::

    python certs_test/softhsm.py demo .demo      # prints the SOFTHSM2_CONF to export

TEST ONLY: the PINs below are public.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULE_CANDIDATES = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/local/lib/softhsm/libsofthsm2.so"),
)
USER_PIN = "123456"
SO_PIN = "12345678"

DEMO_TOKEN = "Nguyễn Thị Lấp Lánh Ánh"
"""Label of the demo token (31 UTF-8 bytes: the 32-byte field holds it)."""
DEMO_ORG_TOKEN = "UBND quận Ô Môn"
"""Label of the organisation's demo token."""


def softhsm_module() -> Path | None:
    """Path of libsofthsm2.so on this machine, or None."""
    return next((p for p in MODULE_CANDIDATES if p.is_file()), None)


def tools_missing() -> list[str]:
    """The command-line tools this module needs that are not installed."""
    missing = [t for t in ("softhsm2-util", "pkcs11-tool") if shutil.which(t) is None]
    if softhsm_module() is None:
        missing.append("libsofthsm2.so")
    return missing


@dataclass
class SoftHSM:
    """A private SoftHSM2 configuration (its own token directory)."""

    directory: Path

    def __post_init__(self) -> None:
        self.directory = self.directory.resolve()
        tokens = self.directory / "tokens"
        tokens.mkdir(parents=True, exist_ok=True)
        self.conf = self.directory / "softhsm2.conf"
        self.conf.write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
            "log.level = ERROR\nslots.removable = false\n",
            encoding="utf-8",
        )
        module = softhsm_module()
        if module is None:
            raise FileNotFoundError("libsofthsm2.so not found (apt-get install softhsm2)")
        self.module = module

    @property
    def env(self) -> dict[str, str]:
        """The environment a process needs to see these tokens."""
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}

    def _run(self, *args: str) -> str:
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def init_token(self, label: str, pin: str = USER_PIN, so_pin: str = SO_PIN) -> None:
        self._run("softhsm2-util", "--init-token", "--free", "--label", label,
                  "--pin", pin, "--so-pin", so_pin)

    def import_key(self, token: str, key_pem: Path, *, id_hex: str, label: str,
                   pin: str = USER_PIN) -> None:
        """Import a PKCS#8 PEM key pair (private + public objects, same CKA_ID)."""
        self._run("softhsm2-util", "--import", str(key_pem), "--token", token,
                  "--label", label, "--id", id_hex, "--pin", pin)

    def import_cert(self, token: str, cert_der: Path, *, id_hex: str, label: str,
                    pin: str = USER_PIN) -> None:
        """Write a DER certificate object with the given CKA_ID and label."""
        self._run("pkcs11-tool", "--module", str(self.module), "--token-label", token,
                  "--login", "--pin", pin, "--write-object", str(cert_der),
                  "--type", "cert", "--id", id_hex, "--label", label)

    def add_identity(self, token: str, name: str, *, id_hex: str, key_label: str,
                     cert_label: str, pin: str = USER_PIN) -> None:
        """Import ``certs_test/NAME`` key and certificate under one CKA_ID."""
        self.import_key(token, HERE / f"{name}.key.pem", id_hex=id_hex, label=key_label,
                        pin=pin)
        self.import_cert(token, HERE / f"{name}.crt.der", id_hex=id_hex, label=cert_label,
                         pin=pin)


def build_demo(directory: Path) -> SoftHSM:
    """The demo tokens: an official's token and her organisation's, like VGCA issues.

    The official's token holds her key (empty key label, as many VN tokens have),
    her certificate under a label with diacritics and an apostrophe, and the CA chain;
    the organisation token holds the UBND quận Ô Môn seal key and certificate.
    """
    hsm = SoftHSM(directory)
    existing = subprocess.run(["softhsm2-util", "--show-slots"], env=hsm.env,
                              capture_output=True, text=True, check=False).stdout
    if f"Label:            {DEMO_TOKEN}" in existing:
        return hsm
    hsm.init_token(DEMO_TOKEN)
    hsm.add_identity(DEMO_TOKEN, "official-rsa2048", id_hex="01", key_label="",
                     cert_label="Nguyễn Thị Lấp Lánh Ánh's Ban Cơ yếu Chính phủ Certificate")
    hsm.import_cert(DEMO_TOKEN, HERE / "gov-ca-g2.crt.der", id_hex="c1",
                    label="CA phục vụ các cơ quan Nhà nước G2")
    hsm.import_cert(DEMO_TOKEN, HERE / "gov-root-g2.crt.der", id_hex="c2",
                    label="RootCA chuyên dùng Chính phủ G2")
    hsm.init_token(DEMO_ORG_TOKEN)
    hsm.add_identity(DEMO_ORG_TOKEN, "org-omon", id_hex="02", key_label="Khóa tổ chức",
                     cert_label="UBND quận Ô Môn's Ban Cơ yếu Chính phủ Certificate")
    return hsm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="create the demo tokens in DIR (idempotent)")
    demo.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    missing = tools_missing()
    if missing:
        print(f"missing: {', '.join(missing)} (run scripts/setup.sh)", file=sys.stderr)
        return 2
    hsm = build_demo(args.directory)
    print(hsm.conf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
