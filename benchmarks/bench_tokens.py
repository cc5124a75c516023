"""Token-layer benchmark: signsvc's drivers against pyHanko's PKCS#11 signer, one run.

    .venv/bin/python benchmarks/bench_tokens.py [--rounds N]

Measures, on the demo SoftHSM2 tokens (certs_test/), in this one process:

1. one document per call: open a session, log in, find the key, sign once, close —
   what a "sign one file per call" tool pays each time;
2. signatures on an open session (the batch case): signsvc ``TokenKey.sign`` against
   pyHanko's ``PKCS11Signer.sign_raw`` and bare python-pkcs11;
3. ``signsvc tokens --json`` end to end (a fresh process) against OpenSC's
   ``pkcs11-tool --list-objects`` on each token;
4. whether each tool finds the key of a certificate whose key label differs (the
   Vietnamese-token case behind pyHanko issues 457/149/386);

and prints each ratio against the peer plus peak RSS. The machine is shared and noisy:
compare figures within one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from certs_test.softhsm import DEMO_TOKEN, USER_PIN, build_demo  # noqa: E402

CERT_ID = bytes.fromhex("01")


def timed(fn: Callable[[], object], rounds: int) -> float:
    """Median seconds per call over ``rounds`` calls (after one warm-up)."""
    fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def line(name: str, ours: float, peer: float, peer_name: str) -> None:
    print(f"{name:<44} signsvc {ours * 1e3:8.3f} ms   {peer_name} {peer * 1e3:8.3f} ms"
          f"   ratio {peer / ours:5.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-tokens-"))
    hsm = build_demo(workdir)
    os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
    module_path = str(hsm.module.resolve())

    import pkcs11
    from pkcs11.mechanisms import Mechanism
    from pyhanko.sign.pkcs11 import PKCS11Signer, TokenCriteria, open_pkcs11_session

    import drivers
    import signsvc.tokens

    criteria = TokenCriteria(label=DEMO_TOKEN)

    # 1. one document per call
    def ours_cold() -> None:
        with signsvc.tokens.open_token_key([module_path], label=DEMO_TOKEN, cert_id=CERT_ID,
                                           pin=lambda _info: USER_PIN) as key:
            key.sign(b"one document")

    def pyhanko_cold() -> None:
        session = open_pkcs11_session(module_path, token_criteria=criteria,
                                      user_pin=USER_PIN)
        try:
            signer = PKCS11Signer(session, cert_id=CERT_ID, key_id=CERT_ID)
            asyncio.run(signer.async_sign_raw(b"one document", "sha256"))
        finally:
            session.close()

    print(f"signsvc token-layer benchmark, {args.rounds} rounds, module {module_path}")
    line("open + login + find key + 1 signature", timed(ours_cold, args.rounds),
         timed(pyhanko_cold, args.rounds), "pyHanko")

    # 2. signatures on an open session
    module = drivers.load_module(module_path)
    with module.open(label=DEMO_TOKEN) as session:
        session.login(USER_PIN)
        key = session.key(CERT_ID)
        ours_warm = timed(lambda: key.sign(b"batch document"), args.rounds * 5)
        raw_key = key.handle
        bare = timed(lambda: raw_key.sign(b"batch document",
                                          mechanism=Mechanism.SHA256_RSA_PKCS),
                     args.rounds * 5)
        py_session = open_pkcs11_session(module_path, token_criteria=criteria)
        signer = PKCS11Signer(py_session, cert_id=CERT_ID, key_id=CERT_ID)
        loop = asyncio.new_event_loop()
        peer_warm = timed(
            lambda: loop.run_until_complete(signer.async_sign_raw(b"batch document",
                                                                  "sha256")),
            args.rounds * 5,
        )
        loop.close()
        py_session.close()
    line("1 signature on an open session", ours_warm, peer_warm, "pyHanko")
    line("  (same, against bare python-pkcs11)", ours_warm, bare, "python-pkcs11")

    # 3. the CLI end to end, in fresh processes
    cli = [sys.executable, str(ROOT / "cli.py"), "tokens", "--module", module_path, "--json"]
    env = {**os.environ}
    ours_cli = timed(lambda: subprocess.run(cli, env=env, capture_output=True, check=True), 10)
    tool = shutil.which("pkcs11-tool")
    if tool:
        def peer_listing() -> None:
            for label in (DEMO_TOKEN, "UBND quận Ô Môn"):
                subprocess.run([tool, "--module", module_path, "--token-label", label,
                                "--list-objects"], env=env, capture_output=True, check=True)
        line("`signsvc tokens --json` (2 tokens, process)", ours_cli,
             timed(peer_listing, 10), "pkcs11-tool -O x2")
    else:
        print(f"`signsvc tokens --json`: {ours_cli * 1e3:.1f} ms (pkcs11-tool missing)")

    # 4. key whose label differs from its certificate's
    cert_label = "Nguyễn Thị Lấp Lánh Ánh's Ban Cơ yếu Chính phủ Certificate"
    py_session = open_pkcs11_session(module_path, token_criteria=criteria, user_pin=USER_PIN)
    try:
        PKCS11Signer(py_session, cert_label=cert_label)
        outcome = "found"
        try:
            asyncio.run(PKCS11Signer(py_session, cert_label=cert_label)
                        .async_sign_raw(b"x", "sha256"))
        except Exception as exc:
            outcome = f"FAILS at signing ({type(exc).__name__}: {exc})"
    except Exception as exc:
        outcome = f"FAILS ({type(exc).__name__}: {exc})"
    finally:
        py_session.close()
    print(f"key by certificate label (key label ''): signsvc found (by CKA_ID); "
          f"pyHanko {outcome}")

    del pkcs11
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {rss_self:.1f} MiB; largest child (CLI / pkcs11-tool) "
          f"{rss_children:.1f} MiB")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
