"""A small, strict PDF reader: just enough to find signatures without tokenising pages.

pyHanko's reader tokenises every object it touches byte by byte; for a signed one-page
PDF half its time goes into the 16 KB ``/Contents`` hex string. Verification needs far
less: the cross-reference sections (ISO 32000-1 §7.5.4, §7.5.8), the catalog, the
AcroForm field tree (§12.7) and the signature dictionaries (§12.8.1). This module reads
exactly that, from bytes already in memory.

It is strict on purpose: anything it does not understand raises
:class:`PdfSyntaxError` and the caller falls back to pyHanko's reader, which is also
strict. It never repairs a file (repairing is how viewers come to show content the
signature does not cover).

It is bounded on purpose too, for hostile files (issue 13): tokenising is linear (no
regular expression can backtrack, literal strings are copied run by run), every cycle
is cut (``/Prev`` chains, ``/Length`` references, object streams, the field tree),
and what a file can make it build is capped: :data:`MAX_DEPTH`, :data:`MAX_FIELDS`,
:data:`MAX_FIELD_NAME`, :data:`MAX_REVISIONS`, :data:`MAX_STRING`, :data:`MAX_NUMBER`,
and per document (:class:`~signsvc.verify._budget.Budget`) the deadline, the objects
and the decoded bytes. Past a cap it raises :class:`PdfLimitError`, which is not
handed to pyHanko.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from signsvc.verify._budget import MAX_OBJECTS, Budget
from signsvc.verify._pdffilters import MAX_STREAM, PdfLimitError, PdfSyntaxError, decode

__all__ = [
    "Name",
    "PdfDict",
    "PdfLimitError",
    "PdfSyntaxError",
    "Ref",
    "Revision",
    "ScannedPdf",
    "SignatureField",
    "Stream",
    "scan",
]

MAX_DEPTH = 64
"""Nesting limit for arrays and dictionaries (deeply nested objects are an attack on
recursive parsers)."""
MAX_FIELDS = 10_000
"""Most form fields (and widgets) walked; a document with more is refused."""
MAX_FIELD_NAME = 4096
"""Longest fully qualified field name (ISO 32000-1 §12.7.3.2), in characters."""
MAX_REVISIONS = 1_000
MAX_STRING = 32 * 1024 * 1024
"""Longest string (literal or hex, decoded) an object may hold; a signature's
``/Contents`` with every certificate and CRL embedded is a few megabytes."""
MAX_NUMBER = 40
"""Longest number token; ISO 32000-1 Annex C allows 32-bit integers and reals of
about 38 digits, and Python refuses to convert more than 4,300 digits at all."""
_CHECK_EVERY = 4096
"""Tokens (or literal-string specials, or entries) handled between two deadline checks."""


class Name(str):
    """A PDF name, without its slash."""


@dataclass(frozen=True)
class Ref:
    """An indirect reference ``num gen R``."""

    num: int
    gen: int


class PdfDict(dict[str, Any]):
    """A dictionary that remembers where each value lies in the file."""

    spans: dict[str, tuple[int, int]]

    def __init__(self) -> None:
        super().__init__()
        self.spans = {}


@dataclass(frozen=True)
class Stream:
    """A stream object: its dictionary and raw (still encoded) data."""

    dict: PdfDict
    raw: bytes
    filters: tuple[Any, Any] | None = None
    """``/Filter`` and ``/DecodeParms`` to decode with when not the dictionary's: a
    decrypted stream's, without its ``/Crypt`` filter (ISO 32000-2 §7.4.10)."""

    def decode(self, budget: Budget | None = None) -> bytes:
        """The decoded data (ISO 32000-1 §7.4): the standard non-image filters, chained;
        counted against ``budget`` (its deadline and decoded bytes), when given."""
        filters, parms = self.filters or (self.dict.get("Filter"), self.dict.get("DecodeParms"))
        if budget is None:
            return decode(self.raw, filters, parms)
        cap = budget.decoded_cap(MAX_STREAM)
        try:
            out = decode(self.raw, filters, parms, limit=cap, check=budget.check)
        except PdfLimitError:
            if cap < MAX_STREAM:  # what was left of the document's budget, not the stream's
                budget.spend_decoded(cap + 1)
            raise
        budget.spend_decoded(len(out))
        return out


_REGULAR = rb"[^\x00\t\n\f\r ()<>\[\]{}/%]"
# Every repetition is possessive (``*+``, ``++``; Python 3.11): a token either matches
# or fails without backtracking, so one call is linear in the bytes it looks at. The
# greedy ``(?:[ws]+|%...)*`` this replaced backtracked exponentially over a run of
# spaces followed by a byte no token starts with (64 spaces and a "!" never returned).
_TOKEN = re.compile(
    rb"(?:[\x00\t\n\f\r ]++|%[^\r\n]*+)*+"  # whitespace and comments before a token
    rb"(?:(?P<dopen><<)|(?P<dclose>>>)"
    rb"|(?P<hex><[0-9A-Fa-f\x00\t\n\f\r ]*+>)"
    rb"|(?P<lit>\()|(?P<aopen>\[)|(?P<aclose>\])"
    rb"|(?P<name>/" + _REGULAR + rb"*+)"
    rb"|(?P<ref>(?P<rnum>\d++)[\x00\t\n\f\r ]++(?P<rgen>\d++)[\x00\t\n\f\r ]++R(?!"
    + _REGULAR + rb"))"
    rb"|(?P<num>[+-]?+(?:\d++(?:\.\d*+)?+|\.\d++)(?!" + _REGULAR + rb"))"
    rb"|(?P<kw>(?:true|false|null)(?!" + _REGULAR + rb")))"
)
_OBJ_HEADER = re.compile(rb"(\d{1,20})\s++(\d{1,20})\s++obj(?=[\s<\[(/%]|$)")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])")
_XREF_SUBSECTION = re.compile(rb"(\d{1,20})\s++(\d{1,20})[ \t]*+\r?\n?")
STARTXREF = re.compile(rb"startxref\s++(\d{1,20})\s++%%EOF(?:\r\n|\r|\n)?")
_XREF_ROWS = re.compile(rb"(?:\d{10} \d{5} [nf](?: \r| \n|\r\n))*+")
_WS_COMMENTS = re.compile(rb"(?:[ \t\r\n\f\x00]++|%[^\r\n]*+)*+")
_OBJSTM_HEADER = re.compile(rb"[\x00\t\n\f\r 0-9]*+")
_DIGITS = re.compile(rb"\d++")
_LITERAL_RUN = re.compile(rb"[^()\\]*+")
_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b",
            ord("f"): b"\f", ord("("): b"(", ord(")"): b")", ord("\\"): b"\\"}


class Lexer:
    """Parses PDF objects out of ``data`` at given offsets (ISO 32000-1 §7.3)."""

    def __init__(self, data: bytes, budget: Budget | None = None) -> None:
        self.data = data
        self.budget = budget if budget is not None else Budget()

    def skip(self, i: int) -> int:
        m = _WS_COMMENTS.match(self.data, i)
        return m.end() if m else i

    def value(self, i: int, depth: int = 0) -> tuple[Any, int]:
        """The object starting at or after ``i``, and the offset just past it.

        One regular expression tokenises (C speed, no backtracking); a stack builds the
        containers, so hostile nesting costs no recursion. Linear in the bytes read,
        with the deadline checked every :data:`_CHECK_EVERY` tokens.
        """
        data = self.data
        check = self.budget.check
        check()
        stack: list[list[Any]] = []  # [container, pending key, start offset]
        pos = i
        tokens = 0
        while True:
            m = _TOKEN.match(data, pos)
            if m is None:
                pos = self.skip(pos)
                if pos >= len(data):
                    raise PdfSyntaxError("unexpected end of file")
                raise PdfSyntaxError(f"unexpected byte {data[pos:pos + 1]!r} at offset {pos}")
            tokens += 1
            if tokens >= _CHECK_EVERY:
                check()
                tokens = 0
            kind = m.lastgroup
            assert kind is not None
            start, pos = m.start(kind), m.end()
            val: Any
            if kind == "dopen" or kind == "aopen":
                if len(stack) + depth >= MAX_DEPTH:
                    raise PdfLimitError(f"objects nested deeper than {MAX_DEPTH} at {start}")
                if stack and isinstance(stack[-1][0], PdfDict) and stack[-1][1] is None:
                    raise PdfSyntaxError(f"dictionary key expected at offset {start}")
                stack.append([PdfDict() if kind == "dopen" else [], None, start])
                continue
            if kind == "dclose" or kind == "aclose":
                if not stack or isinstance(stack[-1][0], PdfDict) != (kind == "dclose"):
                    raise PdfSyntaxError(f"unbalanced {m.group(kind)!r} at offset {start}")
                val, key, start = stack.pop()
                if key is not None:
                    raise PdfSyntaxError(f"dictionary key /{key} without a value at {start}")
            elif kind == "name":
                raw = m.group(kind)[1:]
                if b"#" in raw:
                    raw = re.sub(rb"#([0-9A-Fa-f]{2})",
                                 lambda g: bytes([int(g.group(1), 16)]), raw)
                val = Name(raw.decode("latin-1"))
            elif kind == "ref":
                num, gen = m.group("rnum"), m.group("rgen")
                if len(num) > MAX_NUMBER or len(gen) > MAX_NUMBER:
                    raise PdfSyntaxError(f"object number too long at offset {start}")
                val = Ref(int(num), int(gen))
            elif kind == "num":
                text = m.group(kind)
                if len(text) > MAX_NUMBER:
                    # ISO 32000-1 Annex C: integers fit 32 bits, reals about 38 digits.
                    raise PdfSyntaxError(f"number of {len(text)} characters at offset {start}")
                val = float(text) if b"." in text else int(text)
            elif kind == "hex":
                if pos - start > 2 * MAX_STRING:
                    raise PdfLimitError(f"string longer than {MAX_STRING >> 20} MiB at {start}")
                digits = m.group(kind)[1:-1].decode("ascii")
                try:
                    val = bytes.fromhex(digits)
                except ValueError:  # odd digit count or NULs: ISO 32000-1 §7.3.4.3
                    digits = re.sub(r"[\s\x00]+", "", digits)
                    val = bytes.fromhex(digits + "0" * (len(digits) % 2))
            elif kind == "lit":
                val, pos = self._literal(pos)
            else:  # kw
                val = {b"true": True, b"false": False, b"null": None}[m.group(kind)]
            if not stack:
                return val, pos
            top = stack[-1]
            container = top[0]
            if isinstance(container, PdfDict):
                if top[1] is None:
                    if kind != "name":
                        raise PdfSyntaxError(f"dictionary key expected at offset {start}")
                    top[1] = val
                    continue
                key = top[1]
                if key in container:
                    # ISO 32000-2 §7.3.7: duplicate keys are undefined behaviour; two
                    # readers may pick different values, so refuse.
                    raise PdfSyntaxError(f"duplicate dictionary key /{key} at offset {start}")
                container[key] = val
                container.spans[key] = (start, pos)
                top[1] = None
            else:
                container.append(val)

    def _literal(self, i: int) -> tuple[bytes, int]:
        """A literal string's bytes (ISO 32000-1 §7.3.4.2) from just after its ``(``.

        Plain runs are copied by one regular expression; the Python loop only sees
        parentheses and backslashes, and an unterminated string fails at C speed.
        """
        data = self.data
        out = bytearray()
        depth = 1
        n = len(data)
        start = i
        run = _LITERAL_RUN.match
        specials = 0
        while True:
            j = run(data, i).end()  # type: ignore[union-attr]  # "*+" always matches
            out += data[i:j]
            i = j
            if i >= n:
                break
            specials += 1
            if specials >= _CHECK_EVERY:
                self.budget.check()
                specials = 0
            if len(out) > MAX_STRING:
                raise PdfLimitError(f"string longer than {MAX_STRING >> 20} MiB at {start}")
            c = data[i]
            if c == 0x5C:  # backslash
                i += 1
                if i >= n:
                    break
                e = data[i]
                if e in _ESCAPES:
                    out += _ESCAPES[e]
                    i += 1
                elif 0x30 <= e <= 0x37:
                    j = i
                    while j < min(i + 3, n) and 0x30 <= data[j] <= 0x37:
                        j += 1
                    out.append(int(data[i:j], 8) & 0xFF)
                    i = j
                elif e in b"\r\n":
                    i += 2 if data[i : i + 2] == b"\r\n" else 1
                else:
                    i += 1
                continue
            if c == 0x28:
                depth += 1
            else:  # 0x29
                depth -= 1
                if depth == 0:
                    if len(out) > MAX_STRING:
                        raise PdfLimitError(
                            f"string longer than {MAX_STRING >> 20} MiB at {start}")
                    return bytes(out), i + 1
            out.append(c)
            i += 1
        raise PdfSyntaxError(f"unterminated literal string at offset {start - 1}")


@dataclass
class Revision:
    """One cross-reference section and what it defines (ISO 32000-1 §7.5.6)."""

    xref_offset: int
    trailer: PdfDict
    _entries: dict[int, tuple[int, int, int]] | None = None
    is_stream: bool = False
    _data: bytes = b""
    _subsections: list[tuple[int, int, int]] = field(default_factory=list)
    """(first object number, count, offset of the rows) of a table, read on demand."""

    hidden: Revision | None = None
    """The cross-reference stream of a hybrid file's table (``/XRefStm``)."""
    _budget: Budget | None = None
    """Charged for the table's entries when they are read."""

    @property
    def entries(self) -> dict[int, tuple[int, int, int]]:
        """object number -> (type, offset or object stream number, gen or index)."""
        if self._entries is None:
            table = self._table_entries()
            if self.hidden is not None:
                # Stream entries fill what the table leaves out or marks free.
                merged = dict(self.hidden.entries)
                merged.update({n: e for n, e in table.items() if e[0] != 0 or n not in merged})
                table = merged
            self._entries = table
        return self._entries

    def _table_entries(self) -> dict[int, tuple[int, int, int]]:
        entry = _XREF_ENTRY
        out: dict[int, tuple[int, int, int]] = {}
        if self._budget is not None:
            self._budget.check()
            self._budget.spend_objects(sum(count for _, count, _ in self._subsections))
        for first, count, pos in self._subsections:
            # ISO 32000-1 §7.5.4: entries are exactly 20 bytes; check them at once.
            block = self._data[pos : pos + 20 * count]
            if len(block) != 20 * count or _XREF_ROWS.fullmatch(block) is None:
                raise PdfSyntaxError(f"malformed cross-reference entries at offset {pos}")
            for k, (off, gen, kind) in enumerate(entry.findall(block)):
                out[first + k] = (1, int(off), int(gen)) if kind == b"n" else (0, 0, int(gen))
        return out


@dataclass(frozen=True)
class SignatureField:
    """A filled signature field as the document's final revision defines it."""

    name: str
    """Fully qualified field name (``parent.child``)."""
    field_ref: Ref | None
    value_ref: Ref | None
    """Reference of the signature dictionary (``/V``); None if direct (invalid)."""
    sig: PdfDict
    """The signature dictionary."""
    contents_span: tuple[int, int] | None
    """Where the ``/Contents`` value lies in the file (hex string including <>)."""
    problem: str | None = None


class Decrypting(Protocol):
    """What decrypts an encrypted file's objects (:class:`signsvc.verify._pdfcrypt.Decryptor`)."""

    def decrypt_object(self, num: int, gen: int, value: Any) -> Any: ...


class ScannedPdf:
    """A PDF read from bytes: revisions, objects by reference, signature fields."""

    def __init__(self, data: bytes, budget: Budget | None = None) -> None:
        self.data = data
        self.budget = budget if budget is not None else Budget()
        self.lexer = Lexer(data, self.budget)
        if not data.startswith(b"%PDF-"):
            raise PdfSyntaxError("no %PDF- header at offset 0")
        self._cache: dict[int, Any] = {}
        self._objstm: dict[int, tuple[bytes, list[tuple[int, int]]]] = {}
        self._walked = 0
        self._opening: set[int] = set()
        """Object streams being opened (one that needs itself to be read is refused)."""
        self.crypt: Decrypting | None = None
        """Set by the caller right after reading an encrypted file (before any object is
        read: :func:`signsvc.verify._pdfcrypt.open_crypt`); objects read then come out
        with their strings and stream data decrypted."""
        self.revisions = self._read_revisions()
        self.trailer = self.revisions[-1].trailer

    @property
    def encrypted(self) -> bool:
        return "Encrypt" in self.trailer

    # -- cross-reference sections -------------------------------------------------
    def _read_revisions(self) -> list[Revision]:
        data = self.data
        pos = data.rfind(b"startxref")
        if pos < 0:
            raise PdfSyntaxError("no startxref")
        m = STARTXREF.match(data, pos)
        if not m:
            raise PdfSyntaxError("malformed startxref / %%EOF at the end")
        offset = int(m.group(1))
        seen: set[int] = set()
        chain: list[Revision] = []
        while True:
            if offset in seen:
                raise PdfSyntaxError("cross-reference /Prev chain loops")
            if len(chain) >= MAX_REVISIONS:
                raise PdfLimitError(f"more than {MAX_REVISIONS} revisions (revision limit)")
            seen.add(offset)
            rev = self._read_section(offset)
            chain.append(rev)
            prev = rev.trailer.get("Prev")
            if prev is None:
                break
            if not isinstance(prev, int) or isinstance(prev, bool) or prev < 0:
                raise PdfSyntaxError("malformed /Prev")
            offset = prev
        chain.reverse()
        return chain

    def _read_section(self, offset: int) -> Revision:
        data = self.data
        if offset >= len(data):
            raise PdfSyntaxError(f"startxref {offset} beyond end of file")
        if data.startswith(b"xref", offset):
            return self._read_table(offset)
        if not _OBJ_HEADER.match(data, offset):
            raise PdfSyntaxError(f"no cross-reference section at offset {offset}")
        return self._read_xref_stream(offset)

    def _read_table(self, offset: int) -> Revision:
        data = self.data
        i = self.lexer.skip(offset + 4)
        subsections: list[tuple[int, int, int]] = []
        sub = _XREF_SUBSECTION
        while not data.startswith(b"trailer", i):
            m = sub.match(data, i)
            if not m:
                raise PdfSyntaxError(f"malformed cross-reference table at offset {i}")
            first, count = int(m.group(1)), int(m.group(2))
            subsections.append((first, count, m.end()))
            if len(subsections) % _CHECK_EVERY == 0:
                self.budget.check()
            i = self.lexer.skip(m.end() + 20 * count)
        trailer, _ = self.lexer.value(i + 7)
        if not isinstance(trailer, PdfDict):
            raise PdfSyntaxError("trailer is not a dictionary")
        rev = Revision(offset, trailer, _data=data, _subsections=subsections,
                       _budget=self.budget)
        hidden = trailer.get("XRefStm")
        if hidden is not None:
            # ISO 32000-1 §7.5.8.4 hybrid file: the stream lists the objects kept in
            # object streams; its entries count after the table's, for this revision.
            if not isinstance(hidden, int) or isinstance(hidden, bool):
                raise PdfSyntaxError("malformed /XRefStm")
            rev.hidden = self._read_xref_stream(hidden)
        return rev

    def _read_xref_stream(self, offset: int) -> Revision:
        num, _, obj = self._parse_indirect(offset, expect=None)
        if not isinstance(obj, Stream) or obj.dict.get("Type") != "XRef":
            raise PdfSyntaxError(f"object {num} at offset {offset} is not a /XRef stream")
        d = obj.dict
        widths = d.get("W")
        size = d.get("Size")
        index = d.get("Index")
        counts = [size, *(index[1::2] if isinstance(index, list) else ())]
        declared = [x for x in counts if type(x) is int]
        if any(x > MAX_OBJECTS for x in declared):
            # Before any other check: a stream declaring millions of entries is refused
            # as a limit, not handed to pyHanko, whose reader would build them all.
            self.budget.spend_objects(max(declared))
        if (not isinstance(widths, list) or len(widths) != 3
                or not all(isinstance(w, int) and 0 <= w <= 8 for w in widths)
                or not isinstance(size, int)):
            raise PdfSyntaxError("malformed /W or /Size in cross-reference stream")
        index = d.get("Index", [0, size])
        if (not isinstance(index, list) or len(index) % 2
                or not all(type(x) is int and x >= 0 for x in index)):
            raise PdfSyntaxError("malformed /Index in cross-reference stream")
        # First the count, a limit: too many entries is refused, not handed to pyHanko,
        # whose reader would build every one of them.
        total = sum(index[1::2])
        self.budget.spend_objects(total)
        w0, w1, w2 = widths
        row = w0 + w1 + w2
        if row == 0:
            # Rows of no bytes would let /Index declare entries without end.
            raise PdfSyntaxError("cross-reference stream with /W [0 0 0]")
        raw = obj.decode(self.budget)
        if total * row > len(raw):
            raise PdfSyntaxError("cross-reference stream shorter than /Index says")
        entries: dict[int, tuple[int, int, int]] = {}
        pos = 0
        for first, count in zip(index[::2], index[1::2], strict=True):
            self.budget.check()
            for k in range(count):
                kind = int.from_bytes(raw[pos : pos + w0], "big") if w0 else 1
                f2 = int.from_bytes(raw[pos + w0 : pos + w0 + w1], "big")
                f3 = int.from_bytes(raw[pos + w0 + w1 : pos + row], "big")
                pos += row
                if kind in (1, 2):
                    entries[first + k] = (kind, f2, f3)
                elif kind == 0:
                    entries[first + k] = (0, 0, f3)
        return Revision(offset, d, entries, is_stream=True)

    # -- objects ------------------------------------------------------------------
    def _parse_indirect(self, offset: int, expect: Ref | None) -> tuple[int, int, Any]:
        data = self.data
        m = _OBJ_HEADER.match(data, offset)
        if not m:
            raise PdfSyntaxError(f"no object header at offset {offset}")
        num, gen = int(m.group(1)), int(m.group(2))
        if expect is not None and (num, gen) != (expect.num, expect.gen):
            raise PdfSyntaxError(
                f"cross-reference says object {expect.num} {expect.gen} is at offset "
                f"{offset}, but object {num} {gen} is there"
            )
        value, i = self.lexer.value(m.end())
        i = self.lexer.skip(i)
        if isinstance(value, PdfDict) and data.startswith(b"stream", i):
            i += 6
            if data.startswith(b"\r\n", i):
                i += 2
            elif data.startswith(b"\n", i):
                i += 1
            else:
                raise PdfSyntaxError(f"stream keyword of object {num} not followed by EOL")
            length = value.get("Length")
            if isinstance(length, Ref):
                length = self.get(length)
            if not isinstance(length, int) or length < 0 or i + length > len(data):
                raise PdfSyntaxError(f"bad /Length of stream object {num}")
            raw = data[i : i + length]
            end = self.lexer.skip(i + length)
            if not data.startswith(b"endstream", end):
                raise PdfSyntaxError(f"stream object {num}: endstream not where /Length says")
            value = Stream(value, raw)
        if self.crypt is not None:
            # Objects in an object stream are not decrypted here: the stream was.
            self.budget.check()
            value = self.crypt.decrypt_object(num, gen, value)
        return num, gen, value

    def get(self, ref: Ref) -> Any:
        """Resolve an indirect reference in the final revision (null if free/absent)."""
        if ref.num in self._cache:
            return self._cache[ref.num]
        entry = None
        for rev in reversed(self.revisions):  # the newest definition wins (§7.5.6)
            entry = rev.entries.get(ref.num)
            if entry is not None:
                break
        if entry is None or entry[0] == 0:
            value: Any = None
        elif entry[0] == 1:
            if entry[2] != ref.gen:
                value = None
            else:
                self._cache[ref.num] = None  # breaks /Length reference cycles
                value = self._parse_indirect(entry[1], ref)[2]
        else:
            value = self._from_object_stream(entry[1], entry[2], ref.num)
        self._cache[ref.num] = value
        return value

    def _from_object_stream(self, stream_num: int, index: int, num: int) -> Any:
        if stream_num not in self._objstm:
            if stream_num in self._opening:
                # ISO 32000-1 §7.5.7: an object stream is never inside an object stream.
                raise PdfSyntaxError(f"object stream {stream_num} is inside itself")
            self._opening.add(stream_num)
            stm = self.get(Ref(stream_num, 0))
            if not isinstance(stm, Stream) or stm.dict.get("Type") != "ObjStm":
                raise PdfSyntaxError(f"object stream {stream_num} missing")
            n, first = stm.dict.get("N"), stm.dict.get("First")
            if (type(n) is not int or type(first) is not int or n < 0 or first < 0
                    or n > MAX_OBJECTS):
                raise PdfSyntaxError(f"object stream {stream_num}: bad /N or /First")
            body = stm.decode(self.budget)
            if first > len(body) or _OBJSTM_HEADER.fullmatch(body, 0, first) is None:
                raise PdfSyntaxError(f"object stream {stream_num}: bad header")
            # At most 2n + 1 numbers are read from the header: millions of tokens must
            # not become a list of millions of ints first.
            found = [x.group() for x in itertools.islice(
                _DIGITS.finditer(body, 0, first), 2 * n + 1)]
            if len(found) != 2 * n or any(len(x) > MAX_NUMBER for x in found):
                raise PdfSyntaxError(f"object stream {stream_num}: bad header")
            nums = [int(x) for x in found]
            pairs = list(zip(nums[::2], nums[1::2], strict=True))
            self._objstm[stream_num] = (body, [(a, first + b) for a, b in pairs])
        body, pairs = self._objstm[stream_num]
        if index >= len(pairs) or pairs[index][0] != num:
            raise PdfSyntaxError(f"object {num} not at index {index} of stream {stream_num}")
        return Lexer(body, self.budget).value(pairs[index][1])[0]

    def resolve(self, value: Any) -> Any:
        return self.get(value) if isinstance(value, Ref) else value

    # -- signatures ---------------------------------------------------------------
    def signature_fields(self) -> list[SignatureField]:
        """Every filled signature field reachable from ``/Root /AcroForm /Fields``."""
        root = self.resolve(self.trailer.get("Root"))
        if not isinstance(root, dict):
            raise PdfSyntaxError("trailer /Root is not a dictionary")
        form = self.resolve(root.get("AcroForm"))
        if form is None:
            return []
        if not isinstance(form, dict):
            raise PdfSyntaxError("/AcroForm is not a dictionary")
        fields = self.resolve(form.get("Fields"))
        if fields is None:
            return []
        if not isinstance(fields, list):
            raise PdfSyntaxError("/AcroForm /Fields is not an array")
        out: list[SignatureField] = []
        seen: set[int] = set()
        self._walked = 0
        for item, name, ft in self._walk(fields, "", None, seen, 0):
            if ft != "Sig":
                continue
            v = item[1].get("V")
            if v is None:
                continue
            sig = self.resolve(v)
            if sig is None and isinstance(v, Ref):
                # ISO 32000-1 §7.3.10 makes a reference to nothing null, but a signature
                # field whose value points nowhere is a forgery attempt (USF), not an
                # empty field: report it as a signature that cannot be read.
                out.append(SignatureField(name, item[0], v, PdfDict(), None,
                                          problem=f"/V refers to object {v.num} {v.gen}, "
                                          "which does not exist"))
                continue
            if not isinstance(sig, PdfDict):
                raise PdfSyntaxError(f"signature field {name}: /V is not a dictionary")
            span = sig.spans.get("Contents")
            out.append(SignatureField(
                name=name,
                field_ref=item[0],
                value_ref=v if isinstance(v, Ref) else None,
                sig=sig,
                contents_span=span if isinstance(sig.get("Contents"), bytes) else None,
            ))
        return out

    def _walk(
        self, kids: list[Any], prefix: str, inherited_ft: Any, seen: set[int], depth: int
    ) -> Iterator[tuple[tuple[Ref | None, PdfDict], str, Any]]:
        if depth > MAX_DEPTH:
            raise PdfLimitError("form field tree nested too deep")
        for kid in kids:
            self._walked += 1
            if self._walked > MAX_FIELDS:
                # Direct dictionaries count too: an array of a million "<<>>" is 4 MB.
                raise PdfLimitError(f"more than {MAX_FIELDS} form fields")
            if not self._walked % 256:
                self.budget.check()
            if isinstance(kid, Ref):
                if kid.num in seen:
                    raise PdfSyntaxError("form field tree has a cycle")
                seen.add(kid.num)
            node = self.resolve(kid)
            if not isinstance(node, PdfDict):
                continue
            part = node.get("T")
            name = prefix
            if isinstance(part, bytes):
                text = _text(part)
                name = f"{prefix}.{text}" if prefix else text
                if len(name) > MAX_FIELD_NAME:
                    # Every descendant's name repeats its ancestors': long partial names
                    # on a wide tree would multiply into gigabytes.
                    raise PdfLimitError(f"a field name longer than {MAX_FIELD_NAME} "
                                        "characters")
            ft = node.get("FT", inherited_ft)
            children = self.resolve(node.get("Kids"))
            if isinstance(children, list) and any(
                isinstance(self.resolve(c), dict) and "T" in self.resolve(c) for c in children
            ):
                yield from self._walk(children, name, ft, seen, depth + 1)
            else:
                yield (kid if isinstance(kid, Ref) else None, node), name, ft


def _text(raw: bytes) -> str:
    """A PDF text string (ISO 32000-1 §7.9.2.2): UTF-16BE with BOM, else PDFDocEncoding
    (read as Latin-1, which agrees on every printable field name in practice)."""
    if raw.startswith(b"\xfe\xff"):
        return raw[2:].decode("utf-16-be", "replace")
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", "replace")
    return raw.decode("latin-1")


def scan(data: bytes, budget: Budget | None = None) -> ScannedPdf:
    """Read the structure of ``data``; raises :class:`PdfSyntaxError` (its
    :class:`PdfLimitError` past a size limit) or, past the deadline of ``budget``,
    :class:`~signsvc.verify._budget.TimeLimitError`."""
    try:
        return ScannedPdf(data, budget)
    except (IndexError, ValueError, TypeError, zlib.error, RecursionError) as exc:
        raise PdfSyntaxError(f"unreadable structure: {exc}") from exc
