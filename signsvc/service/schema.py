"""The strict VGCA request: only its keys, only their types, within the limits.

A request is one JSON object with VGCA's keys, spelled as VGCA spells them:
``FileName`` (one URL, a JSON array of URLs, or URLs joined by ``;`` as VGCA batch
pages send them), ``FileUploadHandler`` (the URL the signed file is posted to),
``SessionId`` and ``JWTToken`` (sent to those URLs only, as a cookie and as a bearer
token), ``DocNumber`` and ``IssuedDate`` (for issuance), ``MetaData`` (a list of
``{"Key", "Value"}``, accepted and not used). Anything else is refused (400): an
unknown key, a duplicate key, and above all any key, at any depth, or MetaData
``Key``, that names a PIN, password, library, module or path: whoever sends those
expects a helper that takes them (SERVICE-DESIGN §1.1), and signsvc never does.
Too large (the message, or too many files) is 413.

Example::

    >>> request = parse_request('{"FileName": "https://e.gov.vn/a.pdf", '
    ...                         '"FileUploadHandler": "https://e.gov.vn/up"}', Limits())
    >>> request.files
    ('https://e.gov.vn/a.pdf',)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from signsvc._i18n import _
from signsvc.service.config import Limits
from signsvc.service.replies import Refusal, Status

__all__ = ["FORBIDDEN_KEY", "VGCA_KEYS", "VgcaRequest", "parse_request"]

VGCA_KEYS = frozenset({"FileUploadHandler", "SessionId", "JWTToken", "FileName",
                       "MetaData", "DocNumber", "IssuedDate"})
"""The keys of a VGCA signing request (VGCA's spelling; nothing else is accepted)."""
FORBIDDEN_KEY = re.compile(r"pin|password|passwd|dll|lib|path|module", re.IGNORECASE)
"""Keys that would make the page choose the PIN, the PKCS#11 library or a local file."""

_MAX_TEXT = 1024
"""DocNumber, IssuedDate, MetaData entries: short texts."""
_MAX_URL = 4096
_MAX_SECRET = 8192
"""SessionId and JWTToken (a JWT with many claims stays under this)."""
_SECRET_CHARS = re.compile(r"^[!#-+\--:<-\[\]-~]*$")
"""RFC 6265 §4.1.1 cookie-octets (also what a JWT is made of): printable ASCII
without space, quote, comma, semicolon and backslash."""
_DATE_FORMATS = (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"),
                 re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"))


@dataclass(frozen=True)
class VgcaRequest:
    """A request that passed the schema (its URLs are checked later, per origin)."""

    files: tuple[str, ...]
    """``FileName``: the documents' URLs, in order."""
    upload: str
    """``FileUploadHandler``."""
    session_id: str | None = field(default=None, repr=False)
    """``SessionId``; never logged."""
    jwt: str | None = field(default=None, repr=False)
    """``JWTToken``; never logged."""
    doc_number: str | None = None
    """``DocNumber``: number and symbol."""
    issued: tuple[int, int, int] | None = None
    """``IssuedDate`` as (day, month, year)."""
    issued_text: str | None = None
    """``IssuedDate`` as sent (echoed as ``DocumentDate``)."""
    batch: bool = False
    """``FileName`` was a list (or ``;``-joined): the reply lists each file."""


def _bad(message: str) -> Refusal:
    return Refusal(400, Status.BAD_REQUEST, message, decision="bad-request")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object that refuses a key given twice (two parsers could read two
    different requests from it)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _bad(_("the key {key!r} is given twice").format(key=key[:80]))
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _bad(_("{name} is not JSON").format(name=name))


def _scan(value: Any) -> None:
    """Refuse forbidden keys at any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if FORBIDDEN_KEY.search(key):
                    raise _bad(_("the key {key!r} is refused: a page never chooses the PIN, "
                                 "the token's library or a local file").format(key=key[:80]))
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)


def _text(request: dict[str, Any], key: str, limit: int = _MAX_TEXT) -> str | None:
    value = request.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(_("{key} must be a string").format(key=key))
    if len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise _bad(_("{key} is too long or holds control characters").format(key=key))
    return value


def _secret(request: dict[str, Any], key: str) -> str | None:
    value = _text(request, key, _MAX_SECRET)
    if value is not None and not _SECRET_CHARS.match(value):
        raise _bad(_("{key} holds characters a cookie or token cannot carry").format(key=key))
    return value


def _files(value: Any, limits: Limits) -> tuple[str, ...]:
    """The URLs of ``FileName``."""
    if isinstance(value, str):
        urls = [part.strip() for part in value.split(";")] if ";" in value else [value]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        urls = list(value)
    else:
        raise _bad(_("FileName must be a URL or a list of URLs"))
    urls = [u for u in urls if u]
    if not urls:
        raise _bad(_("FileName names no document"))
    if len(urls) > limits.max_files:
        raise Refusal(413, Status.BAD_REQUEST,
                      _("too many documents: {count} (at most {limit})").format(
                          count=len(urls), limit=limits.max_files), decision="too-large")
    for url in urls:
        if len(url) > _MAX_URL:
            raise _bad(_("a FileName URL is too long"))
    return tuple(urls)


def _metadata(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise _bad(_("MetaData must be a list of objects with Key and Value"))
    for entry in value:
        if not isinstance(entry, dict) or set(entry) - {"Key", "Value"} or "Key" not in entry:
            raise _bad(_("MetaData must be a list of objects with Key and Value"))
        key, inner = entry["Key"], entry.get("Value")
        if not isinstance(key, str) or len(key) > _MAX_TEXT:
            raise _bad(_("a MetaData Key must be a short string"))
        if FORBIDDEN_KEY.search(key):
            raise _bad(_("the key {key!r} is refused: a page never chooses the PIN, "
                         "the token's library or a local file").format(key=key[:80]))
        if not (inner is None or isinstance(inner, str | int | float | bool)) or (
                isinstance(inner, str) and len(inner) > _MAX_TEXT):
            raise _bad(_("a MetaData Value must be a short string or a number"))


def _issued(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    for number, layout in enumerate(_DATE_FORMATS):
        match = layout.match(text.strip())
        if match:
            a, b, c = (int(g) for g in match.groups())
            day, month, year = (a, b, c) if number == 0 else (c, b, a)
            try:
                date(year, month, day)
            except ValueError:
                break
            return day, month, year
    raise _bad(_("IssuedDate must be a date, dd/mm/yyyy or yyyy-mm-dd"))


def parse_request(raw: str | bytes, limits: Limits) -> VgcaRequest:
    """The request in ``raw`` (a WebSocket message or an HTTP body).

    Raises:
        Refusal: 413 when too large, 400 for anything else that is not a strict VGCA
            request.
    """
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > limits.max_message_bytes:
        raise Refusal(413, Status.BAD_REQUEST,
                      _("the request is too large ({size} bytes, at most {limit})").format(
                          size=size, limit=limits.max_message_bytes), decision="too-large")
    try:
        data = json.loads(raw, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except Refusal:
        raise
    except (ValueError, RecursionError):
        raise _bad(_("the request is not JSON")) from None
    if not isinstance(data, dict):
        raise _bad(_("the request must be a JSON object"))
    _scan(data)
    unknown = sorted(set(data) - VGCA_KEYS)
    if unknown:
        raise _bad(_("unknown key {key!r} (a VGCA request has only {keys})").format(
            key=unknown[0][:80], keys=", ".join(sorted(VGCA_KEYS))))
    if "FileName" not in data:
        raise _bad(_("FileName is missing"))
    files = _files(data["FileName"], limits)
    batch = isinstance(data["FileName"], list) or ";" in data["FileName"]
    upload = _text(data, "FileUploadHandler", _MAX_URL)
    if not upload:
        raise _bad(_("FileUploadHandler is missing: signsvc uploads the signed document "
                     "there"))
    _metadata(data.get("MetaData"))
    issued_text = _text(data, "IssuedDate")
    return VgcaRequest(files=files, upload=upload, session_id=_secret(data, "SessionId"),
                       jwt=_secret(data, "JWTToken"), doc_number=_text(data, "DocNumber"),
                       issued=_issued(issued_text), issued_text=issued_text,
                       batch=batch)
