"""What every ``signsvc`` command shares: exit codes, option types and decorators,
reading PINs and certificates, and the one exception boundary.

Imported at the top of each command module, so it stays light: click and the
standard library only. Anything heavier (pyHanko, cryptography, the PKCS#11 layer) is
imported inside the command that needs it, so ``signsvc --help`` starts like a small
tool.

Example::

    @click.command()
    @trust_option()
    @json_option("One JSON object per document.")
    @verbose_option
    def verify(trust_paths, as_json): ...
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from signsvc._time import as_local_input

if TYPE_CHECKING:
    from cryptography import x509

    from drivers import TokenInfo

__all__ = [
    "ExitCode",
    "LocalTime",
    "at_option",
    "exit_code_for",
    "jobs_option",
    "json_option",
    "online_option",
    "pin_options",
    "pin_source",
    "policy_options",
    "read_certificates",
    "read_secret",
    "run",
    "trust_option",
    "verbose_option",
]

F = TypeVar("F", bound=Callable[..., Any])


class ExitCode(IntEnum):
    """The exit status of every command (documented in ``signsvc --help``)."""

    OK = 0
    """Success: signed, valid, listed."""
    CHECK_FAILED = 1
    """A check failed: a document not signed or not TOTAL-PASSED, a chain invalid."""
    USAGE = 2
    """Usage error or bad input (a file that cannot be read, a bad option value)."""
    TOKEN = 3
    """Token or PKCS#11 module error: not found, PIN refused or locked, module broken,
    module configuration unreadable."""
    INTERNAL = 70
    """A bug in signsvc (sysexits' EX_SOFTWARE): please report it with ``-v``'s output."""
    INTERRUPTED = 130
    """Ctrl-C (128 + SIGINT)."""


_state = {"verbose": False}


def _set_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _state["verbose"] = True


def verbose_option(function: F) -> F:
    """``-v/--verbose``: tracebacks on errors. Given to the group and to every
    command, so ``signsvc -v sign ...`` and ``signsvc sign ... -v`` both work."""
    return click.option("-v", "--verbose", is_flag=True, expose_value=False,
                        is_eager=True, callback=_set_verbose,
                        help="Show tracebacks on errors.")(function)


if TYPE_CHECKING:  # click 8.5 made ParamType generic; older clicks cannot subscript it
    _TimeParam = click.ParamType[datetime, Any]
else:
    _TimeParam = click.ParamType


class LocalTime(_TimeParam):
    """An ISO 8601 date or time; without a zone it means Vietnam time (+07:00), what an
    admin or official here types. Dates a computer cannot represent in UTC (year 1,
    year 9999 near midnight) are refused as bad values, not crashes."""

    name = "ISO-TIME"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = as_local_input(datetime.fromisoformat(str(value)))
            moment.astimezone(UTC)  # OverflowError at the edges of the calendar
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time", param, ctx)
        except OverflowError:
            self.fail(f"{value!r} is outside the range of dates signsvc can compare",
                      param, ctx)
        return moment


def at_option(function: F) -> F:
    """``--at ISO``: the validation time (default now)."""
    return click.option("--at", "at", type=LocalTime(),
                        help="Validation time, ISO 8601 (Vietnam time unless a zone is "
                             "given). Default: now.")(function)


TRUST_PROFILES = ("vn",)
"""``--trust-profile`` choices: :data:`signsvc.pki.trust.TRUST_PROFILES` (a test keeps
them equal; the library is not imported here, to keep ``--help`` fast)."""
_PROFILES_KEY = "signsvc.trust_profiles"


def _remember_profiles(ctx: click.Context, param: click.Parameter,
                       value: tuple[str, ...]) -> None:
    ctx.meta[_PROFILES_KEY] = value


def _add_profiles(ctx: click.Context, param: click.Parameter,
                  value: tuple[Path, ...]) -> tuple[Path, ...]:
    """``--trust`` files, then the shipped file of each ``--trust-profile`` (eager, so
    already seen), so every command reads both the way it reads ``--trust``."""
    profiles = ctx.meta.get(_PROFILES_KEY, ())
    if not profiles:
        return value
    from signsvc.pki.trust import trust_profile_file

    return (*value, *(trust_profile_file(name) for name in profiles))


def trust_option(help: str = "Trust anchors: files or folders (repeatable). Default: the "
                             "user trust folder ('signsvc trust list').") -> Callable[[F], F]:
    """``--trust F|DIR``, repeatable: certificate files and folders of them; and
    ``--trust-profile vn``: the roots signsvc ships (``signsvc trust list --profile vn``),
    added to them. The command receives both as ``trust_paths``."""

    def decorate(function: F) -> F:
        function = click.option(
            "--trust-profile", "trust_profiles", multiple=True, is_eager=True,
            expose_value=False, callback=_remember_profiles,
            type=click.Choice(TRUST_PROFILES),
            help="Trust a profile signsvc ships, with any --trust files (like --trust, "
                 "it replaces the user trust folder): vn = the Vietnamese roots (NEAC, "
                 "Ban Cơ yếu Chính phủ), listed by 'signsvc trust list --profile vn'.")(function)
        return click.option("--trust", "trust_paths", multiple=True, callback=_add_profiles,
                            type=click.Path(exists=True, path_type=Path), help=help)(function)

    return decorate


def json_option(help: str) -> Callable[[F], F]:
    """``--json``: machine-readable output (each command documents its schema)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def jobs_option(help: str, *, default: int | None = None, maximum: int = 256
                ) -> Callable[[F], F]:
    """``--jobs N``: documents handled in parallel."""
    return click.option("--jobs", default=default, show_default=default is not None,
                        type=click.IntRange(1, maximum), help=help)


def policy_options(function: F) -> F:
    """``--policy default|historical`` and ``--revocation hard-fail|soft-fail|off``:
    how strict a validation is, the same words for ``chain`` and ``verify``."""
    function = click.option(
        "--revocation", default="soft-fail", show_default=True,
        type=click.Choice(["hard-fail", "soft-fail", "off"]),
        help="Missing revocation data: hard-fail refuses (INDETERMINATE), soft-fail "
             "accepts with a note, off does not look.")(function)
    return click.option(
        "--policy", default="default", show_default=True,
        type=click.Choice(["default", "historical"]),
        help="historical accepts SHA-1 and small RSA keys (reported).")(function)


def online_option(function: F) -> F:
    """``--online``: fetch what is missing over HTTP (CRLs, OCSP responses, missing
    intermediates from caIssuers). ``--fetch``, its old name in ``signsvc chain``, is
    still accepted."""
    function = click.option("--fetch", "fetch_alias", is_flag=True, hidden=True)(function)
    return click.option("--online", is_flag=True,
                        help="Fetch missing CRLs, OCSP responses and intermediates over "
                             "HTTP.")(function)


def pin_options(function: F) -> F:
    """``--pin-env VAR`` and ``--pin-stdin``: where the PIN comes from when not from a
    hidden prompt (never from the command line: it would show in ``ps``)."""
    function = click.option("--pin-stdin", is_flag=True,
                            help="Read the PIN from the first line of stdin.")(function)
    return click.option("--pin-env", metavar="VAR",
                        help="Read the PIN (or PKCS#12 password) from this environment "
                             "variable.")(function)


def check_pin_options(pin_env: str | None, pin_stdin: bool) -> None:
    if pin_env and pin_stdin:
        raise click.UsageError("give at most one of --pin-env and --pin-stdin")


def read_secret(pin_env: str | None, pin_stdin: bool, prompt: str) -> str:
    """A PIN or password: from the variable ``pin_env`` names, the first line of
    stdin, or a hidden prompt on a terminal (never from the command line)."""
    from signsvc.errors import PinSourceError

    if pin_env:
        value = os.environ.get(pin_env)
        if not value:
            raise PinSourceError(f"--pin-env {pin_env}: the variable is unset or empty")
        return value
    if pin_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise PinSourceError("--pin-stdin: no PIN on standard input")
        return line
    if not sys.stdin.isatty():
        raise PinSourceError(f"asking for the {prompt} needs a terminal and standard input "
                             "is not one: use --pin-env VAR or --pin-stdin")
    return str(click.prompt(prompt, hide_input=True, err=True, show_default=False))


def pin_source(pin_env: str | None, pin_stdin: bool) -> Callable[[TokenInfo], Any]:
    """A callback giving the PIN for the chosen token (PIN pad, variable, stdin or a
    prompt); each call reads the source once (one PIN given, one login)."""

    def source(info: TokenInfo) -> Any:
        from drivers import PROTECTED_AUTH

        if not (pin_env or pin_stdin) and info.flags.protected_auth_path:
            click.echo(f"Enter the PIN on the reader's PIN pad for token {info.label!r}.",
                       err=True)
            return PROTECTED_AUTH
        return read_secret(pin_env, pin_stdin, f"PIN for token {info.label!r}")

    return source


def env_value(option: str, name: str | None) -> str | None:
    """The value of the environment variable an option names (None when not given)."""
    if name is None:
        return None
    value = os.environ.get(name)
    if value is None:
        raise click.BadParameter(f"the variable {name} is unset", param_hint=option)
    return value


def hex_id(cert_id: str | None) -> bytes | None:
    """``--cert-id`` as bytes."""
    if cert_id is None:
        return None
    try:
        return bytes.fromhex(cert_id)
    except ValueError:
        raise click.BadParameter(f"{cert_id!r} is not hexadecimal",
                                 param_hint="--cert-id") from None


def read_certificates(paths: Sequence[Path]) -> list[x509.Certificate]:
    """Every certificate in these files (PEM bundles or DER) and folders."""
    from signsvc.pki.trust import read_certificates as read

    return read(paths)


def exit_code_for(exc: BaseException) -> ExitCode:
    """The documented exit code of an error that reached the boundary."""
    if "drivers" in sys.modules:  # a TokenError needs drivers loaded to exist
        from drivers.errors import TokenError

        if isinstance(exc, TokenError):
            return ExitCode.TOKEN
    if isinstance(exc, click.ClickException):
        return ExitCode.USAGE
    from signsvc.errors import SignsvcError

    if isinstance(exc, SignsvcError | OSError):
        return ExitCode.USAGE
    return ExitCode.INTERNAL


def _os_error_text(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def run(group: click.Group, argv: Sequence[str] | None) -> None:
    """Run the command line: the one exception boundary.

    Every error reaches the user as one line naming the file and the reason, with the
    exit code :class:`ExitCode` documents; a traceback only with ``-v``.
    """
    try:
        returned = group.main(args=list(argv) if argv is not None else None,
                              prog_name="signsvc", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("signsvc: aborted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE)
    except KeyboardInterrupt:
        click.echo("signsvc: interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    # A closed output pipe (``| head``) never reaches here: click's main() exits 1
    # for it, quietly (the work may be unfinished, so not 0).
    except Exception as exc:
        code = exit_code_for(exc)
        if _state["verbose"]:
            traceback.print_exc()
        if code is ExitCode.INTERNAL:
            click.echo(f"signsvc: internal error: {type(exc).__name__}: {exc} (run with "
                       "-v for the traceback, and please report it)", err=True)
        elif isinstance(exc, OSError):
            click.echo(f"signsvc: error: {_os_error_text(exc)}", err=True)
        else:
            click.echo(f"signsvc: error: {exc}", err=True)
        hint = getattr(exc, "hint", None)  # e.g. drivers.ModuleLoadError.hint
        if isinstance(hint, str) and hint:
            click.echo(f"signsvc: hint: {hint}", err=True)
        sys.exit(code)
    sys.exit(returned if isinstance(returned, int) else ExitCode.OK)
