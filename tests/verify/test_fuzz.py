"""Hostile bytes (issue 13): every input gets a verdict, in bounded time, in-process.

The CI pass of :mod:`tests.verify.fuzz`: the seed corpus and the hand-built hostile
inputs with their expected verdicts, the budget's own behaviour, and a few hundred
Hypothesis mutants per target (verify_pdf, the strict reader, the CMS splitter). No
timed assertion: "within the time limit" is the library's own budget, which reports
itself (``error_type`` "TimeoutError"), and no input here may make it do so. The long
run is ``python -m tests.verify.fuzz --minutes 30``.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signsvc.errors import ValidationSetupError
from signsvc.pki.indications import Indication
from signsvc.verify import _budget
from signsvc.verify._budget import Budget, MemoryLimitError, TimeLimitError
from signsvc.verify.pdf import verify_pdf
from tests.verify.fuzz import (
    AT,
    HOSTILE,
    OPS,
    apply,
    cms_seeds,
    pdf_seeds,
    run_cms,
    run_reader,
    run_verify,
    structure_positions,
    trust,
    verdict_problem,
)

SEEDS = pdf_seeds()
SIGNED = sorted(n for n in SEEDS if not n.startswith(("regression-", "isa-")))
CMS = cms_seeds()

EXPECTED = {
    "isa-update-after-signing.pdf": (Indication.TOTAL_FAILED, None,
                                     "the document was changed after signing"),
    # Neither strict reader reads the "!" among the signature dictionary's padding;
    # qpdf's repairing reader does (_tolerant), and the byte is in the signed range.
    "regression-hang-spaces.pdf": (Indication.TOTAL_FAILED, None,
                                   "the signed bytes were changed"),
    # A certificate in the container that cryptography cannot read (lazily parsed
    # fields: version, issuer): the container is unreadable, FORMAT_FAILURE, and the
    # signed bytes are not at issue (the certificate lies in /Contents).
    "regression-cert-version.pdf": (Indication.TOTAL_FAILED, None,
                                    "unreadable certificate in the container: unreadable "
                                    "certificate: 18 is not a valid X509 version"),
    "regression-cert-issuer.pdf": (Indication.TOTAL_FAILED, None,
                                   "unreadable certificate in the container: error "
                                   "parsing asn1 value"),
}


def test_the_seed_corpus_is_there() -> None:
    assert len(SIGNED) >= 3 and set(EXPECTED) <= set(SEEDS)
    assert len(CMS) >= len(SIGNED)


@pytest.mark.parametrize("name", SIGNED)
def test_signed_seeds_pass(name: str) -> None:
    """Controls: unmutated, the seeds verify (the fuzzing starts from real signatures)."""
    result = run_verify(SEEDS[name])
    assert result.indication is Indication.TOTAL_PASSED, result.reason
    assert run_reader(SEEDS[name]) == "read"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_regression_and_attack_seeds(name: str) -> None:
    indication, error_type, reason = EXPECTED[name]
    result = run_verify(SEEDS[name])
    assert (result.indication, result.error_type) == (indication, error_type)
    assert result.reason.startswith(reason) or reason in result.reason, result.reason


def test_the_hang_of_issue_13_is_a_read_error_in_the_strict_reader() -> None:
    # The file of the bug report (a "!" among the padding spaces of the signature
    # dictionary) took the tokeniser 2^64 steps; now a reader error, INDETERMINATE.
    assert run_reader(SEEDS["regression-hang-spaces.pdf"]) == "unreadable"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_inputs_are_refused_with_the_reason(name: str) -> None:
    hostile = HOSTILE[name]
    data = hostile.build()
    result = run_verify(data)
    assert result.indication is Indication.INDETERMINATE, hostile.why
    assert hostile.reason in result.reason, result.reason
    assert result.sub_indication is None and result.signatures == ()
    assert verdict_problem(result, known_defects_ok=False) is None
    assert run_reader(data) in ("read", "unreadable", "limit")


def test_a_document_over_the_time_limit_reports_the_limit() -> None:
    path_result = run_verify(SEEDS["two-signatures.pdf"], time_limit=1e-9)
    assert path_result.indication is Indication.INDETERMINATE
    assert path_result.sub_indication is None and path_result.signatures == ()
    assert path_result.error_type == "TimeoutError"
    assert path_result.error is not None
    assert path_result.error.startswith("verification stopped: the 1e-09 s time limit ran "
                                        "out while ")
    assert path_result.sha256 is not None and path_result.size == len(
        SEEDS["two-signatures.pdf"])
    # The same document with the default budget: the time-out was the limit's doing.
    assert run_verify(SEEDS["two-signatures.pdf"]).passed


@pytest.mark.parametrize("bad", [0, -1.0, "10", True])
def test_time_limit_must_be_positive_seconds(bad: object) -> None:
    with pytest.raises(ValidationSetupError) as caught:
        verify_pdf("whatever.pdf", trust=trust(), at=AT, time_limit=bad)  # type: ignore[arg-type]
    assert caught.value.argument == "time_limit"


def test_foreign_code_is_stopped_at_the_deadline() -> None:
    """pyHanko's loops have no hook: the budget's watcher raises in the thread."""
    budget = Budget(0.05)
    spins = 0
    give_up = time.monotonic() + 60  # only if the watcher is broken
    with pytest.raises(TimeLimitError), budget.foreign():
        while time.monotonic() < give_up:
            spins += 1
    assert spins > 0 and time.monotonic() < give_up


def test_foreign_code_is_stopped_when_memory_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyHanko's reader has no object limit: growth past the cap stops it too."""
    monkeypatch.setattr(_budget, "MAX_FOREIGN_GROWTH", 64 << 20)
    held: list[bytes] = []
    with pytest.raises(MemoryLimitError), Budget(60.0).foreign():
        while len(held) < 64:  # 1 GiB only if the watcher is broken
            held.append(b"x" * (16 << 20))
            time.sleep(0.01)
    assert 4 <= len(held) < 64
    assert Budget(None).exceeded_message(MemoryLimitError()) == (
        "verification stopped: more than 64 MiB of memory used while reading the document "
        "(memory limit)")


def test_foreign_code_that_ends_in_time_is_left_alone() -> None:
    budget = Budget(30.0)
    with budget.foreign():
        total = sum(range(1000))
    # Nothing fires later: the watcher was cancelled with the block.
    time.sleep(0.2)
    assert total == 499500
    budget.check()


def test_no_budget_means_no_watcher() -> None:
    budget = Budget(None)
    with budget.foreign():
        pass
    budget.check()
    assert budget.exceeded_message(TimeLimitError()) == (
        "verification stopped: the time limit ran out while reading the document")


# -- Hypothesis: mutants of the seeds ----------------------------------------------------

_PDF_POOL = [(SEEDS[n], structure_positions(SEEDS[n])) for n in sorted(SEEDS)]
_CMS_POOL = [(der, list(range(len(der)))) for der in CMS.values()]


def _settings(examples: int) -> settings:
    # Derandomized: the same examples every run (the long run explores); no database
    # (nothing written into the tree); no deadline (time is the library's budget).
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def mutants(draw: st.DrawFn, pool: list[tuple[bytes, list[int]]]) -> bytes:
    data, places = pool[draw(st.integers(0, len(pool) - 1))]
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            pos = draw(st.sampled_from(places))
        else:
            pos = draw(st.integers(0, len(data)))
        data = apply(data, draw(st.sampled_from(OPS)), pos, draw(st.integers(0, 1 << 16)))
    return data


@_settings(600)
@given(mutants(_PDF_POOL))
def test_fuzz_verify_pdf(data: bytes) -> None:
    assert verdict_problem(run_verify(data), known_defects_ok=True) is None


@_settings(1500)
@given(mutants(_PDF_POOL))
def test_fuzz_strict_reader(data: bytes) -> None:
    assert run_reader(data) in ("read", "unreadable", "limit")


@_settings(1500)
@given(mutants(_CMS_POOL))
def test_fuzz_cms_parser(data: bytes) -> None:
    assert run_cms(data) in ("split", "refused")
