"""Loopback HTTP servers that answer a signer badly, on 127.0.0.1 only: an HTTP error,
the wrong content type, a body that is not a time-stamp response, an answer too late;
and a port where nothing listens. For the tests that check each failure is named with
the URL and the cause (tests/sign/test_network.py).

Example::

    with BadServer(status=503) as server:
        server.url                     # 'http://127.0.0.1:<port>/tsa'
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class BadServer:
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

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/tsa"

    def __enter__(self) -> BadServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
