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
from signsvc.tokens import Inventory, TokenReport

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
        _print_inventory(report)
    failed = [m for m in report.modules if m.error and m.candidate.source == "explicit"]
    sys.exit(EXIT_TOKEN if failed else EXIT_OK)


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
    executor: str | None, resume: bool, overwrite: bool, pdf_password_env: str | None,
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

    with contextlib.ExitStack() as stack:
        if pkcs12 is not None:
            from drivers import Pkcs12Key

            key: drivers.KeySigner = Pkcs12Key.load(
                pkcs12, _secret(pin_env, pin_stdin, f"Password for {pkcs12.name}"))
        else:
            key_id = _hex_id(cert_id)
            key = stack.enter_context(signsvc.tokens.open_token_key(
                modules, label=label, serial=serial, cert_id=key_id,
                pin=_pin_source(pin_env, pin_stdin)))
        audit = stack.enter_context(AuditJournal.open(journal))
        results = sign_iter(documents, out_dir, key, suffix=suffix, jobs=jobs,
                            executor=_executor(executor),
                            resume=resume, journal=audit, options=options)
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


def _read_crls(paths: tuple[Path, ...]) -> list[x509.CertificateRevocationList]:
    from signsvc.errors import BadInputError

    crls = []
    for path in paths:
        data = path.read_bytes()
        try:
            crls.append(x509.load_pem_x509_crl(data) if b"-----BEGIN" in data
                        else x509.load_der_x509_crl(data))
        except ValueError as exc:
            raise BadInputError(f"not a PEM or DER CRL: {exc}", path=path) from exc
    return crls


@cli.command()
@click.argument("cert", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--intermediate", "intermediates", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Intermediate certificates (PEM bundle or DER; repeatable).")
@click.option("--trust", "trust_paths", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="Trust anchors: files or folders (repeatable). Default: the user "
                   "trust folder ('signsvc trust list').")
@click.option("--crl", "crl_paths", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CRLs, PEM or DER (repeatable).")
@click.option("--ocsp", "ocsp_paths", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="OCSP responses, DER (repeatable).")
@click.option("--at", "at_text", help="Validation time, ISO 8601 (Vietnam time unless a "
                                      "zone is given). Default: now.")
@click.option("--policy", default="default", show_default=True,
              type=click.Choice(["default", "historical"]),
              help="historical accepts SHA-1 and small RSA keys (reported).")
@click.option("--revocation", default="soft-fail", show_default=True,
              type=click.Choice(["hard-fail", "soft-fail", "off"]))
@click.option("--fetch", is_flag=True, help="Fetch missing CRLs/OCSP over HTTP.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def chain(cert: Path, intermediates: tuple[Path, ...], trust_paths: tuple[Path, ...],
          crl_paths: tuple[Path, ...], ocsp_paths: tuple[Path, ...], at_text: str | None,
          policy: str, revocation: str, fetch: bool, as_json: bool) -> None:
    """Validate a certificate's chain to a trust anchor (RFC 5280, CRL/OCSP).

    Exit 0 when valid, 1 when invalid or indeterminate, 2 on usage or bad input.
    """
    from signsvc.chain import validate_chain
    from signsvc.revocation_fetch import RevocationFetcher
    from signsvc.trust import TrustStore

    leaf, *extra = _read_all((cert,))
    store = TrustStore.from_paths(trust_paths) if trust_paths else TrustStore.user()
    if not len(store):
        raise click.UsageError("no trust anchor: give --trust FILE|DIR or add one with "
                               "'signsvc trust add FILE'")
    at = _parse_time(at_text, "--at") or datetime.now(VIETNAM_TIME)
    result = validate_chain(
        leaf, intermediates=[*extra, *_read_all(intermediates)], trust=store, at=at,
        crls=_read_crls(crl_paths), ocsp_responses=[p.read_bytes() for p in ocsp_paths],
        revocation=revocation,  # type: ignore[arg-type]
        policy=policy, fetcher=RevocationFetcher(online=True) if fetch else None)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        verdict = result.indication.value + (
            f" / {result.sub_indication.value}" if result.sub_indication else "")
        click.echo(f"{verdict}: {result.reason}")
        for depth, member in enumerate(result.path):
            mark = "  <- failed here" if depth == result.failed_index else ""
            click.echo(f"  {'  ' * depth}{member.subject.rfc4514_string()}{mark}")
        for note in (*result.algorithm_notes, *result.notes):
            click.echo(f"  note: {note}")
    sys.exit(EXIT_OK if result.valid else EXIT_CHECK_FAILED)


@cli.group()
def trust() -> None:
    """Manage your trust anchors (Vietnam has no trusted list: you choose the roots)."""


@trust.command("add")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def trust_add(files: tuple[Path, ...]) -> None:
    """Trust these CA certificates (copied into the user trust folder)."""
    from signsvc.trust import add_trust_anchor

    for path in files:
        anchor = add_trust_anchor(path)
        known = " (recognised by fingerprint)" if anchor.known else ""
        click.echo(f"added {anchor.label}{known}: SHA-256 {anchor.fingerprint}")


@trust.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def trust_list(as_json: bool) -> None:
    """List the anchors in the user trust folder."""
    from signsvc.trust import list_trust_anchors, user_trust_dir

    anchors = list_trust_anchors()
    if as_json:
        click.echo(json.dumps([a.to_json() for a in anchors], ensure_ascii=False, indent=2))
        return
    if not anchors:
        click.echo(f"No trust anchors in {user_trust_dir()}; add one with "
                   "'signsvc trust add FILE'.")
    for anchor in anchors:
        click.echo(f"{anchor.label}\n  {anchor.subject}\n  SHA-256 {anchor.fingerprint}")


@trust.command("remove")
@click.argument("fingerprint")
def trust_remove(fingerprint: str) -> None:
    """Stop trusting the anchor with this SHA-256 fingerprint."""
    from signsvc.trust import remove_trust_anchor

    click.echo(f"removed {remove_trust_anchor(fingerprint)}")


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


from cli_verify import verify  # noqa: E402

cli.add_command(verify)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
