"""``signsvc sign`` killed at a chosen point, for the tests that compare outputs and
journal afterwards (tests/sign/test_interrupts.py).

Run as ``python -m tests.support.killpoints HOOK N SIGNAL -- <signsvc arguments>``: the
real command line runs in this process, and the N-th time it reaches HOOK, SIGNAL
(``INT``, what Ctrl-C sends, or ``KILL``, what a crash or power cut amounts to) is
sent to this process. Nothing is replaced: each hook calls the real function, then
signals. The hooks are the points between which a signed document could go
unrecorded:

- ``temporary``: a worker has written the signed document's temporary file;
- ``committed``: the journal row (with its ``pending`` row) is committed, the output
  has no name yet;
- ``placed``: the output has its name, the result is not yet handed over;
- ``printed``: the command has printed the N-th result line;
- ``login``: the login was journaled, nothing signed yet.

Example::

    done = subprocess.run([sys.executable, "-m", "tests.support.killpoints",
                           "committed", "3", "KILL", "--", "sign", "in/", "--out", "out/",
                           ...], cwd=ROOT)
    assert done.returncode == -signal.SIGKILL
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

HOOKS = ("temporary", "committed", "placed", "printed", "login")
_MAIN = "SIGNSVC_KILLPOINT_MAIN"
"""The pid to signal (the batch's own process), for hooks reached in a worker."""


def _after(owner: Any, name: str, nth: int, signum: int,
           when: Callable[[Any, tuple[Any, ...], dict[str, Any]], bool] | None = None) -> None:
    """Make ``owner.name`` send ``signum`` after its ``nth`` (counted) call."""
    real = getattr(owner, name)
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value = real(*args, **kwargs)
        if when is None or when(value, args, kwargs):
            calls[0] += 1
            if calls[0] == nth:
                os.kill(int(os.environ[_MAIN]), signum)
        return value

    setattr(owner, name, wrapper)


def install(hook: str, nth: int, signum: int) -> None:
    """Install ``hook`` (see the module) in this process."""
    os.environ[_MAIN] = str(os.getpid())
    if hook == "temporary":
        import signsvc.sign.pdf

        _after(signsvc.sign.pdf, "write_temporary", nth, signum)
    elif hook == "committed":
        from signsvc.sign.journal import AuditJournal

        _after(AuditJournal, "record", nth, signum,
               when=lambda value, args, kwargs: kwargs.get("temporary") is not None)
    elif hook == "placed":
        import signsvc.sign.batch

        _after(signsvc.sign.batch, "place", nth, signum)
    elif hook == "printed":
        import cli_sign

        _after(cli_sign._Display, "result", nth, signum)
    elif hook == "login":
        from signsvc.sign.journal import AuditJournal

        _after(AuditJournal, "record_login", nth, signum)
    else:
        raise SystemExit(f"unknown hook {hook!r}; one of {', '.join(HOOKS)}")


def main(argv: list[str]) -> None:
    hook, nth, name, separator, *args = argv
    if separator != "--":
        raise SystemExit("usage: killpoints HOOK N INT|KILL -- <signsvc arguments>")
    install(hook, int(nth), getattr(signal, f"SIG{name}"))
    import cli

    cli.main(args)


if __name__ == "__main__":
    main(sys.argv[1:])
