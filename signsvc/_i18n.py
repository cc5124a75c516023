"""The language of what signsvc says to people: Vietnamese or English (a leaf module).

Messages are written in English, which is the gettext msgid; the Vietnamese catalog is
``signsvc/locale/vi/LC_MESSAGES/signsvc.po`` (compiled to ``signsvc.mo`` beside it,
both committed, so an install without Babel speaks Vietnamese; ``scripts/i18n.sh``
extracts, updates and compiles). Placeholders are named and filled *after*
translation, so a translator may move them::

    >>> from signsvc._i18n import _, set_language
    >>> set_language("vi")
    >>> _("{path}: not a PDF").format(path="a.txt")  # doctest: +SKIP
    'a.txt: không phải tệp PDF'
    >>> set_language("en")
    >>> _("{path}: not a PDF").format(path="a.txt")
    'a.txt: not a PDF'

The language is chosen once per command (``signsvc --lang vi|en``, ``$SIGNSVC_LANG``),
else from the locale: ``LC_ALL``, ``LC_MESSAGES``, ``LANG``, ``LANGUAGE``, the first
one set, meaning Vietnamese when it starts with ``vi`` (``vi_VN.UTF-8``).
JSON output, error classes and their attributes never depend on it.
"""

from __future__ import annotations

import gettext
import os
from datetime import datetime
from pathlib import Path

from drivers._text import Text, text
from signsvc._time import VIETNAM_TIME

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "Text",
    "_",
    "error_text",
    "joined",
    "language",
    "language_from_environment",
    "localize",
    "ngettext",
    "os_reason",
    "set_language",
    "shown_date",
    "shown_time",
    "text",
]

DOMAIN = "signsvc"
"""The gettext domain (``signsvc.po`` / ``signsvc.mo``)."""
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
"""Where the catalogs are: ``LOCALE_DIR/<lang>/LC_MESSAGES/signsvc.mo``."""
LANGUAGES = ("vi", "en")
"""The languages signsvc speaks; English is the msgid itself."""

_LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")
_state: dict[str, str | None] = {"language": None}
_catalogs: dict[str, gettext.NullTranslations] = {}


def language_from_environment() -> str:
    """``"vi"`` when the first locale variable set starts with ``vi``, else ``"en"``."""
    for name in _LOCALE_VARIABLES:
        value = os.environ.get(name)
        if value:
            return "vi" if value.lower().startswith("vi") else "en"
    return "en"


def set_language(lang: str | None) -> None:
    """Speak ``lang`` (``"vi"`` or ``"en"``) from now on; None: from the locale.

    Raises:
        ValueError: another language.
    """
    chosen = language_from_environment() if lang is None else lang.lower()
    if chosen not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; use one of {', '.join(LANGUAGES)}")
    _state["language"] = chosen


def language() -> str:
    """The language in use (chosen from the locale on first use)."""
    current = _state["language"]
    if current is None:
        set_language(None)
        current = _state["language"]
    assert current is not None
    return current


def _catalog() -> gettext.NullTranslations:
    lang = language()
    catalog = _catalogs.get(lang)
    if catalog is None:
        # fallback: an English run, or an install missing the .mo, says the msgid.
        catalog = (gettext.NullTranslations() if lang == "en" else
                   gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True))
        _catalogs[lang] = catalog
    return catalog


def _(message: str) -> str:
    """``message`` in the language in use (``message`` itself in English)."""
    return _catalog().gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form for ``count``, in the language in use."""
    return _catalog().ngettext(singular, plural, count)


def N_(message: str) -> str:  # noqa: N802 -- gettext's conventional name (xgettext -k N_)
    """Mark ``message`` for extraction only; it is translated where it is shown
    (click help texts, tables of messages built at import time)."""
    return message


_OS_ERRORS = frozenset((
    N_("No such file or directory"), N_("Permission denied"), N_("Not a directory"),
    N_("Is a directory"), N_("File exists"), N_("No space left on device"),
    N_("Read-only file system"), N_("Directory not empty"), N_("Disk quota exceeded")))
"""The C library's words (``strerror``) for the file errors people meet."""


def os_reason(exc: OSError) -> str:
    """Why a file operation failed, in the language in use (``strerror``, else the
    exception's text)."""
    if exc.strerror in _OS_ERRORS:
        return _(exc.strerror)
    return exc.strerror or str(exc)


def shown_date(moment: datetime) -> str:
    """The day of a time, in Vietnam time: ``dd/mm/yyyy`` in Vietnamese, ISO 8601
    (``yyyy-mm-dd``) in English."""
    local = moment.astimezone(VIETNAM_TIME)
    return local.strftime("%d/%m/%Y") if language() == "vi" else local.date().isoformat()


def shown_time(moment: datetime) -> str:
    """A time as shown to people: Vietnam time; ``dd/mm/yyyy HH:MM`` in Vietnamese,
    ISO 8601 with ``+07:00`` to the second in English (Decree 30/2020 App. I)."""
    local = moment.astimezone(VIETNAM_TIME)
    if language() == "vi":
        return local.strftime("%d/%m/%Y %H:%M")
    return local.replace(microsecond=0).isoformat()


def localize(value: object) -> str:
    """A library message in the language in use: a :class:`~drivers._text.Text`
    (made by :func:`text`: English in results, JSON and logs) re-said from its msgid,
    its message arguments too; any other string looked up as a msgid."""
    if isinstance(value, Text):
        if value.msgid == "{head}{tail}":  # text + text: each part on its own
            return localize(value.args["head"]) + localize(value.args["tail"])
        # Only messages among the arguments are translated: a field named "value"
        # stays "value".
        args = {k: localize(v) if isinstance(v, Text) else v for k, v in value.args.items()}
        return _(value.msgid).format(**args) if args else _(value.msgid)
    return _(value) if isinstance(value, str) and value else str(value)


def joined(parts: list[str], separator: str) -> str:
    """``separator.join(parts)`` that stays translatable part by part (a
    :class:`~drivers._text.Text` when the parts are)."""
    if not parts:
        return ""
    out: str = parts[0]
    for part in parts[1:]:
        out = Text("{head}{tail}", {"head": out, "tail": Text(
            "{head}{tail}", {"head": separator, "tail": part})})
    return out


def error_text(exc: BaseException) -> str:
    """An exception's message in the language in use: its first argument when that is
    a :class:`~drivers._text.Text`, else ``str(exc)`` (English)."""
    if len(exc.args) == 1 and isinstance(exc.args[0], Text) and type(exc).__str__ in (
            Exception.__str__, BaseException.__str__):
        return localize(exc.args[0])
    return str(exc)
