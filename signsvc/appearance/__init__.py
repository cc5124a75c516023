"""How a signature looks on the page: the Decree 30/2020 App. I profiles.

Example::

    >>> from signsvc.appearance import AppearanceOptions, Profile
    >>> look = AppearanceOptions(profile=Profile.PERSONAL, anchor="Nguyễn Văn A",
    ...                          signature_image="chu-ky.png")  # doctest: +SKIP

Private modules: ``_fonts`` (the OpenType font and its shaping), ``_textfind`` (where
a text is on a page), ``_stamp`` (the composite appearance stream).
"""

from signsvc.appearance.profiles import (
    COPY_FORMS,
    MM,
    AppearanceMaker,
    AppearanceOptions,
    AppearancePlan,
    Profile,
)

__all__ = ["COPY_FORMS", "MM", "AppearanceMaker", "AppearanceOptions", "AppearancePlan",
           "Profile"]
