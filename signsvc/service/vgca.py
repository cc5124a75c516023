"""VGCA's calls, mapped onto the Decree 30/2020 profiles signsvc already draws.

=============  ===========================  ===========================================
call           profile                      from the request
=============  ===========================  ===========================================
SignApproved   personal (App. I §II.7.a)    nothing (image and place: configuration)
SignIssued     organisation, with issuance  ``DocNumber`` (the number, as given) and
               (App. I §II.7.b)             ``IssuedDate`` (the date line)
SignAppendix   appendix (App. I §II.8)      ``DocNumber`` of the main document
SignCopy       copy (App. I §II.9)          nothing (copy form: configuration)
=============  ===========================  ===========================================

The other calls VGCA's plugin offers (:data:`UNSUPPORTED_CALLS`) are answered
"unsupported": signing hashes, Office files, XML, local files chosen by path, licence
and configuration calls have no safe counterpart here (SERVICE-DESIGN §1.1, §3.3).

Example::

    >>> date_line("Cần Thơ", 5, 1, 2027)
    'Cần Thơ, ngày 05 tháng 01 năm 2027'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signsvc._i18n import N_, _
from signsvc.appearance.profiles import AppearanceOptions, Profile
from signsvc.errors import BadInputError

__all__ = ["CALLS", "PROFILES", "ROLES", "UNSUPPORTED_CALLS", "CallAppearance",
           "appearance_for", "date_line", "stamp_text"]

CALLS = {"SignApproved": "approved", "SignIssued": "issued", "SignAppendix": "appendix",
         "SignCopy": "copy"}
"""The calls the service answers, and their ``[appearance.*]`` table."""
PROFILES = {"approved": Profile.PERSONAL, "issued": Profile.ORGANISATION,
            "appendix": Profile.APPENDIX, "copy": Profile.COPY}
"""The Decree 30 profile of each kind."""
ROLES = {"approved": N_("Approval (personal signature)"),
         "issued": N_("Issuance (the organisation's seal)"),
         "appendix": N_("Appendix (number and time, top right)"),
         "copy": N_("Certified copy")}
"""The role as the consent window shows it."""
UNSUPPORTED_CALLS = frozenset({
    "SignIncome", "SignPDF", "VerifyPDF", "GetCertInfo", "Config", "GetLicenseRequest",
    "SignXML", "SignOffice", "SignFile", "SignHash", "SignCms", "SignApprovedOffice",
    "SignIssuedOffice", "SignCopyOffice", "SignAppendixOffice", "VerifyOffice",
    "VerifyXML", "GetVersion", "SignJson", "SignPDFExt",
})
"""VGCA calls signsvc knows and refuses with "unsupported"."""


@dataclass(frozen=True)
class CallAppearance:
    """One ``[appearance.*]`` table of the configuration: the appearance fields and
    the date line's place."""

    fields: Mapping[str, Any]
    """AppearanceOptions keywords (paths resolved)."""
    place: str | None = None
    """The place of the date line (``Cần Thơ`` in "Cần Thơ, ngày ...")."""



def date_line(place: str, day: int, month: int, year: int) -> str:
    """The place-and-date line (Decree 30/2020 App. I §II.4: a day below 10 and a
    month below 3 take a leading zero)."""
    shown_day = f"{day:02d}" if day < 10 else str(day)
    shown_month = f"{month:02d}" if month < 3 else str(month)
    return f"{place}, ngày {shown_day} tháng {shown_month} năm {year}"


def appearance_for(kind: str, appearance: CallAppearance, *, doc_number: str | None,
                   issued: tuple[int, int, int] | None) -> AppearanceOptions:
    """The appearance of a call of ``kind``, its texts from the request.

    For issuance the number is stamped when the configuration gives it a place
    (``number_anchor`` or ``number_box_mm``), and the date line when it gives one
    (``date_anchor``/``date_box_mm``, and ``place``).

    Raises:
        BadInputError: a text the call needs is missing, or the configuration is
            incomplete (AppearanceOptions says what).
    """
    fields = dict(appearance.fields)
    profile = PROFILES[kind]
    if profile is Profile.ORGANISATION:
        if "number_anchor" in fields or "number_box_mm" in fields:
            if not doc_number:
                raise BadInputError(_("DocNumber is missing: issuance stamps the number"))
            fields["doc_number"] = doc_number
        if "date_anchor" in fields or "date_box_mm" in fields:
            if issued is None:
                raise BadInputError(_("IssuedDate is missing: issuance stamps the date"))
            if not appearance.place:
                raise BadInputError("the date line needs 'place' in [appearance.issued]")
            fields["doc_date"] = date_line(appearance.place, *issued)
    elif profile is Profile.APPENDIX:
        if not doc_number:
            raise BadInputError(_("DocNumber is missing: an appendix carries the main "
                                  "document's number"))
        fields["doc_number"] = doc_number
    return AppearanceOptions(profile=profile, **fields)


def stamp_text(options: AppearanceOptions) -> str:
    """What will be written on the page besides the signature, for the consent
    window ("" when nothing)."""
    parts = [options.copy_form, options.org_name if options.profile is Profile.COPY else None,
             options.doc_number, options.doc_date]
    return "; ".join(p for p in parts if p)
