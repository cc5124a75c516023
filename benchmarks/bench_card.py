"""Batch signing on a slow smart card: how much of the card's own rate a batch keeps.

    .venv/bin/python benchmarks/bench_card.py [--docs 20] [--delay 0.2] [--bare 10]

A real USB token takes 0.2-10 s per signature; the batch must keep it busy, so the PDF
work (reading, preparing, hashing, writing) has to hide behind the card. The card is
the virtual PIV card of tests/support/virtual_card on the real stack (python-pkcs11 ->
opensc-pkcs11.so -> pcscd -> vpcd -> emulator), told to take ``--delay`` seconds per
signature, RSA-2048 key 9A.

The peer, measured in the same run: ``--bare`` signatures through python-pkcs11 alone
(one session, one login, ``C_Sign`` in a loop, no PDF, no signsvc), which is the card's
own rate. Each batch case runs in a fresh process and prints its throughput as a
fraction of that rate (target: at least 90 %) and its peak RSS (worker processes
included). Timings are wall time of the batch itself (after login): the machine is
shared and noisy, compare figures within one run only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_sign import _inputs  # noqa: E402 (same documents as the signing benchmark)

CASES = ("signsvc-1-thread", "signsvc-2-thread", "signsvc-2-process")


def _rss_mb() -> float:
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def bare_rate(module: str, serial: str, pin: str, count: int) -> dict[str, Any]:
    """Seconds per signature of python-pkcs11 alone: the card's own rate."""
    import pkcs11
    from pkcs11.constants import Attribute, ObjectClass
    from pkcs11.mechanisms import Mechanism

    lib = pkcs11.lib(module)
    token = next(slot.get_token() for slot in lib.get_slots(token_present=True)
                 if slot.get_token().serial.rstrip(b"\0 ").decode() == serial)
    with token.open(user_pin=pin) as session:
        key = next(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                        Attribute.ID: b"\x01"}))
        key.sign(b"warm-up", mechanism=Mechanism.SHA256_RSA_PKCS)
        start = time.perf_counter()
        for number in range(count):
            key.sign(f"document {number}".encode(), mechanism=Mechanism.SHA256_RSA_PKCS)
        seconds = (time.perf_counter() - start) / count
    return {"case": "bare", "seconds": seconds, "rss_mb": _rss_mb()}


def run_case(case: str, module: str, serial: str, pin: str, docs: int,
             work: Path) -> dict[str, Any]:
    """One batch in this process: wall time after login, failures, peak RSS."""
    import pyhanko.sign.signers  # noqa: F401 - import time is not batch time

    import signsvc
    from signsvc.tokens import open_token_key

    inputs = _inputs(work / "in", docs)
    _, jobs, executor = case.split("-")
    with open_token_key([module], serial=serial, cert_id=b"\x01", pin=lambda _: pin) as key:
        start = time.perf_counter()
        results = signsvc.sign_batch(inputs, work / "out", key, jobs=int(jobs),
                                     executor=executor)  # type: ignore[arg-type]
        wall = time.perf_counter() - start
    return {"case": case, "docs": docs, "wall": wall, "rss_mb": _rss_mb(),
            "failures": [f"{r.input.name}: {r.error}" for r in results if r.status != "signed"]}


def _child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    output = subprocess.run([sys.executable, __file__, *args], env=env, check=True,
                            capture_output=True, text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.2,
                        help="seconds the card takes per signature")
    parser.add_argument("--bare", type=int, default=10,
                        help="bare signatures timed for the card's own rate")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--module", help=argparse.SUPPRESS)
    parser.add_argument("--serial", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    pin = os.environ.get("BENCH_CARD_PIN", "")
    if args.case == "bare":
        print(json.dumps(bare_rate(args.module, args.serial, pin, args.bare)))
        return 0
    if args.case:
        print(json.dumps(run_case(args.case, args.module, args.serial, pin, args.docs,
                                  args.work)))
        return 0

    from tests.support.virtual_card import PcscStack, running_card

    with PcscStack() as stack, running_card(stack) as card:
        card.set_delay(args.delay)
        # The PIN goes to the children in the environment, never on their command line.
        env = {**stack.env, "BENCH_CARD_PIN": card.pin}
        common = ["--module", card.module_path, "--serial", card.serial]
        size = len(_inputs(Path(tempfile.mkdtemp(prefix="bench-card-size-")), 1)[0]
                   .read_bytes())
        print(f"{args.docs} documents ({size} bytes each), PAdES B-B, virtual PIV card "
              f"(RSA-2048, {args.delay * 1e3:.0f} ms per signature) through OpenSC and "
              "pcscd; each case in a fresh process\n")
        bare = _child(["--case", "bare", "--bare", str(args.bare), *common], env)
        card_seconds = float(bare["seconds"])
        print(f"card's own rate (python-pkcs11 alone, {args.bare} signatures): "
              f"{card_seconds * 1e3:.1f} ms per signature = {1 / card_seconds:.2f} "
              f"signatures/s  peak RSS {bare['rss_mb']:.1f} MB\n")
        print(f"{'case':<22}{'wall s':>9}{'docs/s':>9}{'of card rate':>14}{'peak RSS MB':>13}")
        for case in CASES:
            with tempfile.TemporaryDirectory(prefix="bench-card-") as work:
                row = _child(["--case", case, "--docs", str(args.docs), "--work", work,
                              *common], env)
            fraction = card_seconds * args.docs / row["wall"]
            print(f"{case:<22}{row['wall']:9.2f}{args.docs / row['wall']:9.2f}"
                  f"{fraction * 100:13.1f}%{row['rss_mb']:13.1f}"
                  + (f"  FAILURES {row['failures']}" if row["failures"] else ""))
        print(f"\ncard: {card.sign_count} signatures, {card.verify_count} PIN checks "
              "(one login per process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
