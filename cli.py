"""The ``signsvc`` command line: a thin click shell over :mod:`signsvc`.

Exit codes (every command):

    0  success
    1  a check failed (e.g. the test signature did not verify)
    2  usage error or bad input
    3  token or PKCS#11 module error (not found, PIN refused or locked, module broken)

PINs are never taken as arguments (they would show in ``ps``): they come from the
variable named by ``--pin-env``, from the first line of standard input with
``--pin-stdin``, or from a hidden prompt on a terminal. They are never logged.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

import drivers
import signsvc
from drivers import PROTECTED_AUTH, TokenError, TokenInfo
from signsvc.errors import PinSourceError, SignsvcError
from signsvc.tokens import Inventory, TokenReport

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_TOKEN = 0, 1, 2, 3

_state = {"verbose": False}


def _pin_source(pin_env: str | None, pin_stdin: bool) -> Callable[[TokenInfo], Any]:
    """A callback giving the PIN for the chosen token, asked for at most once."""

    def source(info: TokenInfo) -> Any:
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
        if info.flags.protected_auth_path:
            click.echo(f"Enter the PIN on the reader's PIN pad for token {info.label!r}.",
                       err=True)
            return PROTECTED_AUTH
        if not sys.stdin.isatty():
            raise PinSourceError(
                "a PIN is needed and standard input is not a terminal: "
                "use --pin-env VAR or --pin-stdin"
            )
        return click.prompt(f"PIN for token {info.label!r}", hide_input=True,
                            err=True, show_default=False)

    return source


def _print_inventory(report: Inventory) -> None:
    if not report.modules:
        click.echo("No PKCS#11 module found. Give one with --module PATH, or set "
                   "SIGNSVC_PKCS11_MODULE.")
        return
    for module in report.modules:
        source = module.candidate.source
        vendor = module.vendor or "unknown vendor"
        click.echo(f"Module {module.candidate.path}  [{vendor}; {source}]")
        if module.error:
            click.echo(f"  error: {module.error}")
            continue
        if not module.tokens:
            click.echo("  (no token present)")
        for token in module.tokens:
            _print_token(token)


def _print_token(token: TokenReport) -> None:
    info = token.info
    flags = info.flags
    notes = [name for name, on in (
        ("login required", flags.login_required),
        ("PIN pad", flags.protected_auth_path),
        ("PIN count low", flags.pin_count_low),
        ("FINAL PIN TRY", flags.pin_final_try),
        ("PIN LOCKED", flags.pin_locked),
    ) if on]
    click.echo(f"  Token {info.label!r}  serial {info.serial}  {info.model} "
               f"({info.manufacturer})  [{', '.join(notes) or 'no login needed'}]")
    if token.error:
        click.echo(f"    error: {token.error}")
        return
    if not token.certificates:
        click.echo("    (no certificate)")
    for entry in token.certificates:
        cert = entry.certificate
        if cert is None:
            click.echo(f"    id {entry.id.hex() or '-'}  label {entry.label!r}: {entry.error}")
            continue
        key_type, key_size = drivers.keys.key_description(cert)
        subject = cert.subject.rfc4514_string()
        match = {
            "id": "yes (by CKA_ID)",
            "public-key": "yes (by public key; CKA_ID differs)",
            "public-key-object": "key pair present (log in to confirm)",
            None: "no" if token.logged_in else "none visible before login (--login to check)",
        }[entry.key_match]
        click.echo(f"    id {entry.id.hex() or '-'}  {subject}")
        click.echo(f"      {key_type}-{key_size}  valid {cert.not_valid_before_utc:%Y-%m-%d} "
                   f"to {cert.not_valid_after_utc:%Y-%m-%d}  private key: {match}")
        click.echo(f"      issuer {cert.issuer.rfc4514_string()}")
        click.echo(f"      label {entry.label!r}"
                   + (f"; key label {entry.key.label!r}" if entry.key else ""))
    for key in token.orphan_keys:
        click.echo(f"    key without certificate: id {key.id.hex() or '-'}  "
                   f"{key.key_type}-{key.key_size}  label {key.label!r}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(signsvc.__version__, prog_name="signsvc")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks on errors.")
def cli(verbose: bool) -> None:
    """Sign and verify documents with USB tokens (Vietnamese government signing)."""
    _state["verbose"] = verbose


@cli.command()
@click.option("--module", "modules", multiple=True, type=click.Path(dir_okay=False),
              help="PKCS#11 module to use (repeatable). Default: discover them.")
@click.option("--token", "label", help="Token label (exact, with diacritics).")
@click.option("--serial", help="Token serial number.")
@click.option("--cert-id", help="CKA_ID (hex) of the certificate to test-sign with.")
@click.option("--pin-env", metavar="VAR", help="Read the PIN from this environment variable.")
@click.option("--pin-stdin", is_flag=True, help="Read the PIN from the first line of stdin.")
@click.option("--login", is_flag=True,
              help="Log in to the selected token to list its private keys.")
@click.option("--test-sign", is_flag=True,
              help="Log in once, sign a random digest and verify it with the certificate.")
@click.option("--hash", "hash_algorithm", default="sha256", show_default=True,
              type=click.Choice(["sha256", "sha384", "sha512"]), help="Digest for --test-sign.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (documented schema).")
def tokens(
    modules: tuple[str, ...],
    label: str | None,
    serial: str | None,
    cert_id: str | None,
    pin_env: str | None,
    pin_stdin: bool,
    login: bool,
    test_sign: bool,
    hash_algorithm: str,
    as_json: bool,
) -> None:
    """List PKCS#11 modules, tokens and certificates, or test-sign with one key.

    Keys are paired with certificates by CKA_ID (then by public key), never by label.
    """
    if pin_env and pin_stdin:
        raise click.UsageError("give at most one of --pin-env and --pin-stdin")
    key_id = None
    if cert_id is not None:
        try:
            key_id = bytes.fromhex(cert_id)
        except ValueError:
            raise click.BadParameter(f"{cert_id!r} is not hexadecimal",
                                     param_hint="--cert-id") from None
    pin = _pin_source(pin_env, pin_stdin)

    if test_sign:
        with signsvc.tokens.open_token_key(modules, label=label, serial=serial,
                                           cert_id=key_id, pin=pin) as key:
            result = signsvc.test_sign(key, hash_algorithm=hash_algorithm)
            token_label, token_serial = key.session.info.label, key.session.info.serial
        payload: dict[str, Any] = {
            "token": token_label,
            "serial": token_serial,
            "certificate": signsvc.tokens.certificate_json(result.certificate),
            "hash": result.digest_algorithm,
            "signature_length": len(result.signature),
            "verified": result.verified,
            "error": result.error,
        }
        if as_json:
            click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        else:
            subject = payload["certificate"]["subject"]
            status = "OK: signature verified" if result.verified else f"FAILED: {result.error}"
            click.echo(f"Test signature by {subject} on token {token_label!r}: {status}")
        sys.exit(EXIT_OK if result.verified else EXIT_CHECK_FAILED)

    login_pin = None
    explicit = list(modules)
    if login or pin_env or pin_stdin:
        # One PIN belongs to one token: trying it on every token would spend tries on
        # tokens it was never meant for. Select exactly one first.
        module, info = signsvc.tokens.find_token(modules, label=label, serial=serial)
        explicit, label, serial = [str(module.path)], info.label, info.serial
        login_pin = pin(info)
    report = signsvc.inventory(explicit, label=label, serial=serial, pin=login_pin)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_inventory(report)
    failed = [m for m in report.modules if m.error and m.candidate.source == "explicit"]
    sys.exit(EXIT_TOKEN if failed else EXIT_OK)


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, TokenError):
        return EXIT_TOKEN
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``signsvc`` console script: the one exception boundary."""
    try:
        cli.main(args=argv, prog_name="signsvc", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("signsvc: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except (TokenError, SignsvcError) as exc:
        if _state["verbose"]:
            traceback.print_exc()
        click.echo(f"signsvc: error: {exc}", err=True)
        sys.exit(_exit_code(exc))
    except KeyboardInterrupt:
        click.echo("signsvc: interrupted", err=True)
        sys.exit(130)
    sys.exit(EXIT_OK)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
