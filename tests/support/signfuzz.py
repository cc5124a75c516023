"""Hostile inputs for the signing path (``sign_batch``), grown from the suite's own PDFs.

The issue's report: a PDF whose object stream does not decompress raised ``zlib.error``
out of pyHanko's reader and stopped the batch. Here every mutant must come back as a
result of its own (signed, or failed with ``BadInputError``/``SigningError`` naming
the file), and the documents after it must still be signed.

Seeds (:func:`seeds`): the committed sample decisions (``samples/*.pdf``), a hand-written
one-page PDF with a classic xref table, the same objects in an object stream with an
xref stream (:func:`object_stream_pdf`), and an already-signed decision
(:func:`tests.support.badpdfs.already_signed`). Mutations (:data:`OPS`): a flipped byte,
a truncation, a byte range deleted or duplicated, a zeroed run, and the compressed
data of an object stream or xref stream corrupted (:func:`corrupt_streams`). Each
mutant comes from a seeded :class:`random.Random`, so a run is the same every time.

Example::

    mutants = make_mutants(seeds(tmp_path), count=40, seed=15)
    assert len(mutants) == 40 and all(isinstance(m.data, bytes) for m in mutants)
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support import badpdfs
from tests.support.paths import ROOT
from tests.support.pdfs import one_page_pdf

SAMPLES = sorted((ROOT / "samples").glob("*.pdf"))


def object_stream_pdf(text: str = "Object streams - TEST ONLY") -> bytes:
    """A one-page PDF 1.5 whose catalogue, page tree, page and font are in a
    FlateDecode object stream, indexed by a cross-reference stream (ISO 32000-1
    §7.5.7, §7.5.8): how most office suites and scanners write PDFs now."""
    content = b"BT /F1 14 Tf 72 770 Td (" + text.encode("latin-1") + b") Tj ET"
    packed = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    header, body = [], b""
    for number, obj in enumerate(packed, start=1):
        header.append(b"%d %d" % (number, len(body)))
        body += obj + b"\n"
    index = b" ".join(header) + b"\n"
    stream = zlib.compress(index + body)
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    offsets[5] = len(out)
    out += (b"5 0 obj\n<< /Length %d >>\nstream\n" % len(content) + content
            + b"\nendstream\nendobj\n")
    offsets[6] = len(out)
    out += (b"6 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>"
            b"\nstream\n" % (len(packed), len(index), len(stream)) + stream
            + b"\nendstream\nendobj\n")
    xref_at = len(out)
    rows = [b"\x00" + (0).to_bytes(4, "big") + b"\xff\xff"]
    rows += [b"\x02" + (6).to_bytes(4, "big") + n.to_bytes(2, "big") for n in range(4)]
    rows += [b"\x01" + offsets[5].to_bytes(4, "big") + b"\x00\x00",
             b"\x01" + offsets[6].to_bytes(4, "big") + b"\x00\x00",
             b"\x01" + xref_at.to_bytes(4, "big") + b"\x00\x00"]
    table = zlib.compress(b"".join(rows))
    file_id = b"<5349474e53564346555a5a4f424a5354>"
    out += (b"7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R /ID [%s %s] "
            b"/Filter /FlateDecode /Length %d >>\nstream\n" % (file_id, file_id, len(table))
            + table + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at)
    return bytes(out)


def seeds(directory: Path) -> dict[str, bytes]:
    """The seed documents by name (see the module); ``directory`` receives the files
    the builders write."""
    found = {path.name: path.read_bytes() for path in SAMPLES}
    found["one-page.pdf"] = one_page_pdf("Quyet dinh - TEST ONLY")
    found["object-streams.pdf"] = object_stream_pdf()
    directory.mkdir(parents=True, exist_ok=True)
    found["already-signed.pdf"] = badpdfs.already_signed(directory).read_bytes()
    return found


_STREAM = re.compile(rb"/(?:ObjStm|XRef)\b[^>]*>>\s*stream\r?\n", re.S)


def corrupt_streams(data: bytes, rng: random.Random) -> bytes:
    """Flip bytes inside the compressed data of the object and xref streams, so
    FlateDecode fails (zlib.error) or decodes to garbage; unchanged when there are
    none (classic xref tables)."""
    out = bytearray(data)
    for match in _STREAM.finditer(data):
        start = match.end()
        end = data.find(b"endstream", start)
        if end - start < 4:
            continue
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(start + 2, end - 1)  # past the zlib header too
            out[position] ^= rng.randrange(1, 256)
    return bytes(out)


def _flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.randrange(1, len(data))]


def _delete(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, 200):]


def _duplicate(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    piece = data[start:start + rng.randint(1, 200)]
    return data[:start] + piece + data[start:]


def _zero(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    length = rng.randint(1, 64)
    return data[:start] + bytes(min(length, len(data) - start)) + data[start + length:]


def _structure(data: bytes, rng: random.Random) -> bytes:
    """A flip where the structure is: xref, trailer, startxref, obj headers."""
    places = [m.start() for m in re.finditer(rb"xref|trailer|startxref|\d+ 0 obj|/Length",
                                             data)]
    if not places:
        return _flip(data, rng)
    out = bytearray(data)
    position = min(len(out) - 1, rng.choice(places) + rng.randrange(12))
    out[position] = rng.randrange(256)
    return bytes(out)


OPS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "flip": _flip,
    "truncate": _truncate,
    "delete": _delete,
    "duplicate": _duplicate,
    "zero": _zero,
    "structure": _structure,
    "streams": corrupt_streams,
}
"""The mutations, by name."""


@dataclass(frozen=True)
class Mutant:
    """One hostile input."""

    name: str
    """``NNN-<op>-<seed name>``: unique, and says how it was made."""
    data: bytes


def make_mutants(seeds: dict[str, bytes], *, count: int, seed: int) -> list[Mutant]:
    """``count`` different mutants of the seeds (none equal to its seed), the same for
    the same ``seed``; the first ones corrupt the streams of every seed that has
    compressed object or xref streams."""
    rng = random.Random(seed)
    names = sorted(seeds)
    mutants: list[Mutant] = []
    seen = set(seeds.values())
    with_streams = [n for n in names if _STREAM.search(seeds[n])]
    while len(mutants) < count:
        number = len(mutants)
        if number < len(with_streams):
            base, op = with_streams[number], "streams"
        else:
            base, op = rng.choice(names), rng.choice(sorted(OPS))
        data = OPS[op](seeds[base], rng)
        if data in seen:  # a mutation that changed nothing, or a repeat: draw again
            continue
        seen.add(data)
        mutants.append(Mutant(f"{number:03d}-{op}-{Path(base).stem}", data))
    return mutants
