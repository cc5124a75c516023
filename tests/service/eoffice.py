"""A test e-office web server on loopback, for the browser tests of ``signsvc serve``.

Each :class:`EOffice` is one origin (``http://127.0.0.1:<free port>``); cross-origin
tests start several. An instance serves the test pages (tests/service/pages/), the PDFs
it was given, and a multipart upload handler, and logs every request it receives
(method, path, headers including Cookie and Authorization, time), so a test can assert
what the signing service fetched and uploaded, and that a server received nothing.

Example::

    with EOffice(documents={"qd-123.pdf": pdf_bytes}) as office:
        office.url("/docs/qd-123.pdf")     # 'http://127.0.0.1:<port>/docs/qd-123.pdf'
        office.page_url("sign.html", svc=8987, call="SignApproved", files=[...])
        office.uploads                     # what the service POSTed to /upload
        office.requests                    # every request, oldest first

TEST ONLY: the log keeps cookies and bearer tokens in memory so tests can check that
the service sent the page's SessionId/JWTToken to the e-office server, and only there.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from tests.support.servers import LoopbackServer, UploadPart, parse_multipart

PAGES = Path(__file__).resolve().parent / "pages"
"""The test e-office pages (HTML), served under ``/pages/``."""

PAGE_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
"""What may be served from PAGES, by suffix."""

UPLOAD_PATH = "/upload"
"""Where the pages point ``FileUploadHandler``."""

MAX_BODY = 64 * 1024 * 1024
"""Larger request bodies are refused (413) rather than read into memory."""


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the server received it."""

    method: str
    path: str
    """The request target (path and query)."""
    host: str
    """The Host header as sent (the name the client used: 127.0.0.1, rebind.test, ...)."""
    headers: dict[str, str]
    """Every header, names in lower case (a repeated header keeps its last value)."""
    time: datetime

    @property
    def cookie(self) -> str | None:
        return self.headers.get("cookie")

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


@dataclass(frozen=True)
class Upload:
    """One multipart POST to the upload handler."""

    request: LoggedRequest
    parts: tuple[UploadPart, ...]
    reply: str
    """The body the server answered with: what the service should report as FileServer."""

    def part(self, name: str) -> UploadPart:
        """The part with field name ``name`` (KeyError naming the fields there are)."""
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(f"no part {name!r}; fields: {[p.name for p in self.parts]}")


class EOffice(LoopbackServer):
    """One test e-office origin on 127.0.0.1 (a ThreadingHTTPServer in a thread).

    Routes: ``GET /pages/<file>`` (tests/service/pages/, .html and .js), ``GET /docs/<name>`` (the
    documents given, as application/pdf; 404 otherwise), ``POST /upload`` (multipart;
    answers ``uploaded/<n>/<filename>`` as text/plain). Every request is logged, whatever
    its route, before it is answered.
    """

    def __init__(self, *, documents: dict[str, bytes] | None = None) -> None:
        self.documents: dict[str, bytes] = dict(documents or {})
        self._lock = threading.Lock()
        self._requests: list[LoggedRequest] = []
        self._uploads: list[Upload] = []
        super().__init__(self._handler_class())

    @property
    def origin(self) -> str:
        """The origin of its pages as the browser sends it in ``Origin``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, *, host: str = "127.0.0.1") -> str:
        """``http://<host>:<port><path>``; ``host`` is another name mapped to 127.0.0.1
        (``rebind.test`` through Chromium's --host-resolver-rules)."""
        return f"http://{host}:{self.port}{path}"

    def doc_url(self, name: str) -> str:
        return self.url(f"/docs/{name}")

    @property
    def upload_url(self) -> str:
        return self.url(UPLOAD_PATH)

    def page_url(self, page: str, *, host: str = "127.0.0.1", **params: Any) -> str:
        """The URL of a test page with its parameters in the query string (lists are
        joined with ``|``, which no test URL contains)."""
        query = {key: "|".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
                 for key, value in params.items()}
        return self.url(f"/pages/{page}?{urlencode(query)}", host=host)

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def uploads(self) -> list[Upload]:
        """Every upload received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._uploads)

    def requests_to(self, prefix: str) -> list[LoggedRequest]:
        """The requests whose path starts with ``prefix``."""
        return [r for r in self.requests if r.path.startswith(prefix)]

    def _log(self, request: LoggedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _store_upload(self, request: LoggedRequest, parts: tuple[UploadPart, ...]) -> str:
        with self._lock:
            number = len(self._uploads) + 1
            names = [p.filename for p in parts if p.filename]
            reply = f"uploaded/{number}/{names[0] if names else ''}"
            self._uploads.append(Upload(request=request, parts=parts, reply=reply))
            return reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        office = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _logged(self) -> LoggedRequest:
                request = LoggedRequest(
                    method=self.command, path=self.path,
                    host=self.headers.get("Host", ""),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    time=datetime.now(UTC))
                office._log(request)
                return request

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._logged()
                path = urlsplit(self.path).path
                if path.startswith("/pages/"):
                    page = PAGES / path.removeprefix("/pages/")
                    kind = PAGE_TYPES.get(page.suffix)
                    if page.parent == PAGES and page.is_file() and kind is not None:
                        self._send(200, kind, page.read_bytes())
                        return
                elif path.startswith("/docs/"):
                    data = office.documents.get(path.removeprefix("/docs/"))
                    if data is not None:
                        self._send(200, "application/pdf", data)
                        return
                self._send(404, "text/plain", b"not found")

            def do_POST(self) -> None:
                request = self._logged()
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self.close_connection = True
                    self._send(413, "text/plain", b"too large")
                    return
                body = self.rfile.read(length)
                if urlsplit(self.path).path != UPLOAD_PATH:
                    self._send(404, "text/plain", b"not found")
                    return
                try:
                    parts = parse_multipart(self.headers.get("Content-Type", ""), body)
                except ValueError as exc:
                    self._send(400, "text/plain", str(exc).encode())
                    return
                reply = office._store_upload(request, parts)
                self._send(200, "text/plain; charset=utf-8", reply.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
