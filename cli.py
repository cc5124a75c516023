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

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import click
from cryptography import x509

import drivers
import signsvc
from drivers import PROTECTED_AUTH, TokenError, TokenInfo
from signsvc.appearance import COPY_FORMS
from signsvc.audit import VIETNAM_TIME
from signsvc.errors import PinSourceError, SignsvcError

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_TOKEN = 0, 1, 2, 3

_state = {"verbose": False}


def _pin_source(pin_env: str | None, pin_stdin: bool) -> Callable[[TokenInfo], Any]:
    """A callback giving the PIN for the chosen token, asked for at most once."""

    def source(info: TokenInfo) -> Any:
        if not (pin_env or pin_stdin) and info.flags.protected_auth_path:
            click.echo(f"Enter the PIN on the reader's PIN pad for token {info.label!r}.",
                       err=True)
            return PROTECTED_AUTH
        return _secret(pin_env, pin_stdin, f"PIN for token {info.label!r}")

    return source


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
@click.option("--watch", is_flag=True,
              help="Print the tokens present, then every insertion and removal as it "
                   "happens (time, label, serial, slot), until Ctrl-C (exit 0).")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (documented schema); with --watch one object per event.")
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
    """List PKCS#11 modules, tokens and certificates, or test-sign with one key.

    Keys are paired with certificates by CKA_ID (then by public key), never by label.
    With --watch, follow tokens going in and out instead: each event is printed within
    a second ({"event": "present"|"inserted"|"removed", "token", "serial",
    "slot_id", "module", "time"} with --json); exit 0 on Ctrl-C, 3 when no module loads.
    """
    if pin_env and pin_stdin:
        raise click.UsageError("give at most one of --pin-env and --pin-stdin")
    if watch:
        if login or test_sign or pin_env or pin_stdin or cert_id:
            raise click.UsageError("--watch only lists events: drop the login options")
        _watch(modules, as_json)
    key_id = _hex_id(cert_id)
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
        for line in signsvc.tokens.inventory_text(report):
            click.echo(line)
    failed = [m for m in report.modules if m.error and m.candidate.source == "explicit"]
    sys.exit(EXIT_TOKEN if failed else EXIT_OK)


def _watch(modules: tuple[str, ...], as_json: bool) -> None:
    from signsvc.hotplug import slot_event_text, watchable_modules

    loaded, problems, explicit_failed = watchable_modules(modules)
    for problem in problems:
        click.echo(f"signsvc: {problem}", err=True)
    if not loaded:
        click.echo("signsvc: no PKCS#11 module to watch; give one with --module PATH",
                   err=True)
        sys.exit(EXIT_TOKEN)
    events = drivers.watch(loaded, include_present=True)
    click.echo(f"Watching {len(loaded)} module(s) for tokens going in and out; Ctrl-C "
               "stops.", err=True)
    try:
        for event in events:
            # click.echo flushes: a program reading the pipe sees each event at once.
            click.echo(json.dumps(event.to_json(), ensure_ascii=False) if as_json
                       else slot_event_text(event))
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a watch ends, not an error
    finally:
        events.close()
    sys.exit(EXIT_TOKEN if explicit_failed else EXIT_OK)


def _secret(pin_env: str | None, pin_stdin: bool, prompt: str) -> str:
    """A PIN or password: from the variable ``pin_env`` names, the first line of
    stdin, or a hidden prompt on a terminal (never from the command line)."""
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


def _env_value(option: str, name: str | None) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if value is None:
        raise click.BadParameter(f"the variable {name} is unset", param_hint=option)
    return value


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (created if missing); outputs keep the input names.")
@click.option("--suffix", help="Write NAME<SUFFIX>.pdf beside each input instead.")
@click.option("--module", "modules", multiple=True, type=click.Path(dir_okay=False),
              help="PKCS#11 module to use (repeatable). Default: discover them.")
@click.option("--token", "label", help="Token label (exact, with diacritics).")
@click.option("--serial", help="Token serial number.")
@click.option("--cert-id", help="CKA_ID (hex) of the signing certificate.")
@click.option("--pkcs12", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Sign with a PKCS#12 file instead of a token.")
@click.option("--chain", "chain_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="PEM/DER intermediates to embed when the token lacks them (repeatable).")
@click.option("--trust", "trust_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Root certificates for collecting revocation data (B-LT, B-LTA).")
@click.option("--pin-env", metavar="VAR", help="Read the PIN (or PKCS#12 password) from VAR.")
@click.option("--pin-stdin", is_flag=True, help="Read the PIN from the first line of stdin.")
@click.option("--level", default="B-B", show_default=True,
              type=click.Choice(["B-B", "B-T", "B-LT", "B-LTA"]), help="PAdES baseline level.")
@click.option("--tsa", "tsa_url", metavar="URL", help="RFC 3161 time-stamping authority.")
@click.option("--tsa-user", help="HTTP basic-auth user for the TSA.")
@click.option("--tsa-password-env", metavar="VAR", help="TSA password from this variable.")
@click.option("--reason", help='Reason shown in the signature, e.g. "Phê duyệt".')
@click.option("--location", help='Location shown in the signature, e.g. "Cần Thơ".')
@click.option("--field", help="Signature field to fill or create (default SignatureN).")
@click.option("--hash", "hash_algorithm", default="sha256", show_default=True,
              type=click.Choice(["sha256", "sha384", "sha512"]), help="Digest algorithm.")
@click.option("--jobs", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Documents prepared in parallel while the token signs.")
@click.option("--executor", type=click.Choice(["thread", "process"]),
              help="Kind of parallel workers (default: processes where fork exists).")
@click.option("--resume", is_flag=True, help="Skip documents already signed (by hash).")
@click.option("--wait-token", "wait_token", type=click.FloatRange(min=0), metavar="SECONDS",
              help="If the token is pulled out, wait this long for the same token (same "
                   "serial) to be inserted again, log in again and go on. 0 stops at once "
                   "(finish later with --resume). Default: 120 when standard input and "
                   "error are a terminal (someone is there to insert it), else 0.")
@click.option("--keep-pin", is_flag=True,
              help="Keep the PIN in memory for this batch and log in with it again after "
                   "a re-insertion, instead of asking for it again.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("--pdf-password-env", metavar="VAR",
              help="User password of encrypted PDFs, from this variable.")
@click.option("--journal", type=click.Path(dir_okay=False, path_type=Path),
              help="Audit journal (SQLite). Default: $SIGNSVC_AUDIT_DB or "
                   "~/.local/share/signsvc/audit.sqlite3.")
@click.option("--profile", default="invisible", show_default=True,
              type=click.Choice(["invisible", "personal", "organisation", "attachment",
                                 "appendix", "copy"]),
              help="Decree 30/2020 App. I appearance.")
@click.option("--signature-image", type=click.Path(dir_okay=False, path_type=Path),
              help="personal: handwritten signature PNG (blue, transparent).")
@click.option("--anchor", help="personal: the printed name (image goes above it) or a "
                               "placeholder like [[KY_SO]] (image goes on it).")
@click.option("--page", type=int, help="Page for --box (1-based; -1 = last).")
@click.option("--box", metavar="X,Y,W,H", help="Signature box in mm from the top-left.")
@click.option("--appearance-text", is_flag=True,
              help="personal: small text (signer, organisation, time) under the image.")
@click.option("--seal-image", type=click.Path(dir_okay=False, path_type=Path),
              help="organisation: the red seal PNG (transparent).")
@click.option("--seal-size", type=float, metavar="MM", help="organisation: seal diameter.")
@click.option("--org-name", help="organisation/copy: the organisation's name.")
@click.option("--doc-number", help='issuance/attachment: e.g. "Số: 123/QĐ-UBND".')
@click.option("--doc-date", help='issuance: e.g. "Cần Thơ, ngày 12 tháng 3 năm 2014".')
@click.option("--number-anchor", help="issuance: placeholder where the number goes.")
@click.option("--date-anchor", help="issuance: placeholder where the date line goes.")
@click.option("--number-box", metavar="X,Y,W,H",
              help="issuance: or a box for the number (mm, top-left of the seal's page).")
@click.option("--date-box", metavar="X,Y,W,H",
              help="issuance: or a box for the date line (mm, top-left of the seal's page).")
@click.option("--copy-form", type=click.Choice(COPY_FORMS),
              help="copy: the copy form.")
@click.option("--font", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TrueType font for text (default Liberation Serif).")
@click.option("--force-organisation", is_flag=True,
              help="organisation: sign even without a personal signature.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per document.")
def sign(
    inputs: tuple[Path, ...], out_dir: Path | None, suffix: str | None,
    modules: tuple[str, ...], label: str | None, serial: str | None, cert_id: str | None,
    pkcs12: Path | None, chain_files: tuple[Path, ...], trust_files: tuple[Path, ...],
    pin_env: str | None, pin_stdin: bool, level: str, tsa_url: str | None,
    tsa_user: str | None, tsa_password_env: str | None, reason: str | None,
    location: str | None, field: str | None, hash_algorithm: str, jobs: int,
    executor: str | None, resume: bool, wait_token: float | None, keep_pin: bool,
    overwrite: bool, pdf_password_env: str | None,
    journal: Path | None, profile: str, signature_image: Path | None, anchor: str | None,
    page: int | None, box: str | None, appearance_text: bool, seal_image: Path | None,
    seal_size: float | None, org_name: str | None, doc_number: str | None,
    doc_date: str | None, number_anchor: str | None, date_anchor: str | None,
    number_box: str | None, date_box: str | None, copy_form: str | None,
    font: Path | None, force_organisation: bool, as_json: bool,
) -> None:
    """Sign PDF decisions with one PIN entry: PAdES B-B to B-LTA through pyHanko.

    INPUTS are PDF files or folders (their *.pdf). Inputs are never modified; outputs
    are written atomically. Exit 0 when every document is signed (or skipped with
    --resume), 1 when some failed, 2 on usage or bad input, 3 on a token error.

    A wrong PIN is tried once and never again (the message says when the next wrong
    PIN locks the token); a locked token stops everything. If the token is pulled out,
    the document being signed is not written, and the batch waits (--wait-token) for
    that token to be inserted again, asks for the PIN again (unless --keep-pin; with
    --pin-env the variable is read again, with --pin-stdin the next line), retries
    that document once and goes on; with --json the wait is reported as
    {"event": "token-removed"|"token-inserted"|"token-timeout", "token", "serial",
    "waiting_seconds", "document", "error"} lines among the results.
    """
    from signsvc.appearance import AppearanceOptions, Profile
    from signsvc.audit import AuditJournal
    from signsvc.batch import collect_inputs, sign_iter
    from signsvc.signing import Level, SignOptions

    if (out_dir is None) == (suffix is None):
        raise click.UsageError("give exactly one of --out DIR and --suffix SUFFIX")
    if pin_env and pin_stdin:
        raise click.UsageError("give at most one of --pin-env and --pin-stdin")
    if pkcs12 and (modules or label or serial or cert_id):
        raise click.UsageError("--pkcs12 signs without a token: drop the token options")
    if Level(level).needs_tsa and not tsa_url:
        raise click.UsageError(f"--level {level} needs --tsa URL")
    tsa_auth = None
    if tsa_user is not None:
        tsa_auth = (tsa_user, _env_value("--tsa-password-env", tsa_password_env) or "")
    documents = collect_inputs(list(inputs))
    if not documents:
        raise click.UsageError("no PDF found in the given inputs")
    options = SignOptions(
        level=Level(level), tsa_url=tsa_url, tsa_auth=tsa_auth, reason=reason,
        location=location, field=field, hash_algorithm=hash_algorithm,
        chain=tuple(_read_all(chain_files)), trust=tuple(_read_all(trust_files)),
        password=_env_value("--pdf-password-env", pdf_password_env), overwrite=overwrite,
        appearance=AppearanceOptions(
            profile=Profile(profile), signature_image=signature_image, anchor=anchor,
            page=page, box_mm=_box(box, "--box"), show_text=appearance_text, seal_image=seal_image,
            seal_size_mm=seal_size, org_name=org_name, doc_number=doc_number,
            doc_date=doc_date, number_anchor=number_anchor, date_anchor=date_anchor,
            number_box_mm=_box(number_box, "--number-box"),
            date_box_mm=_box(date_box, "--date-box"), copy_form=copy_form, font=font,
            force=force_organisation))

    if wait_token is None:
        wait_token = 120.0 if sys.stdin.isatty() and sys.stderr.isatty() else 0.0
    pin_source = _pin_source(pin_env, pin_stdin)
    with contextlib.ExitStack() as stack:
        if pkcs12 is not None:
            from drivers import Pkcs12Key

            key: drivers.KeySigner = Pkcs12Key.load(
                pkcs12, _secret(pin_env, pin_stdin, f"Password for {pkcs12.name}"))
        else:
            key_id = _hex_id(cert_id)
            key = stack.enter_context(signsvc.tokens.open_token_key(
                modules, label=label, serial=serial, cert_id=key_id, pin=pin_source))
        audit = stack.enter_context(AuditJournal.open(journal))
        results = sign_iter(documents, out_dir, key, suffix=suffix, jobs=jobs,
                            executor=_executor(executor),
                            resume=resume, journal=audit, options=options,
                            token_timeout=wait_token, pin=pin_source, keep_pin=keep_pin,
                            # Where to insert the token, how long it waits (JSON: stdout).
                            on_token_event=lambda event: click.echo(
                                json.dumps(event.to_json(), ensure_ascii=False) if as_json
                                else f"signsvc: {event.text()}", err=not as_json))
        counts = {"signed": 0, "skipped": 0, "failed": 0}
        token_failed = False
        bar = None
        if sys.stderr.isatty():
            bar = stack.enter_context(click.progressbar(
                length=len(documents), label="Signing", file=sys.stderr))
        for result in results:
            counts[result.status] += 1
            token_failed |= isinstance(result.exception, TokenError)
            if bar is not None:
                bar.update(1)
            if as_json:
                click.echo(json.dumps(result.to_json(), ensure_ascii=False))
            elif result.status == "failed":
                click.echo(f"FAILED   {result.input}: {result.error}")
            else:
                click.echo(f"{result.status:<8} {result.input} -> {result.output}")
    click.echo(f"{counts['signed']} signed, {counts['skipped']} skipped, "
               f"{counts['failed']} failed; journal {audit.path}", err=True)
    if token_failed:
        sys.exit(EXIT_TOKEN)
    sys.exit(EXIT_CHECK_FAILED if counts["failed"] else EXIT_OK)


def _box(value: str | None, option: str) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        x, y, w, h = (float(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not X,Y,W,H in millimetres",
                                 param_hint=option) from None
    return x, y, w, h


def _executor(choice: str | None) -> Literal["thread", "process"]:
    from signsvc.batch import DEFAULT_EXECUTOR

    if choice is None:
        return DEFAULT_EXECUTOR
    return "process" if choice == "process" else "thread"


def _hex_id(cert_id: str | None) -> bytes | None:
    if cert_id is None:
        return None
    try:
        return bytes.fromhex(cert_id)
    except ValueError:
        raise click.BadParameter(f"{cert_id!r} is not hexadecimal",
                                 param_hint="--cert-id") from None


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or time",
                                 param_hint=option) from None
    # A date or time without zone means Vietnam time: what an admin here types.
    return moment if moment.tzinfo else moment.replace(tzinfo=VIETNAM_TIME)


@cli.command()
@click.option("--since", help="Only attempts at or after this ISO 8601 date/time "
                              "(Vietnam time unless a zone is given).")
@click.option("--journal", type=click.Path(dir_okay=False, path_type=Path),
              help="Audit journal to read (default as for 'sign').")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def audit(since: str | None, journal: Path | None, as_json: bool) -> None:
    """Print the audit journal of signing attempts (times in Vietnam time)."""
    from signsvc.audit import default_journal_path, iter_entries

    path = journal or default_journal_path()
    entries = list(iter_entries(path, _parse_time(since, "--since")))
    if as_json:
        click.echo(json.dumps([e.to_json() for e in entries], ensure_ascii=False, indent=2))
        return
    if not entries:
        click.echo(f"No signing attempts recorded in {path}.")
    for entry in entries:
        when = entry.local_time.isoformat(timespec="seconds")
        detail = entry.output_path if entry.status != "failed" else entry.error
        click.echo(f"{when}  {entry.status:<7}  {entry.level or '-':<5}  {entry.input_path}"
                   f"  ->  {detail}")
        click.echo(f"    signer {entry.signer_subject} (serial {entry.signer_serial})")


def _read_all(paths: tuple[Path, ...]) -> list[x509.Certificate]:
    from signsvc.trust import load_certificates

    found: list[x509.Certificate] = []
    for path in paths:
        found += load_certificates(path.read_bytes(), path=path)
    return found


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


from cli_chain import chain, trust  # noqa: E402
from cli_verify import verify  # noqa: E402

cli.add_command(chain)
cli.add_command(trust)
cli.add_command(verify)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
