"""How fast the signing service refuses: ``signsvc serve`` against a bare peer.

    .venv/bin/python benchmarks/bench_service.py [--requests N]

A page on another site may hammer the loopback port; each refusal should cost the
official's computer next to nothing (issue 16's target: under 5 ms). Measures, over
loopback, interleaved in rounds so that machine noise hits both alike:

1. the real service (``signsvc serve``, the gate in front of everything, pairing
   refused by ``--confirm script:false``), started as a non-root user (as root:
   in a user namespace where it is uid 1000, like tests/service/conftest.py);
2. the peer: a bare Starlette app on the same uvicorn and websockets, no gate, that
   answers every request 403 and closes every WebSocket before accepting it;

for three refused requests: an HTTP call with a foreign ``Origin`` (one kept-alive
httpx connection), an HTTP call whose ``Host`` is a rebinding name, and a WebSocket
handshake with a foreign ``Origin`` (a new connection each, the websockets client).
Prints the median and p99 milliseconds, the service's ratio to the peer, and the peak
RSS of both server processes. Prints, never asserts: the machine is shared and noisy,
so compare figures within one run only.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parent.parent
SIGNSVC = Path(sys.executable).parent / "signsvc"
ALLOWED = "https://eoffice.example.vn"
FOREIGN = "https://evil.example"
ROUND = 100
"""Requests per case and server before switching to the other server."""


def _peer(port: int) -> None:
    """The peer server (run as ``bench_service.py --peer PORT``)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket

    async def refuse(request: Request) -> JSONResponse:
        return JSONResponse({"Status": 1, "Message": "forbidden"}, status_code=403)

    async def refuse_ws(websocket: WebSocket) -> None:
        await websocket.close()  # before accept: uvicorn answers the handshake 403

    app = Starlette(routes=[Route("/SignApproved", refuse, methods=["POST"]),
                            WebSocketRoute("/SignApproved", refuse_ws)])
    uvicorn.run(app, host="127.0.0.1", port=port, ws="websockets", log_level="warning",
                access_log=False, server_header=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(process: subprocess.Popen[bytes], port: int, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{name} never listened on {port}")


def start_service(folder: Path, port: int, *, config: str | None = None,
                  confirm: str = "script:false", env: dict[str, str] | None = None,
                  args: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    """``signsvc serve`` on ``port`` with its files under ``folder`` (``config``: the
    service.toml text, default: only ``ALLOWED`` allowed), as a non-root user."""
    for name in ("etc", "config", "data", "run"):
        (folder / name).mkdir()
    config_path = folder / "service.toml"
    config_path.write_text(config or f'[service]\nallowed_origins = ["{ALLOWED}"]\n',
                           encoding="utf-8")
    environment = {**os.environ, "SIGNSVC_SYSTEM_CONFIG_DIR": str(folder / "etc"),
                   "XDG_CONFIG_HOME": str(folder / "config"),
                   "XDG_DATA_HOME": str(folder / "data"),
                   "XDG_RUNTIME_DIR": str(folder / "run"), "TMPDIR": str(folder / "run"),
                   "SIGNSVC_AUDIT_DB": str(folder / "data" / "audit.sqlite3"),
                   "SIGNSVC_LANG": "en", **(env or {})}
    environment.pop("DISPLAY", None)
    command = [str(SIGNSVC), "serve", "--port", str(port), "--config", str(config_path),
               "--confirm", confirm, *args]
    if os.geteuid() == 0:  # the service refuses root; unshare execs, so the pid is its own
        command = ["unshare", "--user", "--map-user=1000", "--map-group=1000", "--",
                   *command]
    return subprocess.Popen(command, env=environment, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def http_case(client: httpx.Client, port: int, headers: dict[str, str],
              expected: int) -> Callable[[], float]:
    url = f"http://127.0.0.1:{port}/SignApproved"

    def once() -> float:
        start = time.perf_counter()
        response = client.post(url, headers=headers, content=b"{}")
        elapsed = time.perf_counter() - start
        if response.status_code != expected:
            raise SystemExit(f"{url}: {response.status_code}, expected {expected}")
        return elapsed

    return once


def ws_case(port: int) -> Callable[[], float]:
    url = f"ws://127.0.0.1:{port}/SignApproved"

    def once() -> float:
        start = time.perf_counter()
        try:
            connect(url, origin=Origin(FOREIGN), open_timeout=10).close()
        except InvalidStatus as exc:
            elapsed = time.perf_counter() - start
            if exc.response.status_code != 403:
                raise SystemExit(f"{url}: {exc.response.status_code}") from None
            return elapsed
        raise SystemExit(f"{url}: the handshake with Origin {FOREIGN} succeeded")

    return once


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000,
                        help="refused requests per case and server (default 2000)")
    parser.add_argument("--peer", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer is not None:
        _peer(args.peer)
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-service-") as folder:
        ports = {"signsvc serve": free_port(), "bare peer": free_port()}
        servers = {
            "signsvc serve": start_service(Path(folder), ports["signsvc serve"]),
            "bare peer": subprocess.Popen(
                [sys.executable, "-W", "ignore", __file__, "--peer",
                 str(ports["bare peer"])],
                stdin=subprocess.DEVNULL)}
        try:
            for name, process in servers.items():
                wait_listening(process, ports[name], name)
            # TCP_NODELAY, as browsers set it: a request's headers and body leave
            # at once, so only the server's side of Nagle's algorithm is measured.
            nodelay = httpx.HTTPTransport(
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
            with httpx.Client(timeout=10, transport=nodelay) as client:
                cases: dict[str, dict[str, Callable[[], float]]] = {
                    "HTTP, foreign Origin": {name: http_case(client, port, {
                        "Origin": FOREIGN, "Content-Type": "application/json",
                        "X-Signsvc-Request": "1"}, 403) for name, port in ports.items()},
                    "HTTP, rebinding Host": {name: http_case(client, port, {
                        "Host": f"attacker.example:{port}", "Origin": ALLOWED,
                        "Content-Type": "application/json", "X-Signsvc-Request": "1"},
                        400 if name == "signsvc serve" else 403)
                        for name, port in ports.items()},
                    "WebSocket handshake, foreign Origin": {
                        name: ws_case(port) for name, port in ports.items()},
                }
                times = measure(cases, args.requests)
            report(times, servers, args.requests)
        finally:
            for process in servers.values():
                process.terminate()
                process.wait(10)
    return 0


def measure(cases: dict[str, dict[str, Callable[[], float]]],
            requests: int) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {
        case: {name: [] for name in runs} for case, runs in cases.items()}
    for case, runs in cases.items():
        for once in runs.values():  # warm-up: connections, imports, first pairing
            for _ in range(20):
                once()
        done = 0
        while done < requests:
            step = min(ROUND, requests - done)
            for name, once in runs.items():
                times[case][name] += [once() for _ in range(step)]
            done += step
    return times


def report(times: dict[str, dict[str, list[float]]],
           servers: dict[str, subprocess.Popen[bytes]], requests: int) -> None:
    print(f"refused requests over loopback, {requests} per case and server "
          f"(Python {sys.version.split()[0]}, {os.cpu_count()} cores)")
    for case, runs in times.items():
        print(f"  {case}")
        medians = {}
        for name, seconds in runs.items():
            medians[name] = statistics.median(seconds)
            p99 = statistics.quantiles(seconds, n=100)[98]
            print(f"    {name:<15} median {medians[name] * 1e3:6.2f} ms   "
                  f"p99 {p99 * 1e3:6.2f} ms")
        ratio = medians["signsvc serve"] / medians["bare peer"]
        print(f"    signsvc serve / bare peer (median): {ratio:.2f}x")
    for name, process in servers.items():
        print(f"  peak RSS of {name}: {peak_rss_mib(process.pid):.1f} MiB")


if __name__ == "__main__":
    sys.exit(main())
