"""Small PDFs for tests, written by hand so no library under test shapes the input.

Example::

    path = write_one_page_pdf(tmp_path / "in.pdf")
"""

from __future__ import annotations

from pathlib import Path


def _escape(text: str) -> bytes:
    # ISO 32000-1 §7.3.4.2: backslash, parentheses are escaped in a literal string.
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return escaped.encode("latin-1")


def one_page_pdf(text: str = "Van ban thu nghiem - TEST ONLY") -> bytes:
    """A valid one-page A4 PDF 1.7 with ``text`` in Helvetica and a classic xref table.

    ``text`` must be Latin-1 (the standard 14 fonts have no Vietnamese glyphs).
    """
    content = b"BT /F1 14 Tf 72 770 Td (" + _escape(text) + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    return classic_pdf(objects)


def classic_pdf(objects: list[bytes], *,
                file_id: bytes = b"<5349474e535643544553544f4e4c5921>") -> bytes:
    """Objects 1..n, a classic xref table and a trailer whose /Root is object 1."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    # ISO 32000-1 §7.5.4: every xref entry is exactly 20 bytes, EOL included.
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += (
        b"trailer\n<< /Size %d /Root 1 0 R /ID [%s %s] >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, file_id, file_id, xref)
    )
    return bytes(out)


def write_one_page_pdf(path: Path, text: str = "Van ban thu nghiem - TEST ONLY") -> Path:
    """Write :func:`one_page_pdf` to ``path`` and return ``path``."""
    path.write_bytes(one_page_pdf(text))
    return path
