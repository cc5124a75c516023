"""Attacks on signed PDFs that a verifier must reject, and their allowed counterparts.

Every generator starts from a validly signed document (signed here with pyHanko, not
with signsvc, so the corpus does not depend on the code under test) and returns the
attacked file's bytes. The attack classes are those of:

- Mladenov, Mainka, Meyer zu Selhausen, Grothe, Schwenk, "1 Trillion Dollar Refund:
  How to Spoof PDF Signatures", ACM CCS 2019 (USF, ISA, SWA);
- Mainka, Mladenov, Rohlmann, "Shadow Attacks: Hiding and Replacing Content in Signed
  PDFs", NDSS 2021 (hide, replace, hide-and-replace);
- Rohlmann, Mladenov, Mainka, Schwenk, "Breaking the Specification: PDF Certification",
  IEEE S&P 2021 (evil annotation, sneaky signature).

Example::

    base = signed_base()                      # one page, "1.000.000 VND", signed
    forged = isa_same_object_number(base)     # an update renders "9.000.000 VND"
    assert GENUINE in base and FORGED in forged
    for attack in ATTACKS:                    # every attack, with what pyHanko says
        data = attack.build()

Each attack also changes what the page shows (:data:`GENUINE` becomes :data:`FORGED`),
so a verifier that accepts it would vouch for content the signer never saw. Besides
:data:`ATTACKS` there are :data:`IMPOSTORS` (intact signatures by look-alike
certificates) and the allowed counterparts (``allowed_*``). Generators
that need well-formed structure use pyHanko's ``IncrementalPdfFileWriter``; those whose
point is malformed structure do byte surgery, keeping every object at its offset
(same-length edits padded with spaces) so that only the attacked part is wrong.

The modules: :mod:`~tests.support.attacks._base` (base document, signing, byte
surgery), :mod:`~tests.support.attacks.usf`, :mod:`~tests.support.attacks.isa`,
:mod:`~tests.support.attacks.swa`, :mod:`~tests.support.attacks.shadow`,
:mod:`~tests.support.attacks.certification` (the attacks),
:mod:`~tests.support.attacks.allowed`, :mod:`~tests.support.attacks.impostor`,
:mod:`~tests.support.attacks.corpus` (:data:`ATTACKS`, :data:`BASES`) and
:mod:`~tests.support.attacks.checks` (independent checks).
"""

from tests.support.attacks._base import (
    FORGED,
    GENUINE,
    GOV_ROOT,
    PKI,
    VALIDATION_TIME,
    base_document,
    sign,
    signed_base,
)
from tests.support.attacks.allowed import (
    allowed_b_lta,
    allowed_form_fill,
    allowed_second_signature,
    certified_form,
)
from tests.support.attacks.checks import pyhanko_verdict, signed_digest_matches
from tests.support.attacks.corpus import ATTACKS, BASES, Attack
from tests.support.attacks.impostor import IMPOSTORS
from tests.support.attacks.isa import isa_same_object_number

__all__ = [
    "ATTACKS",
    "BASES",
    "FORGED",
    "GENUINE",
    "GOV_ROOT",
    "IMPOSTORS",
    "PKI",
    "VALIDATION_TIME",
    "Attack",
    "allowed_b_lta",
    "allowed_form_fill",
    "allowed_second_signature",
    "base_document",
    "certified_form",
    "isa_same_object_number",
    "pyhanko_verdict",
    "sign",
    "signed_base",
    "signed_digest_matches",
]
