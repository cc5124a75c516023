"""Decryption for the strict reader: the standard security handler (ISO 32000-2 §7.6.4).

Example::

    pdf = scan(data, budget)
    if pdf.encrypted:
        pdf.crypt = open_crypt(pdf, password=None)  # None: the empty user password
    sig = pdf.get(ref)                              # strings and streams decrypted

The cryptography is pyHanko's (:mod:`pyhanko.pdf_utils.crypt`: key derivation for R2 to
R6, authentication, the RC4, AESV2 and AESV3 crypt filters); this module only turns the
strict reader's ``/Encrypt`` dictionary into pyHanko's objects and applies the rules
of what is encrypted at all (ISO 32000-2 §7.6.2):

- the encryption dictionary and cross-reference streams are never encrypted;
- the ``/Contents`` string of a signature dictionary is not encrypted, so the
  ``/ByteRange`` gap is the CMS blob itself and integrity needs no password;
- objects in an object stream are decrypted with the stream, not once more;
- the metadata stream is left alone under ``/EncryptMetadata false`` (§7.6.4.2), and
  a stream's own ``/Crypt`` filter (§7.4.10, often ``/Identity``) replaces the
  default one (§7.6.6).

Decryption errors are :class:`~signsvc.verify._pdffilters.PdfSyntaxError` (the caller
falls back to pyHanko's reader); a document no password given opens, or one encrypted
for certificates, raises :class:`PdfCryptError`, whose message says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from signsvc.verify._pdffilters import PdfSyntaxError
from signsvc.verify._pdfscan import Name, PdfDict, Ref, Stream

if TYPE_CHECKING:
    from signsvc.verify._pdfscan import ScannedPdf

__all__ = ["Decryptor", "PdfCryptError", "PdfPasswordError", "open_crypt",
           "without_crypt_filter"]

_MAX_ENCRYPT_REFS = 64
"""Indirect objects followed inside ``/Encrypt`` (its ``/CF`` entries, at most)."""
_MAX_ENCRYPT_DEPTH = 8
_CHECK_EVERY = 4096
"""Strings decrypted between two deadline checks (an array of a million tiny strings
costs a key and a cipher each)."""


class PdfCryptError(Exception):
    """The document's strings and streams cannot be decrypted: no password given opens
    it, or its security handler is not the standard one. The message says which."""


class PdfPasswordError(PdfCryptError):
    """No password given opens the document (another one might)."""


@dataclass
class Decryptor:
    """Decrypts what one document's objects hold, object by object."""

    handler: Any
    """pyHanko's authenticated :class:`~pyhanko.pdf_utils.crypt.StandardSecurityHandler`."""
    encrypt_num: int | None
    """Object number of the encryption dictionary (never decrypted), if indirect."""
    access: str
    """"user" or "owner": which password opened the document."""
    note: str | None = None
    """What to tell the reader about how it opened (e.g. the given password failed)."""
    password: str = field(default="", repr=False)
    """The password that opened the document ("" for the empty user password)."""
    check: Callable[[], None] = field(default=lambda: None, repr=False)
    """The document's deadline check (:meth:`~signsvc.verify._budget.Budget.check`)."""

    def decrypt_object(self, num: int, gen: int, value: Any) -> Any:
        """``value``, the object ``num gen`` as parsed from the file, with its strings
        and stream data decrypted (containers in place)."""
        if num == self.encrypt_num:
            return value  # ISO 32000-2 §7.6.1: the encryption dictionary is in clear
        if isinstance(value, Stream):
            if value.dict.get("Type") == "XRef":
                return value  # §7.5.8.1: cross-reference streams are not encrypted
            self._strings(num, gen, value.dict)
            raw = self.decrypt_stream(num, gen, value.raw, value.dict)
            return Stream(value.dict, raw, filters=without_crypt_filter(
                value.dict.get("Filter"), value.dict.get("DecodeParms")))
        if isinstance(value, bytes):
            return self.decrypt_string(num, gen, value)
        if isinstance(value, PdfDict | list):
            self._strings(num, gen, value)
        return value

    def decrypt_string(self, num: int, gen: int, data: bytes) -> bytes:
        """A string of object ``num gen``, through the ``/StrF`` crypt filter (§7.6.6)."""
        cf = self.handler.get_string_filter()
        return self._run(cf, cf.derive_object_key(num, gen), data, num, gen, "a string")

    def decrypt_stream(self, num: int, gen: int, data: bytes, stream_dict: PdfDict) -> bytes:
        """The data of stream ``num gen``: its own ``/Crypt`` filter when it names one
        (§7.4.10), else ``/EFF`` for an embedded file and ``/StmF`` for the rest."""
        if stream_dict.get("Type") == "Metadata" and not self.handler.encrypt_metadata:
            return data  # §7.6.4.2: /EncryptMetadata false
        explicit = _crypt_filter_name(stream_dict)
        if explicit is not None:
            if explicit == "Identity":
                return data
            try:
                cf = self.handler.get_stream_filter(name=f"/{explicit}")
            except KeyError:
                raise PdfSyntaxError(f"stream object {num}: unknown crypt filter "
                                     f"/{explicit}") from None
            # As pyHanko does (ISO 32000-2 §7.4.10): a /Crypt filter decrypts with the
            # file key of that filter, not an object key.
            return self._run(cf, cf.shared_key, data, num, gen, "a stream")
        if stream_dict.get("Type") == "EmbeddedFile":
            cf = self.handler.get_embedded_file_filter()
        else:
            cf = self.handler.get_stream_filter()
        return self._run(cf, cf.derive_object_key(num, gen), data, num, gen, "a stream")

    def _strings(self, num: int, gen: int, root: PdfDict | list[Any]) -> None:
        """Decrypt every string in ``root`` in place (no recursion: the reader caps the
        nesting, but the walk needs no stack frames either)."""
        cf = self.handler.get_string_filter()
        key = cf.derive_object_key(num, gen)
        count = 0
        todo: list[PdfDict | list[Any]] = [root]
        while todo:
            node: Any = todo.pop()
            keep = "Contents" if isinstance(node, PdfDict) and _is_signature(node) else None
            items = node.items() if isinstance(node, PdfDict) else enumerate(node)
            for slot, item in list(items):
                if isinstance(item, bytes):
                    if slot != keep:
                        node[slot] = self._run(cf, key, item, num, gen, "a string")
                        count += 1
                        if not count % _CHECK_EVERY:
                            self.check()
                elif isinstance(item, PdfDict | list):
                    todo.append(item)

    @staticmethod
    def _run(cf: Any, key: bytes, data: bytes, num: int, gen: int, what: str) -> bytes:
        if not data:
            return data  # some writers leave empty strings unencrypted (no AES IV)
        try:
            return bytes(cf.decrypt(key, data))
        except (ValueError, TypeError) as exc:  # block length, padding, IV size
            raise PdfSyntaxError(f"{what} of object {num} {gen} does not decrypt "
                                 f"({exc})") from exc


def _is_signature(node: PdfDict) -> bool:
    """A signature dictionary (ISO 32000-2 §12.8.1, Table 255): its ``/Contents`` is
    stored in clear (§7.6.2). ``/Type`` is optional there, ``/ByteRange`` is not."""
    return "ByteRange" in node and node.get("Type", "Sig") in ("Sig", "DocTimeStamp")


def _crypt_filter_name(stream_dict: PdfDict) -> str | None:
    """The crypt filter a stream names itself (§7.4.10; ``/Identity`` when its
    parameters name none), or None when its ``/Filter`` has no ``/Crypt``.

    §7.4.10 puts ``/Crypt`` first in the chain; pyHanko writes an ``/Identity`` one
    after ``/FlateDecode`` too, which decrypts nothing wherever it is. Any other crypt
    filter elsewhere than first is refused.
    """
    filters = stream_dict.get("Filter")
    if filters != "Crypt" and not (isinstance(filters, list) and "Crypt" in filters):
        return None
    chain = filters if isinstance(filters, list) else [filters]
    parms = stream_dict.get("DecodeParms")
    parms = parms if isinstance(parms, list) else [parms] * len(chain)
    names = []
    for k, kind in enumerate(chain):
        if kind == "Crypt":
            parm = parms[k] if k < len(parms) else None
            name = parm.get("Name", "Identity") if isinstance(parm, dict) else "Identity"
            if not isinstance(name, Name):
                raise PdfSyntaxError("/Crypt filter parameters: /Name is not a name")
            if name != "Identity" and k:
                raise PdfSyntaxError(f"the crypt filter /{name} is not first in /Filter")
            names.append(str(name))
    return names[0]


def without_crypt_filter(filters: Any, parms: Any) -> tuple[Any, Any]:
    """``/Filter`` and ``/DecodeParms`` without their ``/Crypt`` filters, for a stream
    whose data the :class:`Decryptor` has already decrypted."""
    if filters == "Crypt":
        return None, None
    if not isinstance(filters, list) or "Crypt" not in filters:
        return filters, parms
    keep = [k for k, kind in enumerate(filters) if kind != "Crypt"]
    rest = [parms[k] if k < len(parms) else None for k in keep] if isinstance(
        parms, list) else parms
    return [filters[k] for k in keep] or None, rest if keep else None


def open_crypt(pdf: ScannedPdf, password: str | None) -> Decryptor:
    """Authenticate against ``pdf``'s ``/Encrypt`` dictionary, before any other object is
    read: ``password`` (user or owner) first, then the empty user password.

    Raises:
        PdfCryptError: certificate encryption, another security handler, or no
            password opens the document.
        PdfSyntaxError: a malformed encryption dictionary or ``/ID``.
    """
    from pyhanko.pdf_utils.crypt import AuthStatus, SecurityHandler, StandardSecurityHandler

    raw = pdf.trailer.get("Encrypt")
    encrypt_num = raw.num if isinstance(raw, Ref) else None
    encrypt = pdf.resolve(raw)
    if not isinstance(encrypt, PdfDict):
        raise PdfSyntaxError("/Encrypt is not a dictionary")
    kind = encrypt.get("Filter")
    if kind == "Adobe.PubSec":
        raise PdfCryptError("cannot decrypt (certificate-encrypted PDF)")
    if kind != "Standard":
        raise PdfCryptError(f"cannot decrypt (security handler {kind!r} is not supported)")
    try:
        handler = SecurityHandler.build(_generic(pdf, encrypt, [0], 0))
    except NotImplementedError as exc:  # an unknown /CFM
        raise PdfCryptError(f"cannot decrypt ({exc})") from exc
    except MemoryError:
        raise
    except Exception as exc:  # hostile values deep in pyHanko's code (lengths, types)
        raise PdfSyntaxError(f"malformed /Encrypt dictionary ({exc})") from exc
    if not isinstance(handler, StandardSecurityHandler):
        raise PdfCryptError("cannot decrypt (security handler is not supported)")
    ids = pdf.trailer.get("ID")
    # ISO 32000-2 §7.6.4.3.2 step (e): R2-R4 keys hash the first /ID string; a file
    # without one is read as qpdf and pyHanko read it, with an empty string.
    id1 = ids[0] if isinstance(ids, list) and ids and isinstance(ids[0], bytes) else b""
    tried: list[str] = []
    for candidate in ([password] if password else []) + [""]:
        try:
            status = handler.authenticate(candidate, id1=id1).status
        except MemoryError:
            raise
        except Exception as exc:
            # Algorithm 13 (§7.6.4.4): /Perms that does not decrypt right was changed;
            # or a password outside PDFDocEncoding (R2-R4), or /O and /U of bad lengths.
            tried.append(f"{'the password given' if candidate else 'empty'}: {exc}")
            continue
        if status in (AuthStatus.USER, AuthStatus.OWNER):
            note = None
            if password and not candidate:
                note = ("the password given does not open the document; it opened with "
                        "the empty user password")
            return Decryptor(handler, encrypt_num, status.name.lower(), note, candidate,
                             pdf.budget.check)
    if password:
        reason = "the password given does not open it"
    else:
        reason = "the password is not known"
    detail = f" ({'; '.join(tried)})" if tried else ""
    raise PdfPasswordError(f"the document is encrypted and {reason}{detail}")


def _generic(pdf: ScannedPdf, value: Any, refs: list[int], depth: int) -> Any:
    """``value`` as a pyHanko generic object, indirect references resolved (a few)."""
    from pyhanko.pdf_utils import generic as typed

    generic: Any = typed  # its constructors are untyped

    if depth > _MAX_ENCRYPT_DEPTH:
        raise PdfSyntaxError("/Encrypt nested too deep")
    if isinstance(value, Ref):
        refs[0] += 1
        if refs[0] > _MAX_ENCRYPT_REFS:
            raise PdfSyntaxError("/Encrypt refers to too many objects")
        value = pdf.get(value)
    if isinstance(value, bool):
        return generic.BooleanObject(value)
    if isinstance(value, int):
        return generic.NumberObject(value)
    if isinstance(value, float):
        return generic.FloatObject(value)
    if isinstance(value, Name):
        return generic.NameObject(f"/{value}")
    if isinstance(value, bytes):
        return generic.ByteStringObject(value)
    if isinstance(value, dict):
        return generic.DictionaryObject({
            generic.NameObject(f"/{k}"): _generic(pdf, v, refs, depth + 1)
            for k, v in value.items()})
    if isinstance(value, list):
        return generic.ArrayObject(_generic(pdf, v, refs, depth + 1) for v in value)
    if value is None:
        return generic.NullObject()
    raise PdfSyntaxError(f"/Encrypt holds a {type(value).__name__}")
