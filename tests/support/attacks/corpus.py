"""The attack corpus: every attack with what independent tools say about it.

Collects the generators of :mod:`tests.support.attacks.usf`, :mod:`~tests.support.attacks.isa` and
:mod:`~tests.support.attacks.swa` (Mladenov et al., "1 Trillion Dollar Refund: How to Spoof PDF
Signatures", ACM CCS 2019), :mod:`~tests.support.attacks.shadow` (Mainka et al., "Shadow
Attacks", NDSS 2021) and :mod:`~tests.support.attacks.certification` (Rohlmann et al., IEEE S&P
2021), each paired with the signed document it starts from.

Example::

    for attack in ATTACKS:                    # every attack, with what pyHanko says
        data = attack.build()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tests.support.attacks._base import signed_base
from tests.support.attacks.allowed import certified_form
from tests.support.attacks.certification import (
    evil_annotation,
    signature_widget_restyled,
    sneaky_signature_field,
)
from tests.support.attacks.isa import (
    isa_dss_smuggle,
    isa_object_stream,
    isa_open_action_javascript,
    isa_page_added,
    isa_page_and_catalog,
    isa_same_object_number,
    isa_stowaway_hex_xref_stream,
    isa_stowaway_in_allowed_update,
    isa_trailer_root_swap,
    isa_update_with_xref,
    isa_update_without_xref,
    isa_with_second_signature,
    isa_without_xref_after_hex_xref_stream,
    isa_xref_without_prev,
)
from tests.support.attacks.shadow import (
    shadow_hide_and_replace_full,
    shadow_hide_and_replace_signed,
    shadow_hide_and_replace_xref_only,
    shadow_hide_annotation_flagged,
    shadow_hide_annotation_removed,
    shadow_hide_annotation_signed,
    shadow_hide_xobject,
    shadow_hide_xobject_signed,
    shadow_overlay_signed,
    shadow_replace_font,
    shadow_replace_overlay,
)
from tests.support.attacks.swa import swa_gap_objects_new_xref, swa_relocated_tail
from tests.support.attacks.usf import (
    usf_byterange_beyond_eof,
    usf_byterange_empty,
    usf_byterange_missing,
    usf_byterange_negative,
    usf_byterange_not_from_zero,
    usf_byterange_null,
    usf_byterange_overlapping,
    usf_byterange_reals,
    usf_byterange_strings,
    usf_byterange_three_numbers,
    usf_contents_empty,
    usf_contents_literal_string,
    usf_contents_missing,
    usf_contents_null,
    usf_field_value_dangling,
)

Family = Literal["USF", "ISA", "SWA", "shadow", "EAA/SSA"]
PyhankoSays = Literal["rejects", "accepts", "no-signature", "error"]


@dataclass(frozen=True)
class Attack:
    """One attacked file and what independent tools say about it."""

    name: str
    family: Family
    base: Callable[[], bytes]
    """Builds the signed document the attack starts from (validly signed)."""
    attack: Callable[[bytes], bytes]
    pyhanko: PyhankoSays
    """What pyHanko 0.38's validator says (``validate_pdf_signature``, bottom line over
    every signature): "accepts" is a pyHanko finding, not what signsvc may do."""
    signed_bytes_intact: bool
    """The original signature's /ByteRange still names bytes whose hash equals its
    messageDigest (the attack keeps the signature cryptographically valid and relies
    on the verifier missing what was done around it)."""
    shown_by_poppler: bool = True
    """Poppler (which follows the xref, as ISO 32000 says) renders the forgery. False
    for objects no xref lists (only readers that rebuild the xref by scanning show
    them) and for JavaScript (poppler runs none)."""

    def build(self) -> bytes:
        return self.attack(self.base())


def _a(name: str, family: Family, attack: Callable[[bytes], bytes], pyhanko: PyhankoSays,
       intact: bool, base: Callable[[], bytes] = signed_base, *,
       shown_by_poppler: bool = True) -> Attack:
    return Attack(name, family, base, attack, pyhanko, intact, shown_by_poppler)


ATTACKS: tuple[Attack, ...] = (
    _a("usf-byterange-missing", "USF", usf_byterange_missing, "error", False),
    _a("usf-byterange-null", "USF", usf_byterange_null, "error", False),
    _a("usf-byterange-empty", "USF", usf_byterange_empty, "rejects", False),
    _a("usf-byterange-three-numbers", "USF", usf_byterange_three_numbers, "error", False),
    _a("usf-byterange-negative", "USF", usf_byterange_negative, "rejects", False),
    _a("usf-byterange-reals", "USF", usf_byterange_reals, "error", False),
    _a("usf-byterange-strings", "USF", usf_byterange_strings, "error", False),
    _a("usf-byterange-not-from-zero", "USF", usf_byterange_not_from_zero, "rejects", False),
    _a("usf-byterange-overlapping", "USF", usf_byterange_overlapping, "rejects", False),
    _a("usf-byterange-beyond-eof", "USF", usf_byterange_beyond_eof, "rejects", False),
    _a("usf-contents-missing", "USF", usf_contents_missing, "error", False),
    _a("usf-contents-empty", "USF", usf_contents_empty, "error", False),
    _a("usf-contents-null", "USF", usf_contents_null, "error", False),
    _a("usf-contents-literal-string", "USF", usf_contents_literal_string, "rejects", False),
    _a("usf-field-value-dangling", "USF", usf_field_value_dangling, "error", False),
    _a("isa-update-with-xref", "ISA", isa_update_with_xref, "rejects", True),
    _a("isa-update-without-xref", "ISA", isa_update_without_xref, "accepts", True,
       shown_by_poppler=False),
    _a("isa-page-and-catalog", "ISA", isa_page_and_catalog, "rejects", True),
    _a("isa-same-object-number", "ISA", isa_same_object_number, "rejects", True),
    _a("isa-xref-without-prev", "ISA", isa_xref_without_prev, "rejects", True),
    _a("isa-page-added", "ISA", isa_page_added, "rejects", True),
    _a("isa-open-action-javascript", "ISA", isa_open_action_javascript, "rejects", True,
       shown_by_poppler=False),
    _a("isa-object-stream", "ISA", isa_object_stream, "rejects", True),
    _a("isa-dss-smuggle", "ISA", isa_dss_smuggle, "rejects", True),
    _a("isa-with-second-signature", "ISA", isa_with_second_signature, "rejects", True),
    _a("isa-trailer-root-swap", "ISA", isa_trailer_root_swap, "rejects", True),
    _a("isa-stowaway-in-allowed-update", "ISA", isa_stowaway_in_allowed_update, "accepts",
       True, certified_form, shown_by_poppler=False),
    _a("isa-stowaway-hex-xref-stream", "ISA", isa_stowaway_hex_xref_stream, "accepts", True,
       shown_by_poppler=False),
    _a("isa-without-xref-after-hex-xref-stream", "ISA",
       isa_without_xref_after_hex_xref_stream, "accepts", True, shown_by_poppler=False),
    _a("swa-relocated-tail", "SWA", swa_relocated_tail, "rejects", True),
    _a("swa-gap-objects-new-xref", "SWA", swa_gap_objects_new_xref, "rejects", True),
    _a("shadow-hide-xobject", "shadow", shadow_hide_xobject, "rejects", True,
       shadow_hide_xobject_signed),
    _a("shadow-hide-annotation-removed", "shadow", shadow_hide_annotation_removed, "rejects",
       True, shadow_hide_annotation_signed),
    _a("shadow-hide-annotation-flagged", "shadow", shadow_hide_annotation_flagged, "rejects",
       True, shadow_hide_annotation_signed),
    _a("shadow-replace-font", "shadow", shadow_replace_font, "rejects", True),
    _a("shadow-replace-overlay", "shadow", shadow_replace_overlay, "rejects", True,
       shadow_overlay_signed),
    _a("shadow-hide-and-replace-xref-only", "shadow", shadow_hide_and_replace_xref_only,
       "rejects", True, shadow_hide_and_replace_signed),
    _a("shadow-hide-and-replace-full", "shadow", shadow_hide_and_replace_full, "rejects",
       True),
    _a("evil-annotation-approval", "EAA/SSA", evil_annotation, "rejects", True),
    _a("evil-annotation-certified-p2", "EAA/SSA", evil_annotation, "rejects", True,
       certified_form),
    _a("sneaky-signature-field-certified-p2", "EAA/SSA", sneaky_signature_field, "rejects",
       True, certified_form),
    _a("signature-widget-restyled", "EAA/SSA", signature_widget_restyled, "rejects", True),
)
"""Every attack; each must come out TOTAL-FAILED or with a disallowed modification."""

BASES: dict[str, Callable[[], bytes]] = {
    "signed-base": signed_base,
    "shadow-hide-xobject-signed": shadow_hide_xobject_signed,
    "shadow-hide-annotation-signed": shadow_hide_annotation_signed,
    "shadow-overlay-signed": shadow_overlay_signed,
    "shadow-hide-and-replace-signed": shadow_hide_and_replace_signed,
    "certified-form": certified_form,
}
"""The validly signed documents the attacks start from (controls: must pass)."""
