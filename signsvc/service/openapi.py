"""The OpenAPI 3.0 description of the HTTP calls, served at ``/openapi.json``.

For integrators and for schemathesis (which fuzzes the service against it). The
WebSocket side takes the same request and gives the same reply; OpenAPI cannot
describe it.

Example::

    >>> sorted(openapi_document()["paths"])
    ['/SignAppendix', '/SignApproved', '/SignCopy', '/SignIssued']
"""

from __future__ import annotations

from typing import Any

from signsvc.service.schema import VGCA_KEYS
from signsvc.service.vgca import CALLS

__all__ = ["openapi_document"]

_TEXT = {"type": "string", "maxLength": 1024}
_DATE = ("^((0?[1-9]|[12][0-9]|3[01])/(0?[1-9]|1[0-2])/[0-9]{4}"
         "|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))$")
"""The forms of ``IssuedDate``; that the day exists in that month is checked later (400)."""
_SECRET = {"type": "string", "nullable": True, "maxLength": 8192,
           "pattern": "^[!#-+\\--:<-\\[\\]-~]*$"}
_REQUEST: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["FileName", "FileUploadHandler"],
    "properties": {
        "FileName": {"oneOf": [
            {"type": "string", "minLength": 1, "maxLength": 4096,
             "description": "One URL, or URLs joined by ';'"},
            # No maxItems: the limit is the configuration's (max_files), 413 past it.
            {"type": "array", "minItems": 1,
             "items": {"type": "string", "minLength": 1, "maxLength": 4096}}]},
        "FileUploadHandler": {"type": "string", "minLength": 1, "maxLength": 4096},
        "SessionId": _SECRET,
        "JWTToken": _SECRET,
        "DocNumber": {**_TEXT, "nullable": True},
        "IssuedDate": {"type": "string", "nullable": True,
                       "description": "dd/mm/yyyy or yyyy-mm-dd, a real date",
                       "pattern": _DATE},
        "MetaData": {"type": "array", "nullable": True, "items": {
            "type": "object", "additionalProperties": False, "required": ["Key"],
            "properties": {"Key": _TEXT, "Value": {
                "nullable": True, "oneOf": [_TEXT, {"type": "number"},
                                            {"type": "boolean"}]}}}},
    },
}
_FILE: dict[str, Any] = {
    "type": "object",
    "required": ["Status", "Message"],
    "properties": {
        "Status": {"type": "integer", "description": "0: signed and uploaded"},
        "Message": {"type": "string"},
        "FileName": {"type": "string"},
        "FileServer": {"type": "string", "description": "The upload's response body"},
        "DocumentNumber": {"type": "string"},
        "DocumentDate": {"type": "string"},
    },
}
_REPLY: dict[str, Any] = {**_FILE, "properties": {**_FILE["properties"],
                                  "Files": {"type": "array", "items": _FILE}}}
_ANSWERS = {
    "200": "Carried out; Status says how it ended (0: every document signed and uploaded)",
    "400": "Not a strict VGCA request, or a document the call cannot stamp",
    "403": "Origin not allowed, X-Signsvc-Request missing, another local user, or a "
           "document URL not on the calling site",
    "409": "Busy: another batch is waiting for the official or being signed",
    "413": "Too large: the request, or too many documents",
    "415": "Not application/json",
}


def _operation(call: str) -> dict[str, Any]:
    return {
        "operationId": call,
        "summary": f"VGCA {call}",
        "parameters": [
            {"name": "Origin", "in": "header", "required": True,
             "schema": {"type": "string"}},
            {"name": "X-Signsvc-Request", "in": "header", "required": True,
             "schema": {"type": "string", "enum": ["1"]}},
        ],
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": _REQUEST}}},
        "responses": {code: {"description": words, "content": {
            "application/json": {"schema": _REPLY}}} for code, words in _ANSWERS.items()},
    }


def openapi_document() -> dict[str, Any]:
    """The document (a new dict each time)."""
    assert set(_REQUEST["properties"]) == VGCA_KEYS
    return {
        "openapi": "3.0.3",
        "info": {"title": "signsvc local signing service", "version": "1",
                 "description": "VGCA-compatible calls on 127.0.0.1; the same requests "
                                "and replies over WebSocket"},
        "servers": [{"url": "http://127.0.0.1:8987"}],
        "paths": {f"/{call}": {"post": _operation(call)} for call in CALLS},
    }
