"""The ``signsvc`` command line: a thin click shell over :mod:`signsvc`.

Exit codes (every command; :class:`cli_common.ExitCode`):

    0    success
    1    a check failed (a document not signed or not TOTAL-PASSED, a chain invalid,
         the test signature did not verify)
    2    usage error or bad input (a file that cannot be read, a bad option value)
    3    token or PKCS#11 module error (not found, PIN refused or locked, module broken
         or its configuration unreadable)
    70   a bug in signsvc (the message says so; -v shows the traceback)
    130  interrupted (Ctrl-C)

PINs are never taken as arguments (they would show in ``ps``): they come from the
variable named by ``--pin-env``, from the first line of standard input with
``--pin-stdin``, or from a hidden prompt on a terminal. They are never logged.

The commands live in ``cli_tokens``, ``cli_sign`` (sign, audit), ``cli_chain`` (chain,
trust) and ``cli_verify``; what they share is in ``cli_common``. Each imports the
library inside the command, so ``signsvc --help`` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

if __name__ == "__main__":  # python cli.py from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import click

from cli_chain import chain, trust
from cli_common import Group, Option, option, run, verbose_option
from cli_serve import origins, serve
from cli_sign import audit, sign
from cli_tokens import tokens
from cli_verify import verify
from signsvc._i18n import N_
from signsvc._version import __version__


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]},
             help=N_("Sign and verify documents with USB tokens (Vietnamese government "
                     "signing).\n\nExit codes: 0 success, 1 a check failed, 2 usage or "
                     "bad input, 3 token or module error, 70 a bug in signsvc, 130 "
                     "interrupted."))
@click.version_option(__version__, prog_name="signsvc", cls=Option)
@option("--lang", type=click.Choice(["vi", "en"]), envvar="SIGNSVC_LANG",
        expose_value=False, is_eager=True,
        help=N_("Language of messages and help: vi (Tiếng Việt) or en. Default: "
                "$SIGNSVC_LANG, else vi when the locale is Vietnamese (LANG=vi_VN...)."))
@verbose_option
def cli() -> None:
    """The ``signsvc`` group; its help (above) is translated when shown."""


for _command in (tokens, sign, audit, chain, trust, verify, serve, origins):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``signsvc`` console script."""
    run(cli, argv)


if __name__ == "__main__":
    main()
