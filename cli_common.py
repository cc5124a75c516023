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

from signsvc._i18n import N_, _, error_text, localize, ngettext, os_reason, set_language
from signsvc._time import as_local_input

if TYPE_CHECKING:
    from cryptography import x509

    from drivers import TokenInfo

__all__ = [
    "Command",
    "ExitCode",
    "Group",
    "LocalTime",
    "Option",
    "at_option",
    "command",
    "exit_code_for",
    "jobs_option",
    "json_option",
    "online_option",
    "option",
    "pin_options",
    "pin_source",
    "policy_options",
    "read_certificates",
    "read_secret",
    "run",
    "token_options",
    "trust_option",
    "verbose_option",
]

F = TypeVar("F", bound=Callable[..., Any])


# click says its own words ("Usage:", "Error:", "Missing argument ...") through
# ``gettext.gettext``, which takes the language from the environment only; bound here
# to signsvc's catalog (which holds click's msgids too), ``--lang`` applies to them.
for _name in ("core", "decorators", "exceptions", "formatting", "parser", "termui",
              "types", "utils", "_termui_impl", "shell_completion"):
    _module = sys.modules.get(f"click.{_name}")
    if _module is not None:
        if hasattr(_module, "_"):
            _module._ = _  # type: ignore[attr-defined]
        if hasattr(_module, "ngettext"):
            _module.ngettext = ngettext  # type: ignore[attr-defined]


class _Translated:
    """An attribute click reads for display (``help``, ``short_help``), stored as its
    English msgid and translated each time it is read: the language is known only
    once the command line is read, after the commands were defined."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}_msgid"

    def __get__(self, obj: object, owner: type | None = None) -> str | None:
        msgid: str | None = getattr(obj, self.slot, None)
        return _(msgid) if msgid else msgid

    def __set__(self, obj: object, value: str | None) -> None:
        setattr(obj, self.slot, value)


class Option(click.Option):
    """A click option whose help (an English msgid, :func:`N_`) is translated when
    shown."""

    help = _Translated()


class Command(click.Command):
    """A click command whose help and short help are translated when shown."""

    help = _Translated()
    short_help = _Translated()

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        # click builds -h/--help once per command and caches it with its help text
        # translated then: say it again in the language of this run.
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = _(_HELP_OPTION)
        return option


_HELP_OPTION = N_("Show this message and exit.")
"""click's own words for -h/--help (its msgid, in our catalog)."""


class Group(Command, click.Group):
    """A click group of :class:`Command`; the root one chooses the language first."""

    command_class = Command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            # Before anything is parsed: an eager --help would otherwise be shown
            # before --lang is seen.
            set_language(_language_in(args))
        return super().parse_args(ctx, args)


def _language_in(args: Sequence[str]) -> str | None:
    """``--lang X`` from the group's arguments, else ``$SIGNSVC_LANG``; None (the
    locale) when neither names a language signsvc speaks (click reports the value)."""
    wanted = os.environ.get("SIGNSVC_LANG")
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(args):
            wanted = args[i + 1]
        elif arg.startswith("--lang="):
            wanted = arg.partition("=")[2]
    return wanted if wanted in ("vi", "en") else None


def option(*param_decls: str, **attrs: Any) -> Callable[[F], F]:
    """``click.option`` with a translated help (:class:`Option`)."""
    attrs.setdefault("cls", Option)
    return click.option(*param_decls, **attrs)


def command(*args: Any, **attrs: Any) -> Callable[[Callable[..., Any]], Command]:
    """``click.command`` with a translated help (:class:`Command`)."""
    attrs.setdefault("cls", Command)
    return click.command(*args, **attrs)  # type: ignore[no-any-return]


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
    return option("-v", "--verbose", is_flag=True, expose_value=False,
                  is_eager=True, callback=_set_verbose,
                  help=N_("Show tracebacks on errors."))(function)


if TYPE_CHECKING:  # click 8.5 made ParamType generic; older clicks cannot subscript it
    _TimeParam = click.ParamType[datetime, Any]
else:
    _TimeParam = click.ParamType


_DAY_FIRST = ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S")
"""How dates are written in Vietnam (TCVN 7217 / everyday use): day first."""


def parse_local_time(text: str) -> datetime:
    """An ISO 8601 date or time, or ``dd/mm/yyyy [HH:MM[:SS]]``; without a zone it
    means Vietnam time.

    Raises:
        ValueError: neither form.
    """
    text = text.strip()
    if "/" in text:
        for layout in _DAY_FIRST:
            try:
                return as_local_input(datetime.strptime(text, layout))
            except ValueError:
                continue
        raise ValueError(text)
    return as_local_input(datetime.fromisoformat(text))


class LocalTime(_TimeParam):
    """An ISO 8601 date or time, or ``dd/mm/yyyy`` and ``dd/mm/yyyy HH:MM`` as people
    here write them; without a zone it means Vietnam time (+07:00), what an admin or
    official here types. Dates a computer cannot represent in UTC (year 1, year 9999
    near midnight) are refused as bad values, not crashes."""

    name = "ISO-TIME"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = parse_local_time(str(value))
            moment.astimezone(UTC)  # OverflowError at the edges of the calendar
        except ValueError:
            self.fail(_("{value!r} is not an ISO 8601 date or time, nor dd/mm/yyyy "
                        "[HH:MM]").format(value=value), param, ctx)
        except OverflowError:
            self.fail(_("{value!r} is outside the range of dates signsvc can "
                        "compare").format(value=value), param, ctx)
        return moment


def at_option(function: F) -> F:
    """``--at ISO``: the validation time (default now)."""
    return option("--at", "at", type=LocalTime(),
                  help=N_("Validation time: ISO 8601 or dd/mm/yyyy [HH:MM] (Vietnam "
                          "time unless a zone is given). Default: now."))(function)


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


def trust_option(help: str = N_("Trust anchors: files or folders (repeatable). Default: "
                                "the user trust folder ('signsvc trust list').")
                 ) -> Callable[[F], F]:
    """``--trust F|DIR``, repeatable: certificate files and folders of them; and
    ``--trust-profile vn``: the roots signsvc ships (``signsvc trust list --profile vn``),
    added to them. The command receives both as ``trust_paths``."""

    def decorate(function: F) -> F:
        function = option(
            "--trust-profile", "trust_profiles", multiple=True, is_eager=True,
            expose_value=False, callback=_remember_profiles,
            type=click.Choice(TRUST_PROFILES),
            help=N_("Trust a profile signsvc ships, with any --trust files (like --trust, "
                    "it replaces the user trust folder): vn = the Vietnamese roots (NEAC, "
                    "Ban Cơ yếu Chính phủ), listed by 'signsvc trust list --profile vn'.")
        )(function)
        return option("--trust", "trust_paths", multiple=True, callback=_add_profiles,
                      type=click.Path(exists=True, path_type=Path), help=help)(function)

    return decorate


def json_option(help: str) -> Callable[[F], F]:
    """``--json``: machine-readable output (each command documents its schema)."""
    return option("--json", "as_json", is_flag=True, help=help)


def jobs_option(help: str, *, default: int | None = None, maximum: int = 256
                ) -> Callable[[F], F]:
    """``--jobs N``: documents handled in parallel."""
    return option("--jobs", default=default, show_default=default is not None,
                  type=click.IntRange(1, maximum), help=help)


def policy_options(function: F) -> F:
    """``--policy default|historical`` and ``--revocation hard-fail|soft-fail|off``:
    how strict a validation is, the same words for ``chain`` and ``verify``."""
    function = option(
        "--revocation", default="soft-fail", show_default=True,
        type=click.Choice(["hard-fail", "soft-fail", "off"]),
        help=N_("Missing revocation data: hard-fail refuses (INDETERMINATE), soft-fail "
                "accepts with a note, off does not look."))(function)
    return option(
        "--policy", default="default", show_default=True,
        type=click.Choice(["default", "historical"]),
        help=N_("historical accepts SHA-1 and small RSA keys (reported)."))(function)


def online_option(function: F) -> F:
    """``--online``: fetch what is missing over HTTP (CRLs, OCSP responses, missing
    intermediates from caIssuers). ``--fetch``, its old name in ``signsvc chain``, is
    still accepted."""
    function = option("--fetch", "fetch_alias", is_flag=True, hidden=True)(function)
    return option("--online", is_flag=True,
                  help=N_("Fetch missing CRLs, OCSP responses and intermediates over "
                          "HTTP."))(function)


def token_options(function: F) -> F:
    """``--module`` (repeatable), ``--token`` and ``--serial``: which token, for every
    command that opens one."""
    function = option("--serial", help=N_("Token serial number."))(function)
    function = option("--token", "label", help=N_(
        "Token label, with its diacritics (precomposed or decomposed letters are the "
        "same)."))(function)
    return option("--module", "modules", multiple=True, type=click.Path(dir_okay=False),
                  help=N_("PKCS#11 module to use (repeatable). Default: discover "
                          "them."))(function)


def pin_options(function: F) -> F:
    """``--pin-env VAR`` and ``--pin-stdin``: where the PIN comes from when not from a
    hidden prompt (never from the command line: it would show in ``ps``)."""
    function = option("--pin-stdin", is_flag=True,
                      help=N_("Read the PIN from the first line of stdin."))(function)
    return option("--pin-env", metavar="VAR",
                  help=N_("Read the PIN (or PKCS#12 password) from this environment "
                          "variable."))(function)


def check_pin_options(pin_env: str | None, pin_stdin: bool) -> None:
    if pin_env and pin_stdin:
        raise click.UsageError(_("give at most one of --pin-env and --pin-stdin"))


def read_secret(pin_env: str | None, pin_stdin: bool, prompt: str) -> str:
    """A PIN or password: from the variable ``pin_env`` names, the first line of
    stdin, or a hidden prompt on a terminal (never from the command line)."""
    from signsvc.errors import PinSourceError

    if pin_env:
        value = os.environ.get(pin_env)
        if not value:
            raise PinSourceError(_("--pin-env {name}: the variable is unset or "
                                   "empty").format(name=pin_env))
        return value
    if pin_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise PinSourceError(_("--pin-stdin: no PIN on standard input"))
        return line
    if not sys.stdin.isatty():
        raise PinSourceError(_("asking for the {prompt} needs a terminal and standard "
                               "input is not one: use --pin-env VAR or "
                               "--pin-stdin").format(prompt=prompt))
    return str(click.prompt(prompt, hide_input=True, err=True, show_default=False))


def pin_source(pin_env: str | None, pin_stdin: bool) -> Callable[[TokenInfo], Any]:
    """A callback giving the PIN for the chosen token (PIN pad, variable, stdin or a
    prompt); each call reads the source once (one PIN given, one login)."""

    def source(info: TokenInfo) -> Any:
        from drivers import PROTECTED_AUTH

        if not (pin_env or pin_stdin) and info.flags.protected_auth_path:
            click.echo(_("Enter the PIN on the reader's PIN pad for token "
                         "{label!r}.").format(label=info.label), err=True)
            return PROTECTED_AUTH
        return read_secret(pin_env, pin_stdin,
                           _("PIN for token {label!r}").format(label=info.label))

    return source


def env_value(option: str, name: str | None) -> str | None:
    """The value of the environment variable an option names (None when not given)."""
    if name is None:
        return None
    value = os.environ.get(name)
    if value is None:
        raise click.BadParameter(_("the variable {name} is unset").format(name=name),
                                 param_hint=option)
    return value


def hex_id(cert_id: str | None) -> bytes | None:
    """``--cert-id`` as bytes."""
    if cert_id is None:
        return None
    try:
        return bytes.fromhex(cert_id)
    except ValueError:
        raise click.BadParameter(_("{value!r} is not hexadecimal").format(value=cert_id),
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
    return f"{where}{os_reason(exc)}"


def _unraisable(info: Any) -> None:
    """A Ctrl-C that lands in a finalizer (a pipe's ``__del__`` as the garbage
    collector closes it) cannot propagate from there: Python would print "Exception
    ignored in ..." with a traceback and the interrupt would be lost. It is raised
    again in the main thread instead, where the batch stops as for any Ctrl-C."""
    if isinstance(info.exc_value, KeyboardInterrupt):
        import _thread
        import threading

        # From another thread, a moment later: raised now, it would land in this hook.
        later = threading.Timer(0.05, _thread.interrupt_main)
        later.daemon = True
        later.start()
        return
    sys.__unraisablehook__(info)


def run(group: click.Group, argv: Sequence[str] | None) -> None:
    """Run the command line: the one exception boundary.

    Every error reaches the user as one line naming the file and the reason, with the
    exit code :class:`ExitCode` documents; a traceback only with ``-v``.
    """
    sys.unraisablehook = _unraisable
    try:
        returned = group.main(args=list(argv) if argv is not None else None,
                              prog_name="signsvc", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(_("signsvc: aborted"), err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE)
    except KeyboardInterrupt:
        click.echo(_("signsvc: interrupted"), err=True)
        sys.exit(ExitCode.INTERRUPTED)
    # A closed output pipe (``| head``) never reaches here: click's main() exits 1
    # for it, quietly (the work may be unfinished, so not 0).
    except Exception as exc:
        code = exit_code_for(exc)
        if _state["verbose"]:
            traceback.print_exc()
        if code is ExitCode.INTERNAL:
            click.echo(_("signsvc: internal error: {type}: {error} (run with -v for the "
                         "traceback, and please report it)").format(
                             type=type(exc).__name__, error=exc), err=True)
        elif isinstance(exc, OSError):
            click.echo(_("signsvc: error: {error}").format(error=_os_error_text(exc)),
                       err=True)
        else:
            click.echo(_("signsvc: error: {error}").format(error=error_text(exc)), err=True)
        hint = getattr(exc, "hint", None)  # e.g. drivers.ModuleLoadError.hint
        if isinstance(hint, str) and hint:
            click.echo(_("signsvc: hint: {hint}").format(hint=localize(hint)), err=True)
        sys.exit(code)
    sys.exit(returned if isinstance(returned, int) else ExitCode.OK)
