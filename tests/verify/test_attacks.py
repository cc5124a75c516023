"""verify_pdf against the attack corpus of tests/support/attacks/ (USF, ISA, SWA, shadow).

The rule (issue 6): every attack file comes out TOTAL-FAILED, or with a signature whose
modification level is ``disallowed``, or with ``error`` set; never TOTAL-PASSED. The
allowed counterparts (a second signature, PAdES B-LTA, form filling under DocMDP P=2)
must pass with modification ``allowed``.

Each attack is also checked without signsvc, so a test here cannot pass because the
generator quietly built something harmless:

- the signed documents the attacks start from pass in signsvc and pyHanko (controls);
- :func:`tests.support.attacks.signed_digest_matches` (regexes + asn1crypto, no PDF parser)
  and poppler's pdfsig say whether the signature's /ByteRange still names the bytes
  that were signed;
- poppler renders the attacked page differently from the signed one (where poppler
  shows the forgery at all);
- pyHanko 0.38's own verdict is pinned per attack (``Attack.pyhanko``). Where pyHanko
  accepts an attack, that is a pyHanko finding; signsvc must still reject it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from certs_test.services import TestServices
from signsvc import TrustStore, ValidationCache
from signsvc.pki.indications import Indication, SubIndication
from signsvc.verify.pdf import verify_pdf
from signsvc.verify.results import DocumentResult, ModificationLevel
from tests.support import attacks
from tests.support.attacks import ATTACKS, BASES, GOV_ROOT, IMPOSTORS, VALIDATION_TIME, Attack
from tests.support.pdfcheck import pdfsig
from tests.support.tools import need

_BY_NAME = {a.name: a for a in ATTACKS}


@pytest.fixture(scope="session")
def trust() -> TrustStore:
    return TrustStore.from_paths([GOV_ROOT])


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every base document and every attack, written once per session."""
    directory = tmp_path_factory.mktemp("attacks")
    out: dict[str, Path] = {}
    built: dict[Callable[[], bytes], bytes] = {}
    for name, base in BASES.items():
        built[base] = base()
        out[name] = directory / f"{name}.pdf"
        out[name].write_bytes(built[base])
    for attack in ATTACKS:
        out[attack.name] = directory / f"{attack.name}.pdf"
        out[attack.name].write_bytes(attack.attack(built[attack.base]))
    for name, make in IMPOSTORS.items():
        out[name] = directory / f"{name}.pdf"
        out[name].write_bytes(make())
    return out


def _base_name(attack: Attack) -> str:
    return next(name for name, base in BASES.items() if base is attack.base)


def _rejected(result: DocumentResult) -> bool:
    """The issue's rule: TOTAL-FAILED, or a disallowed modification, or an error."""
    disallowed = any(s.modification is not None
                     and s.modification.level is ModificationLevel.DISALLOWED
                     for s in result.signatures)
    return (result.indication is Indication.TOTAL_FAILED or disallowed
            or result.error is not None)


def _describe(result: DocumentResult) -> str:
    sigs = ", ".join(f"{s.field}={s.indication.value}/{s.sub_indication}"
                     f"/mod={s.modification.level.value if s.modification else None}"
                     for s in result.signatures)
    return f"{result.indication.value} ({result.reason}; error={result.error}) [{sigs}]"


# --- controls: the documents the attacks start from are validly signed ---------------


@pytest.mark.parametrize("name", list(BASES))
def test_base_document_passes(name: str, corpus: dict[str, Path], trust: TrustStore) -> None:
    result = verify_pdf(corpus[name], trust=trust, at=VALIDATION_TIME)
    assert result.indication is Indication.TOTAL_PASSED, _describe(result)
    [sig] = result.signatures
    assert sig.intact and sig.modification is not None
    assert sig.modification.level is ModificationLevel.NONE
    assert attacks.pyhanko_verdict(corpus[name]).says == "accepts"
    assert attacks.signed_digest_matches(corpus[name].read_bytes())


# --- the attacks are what they claim (no signsvc involved) ---------------------------


def _render_tops(path: Path, prefix: Path) -> list[bytes]:
    """Poppler's rendering (50 dpi, grey) of the top of every page: title and amount."""
    subprocess.run(["pdftoppm", "-r", "50", "-gray", "-x", "0", "-y", "0", "-W", "300",
                    "-H", "80", str(path), str(prefix)], check=True, capture_output=True)
    return [p.read_bytes() for p in sorted(prefix.parent.glob(f"{prefix.name}-*.pgm"))]


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_attack_is_live(attack: Attack, corpus: dict[str, Path], tmp_path: Path) -> None:
    """The generator built a real attack: the signed bytes are (or are not) intact as
    documented, and poppler shows a different page than the one signed."""
    data = corpus[attack.name].read_bytes()
    assert attacks.signed_digest_matches(data) is attack.signed_bytes_intact
    need("pdftoppm")
    signed = _render_tops(corpus[_base_name(attack)], tmp_path / "signed")
    shown = _render_tops(corpus[attack.name], tmp_path / "attacked")
    # Poppler follows the xref, so objects no xref lists (ISA variant 2, stowaways) are
    # not shown by it (viewers that rebuild the xref by scanning show them), and it
    # runs no JavaScript.
    assert (shown != signed) is attack.shown_by_poppler


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_pdfsig_sees_the_attack_as_built(attack: Attack, corpus: dict[str, Path]) -> None:
    """Poppler's pdfsig (NSS) on the first signature: its digest and signature verify
    exactly when the attack kept the signed bytes intact, and then it does not claim
    the whole document is signed."""
    need("pdfsig")
    first = pdfsig(corpus[attack.name])[0]
    assert first.signature_valid is attack.signed_bytes_intact, first.signature_validation
    if attack.signed_bytes_intact:
        assert not first.total_document_signed


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_pyhanko_verdict(attack: Attack, corpus: dict[str, Path]) -> None:
    """What pyHanko 0.38 says, pinned. "accepts" (isa-update-without-xref: objects
    after the last %%EOF without an xref are ignored, the signature reported as
    covering the entire revision with no modification) is a pyHanko finding."""
    verdict = attacks.pyhanko_verdict(corpus[attack.name])
    assert verdict.says == attack.pyhanko, verdict.detail


# --- signsvc --------------------------------------------------------------------------


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_verify_pdf_rejects_attack(attack: Attack, corpus: dict[str, Path],
                                   trust: TrustStore) -> None:
    result = verify_pdf(corpus[attack.name], trust=trust, at=VALIDATION_TIME)
    assert result.indication is not Indication.TOTAL_PASSED, _describe(result)
    assert _rejected(result), _describe(result)
    # The attacked signature comes first (isa-with-second-signature adds a second,
    # genuinely valid one in the same update that changes the content).
    if result.signatures:
        assert not result.signatures[0].passed, _describe(result)
    # ETSI EN 319 102-1 terms: HASH_FAILURE only when the digest does not match; a
    # disallowed change with an intact digest is FORMAT_FAILURE, still TOTAL-FAILED.
    for sig in result.signatures:
        if sig.sub_indication is SubIndication.HASH_FAILURE:
            assert sig.integrity is not None and not sig.integrity.digest_ok, _describe(result)
        if (sig.modification is not None and sig.integrity is not None
                and sig.modification.level is ModificationLevel.DISALLOWED
                and sig.integrity.intact):
            assert (sig.indication, sig.sub_indication) == (
                Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE), _describe(result)


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_verify_pdf_rejects_attack_with_revocation_off(attack: Attack,
                                                       corpus: dict[str, Path],
                                                       trust: TrustStore) -> None:
    """Relaxing revocation checking must not relax the structural checks."""
    result = verify_pdf(corpus[attack.name], trust=trust, at=VALIDATION_TIME,
                        revocation="off")
    assert result.indication is not Indication.TOTAL_PASSED, _describe(result)
    assert _rejected(result), _describe(result)


# --- impostors: intact signatures, chains that only look trusted ----------------------

_PYHANKO_ON_IMPOSTORS = {
    "impostor-self-signed": "rejects",
    "impostor-fake-intermediate": "rejects",
    # pyhanko-certvalidator 0.33 asserts the issuer key is EC when the certificate's
    # signature algorithm is ECDSA (sig_validate.py): an AssertionError escapes
    # validate_pdf_signature instead of a failed status. A pyHanko finding.
    "impostor-fake-intermediate-ec": "error",
}


@pytest.mark.parametrize("name", list(IMPOSTORS))
def test_impostor_is_not_trusted(name: str, corpus: dict[str, Path],
                                 trust: TrustStore) -> None:
    path = corpus[name]
    assert attacks.signed_digest_matches(path.read_bytes())
    result = verify_pdf(path, trust=trust, at=VALIDATION_TIME)
    assert result.indication is not Indication.TOTAL_PASSED, _describe(result)
    [sig] = result.signatures
    assert sig.intact, _describe(result)  # the signature itself is fine ...
    assert sig.chain is not None and not sig.chain.valid  # ... its chain is not
    verdict = attacks.pyhanko_verdict(path)
    assert verdict.says == _PYHANKO_ON_IMPOSTORS[name], verdict.detail


def test_impostor_after_the_genuine_document_with_a_shared_cache(
        corpus: dict[str, Path], trust: TrustStore) -> None:
    """A cache warmed by the genuine signer (same subject, issuer and serial number)
    must not vouch for the look-alike certificates."""
    cache = ValidationCache()
    genuine = verify_pdf(corpus["signed-base"], trust=trust, at=VALIDATION_TIME, cache=cache)
    assert genuine.indication is Indication.TOTAL_PASSED, _describe(genuine)
    for name in IMPOSTORS:
        result = verify_pdf(corpus[name], trust=trust, at=VALIDATION_TIME, cache=cache)
        assert result.indication is not Indication.TOTAL_PASSED, (name, _describe(result))


# --- allowed counterparts -------------------------------------------------------------


@pytest.fixture(scope="session")
def allowed(tmp_path_factory: pytest.TempPathFactory,
            services: TestServices) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("allowed")
    certified = attacks.certified_form()
    files = {
        "second-signature": attacks.allowed_second_signature(attacks.signed_base()),
        "certified-form": certified,
        "form-fill": attacks.allowed_form_fill(certified),
        "b-lta": attacks.allowed_b_lta(services.tsa_url),
    }
    out = {}
    for name, data in files.items():
        out[name] = directory / f"{name}.pdf"
        out[name].write_bytes(data)
    return out


def test_second_signature_is_allowed(allowed: dict[str, Path], trust: TrustStore) -> None:
    path = allowed["second-signature"]
    result = verify_pdf(path, trust=trust, at=VALIDATION_TIME)
    assert result.indication is Indication.TOTAL_PASSED, _describe(result)
    first, second = result.signatures
    assert (first.field, second.field) == ("Signature1", "Signature2")
    assert first.modification is not None and second.modification is not None
    assert first.modification.level is ModificationLevel.ALLOWED
    assert second.modification.level is ModificationLevel.NONE
    assert second.signer is not None and second.signer.common_name == "UBND quận Ô Môn"
    assert attacks.pyhanko_verdict(path).says == "accepts"


def test_form_fill_under_docmdp_p2_is_allowed(allowed: dict[str, Path],
                                              trust: TrustStore) -> None:
    before = verify_pdf(allowed["certified-form"], trust=trust, at=VALIDATION_TIME)
    assert before.indication is Indication.TOTAL_PASSED, _describe(before)
    path = allowed["form-fill"]
    result = verify_pdf(path, trust=trust, at=VALIDATION_TIME)
    assert result.indication is Indication.TOTAL_PASSED, _describe(result)
    [sig] = result.signatures
    assert sig.modification is not None
    assert sig.modification.level is ModificationLevel.ALLOWED, sig.modification
    assert result.revisions == 3
    assert attacks.pyhanko_verdict(path).says == "accepts"


def test_form_fill_is_allowed_but_a_content_change_next_to_it_is_not(
        allowed: dict[str, Path], trust: TrustStore, tmp_path: Path) -> None:
    """The same P=2 document, filled, then the amount changed in one more update:
    an allowed update before does not make a later disallowed one allowed."""
    filled = allowed["form-fill"].read_bytes()
    path = tmp_path / "filled-then-forged.pdf"
    path.write_bytes(attacks.isa_same_object_number(filled))
    result = verify_pdf(path, trust=trust, at=VALIDATION_TIME)
    assert result.indication is not Indication.TOTAL_PASSED, _describe(result)
    assert _rejected(result), _describe(result)


def test_b_lta_is_allowed(allowed: dict[str, Path], trust: TrustStore) -> None:
    """DSS and a document time-stamp after the signature. Validated at the current
    time: the TSA and OCSP responder of the test services stamp the real time."""
    path = allowed["b-lta"]
    result = verify_pdf(path, trust=trust)
    assert result.indication is Indication.TOTAL_PASSED, _describe(result)
    kinds = [s.kind for s in result.signatures]
    assert kinds == ["signature", "document-timestamp"], kinds
    sig = result.signatures[0]
    assert sig.modification is not None
    assert sig.modification.level is ModificationLevel.ALLOWED, sig.modification
    assert sig.timestamp is not None and sig.timestamp.valid
    assert attacks.pyhanko_verdict(path, moment=None).says == "accepts"


def test_b_lta_then_forged_is_rejected(allowed: dict[str, Path], trust: TrustStore,
                                       tmp_path: Path) -> None:
    """A content change after the document time-stamp: both the signature and the
    time-stamp are over a revision that is no longer what is shown."""
    path = tmp_path / "b-lta-forged.pdf"
    path.write_bytes(attacks.isa_same_object_number(allowed["b-lta"].read_bytes()))
    result = verify_pdf(path, trust=trust)
    assert result.indication is not Indication.TOTAL_PASSED, _describe(result)
    assert _rejected(result), _describe(result)
