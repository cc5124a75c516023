"""Batch PDF signing benchmark: signsvc against a plain pyHanko loop, one run.

    .venv/bin/python benchmarks/bench_sign.py [--docs 200] [--slow-docs 40]

On a SoftHSM2 token built from certs_test/ (the demo official, RSA-2048), PAdES B-B:

1. the peer: pyHanko's ``sign_pdf`` in a loop with its ``PKCS11Signer`` on the same
   logged-in token session;
2. what each signsvc choice saves: pyHanko + ``bytes_reserved`` (no sizing dry run),
   then + the CMS template (:mod:`signsvc.sign._template`), which is ``sign_batch --jobs 1``;
3. ``sign_batch`` with ``--jobs 2``, threads and processes;
4. a slow token (each real signature + 150 ms, as a real USB token): the batch's
   throughput as a fraction of the token's own rate, ``--jobs 1`` and ``2``;
5. peak RSS of each case, each case in a fresh process, at two batch sizes, to show
   memory does not grow with the batch.

Timings are wall time of the whole batch (outputs written and fsync'ed). The machine
is shared and noisy: compare figures within one run only.
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

from certs_test.softhsm import DEMO_TOKEN, USER_PIN, build_demo  # noqa: E402

CERT_ID = bytes.fromhex("01")
SLOW_SECONDS = 0.150


def _sample() -> bytes:
    sample = ROOT / "samples" / "quyet-dinh-123.pdf"
    if sample.exists():
        return sample.read_bytes()
    from tests.support.pdfs import one_page_pdf

    return one_page_pdf()


def _inputs(directory: Path, count: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    data = _sample()
    paths = []
    for number in range(count):
        path = directory / f"qd-{number:04d}.pdf"
        path.write_bytes(data)
        paths.append(path)
    return paths


class SlowKey:
    """A real token key that takes 150 ms longer per signature, like a USB token."""

    def __init__(self, key: Any) -> None:
        import threading

        self._key = key
        self._lock = threading.Lock()  # a token does one operation at a time
        self.certificate = key.certificate
        self.chain = key.chain
        self.key_type = key.key_type
        self.key_size = key.key_size

    def sign(self, data: bytes, *, hash_algorithm: str = "sha256", pss: bool = False) -> bytes:
        with self._lock:
            time.sleep(SLOW_SECONDS)
            return bytes(self._key.sign(data, hash_algorithm=hash_algorithm, pss=pss))


def _pyhanko_loop(inputs: list[Path], out: Path, *, reserved: bool) -> float:
    import pkcs11
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.pkcs11 import PKCS11Signer

    from certs_test.softhsm import softhsm_module

    lib = pkcs11.lib(str(softhsm_module()))
    token = lib.get_token(token_label=DEMO_TOKEN)
    with token.open(user_pin=USER_PIN) as session:
        signer = PKCS11Signer(session, cert_id=CERT_ID, key_id=CERT_ID)
        meta = signers.PdfSignatureMetadata(field_name="Signature1",
                                            subfilter=SigSeedSubFilter.PADES)
        start = time.perf_counter()
        for path in inputs:
            with path.open("rb") as source, (out / path.name).open("wb") as target:
                signers.sign_pdf(IncrementalPdfFileWriter(source), meta, signer=signer,
                                 output=target, bytes_reserved=16384 if reserved else None)
                target.flush()
                os.fsync(target.fileno())
        return time.perf_counter() - start


def _signsvc(inputs: list[Path], out: Path, *, jobs: int, executor: str, slow: bool,
             template: bool = True) -> tuple[float, list[str]]:
    import signsvc
    from signsvc.tokens import open_token_key

    if not template:
        import signsvc.sign._pyhanko_signer
        import signsvc.sign._template as cms

        cms.TemplateSigner.async_sign = signsvc.sign._pyhanko_signer.KeySignerAdapter.async_sign
    with open_token_key((), label=DEMO_TOKEN, cert_id=CERT_ID, pin=lambda _: USER_PIN) as key:
        signer = SlowKey(key) if slow else key
        start = time.perf_counter()
        results = signsvc.sign_batch(inputs, out, signer, jobs=jobs,
                                     executor=executor)  # type: ignore[arg-type]
        wall = time.perf_counter() - start
    return wall, [f"{r.input.name}: {r.error}" for r in results if r.status != "signed"]


def _token_rate(count: int) -> float:
    """Seconds per signature of the slow token alone (no PDF work)."""
    from signsvc.tokens import open_token_key

    with open_token_key((), label=DEMO_TOKEN, cert_id=CERT_ID, pin=lambda _: USER_PIN) as key:
        slow = SlowKey(key)
        start = time.perf_counter()
        for _ in range(count):
            slow.sign(os.urandom(64))
        return (time.perf_counter() - start) / count


def run_case(case: str, docs: int, work: Path) -> dict[str, Any]:
    """Run one case in this process: wall time of the batch itself (after imports
    and login, the same for every case) and peak RSS of the process."""
    inputs = _inputs(work / "in", docs)
    out = work / "out"
    out.mkdir()
    import pyhanko.sign.signers  # noqa: F401 - import time is not batch time

    failures: list[str] = []
    if case == "pyhanko":
        wall = _pyhanko_loop(inputs, out, reserved=False)
    elif case == "pyhanko-reserved":
        wall = _pyhanko_loop(inputs, out, reserved=True)
    elif case == "signsvc-no-template":
        wall, failures = _signsvc(inputs, out, jobs=1, executor="thread", slow=False,
                                  template=False)
    else:
        _, jobs, executor, speed = case.split("-")
        wall, failures = _signsvc(inputs, out, jobs=int(jobs), executor=executor,
                                  slow=speed == "slow")
    return {"case": case, "docs": docs, "wall": wall, "failures": failures,
            # Worker processes count too: the larger of this process and any child.
            "rss_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024}


def _child(case: str, docs: int, conf: str) -> dict[str, Any]:
    env = dict(os.environ, SOFTHSM2_CONF=conf)
    with tempfile.TemporaryDirectory(prefix="bench-sign-") as work:
        output = subprocess.run(
            [sys.executable, __file__, "--case", case, "--docs", str(docs), "--work", work],
            env=env, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--slow-docs", type=int, default=40)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        if args.case == "token-rate":
            print(json.dumps({"seconds": _token_rate(args.docs)}))
        else:
            print(json.dumps(run_case(args.case, args.docs, args.work)))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-sign-hsm-") as hsm_dir:
        hsm = build_demo(Path(hsm_dir))
        conf = str(hsm.conf)
        print(f"{args.docs} documents ({len(_sample())} bytes each), PAdES B-B, "
              f"SoftHSM2 RSA-2048; each case in a fresh process\n")
        rows = [_child(case, args.docs, conf) for case in (
            "pyhanko", "pyhanko-reserved", "signsvc-no-template",
            "signsvc-1-thread-fast", "signsvc-2-thread-fast", "signsvc-2-process-fast")]
        peer = rows[0]["wall"]
        print(f"{'case':<26}{'wall s':>9}{'ms/doc':>9}{'vs pyHanko':>12}{'peak RSS MB':>13}")
        for row in rows:
            print(f"{row['case']:<26}{row['wall']:9.3f}{row['wall'] / row['docs'] * 1e3:9.2f}"
                  f"{peer / row['wall']:11.1f}x{row['rss_mb']:13.1f}"
                  + (f"  FAILURES {row['failures']}" if row["failures"] else ""))

        small = max(10, args.docs // 4)
        print(f"\nPeak RSS by batch size ({small} vs {args.docs} documents):")
        for case in ("signsvc-2-thread-fast", "signsvc-2-process-fast", "pyhanko"):
            few = _child(case, small, conf)
            many = next(r for r in rows if r["case"] == case)
            print(f"  {case:<26}{few['rss_mb']:8.1f} MB -> {many['rss_mb']:8.1f} MB")

        token = float(json.loads(subprocess.run(
            [sys.executable, __file__, "--case", "token-rate", "--docs", "10"],
            env=dict(os.environ, SOFTHSM2_CONF=conf), check=True, capture_output=True,
            text=True).stdout)["seconds"])
        print(f"\nSlow token ({SLOW_SECONDS * 1e3:.0f} ms + real signature = "
              f"{token * 1e3:.1f} ms per signature), {args.slow_docs} documents:")
        for case in ("signsvc-1-thread-slow", "signsvc-2-thread-slow",
                     "signsvc-2-process-slow"):
            row = _child(case, args.slow_docs, conf)
            fraction = token * args.slow_docs / row["wall"]
            print(f"  {case:<26}{row['wall']:8.2f} s  {fraction * 100:6.1f} % of the "
                  f"token's own rate  peak RSS {row['rss_mb']:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
