"""A bad document fails alone, whatever is wrong with it: mutants of the suite's own
PDFs (byte flips, truncations, deleted and duplicated ranges, zeroed runs, damaged
structure, corrupted object and xref streams) through ``sign_batch``, seeded, in CI.

Each mutant must come back as a result of its own: signed (then an intact incremental
update of exactly those bytes), or failed with a signsvc error that names the file and
is not an internal error; and the good document after the mutants is still signed.
The verifier's fuzz harness is tests/verify/test_fuzz.py; this is the signer's.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import signsvc
from drivers import Pkcs12Key
from signsvc.appearance import AppearanceOptions, Profile
from tests.support.paths import PKI, ROOT
from tests.support.pdfcheck import pyhanko_validate
from tests.support.pdfs import write_one_page_pdf
from tests.support.signfuzz import OPS, Mutant, make_mutants, seeds

SEED = 15
"""The issue's number: the same mutants every run."""
ALLOWED = {"BadInputError", "AppearanceError", "SigningError"}


@pytest.fixture(scope="module")
def key() -> Pkcs12Key:
    return Pkcs12Key.load(PKI / "official-rsa2048.p12", "1234")


@pytest.fixture(scope="module")
def seed_docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return seeds(tmp_path_factory.mktemp("seeds"))


def _write(directory: Path, mutants: list[Mutant]) -> list[Path]:
    directory.mkdir(parents=True)
    paths = []
    for mutant in mutants:
        path = directory / f"{mutant.name}.pdf"
        path.write_bytes(mutant.data)
        paths.append(path)
    return paths


def _check(results: list[signsvc.SignResult], inputs: list[Path]) -> Counter[str]:
    """Every input has exactly one result (those decided before signing come first);
    failures are named, typed, and not signsvc's defects; signed outputs are
    incremental updates of their inputs."""
    assert sorted(r.input for r in results) == sorted(inputs)
    outcome: Counter[str] = Counter()
    for result in results:
        if result.status == "signed":
            assert result.output is not None and result.output.exists()
            assert result.output.read_bytes().startswith(result.input.read_bytes())
            outcome["signed"] += 1
            continue
        assert result.status == "failed", result
        assert result.error_type in ALLOWED, (result.input.name, result.error_type, result.error)
        assert (result.error or "").startswith(f"{result.input}: "), result.error
        assert "internal error" not in (result.error or ""), result.error
        outcome[result.error_type or ""] += 1
    return outcome


def test_the_mutants_are_the_same_every_run(seed_docs: dict[str, bytes]) -> None:
    first = make_mutants(seed_docs, count=50, seed=SEED)
    again = make_mutants(seed_docs, count=50, seed=SEED)
    assert [m.data for m in first] == [m.data for m in again]
    assert len({m.data for m in first}) == 50  # 50 different inputs
    assert {m.name.split("-")[1] for m in first} == set(OPS)  # every mutation is used
    # The object-stream seed is readable unmutated: the corruption is what fails.
    assert b"/ObjStm" in seed_docs["object-streams.pdf"]


def test_a_corrupted_object_stream_fails_alone_in_a_batch_of_80(
        tmp_path: Path, key: Pkcs12Key, seed_docs: dict[str, bytes]) -> None:
    """The issue's report: 80 mutated PDFs, the 26th with an object stream that does
    not decompress (zlib.error out of pyHanko's reader); 25 were reported, then the
    batch crashed. Now all 80 have a result, and the documents after it are signed."""
    mutants = make_mutants(seed_docs, count=79, seed=SEED + 1)
    broken = next(m for m in make_mutants(seed_docs, count=5, seed=SEED)
                  if m.name.endswith("streams-object-streams"))
    inputs = _write(tmp_path / "in", [*mutants[:25], broken, *mutants[25:]])
    good = write_one_page_pdf(tmp_path / "in" / "zz-good.pdf")
    results = signsvc.sign_batch([*inputs, good], tmp_path / "out", key)
    assert len(results) == 81
    _check(results, [*inputs, good])
    by_input = {r.input: r for r in results}
    zlib_failure = by_input[inputs[25]]
    assert inputs[25].name == f"{broken.name}.pdf"
    assert zlib_failure.error_type == "BadInputError"
    assert "zlib.error" in (zlib_failure.error or "")
    after = [by_input[p].status for p in inputs[26:]]
    assert after.count("signed") >= 10, after  # the documents after it were attempted
    assert by_input[good].status == "signed"
    assert [p for p in (tmp_path / "out").iterdir() if not p.name.endswith(".pdf")] == []


@pytest.mark.parametrize(("jobs", "executor", "count"), [
    (1, "thread", 600),     # this thread: every exception path of one process
    (2, "process", 100),    # forked workers: results and temporaries cross the pipe
])
def test_fuzz_the_signing_path(tmp_path: Path, key: Pkcs12Key, seed_docs: dict[str, bytes],
                               jobs: int, executor: str, count: int) -> None:
    mutants = make_mutants(seed_docs, count=count, seed=SEED * jobs)
    inputs = _write(tmp_path / "in", mutants)
    good = write_one_page_pdf(tmp_path / "in" / "zz-good.pdf")
    results = signsvc.sign_batch([*inputs, good], tmp_path / "out", key, jobs=jobs,
                                 executor=executor)  # type: ignore[arg-type]
    outcome = _check(results, [*inputs, good])
    # The document after every mutant is still signed (the batch went on). With two
    # workers, results come back in completion order, so it is looked up, not indexed.
    assert {r.input: r for r in results}[good].status == "signed"
    if jobs == 1:
        assert results[-1].input == good
    # Both outcomes occur: the mutants are neither all harmless nor all fatal.
    assert outcome["signed"] >= count // 5 and outcome["BadInputError"] >= count // 5, outcome
    # An independent reader finds each signed output's new signature intact.
    checked = 0
    for result in results:
        if result.status != "signed" or result.input == good:
            continue
        try:
            last = pyhanko_validate(result.output)[-1]  # type: ignore[arg-type]
        except Exception:  # a mutant that pyHanko's validator cannot read
            continue
        assert last.intact and last.coverage == "ENTIRE_FILE", (result.input.name, last)
        checked += 1
    assert checked >= outcome["signed"] // 2, (checked, outcome)


def test_fuzz_the_appearance_path(tmp_path: Path, key: Pkcs12Key,
                                  seed_docs: dict[str, bytes]) -> None:
    """Drawing a visible signature reads the page (its boxes, resources, content, the
    text under an anchor): mutants fail there alone too."""
    image = PKI / "images" / "signature.png"
    mutants = make_mutants(seed_docs, count=150, seed=SEED + 2)
    inputs = _write(tmp_path / "in", mutants)
    good = ROOT / "samples" / "quyet-dinh-123.pdf"
    boxed = signsvc.sign_batch(
        [*inputs, good], tmp_path / "boxed", key,
        appearance=AppearanceOptions(profile=Profile.PERSONAL, signature_image=image,
                                     page=1, box_mm=(120, 200, 50, 25)))
    _check(boxed, [*inputs, good])
    assert boxed[-1].input == good and boxed[-1].status == "signed"
    anchored = signsvc.sign_batch(
        [*inputs[:60], good], tmp_path / "anchored", key,
        appearance=AppearanceOptions(profile=Profile.PERSONAL, signature_image=image,
                                     anchor="Nguyễn Thị Lấp Lánh Ánh"))
    _check(anchored, [*inputs[:60], good])
    assert anchored[-1].input == good and anchored[-1].status == "signed"
