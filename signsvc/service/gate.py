"""The request gate: who may ask the service to sign (SERVICE-DESIGN §3.2).

Checked in this order, before a WebSocket is accepted or a body is read, and
fail-closed (anything not understood is refused):

1. ``Host`` is 127.0.0.1, localhost or [::1], with or without the port, else 400:
   a DNS-rebinding page (its own host name now resolving to 127.0.0.1) is refused
   although it is "same-origin" with the service (CVE-2018-5702).
2. ``Origin`` is exactly on the allowlist, else 403; missing or ``null`` is 403. An
   unknown well-formed origin is refused now, and the official is asked in the
   background whether to pair it (:class:`Pairing`).
3. The TCP peer belongs to the service's own user (``/proc/net/tcp``), else 403:
   on a shared computer another local account could reach the same loopback port.
4. HTTP only: ``Content-Type: application/json`` (else 415) and
   ``X-Signsvc-Request: 1`` (else 403): a form post, which any site can send without
   a CORS preflight, never reaches the service.

Example::

    >>> host_allowed("127.0.0.1:8987"), host_allowed("attacker.example")
    (True, False)
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from signsvc._i18n import _
from signsvc.service.origins import normalise_origin
from signsvc.service.replies import Refusal, Status

__all__ = ["LOOPBACK_HOSTS", "PAIR_COOLDOWN", "OriginGate", "Pairing", "PeerLookup",
           "check_host", "check_http_headers", "check_peer", "cors_headers",
           "host_allowed", "netlink_peer_uid", "paired_origins", "peer_uid", "proc_peer_uid",
           "revoke_paired", "write_paired"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
"""The only ``Host`` values the service answers."""
PAIR_COOLDOWN = 600.0
"""Seconds after the official said no to pairing an origin before it is asked again."""

PeerLookup = Callable[[tuple[str, int], tuple[str, int]], int | None]
"""(peer address, service address) -> the peer socket's owner uid, None if unknown."""


def host_allowed(value: str | None) -> bool:
    """Whether a ``Host`` header names the loopback service (any port)."""
    if not value:
        return False
    value = value.lower()
    if value.startswith("["):
        host, _, rest = value.partition("]")
        host += "]"
        port = rest[1:] if rest.startswith(":") else None
        if rest and port is None:
            return False
    else:
        host, colon, port_text = value.partition(":")
        port = port_text if colon else None
    if port is not None and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        return False
    return host in LOOPBACK_HOSTS


def check_host(value: str | None) -> None:
    """Step 1. Raises: Refusal (400)."""
    if not host_allowed(value):
        raise Refusal(400, Status.REFUSED, _("this service answers only at 127.0.0.1, "
                                             "localhost or [::1]"), decision="refused-host")


def check_http_headers(content_type: str | None, marker: str | None) -> None:
    """Step 4 (HTTP calls). Raises: Refusal (415 or 403)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise Refusal(415, Status.REFUSED, _("the request must be JSON (Content-Type: "
                                             "application/json)"),
                      decision="refused-content-type")
    if marker != "1":
        raise Refusal(403, Status.REFUSED, _("the request lacks the header "
                                             "X-Signsvc-Request: 1"),
                      decision="refused-header")


class Pairing:
    """Asks the official, in the background, whether an unknown origin may call.

    At most one question at a time (a page cannot queue a hundred windows); an origin
    the official refused is not asked about again for :data:`PAIR_COOLDOWN`
    seconds. A yes is written to the user's paired-origins file and applies to the
    next request: the one that caused the question was already refused.
    """

    def __init__(self, ask: Callable[[str], bool], paired_file: Path,
                 on_paired: Callable[[str], None],
                 on_decision: Callable[[str, bool], None] | None = None,
                 on_asked: Callable[[str], None] | None = None) -> None:
        self._ask = ask
        self._file = paired_file
        self._on_paired = on_paired
        self._on_decision = on_decision
        self._on_asked = on_asked
        self._lock = threading.Lock()
        self._asking: str | None = None
        self._refused: dict[str, float] = {}

    def request(self, origin: str) -> bool:
        """Start asking about ``origin`` unless a question is open or it was refused
        lately; True when a question was started."""
        with self._lock:
            refused = self._refused.get(origin)
            if self._asking is not None or (
                    refused is not None and time.monotonic() - refused < PAIR_COOLDOWN):
                return False
            self._asking = origin
        if self._on_asked is not None:
            self._on_asked(origin)  # recorded before the request is refused
        threading.Thread(target=self._run, args=(origin,), name="signsvc-pair",
                         daemon=True).start()
        return True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no question is open (for tests and shutdown); True if idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._asking is None:
                    return True
            time.sleep(0.02)
        return False

    def _run(self, origin: str) -> None:
        try:
            approved = self._ask(origin)
        except Exception:  # a broken confirmer is a no (consent-contract)
            approved = False
        try:
            if approved:
                self._append(origin)
                self._on_paired(origin)
            if self._on_decision is not None:
                self._on_decision(origin, approved)
        except OSError as exc:
            print(f"signsvc: cannot record the paired origin {origin} in {self._file}: "
                  f"{exc}", file=sys.stderr, flush=True)
        finally:
            with self._lock:
                if not approved:
                    self._refused[origin] = time.monotonic()
                self._asking = None

    def _append(self, origin: str) -> None:
        known = paired_origins(self._file)
        if origin not in known:
            write_paired(self._file, [*known, origin])


def paired_origins(file: Path) -> list[str]:
    """The origins in a paired-origins file, in the order they were paired ([] when
    there is none, or it is unreadable: nothing is paired then)."""
    import tomllib

    try:
        with file.open("rb") as handle:
            return [o for o in tomllib.load(handle).get("origins", []) if isinstance(o, str)]
    except (FileNotFoundError, tomllib.TOMLDecodeError):
        return []


def write_paired(file: Path, origins: Iterable[str]) -> None:
    """Rewrite the paired-origins file with ``origins`` (atomically: a crash leaves the
    old list, never half a file)."""
    import json

    file.parent.mkdir(parents=True, exist_ok=True)
    # A normalised origin is ASCII without quotes or backslashes: a JSON string is a
    # TOML basic string.
    body = ("# Origins this user allowed to request signatures (signsvc serve).\n"
            "origins = [\n" + "".join(f"    {json.dumps(o)},\n" for o in origins) + "]\n")
    temporary = file.with_name(file.name + ".tmp")
    temporary.write_text(body, encoding="utf-8")
    os.replace(temporary, file)


def revoke_paired(file: Path, origin: str) -> bool:
    """Remove ``origin`` from the paired-origins file; whether it was there."""
    known = paired_origins(file)
    if origin not in known:
        return False
    write_paired(file, [o for o in known if o != origin])
    return True


class OriginGate:
    """Step 2: the allowlist (admin's, user's and paired origins) and pairing."""

    def __init__(self, allowed: Iterable[str], *, pairing: Pairing | None = None) -> None:
        self._allowed = set(allowed)
        self._lock = threading.Lock()
        self.pairing = pairing

    def add(self, origin: str) -> None:
        """Allow ``origin`` from now on (a pairing the official approved)."""
        with self._lock:
            self._allowed.add(origin)

    def allowed(self, origin: str | None) -> bool:
        """Whether ``origin`` (a header value) is on the allowlist, exactly."""
        if origin is None:
            return False
        with self._lock:
            return origin in self._allowed

    def check(self, origin: str | None) -> str:
        """The accepted origin. Raises: Refusal (403); an unknown well-formed origin
        also starts a pairing question."""
        if origin is None or origin == "null":
            raise Refusal(403, Status.REFUSED, _("the request has no origin"),
                          decision="refused-origin")
        if self.allowed(origin):
            return origin
        if self.pairing is not None and normalise_origin(origin) is not None:
            self.pairing.request(origin)
        raise Refusal(403, Status.REFUSED, _("{origin} may not request signatures from "
                                             "this computer").format(origin=origin[:200]),
                      decision="refused-origin")


def _proc_address(host: str, port: int) -> tuple[str, str] | None:
    """(file, ``ADDR:PORT``) as ``/proc/net/tcp{,6}`` write a socket address: the
    address as the kernel's 32-bit words in host byte order, hex, upper case."""
    try:
        if ":" in host:
            packed = socket.inet_pton(socket.AF_INET6, host)
            name = "tcp6"
        else:
            packed = socket.inet_pton(socket.AF_INET, host)
            name = "tcp"
    except OSError:
        return None
    words = [packed[i:i + 4] for i in range(0, len(packed), 4)]
    if sys.byteorder == "little":
        words = [w[::-1] for w in words]
    return name, "".join(w.hex().upper() for w in words) + f":{port:04X}"


def proc_peer_uid(peer: tuple[str, int], server: tuple[str, int], *,
                  proc: Path = Path("/proc/net")) -> int | None:
    """The uid owning the peer's end of the connection ``peer`` -> ``server``: the
    ``/proc/net/tcp{,6}`` row whose local address is the peer's and whose remote
    address is the service's. None when no such row is found (refuse, then)."""
    local = _proc_address(*peer)
    remote = _proc_address(*server)
    if local is None or remote is None or local[0] != remote[0]:
        return None
    try:
        lines = (proc / local[0]).read_text(encoding="ascii").splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # sl local_address rem_address st tx:rx tr:when retrnsmt uid ...
        if len(fields) > 7 and fields[1] == local[1] and fields[2] == remote[1]:
            try:
                return int(fields[7])
            except ValueError:
                return None
    return None


_SOCK_DIAG_BY_FAMILY = 20  # linux/sock_diag.h
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_NETLINK_SOCK_DIAG = 4
_NOCOOKIE = 0xFFFFFFFF
_TCP_LISTEN = 10  # linux/tcp_states.h
_DIAG_MSG_UID = 16 + 4 + 48 + 12
"""Offset of ``idiag_uid`` in the answer: nlmsghdr, then inet_diag_msg's family,
state, timer, retrans, its inet_diag_sockid, expires, rqueue and wqueue."""


def _diag_address(host: str) -> tuple[int, bytes] | None:
    try:
        if ":" in host:
            return socket.AF_INET6, socket.inet_pton(socket.AF_INET6, host)
        return socket.AF_INET, socket.inet_pton(socket.AF_INET, host).ljust(16, b"\0")
    except OSError:
        return None


def netlink_peer_uid(peer: tuple[str, int], server: tuple[str, int]) -> int | None:
    """The uid owning the peer's end of ``peer`` -> ``server``, asked of the kernel
    for that one socket (``NETLINK_SOCK_DIAG``, inet_diag, the exact 4-tuple): constant
    time, where reading ``/proc/net/tcp`` costs a line per socket on the machine, and
    a page flooding the port with connections leaves thousands in TIME_WAIT. None when
    the kernel knows no such socket.

    Raises:
        OSError: sock_diag is not available (no netlink, or it is filtered).
    """
    import struct

    local, remote = _diag_address(peer[0]), _diag_address(server[0])
    if local is None or remote is None or local[0] != remote[0]:
        return None
    request = struct.pack(
        "!HH16s16s", peer[1], server[1], local[1], remote[1]) + struct.pack(
        "=III", 0, _NOCOOKIE, _NOCOOKIE)
    body = struct.pack("=BBBxI", local[0], socket.IPPROTO_TCP, 0, 0xFFFFFFFF) + request
    message = struct.pack("=IHHII", 16 + len(body), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST,
                          1, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_SOCK_DIAG) as sock:
        sock.settimeout(1.0)
        sock.sendall(message)
        answer = sock.recv(8192)
    if len(answer) < 16:
        return None
    length, kind = struct.unpack_from("=IH", answer)
    if kind == _NLMSG_ERROR or kind != _SOCK_DIAG_BY_FAMILY or length < _DIAG_MSG_UID + 4:
        return None  # ENOENT: no such socket (or a reply not understood: refuse)
    # The kernel's lookup falls back to a listening socket on the source port; only
    # the connection itself, with exactly this 4-tuple, answers the question.
    if answer[17] == _TCP_LISTEN or answer[20:56] != request[:36]:
        return None
    (uid,) = struct.unpack_from("=I", answer, _DIAG_MSG_UID)
    return int(uid)


def peer_uid(peer: tuple[str, int], server: tuple[str, int]) -> int | None:
    """The peer socket's owner: the kernel's sock_diag answer, else ``/proc/net/tcp``
    (where netlink is unavailable)."""
    try:
        return netlink_peer_uid(peer, server)
    except OSError:
        return proc_peer_uid(peer, server)


def check_peer(lookup: PeerLookup, client: tuple[str, int] | None,
             server: tuple[str, int] | None) -> None:
    """Step 3. Raises: Refusal (403) when the peer is another user or unknown."""
    owner = lookup(client, server) if client is not None and server is not None else None
    if owner is None or owner != os.geteuid():
        raise Refusal(403, Status.REFUSED, _("the request comes from another user of this "
                                             "computer"), decision="refused-peer")


def cors_headers(origin: str) -> Mapping[str, str]:
    """The CORS answer for an allowed origin: that origin, never ``*``, and ``Vary``
    (a cache must not hand one origin's answer to another). No Private-Network
    header: PNA is superseded by Local Network Access (SERVICE-DESIGN §2)."""
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
