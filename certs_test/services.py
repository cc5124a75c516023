"""CRL, certificate, OCSP and time-stamping services for the TEST-ONLY PKI, over HTTP.

Every CA-issued certificate in ``certs_test/`` points its CRL distribution point and its
AIA (OCSP, caIssuers) at ``http://127.0.0.1:18480``. This module answers those URLs from
the committed material, so tests and ``scripts/demo.sh`` exercise real HTTP fetches,
real OCSP responses and real RFC 3161 tokens::

    from certs_test.services import TestServices

    with TestServices() as services:            # 127.0.0.1:18480, background thread
        services.ocsp_url("gov-ca-g2")          # 'http://127.0.0.1:18480/ocsp/gov-ca-g2'
        services.tsa_url                        # 'http://127.0.0.1:18480/tsa'
        services.hits                           # {'/ocsp/gov-ca-g2': 1, ...}

or in the foreground: ``python -m certs_test.services [--port N] [--tsa-user U
--tsa-password P]``.

URLs (relative to :attr:`TestServices.base_url`):

- ``GET /crl/<ca>.crl`` (or ``/crl/<ca>``): the committed DER CRL, ``application/pkix-crl``.
- ``GET /certs/<name>.crt`` (or ``.cer``, ``.der``, ``.crt.der``, bare): a certificate of
  the manifest in DER, ``application/pkix-cert`` (RFC 2585 §4.1).
- ``POST /ocsp/<ca>`` and ``GET /ocsp/<ca>/<base64 request>`` (RFC 6960 §A.1): an OCSP
  response signed by the CA's delegated responder if it has one, else by the CA.
- ``POST /tsa`` (or ``/tsa/<anything>``): an RFC 3161 TSA signing with ``tsa.key.pem``,
  optionally behind HTTP basic auth (RFC 7617).

TEST ONLY: every key that signs these responses is public.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import errno
import hmac
import json
import socketserver
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from certs_test._ocsp import (
    OCSP_VALIDITY,
    SigningKey,
    _Authority,
    _decode_get_request,
    _ocsp_respond,
)
from certs_test._tsa import _TimeStampAuthority

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "OCSP_VALIDITY",
    "SERVICES",
    "TSA_POLICY",
    "PortInUseError",
    "Service",
    "ServicesError",
    "TestServices",
    "main",
]

HERE = Path(__file__).resolve().parent
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 18480
"""The port baked into every CDP and AIA URL by generate.py (``BASE_URL``)."""
TSA_POLICY = "2.999.3161.1"
"""TSA policy OID (RFC 3161 §2.4.2 ``policy``). It lies under the joint-iso-itu-t
``example`` arc 2.999 (ITU-T X.660), reserved for examples, so it can never be mistaken
for a real time-stamping policy."""
MAX_BODY = 64 * 1024
"""Largest request body accepted; OCSP and time-stamp requests are a few hundred bytes."""

Service = Literal["crl", "certs", "ocsp", "tsa"]
SERVICES: tuple[Service, ...] = ("crl", "certs", "ocsp", "tsa")
_CERT_SUFFIXES = (".crt.der", ".crt", ".cer", ".der")


class ServicesError(RuntimeError):
    """The test services could not be set up or started."""


class PortInUseError(ServicesError):
    """Another process (often another TestServices) already listens on the port."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        """The address that could not be bound."""
        self.port = port
        """The port that is taken."""
        super().__init__(
            f"cannot serve the test PKI on {host}:{port}: the port is already in use "
            "(is another test session or `python -m certs_test.services` running?)")


# --------------------------------------------------------------------------- material


def _load_key(path: Path) -> SigningKey:
    # The RSA key check costs ~0.1 s per key; these are our own committed keys, not
    # attacker-supplied input, so skipping it is safe and keeps start() instant.
    key = serialization.load_pem_private_key(path.read_bytes(), None,
                                             unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ServicesError(f"{path}: unsupported key type {type(key).__name__}")
    return key


def _has_eku(cert: x509.Certificate, usage: x509.ObjectIdentifier) -> bool:
    try:
        return usage in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False


@dataclass(frozen=True)
class _Pki:
    """Everything the services serve, loaded once from a certs_test/ folder."""

    certs_der: Mapping[str, bytes]
    authorities: Mapping[str, _Authority]
    tsa_cert: asn1_x509.Certificate
    tsa_key: SigningKey
    tsa_extra_certs: tuple[asn1_x509.Certificate, ...]
    """Issuing CAs of the TSA (not the root), embedded next to its certificate."""

    @classmethod
    def load(cls, root: Path) -> _Pki:
        """Read ``root`` (a certs_test/ folder laid out by generate.py).

        Raises:
            ServicesError: a file is missing or unreadable, or the manifest is invalid.
        """
        try:
            return cls._load(root)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ServicesError(f"cannot load the test PKI from {root}: {exc}") from exc

    @classmethod
    def _load(cls, root: Path) -> _Pki:
        manifest: dict[str, Any] = json.loads((root / "manifest.json").read_text("utf-8"))
        entities: dict[str, dict[str, Any]] = {e["name"]: e for e in manifest["entities"]}
        certs_der = {name: (root / f"{name}.crt.der").read_bytes() for name in entities}
        certs = {name: x509.load_der_x509_certificate(der) for name, der in certs_der.items()}
        authorities: dict[str, _Authority] = {}
        for entry in manifest["crls"]:
            ca = entry["ca"]
            # RFC 6960 §4.2.2.2: a delegated responder is issued by the CA with EKU
            # id-kp-OCSPSigning; found from the certificates, not hard-coded names.
            responders = [n for n, e in entities.items() if e["issuer"] == ca
                          and _has_eku(certs[n], ExtendedKeyUsageOID.OCSP_SIGNING)]
            responder = responders[0] if responders else ca
            authorities[ca] = _Authority(
                name=ca, cert=certs[ca], responder_cert=certs[responder],
                responder_key=_load_key(root / f"{responder}.key.pem"),
                delegated=responder != ca,
                issued=frozenset(int(e["serial"], 16) for e in entities.values()
                                 if e["issuer"] == ca),
                revoked={int(r["serial"], 16): (datetime.fromisoformat(r["date"]),
                                                x509.ReasonFlags[r["reason"]])
                         for r in entry["revoked"]},
                crl_der=(root / entry["file"]).read_bytes())
        chain = x509.load_pem_x509_certificates((root / "tsa.chain.pem").read_bytes())
        return cls(
            certs_der=certs_der, authorities=authorities,
            tsa_cert=asn1_x509.Certificate.load(certs_der["tsa"]),
            tsa_key=_load_key(root / "tsa.key.pem"),
            tsa_extra_certs=tuple(
                asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                for c in chain if c.issuer != c.subject))


# --------------------------------------------------------------------------- HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], services: TestServices) -> None:
        self.services = services
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which can stall
        # for seconds without DNS; nothing here needs that name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "signsvc-test-pki/1"
    # HTTP/1.0: one request per connection, so stop() never waits on idle keep-alives.
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.services.verbose:
            super().log_message(format, *args)

    def _send(self, status: HTTPStatus, body: bytes = b"",
              content_type: str = "text/plain; charset=utf-8",
              headers: Mapping[str, str] | None = None) -> None:
        if not body and status != HTTPStatus.OK:
            body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes | None:
        """The request body, or None after answering 411/413."""
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(HTTPStatus.LENGTH_REQUIRED)
            return None
        if not 0 <= length <= MAX_BODY:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return None
        return self.rfile.read(length)

    def _dispatch(self, method: str) -> None:
        services = self.server.services
        pki = services._pki
        path = urlsplit(self.path).path
        kind, _, rest = path.lstrip("/").partition("/")
        name, _, encoded = rest.partition("/")
        if kind == "crl":
            name = name.removesuffix(".crl")
        elif kind == "certs":
            name = next((name.removesuffix(s) for s in _CERT_SUFFIXES if name.endswith(s)),
                        name)
        known = ((kind == "ocsp" and name in pki.authorities)
                 or (kind == "crl" and name in pki.authorities and not encoded)
                 or (kind == "certs" and name in pki.certs_der and not encoded)
                 or kind == "tsa")
        services._count(services._canonical_path(kind, name) if known else path)
        if services.delay > 0:
            time.sleep(services.delay)
        try:
            if not known:
                self._send(HTTPStatus.NOT_FOUND)
            elif getattr(services, f"fail_{kind}"):
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, b"failing on purpose\n")
            elif kind == "tsa":
                self._tsa(method)
            elif kind == "ocsp":
                self._ocsp(method, pki.authorities[name], encoded)
            elif method != "GET":
                self._send(HTTPStatus.METHOD_NOT_ALLOWED, headers={"Allow": "GET"})
            elif kind == "crl":
                # RFC 5280 §4.2.1.13 / RFC 2585 §4.2: a DER CRL as application/pkix-crl.
                self._send(HTTPStatus.OK, pki.authorities[name].crl_der, "application/pkix-crl")
            else:
                # RFC 5280 §4.2.2.1: caIssuers over HTTP serves a DER certificate.
                self._send(HTTPStatus.OK, pki.certs_der[name], "application/pkix-cert")
        except Exception as exc:  # the request boundary: report, keep serving
            self.log_error("internal error: %r", exc)
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR)

    def _ocsp(self, method: str, authority: _Authority, encoded: str) -> None:
        if method == "POST":
            der = self._body()
            if der is None:
                return
        else:
            der = _decode_get_request(encoded) or b""
        answer = _ocsp_respond(authority, der, self.server.services.ocsp_backdate)
        self._send(HTTPStatus.OK, answer, "application/ocsp-response")

    def _tsa(self, method: str) -> None:
        if method != "POST":
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, headers={"Allow": "POST"})
            return
        if not self._authorized():
            # RFC 7617 §2: challenge with the Basic scheme and the charset we decode with.
            self._send(HTTPStatus.UNAUTHORIZED, headers={
                "WWW-Authenticate": 'Basic realm="signsvc test TSA", charset="UTF-8"'})
            return
        der = self._body()
        if der is not None:
            answer = self.server.services._tsa.respond(der)
            # RFC 3161 §3.4: the reply's MIME type.
            self._send(HTTPStatus.OK, answer, "application/timestamp-reply")

    def _authorized(self) -> bool:
        expected = self.server.services.tsa_auth
        if expected is None:
            return True
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        # Constant-time comparison: the password is a test value, but the pattern is the
        # one a real TSA needs.
        return hmac.compare_digest(given, f"{expected[0]}:{expected[1]}".encode())


# --------------------------------------------------------------------------- public API


class TestServices:
    """The test PKI's CRL, certificate, OCSP and TSA endpoints on one HTTP server.

    Args:
        root: the certs_test/ folder to serve (manifest.json, certificates, keys, CRLs).
        host: address to listen on.
        port: port to listen on; the certificates' CDP/AIA URLs need 18480, 0 picks a
            free port (enough for the TSA, whose URL is not baked into certificates).
        tsa_auth: ``(user, password)`` to require HTTP basic auth on the TSA.
        delay: seconds to wait before answering each request (timeouts, slow networks).
        fail_crl, fail_certs, fail_ocsp, fail_tsa: answer that service with HTTP 500.
        ocsp_backdate: subtracted from "now" for OCSP thisUpdate (default: none).
        verbose: log each request to stderr.

    ``delay``, ``fail_*``, ``ocsp_backdate`` and ``tsa_auth`` are plain attributes that
    may be changed while running; :meth:`failing` does it for a ``with`` block.

    Raises:
        ServicesError: the manifest or material under ``root`` cannot be read.
    """

    __test__ = False  # a helper, not a pytest test class, despite the name

    def __init__(self, root: Path = HERE, *, host: str = DEFAULT_HOST,
                 port: int = DEFAULT_PORT, tsa_auth: tuple[str, str] | None = None,
                 delay: float = 0.0, fail_crl: bool = False, fail_certs: bool = False,
                 fail_ocsp: bool = False, fail_tsa: bool = False,
                 ocsp_backdate: timedelta = timedelta(0), verbose: bool = False) -> None:
        self.root = Path(root)
        self.host = host
        self._port = port
        self.tsa_auth = tsa_auth
        self.delay = delay
        self.fail_crl = fail_crl
        self.fail_certs = fail_certs
        self.fail_ocsp = fail_ocsp
        self.fail_tsa = fail_tsa
        self.ocsp_backdate = ocsp_backdate
        self.verbose = verbose
        self._pki = _Pki.load(self.root)
        self._tsa = _TimeStampAuthority(self._pki.tsa_cert, self._pki.tsa_key,
                                        self._pki.tsa_extra_certs, TSA_POLICY)
        self._hits: dict[str, int] = {}
        self._hits_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle

    def start(self) -> None:
        """Listen and serve in a daemon thread; return once requests are accepted.

        Raises:
            PortInUseError: something already listens on ``host:port``.
            ServicesError: already started, or the socket cannot be bound.
        """
        if self._server is not None:
            raise ServicesError("TestServices already started")
        try:
            server = _Server((self.host, self._port), self)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(self.host, self._port) from exc
            raise ServicesError(f"cannot listen on {self.host}:{self._port}: {exc}") from exc
        self._server = server
        self._port = server.server_port
        self._thread = threading.Thread(target=server.serve_forever, kwargs={
            "poll_interval": 0.05}, name=f"certs_test.services:{self._port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()

    @property
    def running(self) -> bool:
        """Whether :meth:`start` was called and :meth:`stop` not yet."""
        return self._server is not None

    def __enter__(self) -> TestServices:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    # ----- URLs

    @property
    def port(self) -> int:
        """The listening port (the one chosen by the OS once started with port 0)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port``, without a trailing slash."""
        return f"http://{self.host}:{self._port}"

    @property
    def tsa_url(self) -> str:
        """RFC 3161 endpoint (POST ``application/timestamp-query``)."""
        return f"{self.base_url}/tsa"

    @property
    def cas(self) -> tuple[str, ...]:
        """Names of the CAs served (each has a CRL and an OCSP endpoint)."""
        return tuple(self._pki.authorities)

    @property
    def tsa_policy(self) -> str:
        """The policy OID in every TSTInfo (:data:`TSA_POLICY`)."""
        return self._tsa.policy

    def _check_ca(self, ca: str) -> str:
        if ca not in self._pki.authorities:
            raise ValueError(f"unknown CA {ca!r}; known: {', '.join(self.cas)}")
        return ca

    def ocsp_url(self, ca: str) -> str:
        """OCSP endpoint of ``ca``, as in its leaves' AIA."""
        return f"{self.base_url}/ocsp/{self._check_ca(ca)}"

    def crl_url(self, ca: str) -> str:
        """CRL of ``ca``, as in its certificates' CRL distribution point."""
        return f"{self.base_url}/crl/{self._check_ca(ca)}.crl"

    def cert_url(self, name: str) -> str:
        """DER certificate ``name``; for CAs, the caIssuers URL of their leaves."""
        if name not in self._pki.certs_der:
            raise ValueError(f"unknown certificate {name!r}")
        return f"{self.base_url}/certs/{name}.crt"

    # ----- counters and failure switches

    @staticmethod
    def _canonical_path(kind: str, name: str) -> str:
        return {"crl": f"/crl/{name}.crl", "certs": f"/certs/{name}.crt",
                "ocsp": f"/ocsp/{name}"}.get(kind, "/tsa")

    def _count(self, path: str) -> None:
        with self._hits_lock:
            self._hits[path] = self._hits.get(path, 0) + 1

    @property
    def hits(self) -> dict[str, int]:
        """Requests received per path (a copy).

        Known endpoints are counted under their canonical path, whatever form was used:
        ``/crl/<ca>.crl``, ``/certs/<name>.crt``, ``/ocsp/<ca>`` (POST and GET) and
        ``/tsa``; anything else under its raw path. Failed and refused (401, 500)
        requests count too: they reached the network.
        """
        with self._hits_lock:
            return dict(self._hits)

    def hit_count(self, service: Service | None = None) -> int:
        """Total requests, or those for one service (``"crl"``, ``"ocsp"``...)."""
        return sum(n for path, n in self.hits.items()
                   if service is None or path == f"/{service}" or path.startswith(f"/{service}/"))

    def reset_hits(self) -> None:
        """Forget every counted request."""
        with self._hits_lock:
            self._hits.clear()

    @contextlib.contextmanager
    def failing(self, *services: Service) -> Iterator[None]:
        """Answer the given services with HTTP 500 inside the ``with`` block."""
        unknown = set(services) - set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services {sorted(unknown)}; known: {SERVICES}")
        saved = {s: bool(getattr(self, f"fail_{s}")) for s in services}
        for service in services:
            setattr(self, f"fail_{service}", True)
        try:
            yield
        finally:
            for service, value in saved.items():
                setattr(self, f"fail_{service}", value)


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Run the services in the foreground until Ctrl-C (used by scripts/demo.sh)."""
    parser = argparse.ArgumentParser(
        prog="python -m certs_test.services",
        description="Serve the TEST-ONLY PKI's CRLs, CA certificates, OCSP and TSA.")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="default %(default)s, the port baked into the certificates")
    parser.add_argument("--root", type=Path, default=HERE, help="certs_test/ folder")
    # A test credential for a test TSA, so a command-line option is acceptable here
    # (unlike token PINs, which never go on the command line).
    parser.add_argument("--tsa-user", help="require HTTP basic auth on the TSA")
    parser.add_argument("--tsa-password")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if (args.tsa_user is None) != (args.tsa_password is None):
        parser.error("--tsa-user and --tsa-password go together")
    auth = (args.tsa_user, args.tsa_password) if args.tsa_user is not None else None
    try:
        services = TestServices(args.root, host=args.host, port=args.port, tsa_auth=auth,
                                verbose=args.verbose)
        services.start()
    except ServicesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    base = services.base_url
    print(f"TEST-ONLY PKI services on {base} (Ctrl-C to stop)\n"
          f"  CRL    {base}/crl/<ca>.crl\n"
          f"  certs  {base}/certs/<name>.crt\n"
          f"  OCSP   {base}/ocsp/<ca>\n"
          f"  TSA    {services.tsa_url}"
          + (f"  (basic auth, user {auth[0]!r})" if auth else "") + "\n"
          f"  CAs    {', '.join(services.cas)}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
