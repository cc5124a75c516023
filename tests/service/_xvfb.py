"""A private X server (Xvfb) and xdotool, for the consent window's tests.

Xvfb picks a free display number itself and says so when it accepts connections
(``-displayfd``), so parallel runs never collide and no test sleeps waiting for it.

Example::

    with Xvfb() as x:
        window = x.find_window("signsvc")      # xdotool search --sync
        x.xdotool("windowfocus", "--sync", window)
        x.xdotool("type", "123456")
"""

from __future__ import annotations

import os
import subprocess
from types import TracebackType

from tests.support.tools import need

_START_LIMIT = 30.0
"""Seconds Xvfb may take to come up (a safety net for a wedged machine, not a timing
assertion)."""
_SEARCH_LIMIT = 60.0
"""Seconds ``xdotool search --sync`` may wait for a window before the test fails."""


class Xvfb:
    """An Xvfb server on a display of its own, 1280x1024x24, no TCP; killed on exit."""

    def __init__(self) -> None:
        need("Xvfb", "xdotool")
        read, write = os.pipe()
        try:
            self.process = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24",
                 "-nolisten", "tcp"],
                pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        finally:
            os.close(write)
        with os.fdopen(read) as announced:
            number = announced.readline().strip()  # written once the server listens
        if not number:
            err = self.process.communicate(timeout=_START_LIMIT)[1]
            raise RuntimeError(f"Xvfb did not start: {err.decode(errors='replace')}")
        self.display = f":{number}"
        """The value for ``$DISPLAY``."""

    def __enter__(self) -> Xvfb:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.process.kill()
        self.process.communicate()

    def xdotool(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run xdotool on this display."""
        return subprocess.run(["xdotool", *args], env=dict(os.environ, DISPLAY=self.display),
                              capture_output=True, text=True, check=check,
                              timeout=_SEARCH_LIMIT)

    def find_window(self, name: str) -> str:
        """The id of the first window whose title matches ``name``, waiting for it."""
        return self.xdotool("search", "--sync", "--name", name).stdout.split()[0]

    def window_names(self, name: str) -> list[str]:
        """Titles of the windows matching ``name`` now (none: [])."""
        found = self.xdotool("search", "--name", name, check=False).stdout.split()
        return [self.xdotool("getwindowname", w, check=False).stdout.strip() for w in found]
