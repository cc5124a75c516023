"""Loopback HTTP servers for tests, on 127.0.0.1 only: :class:`LoopbackServer`, the
thread and lifetime every test server shares; :class:`BadServer`, which answers a signer
badly (an HTTP error, the wrong content type, a body that is not a time-stamp response,
an answer too late) for the tests that check each failure is named with the URL and
the cause (tests/sign/test_network.py); :func:`parse_multipart` for servers receiving
uploads; and a port where nothing listens.

Example::

    with BadServer(status=503) as server:
        server.url                     # 'http://127.0.0.1:<port>/tsa'
"""

from __future__ import annotations

import email.parser
import email.policy
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1, port chosen by the kernel, served from a
    daemon thread between ``__enter__`` and ``__exit__``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@dataclass(frozen=True)
class UploadPart:
    """One part of a multipart/form-data body."""

    name: str
    """The form field name (Content-Disposition ``name``)."""
    filename: str | None
    content_type: str
    data: bytes


def parse_multipart(content_type: str, body: bytes) -> tuple[UploadPart, ...]:
    """The parts of a multipart/form-data body (RFC 7578), read with the stdlib MIME
    parser so that no code of the service under test judges its own output."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise ValueError(f"not a multipart body: {content_type!r}")
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        parts.append(UploadPart(
            name=str(part.get_param("name", header="content-disposition") or ""),
            filename=part.get_filename(),
            content_type=part.get_content_type(),
            data=payload if isinstance(payload, bytes) else b"",
        ))
    return tuple(parts)


class BadServer(LoopbackServer):
    """Answers every POST (and GET) with ``status``, ``content_type`` and ``body``,
    after ``delay`` seconds."""

    def __init__(self, *, status: int = 200, content_type: str = "application/timestamp-reply",
                 body: bytes = b"", delay: float = 0.0) -> None:
        self.status, self.content_type, self.body, self.delay = status, content_type, body, delay
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.requests += 1
                time.sleep(outer.delay)
                try:
                    self.send_response(outer.status)
                    self.send_header("Content-Type", outer.content_type)
                    self.send_header("Content-Length", str(len(outer.body)))
                    self.end_headers()
                    self.wfile.write(outer.body)
                except OSError:
                    pass  # the client gave up (a time-out test)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tsa"


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
