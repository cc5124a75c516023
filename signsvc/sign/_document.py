"""The input document as pyHanko opens it for signing: the header, encryption (an
owner-password-only PDF opens as viewers open it), the owner's permissions, and the
signature field to fill.

Private to :mod:`signsvc.sign.pdf`. Every failure is a :class:`BadInputError` naming
the file.

Example::

    >>> writer = open_writer(Path("qd.pdf"), Path("qd.pdf").read_bytes(), None)  # doctest: +SKIP
    >>> choose_field(Path("qd.pdf"), writer, None)  # doctest: +SKIP
    ('Signature1', False)
"""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path
from typing import Any

from signsvc.errors import BadInputError

__all__ = ["check_permissions", "choose_field", "open_writer", "read_input"]


def read_input(input: Path, output: Path) -> bytes:
    if input.resolve() == output.resolve():
        raise BadInputError("the output would replace the input; choose another output",
                            path=input)
    try:
        data = input.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read: {exc.strerror or exc}", path=input) from exc
    # ISO 32000-1 §7.5.2 puts the header first; readers accept it in the first 1 KiB.
    if b"%PDF-" not in data[:1024]:
        what = "an empty file" if not data else "no %PDF- header"
        raise BadInputError(f"not a PDF ({what})", path=input)
    return data


def open_writer(input: Path, data: bytes, password: str | None) -> Any:
    from pyhanko.pdf_utils.crypt import AuthStatus
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError

    try:
        # strict=False: tolerate what real-world producers get wrong (duplicate keys,
        # stray bytes), as viewers do; a broken xref is still refused by pyHanko.
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        if writer.prev.encrypted:
            # ISO 32000-1 §7.6.3.3: a document protected by an owner password only has
            # an empty user password; every viewer opens it without asking, so signsvc
            # does too. A document that needs a password to open is refused without it.
            result = writer.encrypt(password if password is not None else "")  # type: ignore[no-untyped-call]
            if result.status == AuthStatus.FAILED:
                if password is None:
                    raise BadInputError("encrypted; give the document password "
                                        "(--pdf-password-env)", path=input)
                raise BadInputError("encrypted; the document password is wrong", path=input)
            check_permissions(input, result)
        writer.root  # noqa: B018 - resolve the catalogue now so damage is reported here
    except PdfError as exc:
        raise BadInputError(f"damaged PDF: {exc}", path=input) from exc
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BadInputError(f"damaged PDF ({type(exc).__name__}: {exc})", path=input) from exc
    return writer


def check_permissions(input: Path, auth: Any) -> None:
    """Refuse what the document's owner forbids, as viewers do: ISO 32000-1 Table 22,
    bit 6 (annotations and form fields) or bit 9 (filling in existing fields,
    signature fields included) must allow a signature. Opened with the owner
    password, everything is allowed."""
    from pyhanko.pdf_utils.crypt import AuthStatus
    from pyhanko.pdf_utils.crypt.permissions import StandardPermissions

    if auth.status == AuthStatus.OWNER or auth.permission_flags is None:
        return
    allowed = auth.permission_flags & (StandardPermissions.ALLOW_ANNOTS_FORM_FILLING
                                       | StandardPermissions.ALLOW_FORM_FILLING)
    if not allowed:
        raise BadInputError("encrypted, and its owner's permissions forbid filling in "
                            "forms and signatures; ask the sender for a copy that allows "
                            "signing (or give the owner password)", path=input)


def choose_field(input: Path, writer: Any, wanted: str | None) -> tuple[str, bool]:
    """The field to sign and whether it exists already (empty)."""
    from pyhanko.sign.fields import enumerate_sig_fields

    fields = list(enumerate_sig_fields(writer))
    existing = {name: value for name, value, _ in fields}
    if wanted is not None:
        # Field names as people type them: a field the document calls "Chủ tịch" in
        # decomposed letters is the field "Chủ tịch" typed precomposed.
        actual = {unicodedata.normalize("NFC", name): name for name, _, _ in fields}
        wanted = actual.get(unicodedata.normalize("NFC", wanted), wanted)
        if wanted in existing and existing[wanted] is not None:
            raise BadInputError(f"signature field {wanted!r} is already signed", path=input)
        return wanted, wanted in existing
    number = 1
    while f"Signature{number}" in existing:
        number += 1
    return f"Signature{number}", False
