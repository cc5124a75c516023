"""``signsvc tokens``: the PKCS#11 modules, tokens and certificates present, a test
signature, and ``--watch`` for tokens going in and out.

Example::

    signsvc tokens --json
    signsvc tokens --token "Nguyễn Văn A" --cert-id 01 --pin-env P --test-sign

Exit codes as for every command (:class:`cli_common.ExitCode`): 0 listed, 1 the test
signature did not verify, 2 usage, 3 a token or module error.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from cli_common import (
    ExitCode,
    check_pin_options,
    command,
    hex_id,
    json_option,
    option,
    pin_options,
    pin_source,
    token_options,
    verbose_option,
)
from signsvc._i18n import N_, _, ngettext


@command(help=N_(
        "List PKCS#11 modules, tokens and certificates, or test-sign with one "
        "key.\n\n"
        "Keys are paired with certificates by CKA_ID (then by public key), never "
        "by label. With --watch, follow tokens going in and out instead: each "
        "event is printed within a second ({\"event\": "
        "\"present\"|\"inserted\"|\"removed\", \"token\", \"serial\", \"slot_id\", \"module\", "
        "\"time\"} with --json); exit 0 on Ctrl-C, 3 when no module loads."))
@token_options
@option("--cert-id", help=N_("CKA_ID (hex) of the certificate to test-sign with."))
@pin_options
@option("--login", is_flag=True,
        help=N_("Log in to the selected token to list its private keys."))
@option("--test-sign", is_flag=True,
        help=N_("Log in once, sign a random digest and verify it with the certificate."))
@option("--hash", "hash_algorithm", default="sha256", show_default=True,
        type=click.Choice(["sha256", "sha384", "sha512"]), help=N_("Digest for --test-sign."))
@option("--watch", is_flag=True,
        help=N_("Print the tokens present, then every insertion and removal as it "
                "happens (time, label, serial, slot), until Ctrl-C (exit 0)."))
@json_option(N_("Print JSON (documented schema); with --watch one object per event."))
@verbose_option
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
    watch: bool,
    as_json: bool,
) -> None:
    """List PKCS#11 modules, tokens and certificates, or test-sign with one key."""
    import signsvc.tokens

    check_pin_options(pin_env, pin_stdin)
    if watch:
        if login or test_sign or pin_env or pin_stdin or cert_id:
            raise click.UsageError(_("--watch only lists events: drop the login options"))
        _watch(modules, as_json)
    key_id = hex_id(cert_id)
    pin = pin_source(pin_env, pin_stdin)

    if test_sign:
        with signsvc.tokens.open_token_key(modules, label=label, serial=serial,
                                           cert_id=key_id, pin=pin) as key:
            result = signsvc.tokens.test_sign(key, hash_algorithm=hash_algorithm)
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
            status = (_("OK: signature verified") if result.verified
                      else _("FAILED: {error}").format(error=result.error))
            click.echo(_("Test signature by {subject} on token {label!r}: {status}").format(
                subject=subject, label=token_label, status=status))
        sys.exit(ExitCode.OK if result.verified else ExitCode.CHECK_FAILED)

    login_pin = None
    explicit = list(modules)
    if login or pin_env or pin_stdin:
        # One PIN belongs to one token: trying it on every token would spend tries on
        # tokens it was never meant for. Select exactly one first.
        module, info = signsvc.tokens.find_token(modules, label=label, serial=serial)
        explicit, label, serial = [str(module.path)], info.label, info.serial
        login_pin = pin(info)
    report = signsvc.tokens.inventory(explicit, label=label, serial=serial, pin=login_pin)
    failed = [m for m in report.modules if m.error and m.candidate.named]
    if (label is not None or serial is not None) and not failed \
            and not any(m.tokens for m in report.modules):
        # A token asked for by name and not there is an error (exit 3) naming the
        # labels that are present, not an empty listing that exits 0.
        signsvc.tokens.find_token(explicit, label=label, serial=serial)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        for line in signsvc.tokens.inventory_text(report):
            click.echo(line)
    sys.exit(ExitCode.TOKEN if failed else ExitCode.OK)


def _watch(modules: tuple[str, ...], as_json: bool) -> None:
    import drivers
    from signsvc.sign.reconnect import slot_event_text, watchable_modules

    loaded, problems, explicit_failed = watchable_modules(modules)
    for problem in problems:
        click.echo(f"signsvc: {problem}", err=True)
    if not loaded:
        click.echo(_("signsvc: no PKCS#11 module to watch; give one with --module PATH"),
                   err=True)
        sys.exit(ExitCode.TOKEN)
    events = drivers.watch(loaded, include_present=True)
    click.echo(ngettext("Watching {count} module for tokens going in and out; Ctrl-C "
                        "stops.",
                        "Watching {count} modules for tokens going in and out; Ctrl-C "
                        "stops.", len(loaded)).format(count=len(loaded)), err=True)
    try:
        for event in events:
            # click.echo flushes: a program reading the pipe sees each event at once.
            click.echo(json.dumps(event.to_json(), ensure_ascii=False) if as_json
                       else slot_event_text(event))
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a watch ends, not an error
    finally:
        events.close()
    sys.exit(ExitCode.TOKEN if explicit_failed else ExitCode.OK)
