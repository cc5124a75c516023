"""A loopback test file server: an e-office's document store, as the service meets it.

Serves PDFs (and redirects) from memory, receives multipart uploads, and logs every
request it receives (method, path, headers), so a test can assert what the service
sent (the cookie, the bearer token) and that a server received nothing at all.

Example::

    with FileServer() as files:
        url = files.add("/vb/1.pdf", pdf_bytes)
        ...
        assert files.uploads[0].data.startswith(b"%PDF-")
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from tests.support.servers import LoopbackServer, parse_multipart


@dataclass(frozen=True)
class Logged:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Upload:
    """One multipart upload."""

    path: str
    field: str
    filename: str
    content_type: str
    data: bytes


class FileServer(LoopbackServer):
    """ThreadingHTTPServer on 127.0.0.1 (``host`` for the origin it claims)."""

    def __init__(self, *, host: str = "127.0.0.1", upload_reply: bytes = b"  stored  ",
                 upload_status: int = 200) -> None:
        self.host = host
        self.documents: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.log: list[Logged] = []
        self.uploads: list[Upload] = []
        self.upload_reply = upload_reply
        self.upload_status = upload_status
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _log(self) -> None:
                with server._lock:
                    server.log.append(Logged(self.command, self.path, dict(self.headers)))

            def do_GET(self) -> None:
                self._log()
                if self.path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = server.documents.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/pdf")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self._log()
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                try:
                    parts = parse_multipart(self.headers.get("Content-Type", ""), body)
                except ValueError:  # not multipart: nothing uploaded
                    parts = ()
                with server._lock:
                    server.uploads += [Upload(self.path, part.name, str(part.filename),
                                              part.content_type, part.data)
                                       for part in parts]
                self.send_response(server.upload_status)
                self.send_header("Content-Length", str(len(server.upload_reply)))
                self.end_headers()
                self.wfile.write(server.upload_reply)

        super().__init__(Handler)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add(self, path: str, data: bytes) -> str:
        """Serve ``data`` at ``path``; its URL."""
        self.documents[path] = data
        return self.origin + path
