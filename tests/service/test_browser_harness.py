"""The browser tests' own harness, checked without the service: the test e-office
server logs and parses what it receives, and Debian's Chromium, driven by Playwright,
loads its pages and applies Local Network Access to a page marked public."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.service.browser import Chromium
from tests.service.eoffice import EOffice
from tests.support.pdfs import one_page_pdf
from tests.support.tools import need


def test_eoffice_serves_documents_and_logs_every_request() -> None:
    pdf = one_page_pdf()
    with EOffice(documents={"a.pdf": pdf}) as office:
        got = httpx.get(office.doc_url("a.pdf"), headers={
            "Cookie": "ASP.NET_SessionId=s1", "Authorization": "Bearer t1"})
        missing = httpx.get(office.doc_url("b.pdf"))
        outside = httpx.get(office.url("/pages/../eoffice.py"))
    assert (got.status_code, got.headers["content-type"], got.content) == (
        200, "application/pdf", pdf)
    assert (missing.status_code, outside.status_code) == (404, 404)
    first = office.requests[0]
    assert (first.method, first.path, first.host) == (
        "GET", "/docs/a.pdf", f"127.0.0.1:{office.port}")
    assert (first.cookie, first.authorization) == ("ASP.NET_SessionId=s1", "Bearer t1")
    assert [r.path for r in office.requests_to("/docs/")] == ["/docs/a.pdf", "/docs/b.pdf"]


def test_eoffice_parses_a_multipart_upload_and_answers_its_file_server_text() -> None:
    """httpx encodes the form (not the code under test): the parts come back intact."""
    body = b"%PDF-1.7\n" + bytes(range(256)) * 4
    with EOffice() as office:
        answer = httpx.post(office.upload_url, files={"file": (
            "quyết-định.pdf", body, "application/pdf")}, data={"note": "x"})
        wrong = httpx.post(office.url("/elsewhere"), content=b"x")
    assert answer.status_code == 200
    [upload] = office.uploads
    assert answer.text == upload.reply == "uploaded/1/quyết-định.pdf"
    part = upload.part("file")
    assert (part.filename, part.content_type, part.data) == (
        "quyết-định.pdf", "application/pdf", body)
    assert upload.part("note").data == b"x"
    assert wrong.status_code == 404 and len(office.uploads) == 1


def test_chromium_reads_the_page_and_a_public_page_cannot_reach_loopback(
        tmp_path: Path) -> None:
    """Chromium loads a page from one EOffice and the page reaches another loopback
    port; once the page's server is marked public, Local Network Access blocks the same
    fetch before it is sent (Chromium 156: the CORS-style console message names the
    loopback address space)."""
    need("chromium")
    with EOffice(documents={"x.pdf": b"%PDF-1.7\n"}) as page, EOffice(
            documents={"x.pdf": b"%PDF-1.7\n"}) as target:
        url = page.page_url("sign.html", mode="fetch", target=target.doc_url("x.pdf"))
        with Chromium(tmp_path / "plain") as browser:
            run = browser.run_page(url)
        assert run.result["page"] == page.origin
        # The fetch is sent (the reply then lacks CORS headers): the server logged it.
        assert [r.path for r in target.requests_to("/docs/")] == ["/docs/x.pdf"]
        with Chromium(tmp_path / "public", public_ports=[page.port]) as browser:
            run = browser.run_page(url)
        assert run.result["ok"] is False
        assert run.mentions("access the `loopback` address space"), run.console
        assert [r.path for r in target.requests_to("/docs/")] == ["/docs/x.pdf"]


