"""Agreement on files other producers made: signsvc and pyHanko, one run.

    .venv/bin/python benchmarks/realworld_agreement.py [--rounds 3] [--details]
    .venv/bin/python benchmarks/realworld_agreement.py --vn DIR [--details]

Without ``--vn``: every file of ``../shared/corpora/realworld-dev`` (public test files of
iText, pyHanko, RUB-NDS, mkl, endesive, digitorus) is judged by

1. signsvc's ``verify_pdf`` with ``TrustStore.vn()`` (none of these test roots is in it),
   put on the expectations' scale by ``tests/verify/test_realworld_corpus.observe``;
2. the peer, pyHanko's ``validate_pdf_signature`` on each embedded signature with ONE
   shared no-trust ``ValidationContext`` and its difference analysis: ``intact``,
   ``coverage`` and ``modification_level``/``docmdp_ok`` give integrity and
   modification; an exception is a reject;

and both are counted against ``tests/data/realworld/expected.tsv`` (what each file's
producer asserts). Trust is left out on both sides: a signature rejected only because
its chain reaches no trusted root counts as accepted. Then the wall time of each over
the corpus (best of ``--rounds``, after imports) and its peak Python memory
(tracemalloc, in a separate pass so tracing does not slow the timed one).

With ``--vn DIR``: every PDF under DIR (no expectations), per file: signsvc's
indication, how many signatures are intact and unmodified (no change after them, or
only allowed ones), and pyHanko's intact / unmodified counts for the same signatures.

The machine is shared and noisy: compare figures within one run only. It prints; it
does not assert (the ratchet is ``tests/verify/test_realworld_corpus.py``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.utils import CryptographyDeprecationWarning

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.verify.test_realworld_corpus import (  # noqa: E402 (after the path is set)
    CORPUS,
    FIELDS,
    TRUST_ONLY,
    Expectation,
    Observed,
    disagreements,
    load_expectations,
    observe,
)

_TRUST_ONLY_NAMES = {sub.name for sub in TRUST_ONLY}


@dataclass(frozen=True)
class Judged:
    """One validator's view of one document, signature by signature."""

    observed: Observed
    intact: int
    """Signatures whose signed bytes and CMS signature verify."""
    unmodified: int
    """Signatures with no update after them, or only allowed ones."""
    signatures: int
    passed: bool = False
    """signsvc only: TOTAL-PASSED (trust included)."""


def _signsvc(path: Path, trust: Any) -> Judged:
    from signsvc.verify.pdf import verify_pdf
    from signsvc.verify.results import ModificationLevel

    result = verify_pdf(path, trust=trust)
    fine = {ModificationLevel.NONE, ModificationLevel.ALLOWED}
    return Judged(
        observed=observe(result),
        intact=sum(s.intact for s in result.signatures),
        unmodified=sum(s.modification is not None and s.modification.level in fine
                       for s in result.signatures),
        signatures=len(result.signatures),
        passed=result.passed,
    )


def _pyhanko_one(sig: Any, context: Any) -> tuple[str, str, bool]:
    """(integrity, modification, accepted) of one embedded signature, trust aside."""
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    try:
        status = validate_pdf_signature(sig, context)
    except Exception:
        # pyHanko's verdict on a malformed signature (eContent in a detached one, an
        # unreadable revision) is an exception: that is its reject.
        return "unread", "unread", False
    integrity = "intact" if status.intact and status.valid else "broken"
    coverage, level = status.coverage, status.modification_level
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        modification = "none"
    elif coverage != SignatureCoverageLevel.ENTIRE_REVISION:
        modification = "disallowed"  # a /ByteRange that is no revision proves nothing
    elif level is None:
        modification = "unread"
    elif level == ModificationLevel.OTHER or status.docmdp_ok is False:
        modification = "disallowed"
    else:
        modification = "none" if level == ModificationLevel.NONE else "allowed"
    timestamp = status.timestamp_validity
    indic = status.trust_problem_indic
    accepted = (
        integrity == "intact" and modification in {"none", "allowed"}
        and (timestamp is None or (timestamp.intact and timestamp.valid))
        and (indic is None or getattr(indic, "name", None) in _TRUST_ONLY_NAMES)
    )
    return integrity, modification, accepted


_ORDER = {"integrity": ("broken", "unread", "intact"),
          "modification": ("disallowed", "unknown", "unread", "allowed", "none")}


def _worst(field: str, values: list[str]) -> str:
    return next(v for v in _ORDER[field] if v in values)


def _pyhanko(path: Path, context: Any) -> Judged:
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        with path.open("rb") as handle:
            reader = PdfFileReader(handle)  # strict, as pyHanko's own tests read
            judged = [_pyhanko_one(sig, context) for sig in reader.embedded_signatures]
    except Exception:  # pyHanko could not read the file: its reject
        return Judged(Observed("unread", "unread", "reject"), 0, 0, 0)
    if not judged:
        return Judged(Observed("-", "-", "unsigned"), 0, 0, 0)
    integrity = _worst("integrity", [j[0] for j in judged])
    modification = _worst("modification", [j[1] for j in judged])
    verdict = "accept" if all(j[2] for j in judged) else "reject"
    return Judged(Observed(integrity, modification, verdict),
                  intact=sum(j[0] == "intact" for j in judged),
                  unmodified=sum(j[1] in {"none", "allowed"} for j in judged),
                  signatures=len(judged))


def _validators() -> dict[str, Callable[[Path], Judged]]:
    from pyhanko_certvalidator import ValidationContext

    from signsvc import TrustStore

    trust = TrustStore.vn()
    context = ValidationContext(trust_roots=[], allow_fetching=False)
    return {"pyhanko": lambda path: _pyhanko(path, context),
            "signsvc": lambda path: _signsvc(path, trust)}


def _run(judge: Callable[[Path], Judged], paths: list[Path], rounds: int,
         ) -> tuple[list[Judged], float, float]:
    """The verdicts, the best wall time of ``rounds`` passes, peak traced MB of one."""
    best = float("inf")
    judged: list[Judged] = []
    for _ in range(rounds):
        start = time.perf_counter()
        judged = [judge(path) for path in paths]
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    for path in paths:
        judge(path)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return judged, best, peak


def _agreement(rows: list[Expectation], judged: list[Judged]) -> dict[str, Any]:
    counts: dict[str, Any] = {field: [0, 0] for field in FIELDS}
    counts["false_accepts"] = []
    counts["disagreements"] = []
    for row, one in zip(rows, judged, strict=True):
        for field in FIELDS:
            if row.value(field) != "-":
                counts[field][1] += 1
                counts[field][0] += row.value(field) == one.observed.value(field)
        if row.verdict == "reject" and one.observed.verdict == "accept":
            counts["false_accepts"].append(row.file)
        counts["disagreements"] += [(row.file, *d) for d in disagreements(row, one.observed)]
    return counts


def corpus(rounds: int, details: bool) -> None:
    rows = load_expectations()
    paths = [CORPUS / row.file for row in rows]
    results = {name: _run(judge, paths, rounds) for name, judge in _validators().items()}
    agreement = {name: _agreement(rows, judged) for name, (judged, _, _) in results.items()}
    unsigned = sum(row.verdict == "unsigned" for row in rows)
    print(f"{len(rows)} files of {CORPUS} ({len(rows) - unsigned} signed, {unsigned} "
          "unsigned); expectations from the producers' tests (tests/data/realworld/"
          f"expected.tsv); trust left out; best of {rounds} round(s)\n")
    names = ("signsvc", "pyhanko")
    print(f"  {'agreement':<14}{'signsvc':>12}{'pyHanko':>12}")
    for field in FIELDS:
        cells = "".join(f"{'{}/{}'.format(*agreement[n][field]):>12}" for n in names)
        print(f"  {field:<14}{cells}")
    cells = "".join(f"{len(agreement[n]['false_accepts']):>12}" for n in names)
    print(f"  {'false accepts':<14}{cells}\n")
    peer = results["pyhanko"][1]
    print(f"  {'case':<10}{'files':>6}{'wall s':>9}{'ms/file':>9}{'vs pyHanko':>12}"
          f"{'peak MB':>10}")
    for name in names:
        _, wall, peak = results[name]
        print(f"  {name:<10}{len(paths):>6}{wall:9.3f}{wall / len(paths) * 1e3:9.2f}"
              f"{peer / wall:11.1f}x{peak:10.1f}")
    if details:
        for name in names:
            print(f"\n{name}: disagreements (file, field, expected -> got)")
            for file, field, expected, got in agreement[name]["disagreements"]:
                print(f"  {file}  {field}: {expected} -> {got}")
            for file in agreement[name]["false_accepts"]:
                print(f"  false accept: {file}")


def vn(directory: Path, details: bool) -> None:
    paths = sorted(p for p in directory.rglob("*") if p.suffix.lower() == ".pdf")
    validators = _validators()
    totals = {"files": len(paths), "passed": 0, "sigs": 0, "s_intact": 0, "s_unmod": 0,
              "p_sigs": 0, "p_intact": 0, "p_unmod": 0, "s_wall": 0.0, "p_wall": 0.0}
    print(f"{totals['files']} PDF(s) under {directory}, no expectations; signsvc with "
          "TrustStore.vn(), pyHanko without trust\n")
    if details:
        print(f"  {'file':<48}{'signsvc':>14}{'intact':>8}{'unmod':>7}"
              f"{'pyHanko':>10}{'intact':>8}{'unmod':>7}")
    for path in paths:
        start = time.perf_counter()
        ours = validators["signsvc"](path)
        totals["s_wall"] += time.perf_counter() - start
        start = time.perf_counter()
        peer = validators["pyhanko"](path)
        totals["p_wall"] += time.perf_counter() - start
        totals["passed"] += ours.passed
        totals["sigs"] += ours.signatures
        totals["s_intact"] += ours.intact
        totals["s_unmod"] += ours.unmodified
        totals["p_sigs"] += peer.signatures
        totals["p_intact"] += peer.intact
        totals["p_unmod"] += peer.unmodified
        if details:
            status = "TOTAL-PASSED" if ours.passed else ours.observed.verdict
            name = str(path.relative_to(directory))[-47:]
            print(f"  {name:<48}{status:>14}"
                  f"{f'{ours.intact}/{ours.signatures}':>8}"
                  f"{f'{ours.unmodified}/{ours.signatures}':>7}"
                  f"{peer.observed.verdict:>10}{f'{peer.intact}/{peer.signatures}':>8}"
                  f"{f'{peer.unmodified}/{peer.signatures}':>7}")
    print(f"\n  {'':<10}{'TOTAL-PASSED':>14}{'signatures':>12}{'intact':>8}{'unmodified':>12}"
          f"{'wall s':>9}")
    print(f"  {'signsvc':<10}{totals['passed']:>14}{totals['sigs']:>12}"
          f"{totals['s_intact']:>8}{totals['s_unmod']:>12}{totals['s_wall']:9.3f}")
    print(f"  {'pyHanko':<10}{'-':>14}{totals['p_sigs']:>12}"
          f"{totals['p_intact']:>8}{totals['p_unmod']:>12}{totals['p_wall']:9.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--vn", type=Path, metavar="DIR",
                        help="Vietnamese signed PDFs to count instead of the corpus")
    parser.add_argument("--details", action="store_true",
                        help="list each disagreement (corpus) or each file (--vn)")
    args = parser.parse_args()
    # pyHanko logs every suspicious revision it meets, and cryptography warns about
    # the corpus's zero serial numbers: noise here.
    logging.disable(logging.CRITICAL)
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
    if args.vn is not None:
        if not args.vn.is_dir():
            parser.error(f"--vn {args.vn}: not a directory")
        vn(args.vn, args.details)
    else:
        corpus(max(1, args.rounds), args.details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
