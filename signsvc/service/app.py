"""The ASGI application (Starlette) and ``serve`` (uvicorn): WebSocket and
JSON-over-HTTP on the same paths.

=========================  ====================================================
``/SignApproved`` ...      a VGCA call: WebSocket (one text message in, one
                           reply out, then the service closes) or ``POST`` JSON
``OPTIONS /<call>``        CORS preflight, answered for allowed origins only
``GET /signsvc-plugin.js`` the JS client (``vgca_sign_*`` and ``signsvc.sign``)
``GET /openapi.json``      the HTTP calls described (OpenAPI 3.0)
=========================  ====================================================

Every request passes :mod:`signsvc.service.gate` first: Host and the peer's uid for
everything (a page that cannot name the loopback host, or another local user, gets
nothing, not even the script), then Origin for the calls, before a WebSocket is
accepted, and the HTTP headers before a body is read.

Example::

    >>> app = make_app(load_config(), make_confirmer("tk"))  # doctest: +SKIP
    >>> serve(app, port=8987)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from importlib import resources
from typing import Any

from signsvc._i18n import _
from signsvc.service.audit import ServiceAudit
from signsvc.service.config import ServiceConfig
from signsvc.service.consent import Confirmer
from signsvc.service.fetch import Resolver, system_resolver
from signsvc.service.gate import (
    OriginGate,
    Pairing,
    PeerLookup,
    check_host,
    check_http_headers,
    check_peer,
    cors_headers,
    peer_uid,
)
from signsvc.service.openapi import openapi_document
from signsvc.service.replies import Refusal, Status
from signsvc.service.run import Outcome, SigningService
from signsvc.service.schema import parse_request
from signsvc.service.vgca import CALLS, UNSUPPORTED_CALLS

__all__ = ["ServiceApp", "bind_loopback", "make_app", "serve"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CONCURRENCY = 16
"""Connections uvicorn serves at once; more are answered 503 at once."""
MESSAGE_WAIT = 30.0
"""Seconds a WebSocket client has to send its one message after the handshake."""
_JSON = "application/json; charset=utf-8"
_STATIC = frozenset({"/signsvc-plugin.js", "/openapi.json"})


def _headers(scope: Scope) -> dict[str, str]:
    """The request headers, lower-case names; a header sent twice counts as missing
    (two values cannot both be trusted)."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        if name in seen:
            out.pop(name, None)
            continue
        seen.add(name)
        out[name] = raw_value.decode("latin-1")
    return out


class ServiceApp:
    """The ASGI application (see the module): a Starlette application whose one
    route, for HTTP and WebSocket alike, is the gate followed by the call.

    One route for every path, not a route per call: an unknown path must still pass
    the gate (Host, peer) before it is told so, and a refused WebSocket handshake
    must be answered with its HTTP status before ``accept``, which the gate does on
    the raw ASGI messages.
    """

    def __init__(self, service: SigningService, gate: OriginGate, *,
                 peer_lookup: PeerLookup = peer_uid) -> None:
        from starlette.applications import Starlette
        from starlette.routing import Route, WebSocketRoute

        self.service = service
        self.gate = gate
        self.peer_lookup = peer_lookup
        self.limits = service.config.limits
        every = _Dispatch(self)
        self.starlette = Starlette(routes=[Route("/{path:path}", every),
                                           WebSocketRoute("/{path:path}", every)])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.starlette(scope, receive, send)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The gate, then the call (or the static file) the path names."""
        if scope["type"] not in ("http", "websocket"):
            return  # no lifespan: nothing to start or stop
        request_id = uuid.uuid4().hex[:12]
        headers = _headers(scope)
        path = str(scope.get("path", ""))
        call = path.strip("/") or None
        try:
            check_host(headers.get("host"))
            check_peer(self.peer_lookup, _address(scope.get("client")),
                       _address(scope.get("server")))
        except Refusal as refusal:
            self._record(request_id, headers.get("origin"), call, refusal)
            await self._refuse(scope, send, refusal, origin=None)
            return
        if scope["type"] == "http" and path in _STATIC:
            await self._static(path, scope["method"], send)
        elif call is None or "/" in call or not (call in CALLS or call in UNSUPPORTED_CALLS):
            unknown = Refusal(404, Status.BAD_REQUEST, _("no such call"),
                              decision="no-such-call")
            self._record(request_id, headers.get("origin"), call, unknown)
            await self._refuse(scope, send, unknown, origin=None)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send, call, headers, request_id)
        else:
            await self._http(scope, receive, send, call, headers, request_id)

    # -- the gate's answers --------------------------------------------------------

    def _record(self, request_id: str, origin: str | None, call: str | None,
                refusal: Refusal) -> None:
        self.service.audit.decision(request_id, origin=origin[:200] if origin else None,
                                    call=call[:100] if call else None,
                                    decision=refusal.decision, error=refusal.message)

    async def _refuse(self, scope: Scope, send: Send, refusal: Refusal, *,
                      origin: str | None) -> None:
        """Answer with the refusal: an HTTP response, or for a WebSocket a refused
        handshake with that status (never accepted)."""
        body = json.dumps(refusal.reply(), ensure_ascii=False).encode("utf-8")
        headers = [(b"content-type", _JSON.encode()),
                   (b"content-length", str(len(body)).encode())]
        extra = {**refusal.headers, **(cors_headers(origin) if origin is not None else {})}
        headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
        if scope["type"] == "websocket":
            if "websocket.http.response" not in scope.get("extensions", {}):
                await send({"type": "websocket.close", "code": 1008})
                return
            await send({"type": "websocket.http.response.start",
                        "status": refusal.http_status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
            return
        await _respond(send, refusal.http_status, body, headers)

    async def _static(self, path: str, method: str, send: Send) -> None:
        if method != "GET":
            await _respond(send, 405, b"", [(b"allow", b"GET")])
            return
        if path == "/signsvc-plugin.js":
            body = resources.files("signsvc.service").joinpath(
                "data/signsvc-plugin.js").read_bytes()
            kind = b"text/javascript; charset=utf-8"
        else:
            body = json.dumps(openapi_document(), indent=1).encode("utf-8")
            kind = _JSON.encode()
        await _respond(send, 200, body, [(b"content-type", kind),
                                         (b"x-content-type-options", b"nosniff"),
                                         (b"cache-control", b"no-cache")])

    # -- the calls -------------------------------------------------------------------

    async def _process(self, call: str, origin: str, raw: str | bytes,
                       request_id: str) -> Outcome:
        """One call that passed the gate: the schema, then the service in a worker
        thread (it blocks on the official, the token and the network).

        Raises:
            Refusal: unsupported, or refused by the schema.
        """
        if call in UNSUPPORTED_CALLS:
            raise Refusal(501, Status.UNSUPPORTED, _("unsupported"), decision="unsupported")
        request = parse_request(raw, self.limits)
        return await asyncio.to_thread(self.service.handle, call, origin, request,
                                       request_id)

    async def _http(self, scope: Scope, receive: Receive, send: Send, call: str,
                    headers: dict[str, str], request_id: str) -> None:
        origin = headers.get("origin")
        method = scope["method"]
        allowed = origin if self.gate.allowed(origin) else None
        try:
            accepted = self.gate.check(origin)
            if method == "OPTIONS":
                await _respond(send, 204, b"", [
                    *((k.lower().encode(), v.encode())
                      for k, v in cors_headers(accepted).items()),
                    (b"access-control-allow-methods", b"POST"),
                    (b"access-control-allow-headers", b"content-type, x-signsvc-request"),
                    (b"access-control-max-age", b"600")])
                return
            if method != "POST":
                raise Refusal(405, Status.BAD_REQUEST, _("calls are POST or WebSocket"),
                              decision="bad-method", headers={"Allow": "POST, OPTIONS"})
            check_http_headers(headers.get("content-type"), headers.get("x-signsvc-request"))
            body = await _read_body(receive, self.limits.max_message_bytes)
            outcome = await self._process(call, accepted, body, request_id)
        except Refusal as refusal:
            self._record(request_id, origin, call, refusal)
            await self._refuse(scope, send, refusal, origin=allowed)
            return
        body = json.dumps(outcome.reply, ensure_ascii=False).encode("utf-8")
        await _respond(send, outcome.http_status, body, [
            (b"content-type", _JSON.encode()),
            *((k.lower().encode(), v.encode()) for k, v in cors_headers(accepted).items())])

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, call: str,
                         headers: dict[str, str], request_id: str) -> None:
        origin = headers.get("origin")
        try:
            accepted = self.gate.check(origin)
        except Refusal as refusal:
            self._record(request_id, origin, call, refusal)
            await self._refuse(scope, send, refusal, origin=None)
            return
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        try:
            message = await asyncio.wait_for(receive(), MESSAGE_WAIT)
        except TimeoutError:
            await send({"type": "websocket.close", "code": 1008})
            return
        if message["type"] != "websocket.receive":
            return  # the client went away
        try:
            text = message.get("text")
            if text is None:
                raise Refusal(400, Status.BAD_REQUEST, _("the request must be one JSON text "
                                                         "message"), decision="bad-request")
            reply = (await self._process(call, accepted, text, request_id)).reply
        except Refusal as refusal:
            self._record(request_id, origin, call, refusal)
            reply = refusal.reply()
        with contextlib.suppress(OSError, RuntimeError):  # the client may be gone
            await send({"type": "websocket.send",
                        "text": json.dumps(reply, ensure_ascii=False)})
            await send({"type": "websocket.close", "code": 1000})


class _Dispatch:
    """The route's endpoint, an ASGI callable (not a function: Starlette hands it the
    raw scope, receive and send)."""

    def __init__(self, app: ServiceApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app.dispatch(scope, receive, send)


def _address(value: Any) -> tuple[str, int] | None:
    if isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[1], int):
        return str(value[0]), value[1]
    return None


async def _respond(send: Send, status: int, body: bytes,
                   headers: list[tuple[bytes, bytes]]) -> None:
    if not any(name == b"content-length" for name, _ in headers):
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The HTTP body, refused (413) as soon as it passes ``limit``."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refusal(400, Status.BAD_REQUEST, _("the request ended early"),
                          decision="bad-request")
        body += message.get("body", b"")
        if len(body) > limit:
            raise Refusal(413, Status.BAD_REQUEST,
                          _("the request is too large ({size} bytes, at most "
                            "{limit})").format(size=len(body), limit=limit),
                          decision="too-large")
        if not message.get("more_body"):
            return bytes(body)


def make_app(config: ServiceConfig, confirmer: Confirmer, *, pin_env: str | None = None,
             peer_lookup: PeerLookup = peer_uid, resolver: Resolver = system_resolver,
             audit: ServiceAudit | None = None) -> ServiceApp:
    """The service's application for ``config``.

    Args:
        confirmer: asks the official (batches and pairing, one question at a time).
        pin_env: ``--pin-env``: the variable holding the PIN.
        peer_lookup: who owns a TCP peer (sock_diag or ``/proc/net/tcp``; an in-process test
            client has no socket and gives its own).
        resolver: host names to addresses.
        audit: where decisions go; default: the signing journal's file.
    """
    import threading

    from signsvc.sign.journal import default_journal_path

    if audit is None:
        audit = ServiceAudit(config.sign.journal or default_journal_path())
    consent_lock = threading.Lock()
    service = SigningService(config, confirmer, audit, pin_env=pin_env, resolver=resolver,
                             consent_lock=consent_lock)
    gate = OriginGate(config.allowed_origins)

    def ask(origin: str) -> bool:
        with consent_lock:
            return confirmer.pair(origin)

    def decided(origin: str, approved: bool) -> None:
        audit.decision(uuid.uuid4().hex[:12], origin=origin, call=None,
                       decision="paired" if approved else "pair-refused")

    def asked(origin: str) -> None:
        audit.decision(uuid.uuid4().hex[:12], origin=origin, call=None,
                       decision="pair-asked")

    if config.pairing:
        gate.pairing = Pairing(ask, config.paired_file, gate.add, decided, asked)
    return ServiceApp(service, gate, peer_lookup=peer_lookup)


def bind_loopback(port: int) -> list[socket.socket]:
    """Listening sockets on 127.0.0.1 and, when the machine has IPv6 loopback, ::1
    (never a wildcard address: the service is for this computer only).

    Raises:
        OSError: 127.0.0.1:``port`` cannot be bound (in use, ...).
    """
    sockets = []
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP; without it a reply's body waits ~40 ms for the headers' delayed ACK.
    v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    v4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        v4.bind(("127.0.0.1", port))
    except OSError:
        v4.close()
        raise
    sockets.append(v4)
    try:
        v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except OSError:
        return sockets
    try:
        v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        v6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        v6.bind(("::1", port))
        sockets.append(v6)
    except OSError:
        v6.close()  # no IPv6 loopback here: 127.0.0.1 only
    return sockets


def serve(app: ServiceApp, *, port: int) -> None:
    """Run ``app`` on the loopback addresses until SIGINT/SIGTERM (blocking).

    Raises:
        OSError: the port cannot be bound.
    """
    import uvicorn

    sockets = bind_loopback(port)
    for sock in sockets:
        sock.listen(128)
    config = uvicorn.Config(
        app, ws="websockets-sansio", ws_max_size=app.limits.max_message_bytes,
        limit_concurrency=CONCURRENCY, server_header=False, proxy_headers=False,
        lifespan="off", access_log=False, log_level="warning")
    shown = " ".join(f"http://{'[::1]' if s.family == socket.AF_INET6 else '127.0.0.1'}:{port}"
                     for s in sockets)
    print(_("signsvc: listening on {addresses}").format(addresses=shown), file=sys.stderr,
          flush=True)
    uvicorn.Server(config).run(sockets=sockets)
