"""Batch PDF verification benchmark: signsvc against pyHanko's validator, one run.

    .venv/bin/python benchmarks/bench_verify.py [--docs 200] [--big-docs 50] [--many 5000]
        [--multi 50]

On documents signed at the start of the run with certs_test/ (the government official,
RSA-2048, PAdES B-B; trust anchor TEST ONLY RootCA G2), validated at one fixed moment,
revocation soft-fail, nothing fetched:

1. the peer: pyHanko's ``validate_pdf_signature`` on every embedded signature, with
   ONE shared ``ValidationContext`` (its caches warm after the first document) and
   its difference analysis, as signsvc does;
2. signsvc's ``verify_pdf`` per document, in one process;
3. the batch as ``signsvc verify`` runs it (``verify_iter`` into a store, forked
   workers with the time and memory limits), ``--jobs 1`` and ``--jobs 2``;

on one-page decisions, on 2 MB documents (a page with a 2 MB incompressible image:
hashing and parsing dominate), and on decisions signed three times, one revision per
signature (the difference analysis of every update after the first two signatures
dominates); then peak RSS of each signsvc case at two batch sizes
(the larger is the one-page documents hard-linked over and over), each case in a
fresh process, to show memory does not grow with the batch.

Timings are wall time of the batch after imports. The machine is shared and noisy:
compare figures within one run only. It prints; it does not assert.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PKI = ROOT / "certs_test"
ROOTS = ("gov-root-g2", "vn-root", "gov-root-g1")
MOMENT = datetime(2030, 1, 1, tzinfo=UTC)
IMAGE_SIDE = 1448  # 1448² bytes of 8-bit grey: 2 MiB


def _big_pdf(seed: int) -> bytes:
    """One A4 page showing a 2 MiB incompressible grey image (ISO 32000-1 §8.9.5)."""
    from tests.support.pdfs import classic_pdf

    pixels = random.Random(seed).randbytes(IMAGE_SIDE * IMAGE_SIDE)
    content = b"q 595 0 0 842 0 0 cm /Im0 Do Q"
    return classic_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Length %d >>\nstream\n"
        % (IMAGE_SIDE, IMAGE_SIDE, len(pixels)) + pixels + b"\nendstream",
    ])


def build_corpus(work: Path, docs: int, big_docs: int, many: int, multi: int = 0) -> None:
    """Sign ``docs`` one-page and ``big_docs`` 2 MB documents, ``multi`` one-page ones
    three times; hard-link ``many``."""
    import drivers
    from signsvc.sign.pdf import sign_pdf

    key = drivers.Pkcs12Key.load(PKI / "official-rsa2048.p12", "1234")
    source = work / "source.pdf"
    source.write_bytes((ROOT / "samples" / "quyet-dinh-123.pdf").read_bytes())
    for name, count in (("one-page", docs), ("big", big_docs)):
        (work / name).mkdir()
        for number in range(count):
            if name == "big":
                source.write_bytes(_big_pdf(number))
            sign_pdf(source, work / name / f"qd-{number:04d}.pdf", key)
    (work / "three-signatures").mkdir()
    for number in range(multi):
        current = work / "one-page" / f"qd-{number % max(docs, 1):04d}.pdf"
        for k in (2, 3):
            out = work / "three-signatures" / f"qd-{number:04d}-{k}.pdf"
            sign_pdf(current, out, key)
            current = out
        current.rename(work / "three-signatures" / f"qd-{number:04d}.pdf")
        (work / "three-signatures" / f"qd-{number:04d}-2.pdf").unlink()
    (work / "many").mkdir()
    singles = sorted((work / "one-page").iterdir())
    for number in range(many):
        os.link(singles[number % len(singles)], work / "many" / f"qd-{number:05d}.pdf")


def _pyhanko(paths: list[Path]) -> int:
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    roots = [asn1_x509.Certificate.load((PKI / f"{name}.crt.der").read_bytes())
             for name in ROOTS]
    context = ValidationContext(trust_roots=roots, moment=MOMENT, allow_fetching=False,
                                revocation_mode="soft-fail")
    passed = 0
    for path in paths:
        with path.open("rb") as handle:
            statuses = [validate_pdf_signature(sig, context)
                        for sig in PdfFileReader(handle).embedded_signatures]
        passed += bool(statuses) and all(s.bottom_line for s in statuses)
    return passed


def _signsvc(paths: list[Path], trust: Any) -> int:
    from signsvc.verify.pdf import verify_pdf

    return sum(verify_pdf(path, trust=trust, at=MOMENT).passed for path in paths)


def _batch(paths: list[Path], trust: Any, jobs: int, store: Path) -> int:
    from signsvc.verify.batch import VerifyStore, verify_iter

    with VerifyStore.open(store) as journal:
        for _ in verify_iter(paths, trust=trust, jobs=jobs, at=MOMENT, store=journal):
            pass  # as the CLI: print and drop; the store keeps them
        return journal.summary()["TOTAL-PASSED"]


def run_case(case: str, corpus: str, docs: int, work: Path) -> dict[str, Any]:
    """Run one case in this process: wall time of the batch itself and peak RSS."""
    # Import time is not batch time; each case imports only what it uses.
    if case == "pyhanko":
        import pyhanko.sign.validation  # noqa: F401
    else:
        import signsvc.verify.pdf  # noqa: F401
    from signsvc.pki.trust import TrustStore

    paths = sorted((work / corpus).iterdir())[:docs]
    trust = TrustStore.from_paths([PKI / f"{name}.crt.pem" for name in ROOTS])
    with tempfile.TemporaryDirectory(prefix="bench-verify-store-") as scratch:
        start = time.perf_counter()
        if case == "pyhanko":
            passed = _pyhanko(paths)
        elif case == "signsvc":
            passed = _signsvc(paths, trust)
        else:
            passed = _batch(paths, trust, int(case.split("-")[1]),
                            Path(scratch) / "store.sqlite3")
        wall = time.perf_counter() - start
    return {"case": case, "corpus": corpus, "docs": len(paths), "wall": wall,
            "passed": passed, "rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """Peak RSS of this process or of any worker it forked, whichever is larger.

    VmHWM, not ``RUSAGE_SELF.ru_maxrss``: Linux carries ru_maxrss over ``execve``, so
    a case process would report the peak of the benchmark process that started it.
    """
    with open("/proc/self/status") as status:
        own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def _child(case: str, corpus: str, docs: int, work: Path) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--case", case, "--corpus", corpus, "--docs", str(docs),
         "--work", str(work)], check=True, capture_output=True, text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def _table(rows: list[dict[str, Any]]) -> None:
    peer = rows[0]["wall"] / rows[0]["docs"]
    print(f"  {'case':<12}{'docs':>6}{'wall s':>9}{'ms/doc':>9}{'vs pyHanko':>12}"
          f"{'peak RSS MB':>13}{'passed':>8}")
    for row in rows:
        per_doc = row["wall"] / row["docs"]
        print(f"  {row['case']:<12}{row['docs']:>6}{row['wall']:9.3f}{per_doc * 1e3:9.2f}"
              f"{peer / per_doc:11.1f}x{row['rss_mb']:13.1f}{row['passed']:>8}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--big-docs", type=int, default=50)
    parser.add_argument("--many", type=int, default=5000)
    parser.add_argument("--multi", type=int, default=50)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.corpus, args.docs, args.work)))
        return 0

    cases = ("pyhanko", "signsvc", "batch-1", "batch-2")
    work = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    try:
        start = time.perf_counter()
        build_corpus(work, args.docs, args.big_docs, args.many, args.multi)
        big_size = next((work / "big").iterdir()).stat().st_size
        print(f"Signed {args.docs} one-page and {args.big_docs} {big_size / 1e6:.1f} MB "
              f"documents in {time.perf_counter() - start:.1f} s (PAdES B-B, RSA-2048); "
              f"validated at {MOMENT:%Y-%m-%d}, revocation soft-fail, offline; {os.cpu_count()} "
              "cores; each case in a fresh process\n")
        for corpus, docs in (("one-page", args.docs), ("big", args.big_docs),
                             ("three-signatures", args.multi)):
            print(f"{corpus} documents:")
            _table([_child(case, corpus, docs, work) for case in cases])
            print()
        print(f"Peak RSS by batch size ({args.docs} vs {args.many} one-page documents):")
        for case in cases[1:]:
            few = _child(case, "one-page", args.docs, work)
            lots = _child(case, "many", args.many, work)
            print(f"  {case:<12}{few['rss_mb']:8.1f} MB -> {lots['rss_mb']:8.1f} MB   "
                  f"({lots['wall'] / lots['docs'] * 1e3:.2f} ms/doc at {lots['docs']}, "
                  f"{lots['passed']} passed)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
