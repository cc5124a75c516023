"""Debian's Chromium driven by Playwright (sync API), for the service's browser tests.

No browser is downloaded: Playwright drives ``/usr/bin/chromium``, headless, with a
fresh profile in a temporary folder and without the background traffic (component
updates, sync, QUIC) a profile would start. Per-test switches put a page's server in the
public address space (``--ip-address-space-overrides``, what Chromium's Local Network
Access judges) or map a rebinding host name to 127.0.0.1 (``--host-resolver-rules``).

Example::

    with Chromium(tmp_path / "profile", public_ports=[office.port]) as browser:
        seen = browser.run_page(office.page_url("sign.html", svc=port, mode="raw"))
        seen.result["opened"]      # what the page wrote into #result
        seen.console               # console lines (Chromium names blocked connections there)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from playwright.sync_api import BrowserContext, Playwright, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's chromium package."""

BASE_ARGS = (
    "--no-sandbox",  # tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

LOCAL_NETWORK_ACCESS = "local-network-access"
"""The permission Playwright 1.65 grants for Chromium's Local Network Access (it rejects
the newer name ``loopback-network``; SERVICE-DESIGN §2 "Verified")."""

RESULT = '#result[data-done="1"]'
"""Where every test page writes what it observed, once it is done."""


@dataclass
class PageRun:
    """What one page load observed."""

    result: dict[str, Any]
    """The JSON the page wrote into #result."""
    console: list[str] = field(default_factory=list)
    """Console messages (type: text), including Chromium's own connection errors."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(URL, failure text) of every request that failed, e.g.
    ``net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS``."""

    def mentions(self, text: str) -> bool:
        """Whether ``text`` appears in a console message or a request failure."""
        return any(text in line for line in self.console) or any(
            text in failure for _, failure in self.failed)


class Chromium:
    """One headless Chromium with a fresh profile; always closed on exit.

    Args:
        profile: an empty folder for the user-data-dir.
        public_ports: loopback ports whose pages Chromium treats as public
            (``--ip-address-space-overrides=127.0.0.1:<port>=public``).
        host_rules: host name -> address, for ``--host-resolver-rules`` (DNS rebinding).
        grant_local_network: origins granted Local Network Access (as a user's "Allow"
            on the prompt; the permission is keyed by the top-level page's origin).
        timeout: milliseconds a page may take to write its result.
    """

    def __init__(self, profile: Path, *, public_ports: Iterable[int] = (),
                 host_rules: Mapping[str, str] | None = None,
                 grant_local_network: Iterable[str] = (), timeout: float = 60_000) -> None:
        self.profile = profile
        self.args = list(BASE_ARGS)
        public = [f"127.0.0.1:{port}=public" for port in public_ports]
        if public:
            self.args.append("--ip-address-space-overrides=" + ",".join(public))
        if host_rules:
            self.args.append("--host-resolver-rules=" + ",".join(
                f"MAP {name} {address}" for name, address in host_rules.items()))
        self.grant_local_network = list(grant_local_network)
        self.timeout = timeout
        self._playwright: Playwright | None = None
        self._context: BrowserContext | None = None

    def __enter__(self) -> Chromium:
        self.profile.mkdir(parents=True, exist_ok=True)
        self._playwright = sync_playwright().start()
        try:
            self._context = self._playwright.chromium.launch_persistent_context(
                str(self.profile), executable_path=str(CHROMIUM), headless=True,
                args=self.args)
            for origin in self.grant_local_network:
                self._context.grant_permissions([LOCAL_NETWORK_ACCESS], origin=origin)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._playwright is not None
        try:
            if self._context is not None:
                self._context.close()
        finally:
            self._playwright.stop()

    def run_page(self, url: str) -> PageRun:
        """Open ``url`` in a new tab, wait until the page (or a frame of it, through
        postMessage) writes #result, and return what it wrote and what Chromium logged.

        Raises:
            AssertionError: the page wrote nothing in ``timeout`` (with what Chromium
                logged meanwhile).
        """
        assert self._context is not None
        page = self._context.new_page()
        run = PageRun(result={})
        page.on("console", lambda message: run.console.append(message.text))
        page.on("requestfailed", lambda request: run.failed.append(
            (request.url, request.failure or "")))
        try:
            page.goto(url)
            try:
                page.wait_for_selector(RESULT, state="attached", timeout=self.timeout)
            except PlaywrightTimeoutError:
                raise AssertionError(f"{url} wrote no result: console {run.console}, "
                                     f"failed requests {run.failed}") from None
            run.result = json.loads(page.inner_text("#result"))
        finally:
            page.close()
        return run
