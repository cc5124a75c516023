"""Files other producers made, judged against those producers' own tests (issue 13).

The corpus lies beside the repository (``../shared/corpora/realworld-dev``, see its
README): public test files of iText, pyHanko, RUB-NDS, mkl, endesive and digitorus.
``tests/data/realworld/expected.tsv`` holds, per file, what its producer's tests assert
(integrity, modification, overall verdict apart from trust), with the test it comes
from; never signsvc's own output.

Every disagreement between signsvc and those expectations is listed in
``tests/data/realworld/known-gaps.tsv`` with its diagnosis, and the list is a ratchet:
a new disagreement fails, and so does a listed one that no longer happens (remove its
row). Apart from the ratchet, signsvc must never accept what a producer rejects, unless
the gap's ``why`` starts with ``false-accept-justified:`` and says why.

The same derivation serves ``benchmarks/realworld_agreement.py``.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from signsvc import TrustStore, verify_pdf
from signsvc.pki.indications import Indication, SubIndication
from signsvc.verify.results import DocumentResult, ModificationLevel

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "realworld-dev"
DATA = Path(__file__).resolve().parents[1] / "data" / "realworld"
EXPECTED = DATA / "expected.tsv"
KNOWN_GAPS = DATA / "known-gaps.tsv"

FIELDS = ("integrity", "modification", "verdict")
JUSTIFIED = "false-accept-justified:"

# What the expectations may say ("-": the producer says nothing).
ALLOWED_VALUES = {
    "integrity": {"intact", "broken", "-"},
    "modification": {"none", "allowed", "disallowed", "-"},
    "verdict": {"accept", "reject", "unsigned", "-"},
}

# Sub-indications that only say the signer's (or TSA's) certificate could not be tied to
# a trusted anchor or was not valid then: the corpus's test roots are not trusted here,
# so these are not rejections (ETSI EN 319 102-1 §5.6.2 X.509 validation, not §5.2.7
# signature acceptance). Everything else (HASH_FAILURE, SIG_CRYPTO_FAILURE,
# FORMAT_FAILURE, NO_SIGNING_CERTIFICATE_FOUND, CRYPTO_CONSTRAINTS_FAILURE,
# SIG_CONSTRAINTS_FAILURE, SIGNED_DATA_NOT_FOUND, no sub-indication) rejects.
TRUST_ONLY = frozenset({
    SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
    SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    SubIndication.OUT_OF_BOUNDS_NO_POE,
    SubIndication.OUT_OF_BOUNDS_NOT_REVOKED,
    SubIndication.REVOKED,
    SubIndication.REVOKED_NO_POE,
    SubIndication.REVOKED_CA_NO_POE,
    SubIndication.TRY_LATER,
    SubIndication.EXPIRED,
    SubIndication.NOT_YET_VALID,
})


@dataclass(frozen=True)
class Expectation:
    """One row of expected.tsv: what the file's producer asserts."""

    file: str
    """Path inside the corpus."""
    integrity: str
    modification: str
    verdict: str
    source: str
    """The producer's repository, file and test the expectation comes from."""
    note: str

    def value(self, field: str) -> str:
        return str(getattr(self, field))


@dataclass(frozen=True)
class Observed:
    """signsvc's result on one document, on the expectations' scale."""

    integrity: str
    """intact, broken, or unread (a signature whose bytes were never checked)."""
    modification: str
    """none, allowed, disallowed, unknown (not analysed: encrypted), or unread."""
    verdict: str
    """accept, reject, or unsigned."""

    def value(self, field: str) -> str:
        return str(getattr(self, field))


@dataclass(frozen=True)
class Gap:
    """One row of known-gaps.tsv: a disagreement signsvc has today, diagnosed."""

    file: str
    field: str
    expected: str
    got: str
    why: str


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def load_expectations() -> list[Expectation]:
    """expected.tsv, in its order."""
    return [Expectation(row["file"], row["expect_integrity"], row["expect_modification"],
                        row["expect_verdict"], row["source"], row["note"])
            for row in _rows(EXPECTED)]


def load_gaps() -> list[Gap]:
    """known-gaps.tsv, in its order."""
    return [Gap(row["file"], row["field"], row["expected"], row["got"], row["why"])
            for row in _rows(KNOWN_GAPS)]


def manifest() -> dict[str, str]:
    """The corpus's MANIFEST.tsv: file -> SHA-256."""
    lines = (CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return dict(line.split("\t")[:2] for line in lines)


def observe(result: DocumentResult) -> Observed:
    """signsvc's document result on the scale of expected.tsv."""
    signatures = result.signatures
    if not signatures and result.error is None:
        return Observed("-", "-", "unsigned")
    if any(s.integrity is not None and not s.integrity.intact for s in signatures):
        integrity = "broken"
    elif not signatures or any(s.integrity is None for s in signatures):
        integrity = "unread"
    else:
        integrity = "intact"
    levels = {s.modification.level for s in signatures if s.modification is not None}
    if ModificationLevel.DISALLOWED in levels:
        modification = "disallowed"
    elif ModificationLevel.UNKNOWN in levels:
        modification = "unknown"
    elif not signatures or any(s.modification is None for s in signatures):
        modification = "unread"
    elif ModificationLevel.ALLOWED in levels:
        modification = "allowed"
    else:
        modification = "none"
    accepted = (
        result.error is None and integrity == "intact"
        and modification in {"none", "allowed"}
        and all(s.indication is Indication.TOTAL_PASSED or s.sub_indication in TRUST_ONLY
                for s in signatures)
    )
    return Observed(integrity, modification, "accept" if accepted else "reject")


def disagreements(expected: Expectation, observed: Observed) -> list[tuple[str, str, str]]:
    """(field, expected, got) wherever the producer said something and signsvc differs."""
    return [(field, expected.value(field), observed.value(field)) for field in FIELDS
            if expected.value(field) != "-" and expected.value(field) != observed.value(field)]


@cache
def verify(file: str) -> Observed:
    """signsvc on one corpus file (cached: several tests read the same verdict)."""
    return observe(verify_pdf(CORPUS / file, trust=TrustStore.vn()))


EXPECTATIONS = load_expectations()
GAPS = load_gaps()


def test_every_corpus_file_has_one_expectation_from_its_producer() -> None:
    listed = [row.file for row in EXPECTATIONS]
    assert len(listed) == len(set(listed))
    assert set(listed) == set(manifest())
    for row in EXPECTATIONS:
        for field in FIELDS:
            assert row.value(field) in ALLOWED_VALUES[field], (row.file, field)
        assert row.source.strip(), row.file
        if row.verdict == "unsigned":
            assert (row.integrity, row.modification) == ("-", "-"), row.file


@pytest.mark.parametrize("row", EXPECTATIONS, ids=lambda row: row.file)
def test_the_file_is_the_one_the_expectation_was_read_for(row: Expectation) -> None:
    # An expectation holds for exact bytes: a corpus file that changed needs re-reading.
    digest = hashlib.sha256((CORPUS / row.file).read_bytes()).hexdigest()
    assert digest == manifest()[row.file]


def test_known_gaps_name_listed_files_and_say_why() -> None:
    files = {row.file for row in EXPECTATIONS}
    keys = [(gap.file, gap.field) for gap in GAPS]
    assert len(keys) == len(set(keys)), "one row per file and field"
    for gap in GAPS:
        assert gap.file in files, gap.file
        assert gap.field in FIELDS, gap
        assert len(gap.why.strip()) > 20, gap


@pytest.mark.parametrize("row", EXPECTATIONS, ids=lambda row: row.file)
def test_disagreements_are_exactly_the_known_gaps(row: Expectation) -> None:
    # The ratchet: a new disagreement fails; a known one that is gone fails too, so
    # its row in known-gaps.tsv is removed when the engine is fixed.
    got = set(disagreements(row, verify(row.file)))
    known = {(gap.field, gap.expected, gap.got) for gap in GAPS if gap.file == row.file}
    assert got - known == set(), f"new disagreement(s) with {row.source}"
    assert known - got == set(), "fixed: remove these rows from known-gaps.tsv"


def test_signsvc_never_accepts_what_a_producer_rejects() -> None:
    justified = {gap.file for gap in GAPS
                 if gap.field == "verdict" and gap.why.startswith(JUSTIFIED)}
    false_accepts = sorted(row.file for row in EXPECTATIONS
                           if row.verdict == "reject" and verify(row.file).verdict == "accept"
                           and row.file not in justified)
    assert false_accepts == []


def test_the_corpus_tests_both_verdicts() -> None:
    # Guards the test itself: a derivation that accepted or rejected everything, or a
    # corpus that lost one kind, would make the ratchet meaningless.
    verdicts = [verify(row.file).verdict for row in EXPECTATIONS]
    assert verdicts.count("accept") >= 20
    assert verdicts.count("reject") >= 40
    assert verdicts.count("unsigned") == sum(row.verdict == "unsigned" for row in EXPECTATIONS)
