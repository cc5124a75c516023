"""Archive-scale verification benchmark (issue 17): whole commands against a pyHanko loop.

    .venv/bin/python benchmarks/bench_archive.py [--docs 400] [--many 10000] [--quick]

On one-page decisions signed at the start of the run (certs_test/, PAdES B-B,
RSA-2048), validated at one fixed moment, revocation soft-fail, offline:

1. whole commands, each a fresh process, start-up included (what the admin waits for):
   the peer, a pyHanko loop in one process (``validate_pdf_signature`` on every
   signature with one shared ValidationContext), then ``signsvc verify DIR --json``
   with ``--jobs 1``, ``--jobs 2``, ``--local-cluster 1`` and ``--local-cluster 2``
   (the cluster's start counted too);
2. documents per second after start-up: ``verify_pdf`` in one process, the batch with
   ``jobs=1`` and ``jobs=2``, and 1 and 2 Dask workers of a LocalCluster already up;
3. the scheduler's overhead per task and the first result's latency, by chunk size,
   on a 1-worker LocalCluster;
4. peak memory of the client process (VmHWM, workers not counted) at ``--docs`` and
   at ``--many`` documents (hard links), locally and on the cluster.

The machine is shared and noisy: compare figures within one run only. It prints; it
does not assert.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_verify import MOMENT, PKI, ROOTS, build_corpus  # noqa: E402

TRUST_ARGS = [arg for name in ROOTS for arg in ("--trust", str(PKI / f"{name}.crt.pem"))]

PYHANKO_LOOP = """
import sys
from pathlib import Path
from datetime import datetime
from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
pki, moment, folder = Path(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), sys.argv[3]
roots = [x509.Certificate.load((pki / f"{n}.crt.der").read_bytes()) for n in sys.argv[4:]]
context = ValidationContext(trust_roots=roots, moment=moment, allow_fetching=False,
                            revocation_mode="soft-fail")
passed = 0
for path in sorted(Path(folder).iterdir()):
    with path.open("rb") as handle:
        statuses = [validate_pdf_signature(s, context)
                    for s in PdfFileReader(handle).embedded_signatures]
    passed += bool(statuses) and all(s.bottom_line for s in statuses)
print(passed)
"""

CLIENT = """
import atexit, sys
sys.path.insert(0, sys.argv.pop(1))
def peak():
    with open("/proc/self/status") as status:
        kb = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
    print(f"CLIENT-VMHWM-KB {kb}", file=sys.stderr)
atexit.register(peak)
import cli
cli.main(sys.argv[1:])
"""


def _command(args: list[str]) -> dict[str, Any]:
    """Run a command; its wall time, the client's peak memory and its last stderr line."""
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    peak = next((int(line.split()[1]) / 1024 for line in done.stderr.splitlines()
                 if line.startswith("CLIENT-VMHWM-KB")), float("nan"))
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return {"wall": wall, "rss_mb": peak, "rc": done.returncode,
            "last": lines[-1] if lines else "", "stdout_lines": done.stdout.count("\n")}


def _signsvc(folder: Path, store: Path, *extra: str) -> list[str]:
    store.unlink(missing_ok=True)
    return [sys.executable, "-c", CLIENT, str(ROOT), "--lang", "en", "verify", str(folder),
            *TRUST_ARGS, "--at", MOMENT.isoformat(), "--json", "--store", str(store), *extra]


def whole_commands(work: Path, docs: int) -> None:
    folder = work / "one-page"
    store = work / "store.sqlite3"
    peer = _command([sys.executable, "-c", PYHANKO_LOOP, str(PKI), MOMENT.isoformat(),
                     str(folder), *ROOTS])
    rows = [("pyHanko loop (peer)", peer)]
    for label, extra in (("signsvc --jobs 1", ["--jobs", "1"]),
                         ("signsvc --jobs 2", ["--jobs", "2"]),
                         ("signsvc --local-cluster 1", ["--local-cluster", "1"]),
                         ("signsvc --local-cluster 2", ["--local-cluster", "2"])):
        rows.append((label, _command(_signsvc(folder, store, *extra))))
    print(f"1. Whole commands on {docs} one-page documents (fresh process, start-up "
          "included):")
    print(f"  {'command':<28}{'wall s':>8}{'docs/s':>9}{'vs peer':>9}{'client MB':>11}")
    for label, row in rows:
        print(f"  {label:<28}{row['wall']:8.2f}{docs / row['wall']:9.0f}"
              f"{peer['wall'] / row['wall']:8.1f}x{row['rss_mb']:11.1f}")
        if row is not peer and row["stdout_lines"] != docs:
            print(f"    !! {row['stdout_lines']} lines, rc {row['rc']}: {row['last']}")
    print()


def in_process(work: Path, docs: int) -> None:
    from signsvc.pki.trust import TrustStore
    from signsvc.verify.batch import verify_blocks
    from signsvc.verify.cluster import Cluster
    from signsvc.verify.pdf import verify_pdf

    paths = sorted((work / "one-page").iterdir())[:docs]
    trust = TrustStore.from_paths([PKI / f"{name}.crt.pem" for name in ROOTS])
    for path in paths[:20]:
        verify_pdf(path, trust=trust, at=MOMENT)  # imports and caches warm

    def timed(run: Any) -> float:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start

    def batch(**kwargs: Any) -> None:
        count = sum(len(block) for block in verify_blocks(paths, trust=trust, at=MOMENT,
                                                          **kwargs))
        assert count == len(paths)

    rows = [("verify_pdf, one process", timed(
        lambda: [verify_pdf(p, trust=trust, at=MOMENT) for p in paths]))]
    rows.append(("batch jobs=1", timed(lambda: batch(jobs=1))))
    rows.append(("batch jobs=2", timed(lambda: batch(jobs=2))))
    for workers in (1, 2):
        with Cluster.local(workers) as cluster:
            batch(cluster=cluster)  # the worker plugin and imports, once
            rows.append((f"Dask {workers} worker(s)", timed(lambda c=cluster: batch(cluster=c))))
    print(f"2. After start-up, {docs} one-page documents:")
    print(f"  {'case':<26}{'wall s':>8}{'docs/s':>9}{'ms/doc':>8}")
    for label, wall in rows:
        print(f"  {label:<26}{wall:8.3f}{docs / wall:9.0f}{wall / docs * 1e3:8.2f}")
    print()

    inline = rows[0][1] / docs
    print("3. Dask scheduler overhead by chunk size (1 worker, already up):")
    print(f"  {'chunk':>6}{'tasks':>7}{'wall s':>8}{'overhead/task ms':>18}"
          f"{'first result ms':>17}")
    with Cluster.local(1) as cluster:
        batch(cluster=cluster)
        for chunk in (1, 4, 16, 64, 256):
            start = time.perf_counter()
            first = None
            count = 0
            for block in verify_blocks(paths, trust=trust, at=MOMENT, cluster=cluster,
                                       chunk_size=chunk):
                if first is None:
                    first = time.perf_counter() - start
                count += len(block)
            wall = time.perf_counter() - start
            tasks = -(-count // chunk)
            overhead = (wall - inline * count) / tasks
            print(f"  {chunk:>6}{tasks:>7}{wall:8.3f}{overhead * 1e3:18.2f}"
                  f"{(first or 0) * 1e3:17.1f}")
    print()


def memory(work: Path, docs: int, many: int) -> None:
    store = work / "store.sqlite3"
    print(f"4. Client peak memory (VmHWM, workers not counted), {docs} -> {many} documents:")
    for label, extra in (("--jobs 2", ["--jobs", "2"]),
                         ("--local-cluster 2", ["--local-cluster", "2"])):
        few = _command(_signsvc(work / "one-page", store, *extra))
        lots = _command(_signsvc(work / "many", store, *extra))
        print(f"  {label:<20}{few['rss_mb']:8.1f} MB -> {lots['rss_mb']:8.1f} MB   "
              f"({many / lots['wall']:.0f} docs/s at {many}; {lots['last']})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--many", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true",
                        help="whole commands only (section 1)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    try:
        start = time.perf_counter()
        build_corpus(work, args.docs, 0, 0 if args.quick else args.many)
        print(f"Signed {args.docs} one-page documents in {time.perf_counter() - start:.1f} s; "
              f"validated at {MOMENT:%Y-%m-%d}, soft-fail, offline; {os.cpu_count()} cores\n")
        whole_commands(work, args.docs)
        if not args.quick:
            in_process(work, args.docs)
            memory(work, args.docs, args.many)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
