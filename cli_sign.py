"""``signsvc sign`` and ``signsvc audit``: batch PDF signing with one PIN, and the
journal of every attempt.

Example::

    signsvc sign quyet-dinh/ --out da-ky/ --token "Nguyễn Văn A" --level B-T \\
        --tsa http://127.0.0.1:18480/tsa --profile personal --signature-image chu-ky.png
    signsvc audit --since 2026-12-01

Exit codes as for every command (:class:`cli_common.ExitCode`): 0 every document signed
(or skipped with --resume), 1 some failed, 2 usage or bad input, 3 a token error.
"""

from __future__ import annotations

import contextlib
import json
import sys
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from cli_common import (
    ExitCode,
    LocalTime,
    check_pin_options,
    command,
    env_value,
    hex_id,
    jobs_option,
    json_option,
    option,
    pin_options,
    pin_source,
    read_certificates,
    read_secret,
    token_options,
    trust_option,
    verbose_option,
)
from signsvc._i18n import N_, _, error_text, shown_time
from signsvc.appearance.profiles import COPY_FORMS

if TYPE_CHECKING:
    from cryptography import x509

    import drivers
    from signsvc.sign.pdf import SignKeywords
    from signsvc.sign.results import DocumentProgress


@command(help=N_(
        "Sign PDF decisions with one PIN entry: PAdES B-B to B-LTA through "
        "pyHanko.\n\n"
        "INPUTS are PDF files or folders (every *.pdf under them, sub-folders "
        "included; with --out the sub-folders are mirrored there, and the --out "
        "folder itself is never searched). Inputs are never modified; outputs are "
        "written atomically. Exit 0 when every document is signed (or skipped "
        "with --resume), 1 when some failed, 2 on usage or bad input, 3 on a "
        "token error.\n\n"
        "A wrong PIN is tried once and never again (the message says when the "
        "next wrong PIN locks the token); a locked token stops everything. If the "
        "token is pulled out, the document being signed is not written, and the "
        "batch waits (--wait-token) for that token to be inserted again, asks for "
        "the PIN again (unless --keep-pin; with --pin-env the variable is read "
        "again, with --pin-stdin the next line), retries that document once and "
        "goes on; with --json the wait is reported as {\"event\": "
        "\"token-removed\"|\"token-inserted\"|\"token-timeout\", \"token\", \"serial\", "
        "\"waiting_seconds\", \"document\", \"error\"} lines among the results."))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
        help=N_("Output folder (created if missing); outputs keep the input names."))
@option("--suffix", help=N_("Write NAME<SUFFIX>.pdf beside each input instead."))
@token_options
@option("--cert-id", help=N_("CKA_ID (hex) of the signing certificate."))
@option("--pkcs12", type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help=N_("Sign with a PKCS#12 file instead of a token."))
@option("--chain", "chain_files", multiple=True,
        type=click.Path(exists=True, path_type=Path),
        help=N_("PEM/DER intermediates to embed when the token lacks them: files or "
                "folders (repeatable)."))
@trust_option(N_("Root certificates for collecting revocation data (B-LT, B-LTA): files "
                 "or folders (repeatable)."))
@pin_options
@option("--level", default="B-B", show_default=True,
        type=click.Choice(["B-B", "B-T", "B-LT", "B-LTA"]), help=N_("PAdES baseline level."))
@option("--tsa", "tsa_url", metavar="URL", help=N_("RFC 3161 time-stamping authority."))
@option("--tsa-user", help=N_("HTTP basic-auth user for the TSA."))
@option("--tsa-password-env", metavar="VAR", help=N_("TSA password from this variable."))
@option("--reason", help=N_('Reason shown in the signature, e.g. "Phê duyệt".'))
@option("--location", help=N_('Location shown in the signature, e.g. "Cần Thơ".'))
@option("--field", help=N_("Signature field to fill or create (default SignatureN)."))
@option("--hash", "hash_algorithm", default="sha256", show_default=True,
        type=click.Choice(["sha256", "sha384", "sha512"]), help=N_("Digest algorithm."))
@jobs_option(N_("Documents prepared in parallel while the token signs."), default=2,
             maximum=64)
@option("--executor", type=click.Choice(["thread", "process"]),
        help=N_("Kind of parallel workers (default: processes where fork exists)."))
@option("--resume", is_flag=True, help=N_("Skip documents already signed (by hash)."))
@option("--wait-token", "wait_token", type=click.FloatRange(min=0), metavar="SECONDS",
        help=N_("If the token is pulled out, wait this long for the same token (same "
                "serial) to be inserted again, log in again and go on. 0 stops at once "
                "(finish later with --resume). Default: 120 when standard input and "
                "error are a terminal (someone is there to insert it), else 0."))
@option("--keep-pin", is_flag=True,
        help=N_("Keep the PIN in memory for this batch and log in with it again after "
                "a re-insertion, instead of asking for it again."))
@option("--overwrite", is_flag=True, help=N_("Replace existing outputs."))
@option("--pdf-password-env", metavar="VAR",
        help=N_("User password of encrypted PDFs, from this variable."))
@option("--journal", type=click.Path(dir_okay=False, path_type=Path),
        help=N_("Audit journal (SQLite). Default: $SIGNSVC_AUDIT_DB or "
                "~/.local/share/signsvc/audit.sqlite3."))
@option("--profile", default="invisible", show_default=True,
        type=click.Choice(["invisible", "personal", "organisation", "attachment",
                              "appendix", "copy"]),
        help=N_("Decree 30/2020 App. I appearance."))
@option("--signature-image", type=click.Path(dir_okay=False, path_type=Path),
        help=N_("personal: handwritten signature PNG (blue, transparent)."))
@option("--anchor", help=N_("personal: the printed name (image goes above it) or a "
                            "placeholder like [[KY_SO]] (image goes on it)."))
@option("--page", type=int, help=N_("Page for --box (1-based; -1 = last)."))
@option("--box", metavar="X,Y,W,H", help=N_("Signature box in mm from the top-left."))
@option("--appearance-text", is_flag=True,
        help=N_("personal: small text (signer, organisation, time) under the image."))
@option("--seal-image", type=click.Path(dir_okay=False, path_type=Path),
        help=N_("organisation: the red seal PNG (transparent)."))
@option("--seal-size", type=float, metavar="MM", help=N_("organisation: seal diameter."))
@option("--org-name", help=N_("organisation/copy: the organisation's name."))
@option("--doc-number", help=N_('issuance/attachment: e.g. "Số: 123/QĐ-UBND".'))
@option("--doc-date", help=N_('issuance: e.g. "Cần Thơ, ngày 12 tháng 3 năm 2014".'))
@option("--number-anchor", help=N_("issuance: placeholder where the number goes."))
@option("--date-anchor", help=N_("issuance: placeholder where the date line goes."))
@option("--number-box", metavar="X,Y,W,H",
        help=N_("issuance: or a box for the number (mm, top-left of the seal's page)."))
@option("--date-box", metavar="X,Y,W,H",
        help=N_("issuance: or a box for the date line (mm, top-left of the seal's page)."))
@option("--copy-form", type=click.Choice(COPY_FORMS),
        help=N_("copy: the copy form."))
@option("--font", type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help=N_("TrueType font for text (default Liberation Serif)."))
@option("--force-organisation", is_flag=True,
        help=N_("organisation: sign even without a personal signature."))
@option("--force", is_flag=True,
        help=N_("Sign even with a certificate signsvc refuses (expired, not yet valid, "
                "not for signing, no chain to --trust); the journal records each such "
                "signature."))
@json_option(N_("One JSON object per document."))
@verbose_option
def sign(
    inputs: tuple[Path, ...], out_dir: Path | None, suffix: str | None,
    modules: tuple[str, ...], label: str | None, serial: str | None, cert_id: str | None,
    pkcs12: Path | None, chain_files: tuple[Path, ...], trust_paths: tuple[Path, ...],
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
    font: Path | None, force_organisation: bool, force: bool, as_json: bool,
) -> None:
    """Sign PDF decisions with one PIN entry: PAdES B-B to B-LTA through pyHanko."""
    import signsvc.tokens
    from drivers import TokenError
    from signsvc._inputs import collect_inputs
    from signsvc._interrupts import held_interrupts
    from signsvc.appearance.profiles import AppearanceOptions, Profile
    from signsvc.sign._certcheck import certificate_problems, check_signing_certificate
    from signsvc.sign.batch import login_result, settled_results, sign_iter
    from signsvc.sign.journal import AuditJournal
    from signsvc.sign.plan import plan_batch
    from signsvc.sign.results import Level, SignStatus, SkipReason

    if (out_dir is None) == (suffix is None):
        raise click.UsageError(_("give exactly one of --out DIR and --suffix SUFFIX"))
    check_pin_options(pin_env, pin_stdin)
    if pkcs12 and (modules or label or serial or cert_id):
        raise click.UsageError(_("--pkcs12 signs without a token: drop the token options"))
    if Level(level).needs_tsa and not tsa_url:
        raise click.UsageError(_("--level {level} needs --tsa URL").format(level=level))
    # Names as people type them: a keyboard may send "Ánh" as A + U+0301; the token,
    # the document and the journal hold it precomposed (TCVN 6909:2001).
    label, anchor, org_name, reason, location, field, doc_number, doc_date, \
        number_anchor, date_anchor = (_nfc(v) for v in (
            label, anchor, org_name, reason, location, field, doc_number, doc_date,
            number_anchor, date_anchor))
    tsa_auth = None
    if tsa_user is not None:
        tsa_auth = (tsa_user, env_value("--tsa-password-env", tsa_password_env) or "")
    documents = collect_inputs(inputs, exclude=[out_dir] if out_dir is not None else [])
    if not documents:
        raise click.UsageError(_("no PDF found in the given inputs"))
    chain = read_certificates(chain_files)
    trust = read_certificates(trust_paths)
    options: SignKeywords = dict(
        level=Level(level), tsa_url=tsa_url, tsa_auth=tsa_auth, reason=reason,
        location=location, field=field, hash_algorithm=hash_algorithm,
        chain=chain, trust=trust,
        password=env_value("--pdf-password-env", pdf_password_env), overwrite=overwrite,
        force=force,
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
    pins = pin_source(pin_env, pin_stdin)
    counts = dict.fromkeys(SignStatus, 0)
    own_outputs = 0
    token_failed = False
    with contextlib.ExitStack() as stack:
        audit = stack.enter_context(AuditJournal.open(journal))
        # Everything that needs no key is decided first: nothing is asked of the
        # official, nor of the token, for documents that cannot or need not be signed.
        plan = plan_batch(documents, out_dir, suffix=suffix, resume=resume,
                          overwrite=overwrite, journal=audit)
        for recovered in plan.recovered:
            _note(_(_RECOVERED[recovered.outcome]).format(output=recovered.output))
        if plan.own_outputs and not as_json:
            names = [str(r.input) for r in plan.own_outputs]
            shown = ", ".join(names[:3]) + (
                _(" and {count} more").format(count=len(names) - 3) if len(names) > 3
                else "")
            _note(_(_OWN_OUTPUTS).format(count=len(names), names=shown))
        display = stack.enter_context(_Display(plan.total, as_json=as_json))
        if not plan.jobs:
            if counts_failed := sum(r.status is SignStatus.FAILED for r in plan.settled):
                _note(_(_NOTHING_TO_SIGN).format(count=counts_failed))
            results = settled_results(plan, journal=audit, level=level, tsa_url=tsa_url)
        else:
            def check(certificate: x509.Certificate,
                      others: Sequence[x509.Certificate]) -> None:
                # Before the PIN is asked (read from the token's public objects).
                problems = certificate_problems(certificate, at=datetime.now(UTC),
                                                trust=trust, intermediates=[*others, *chain])
                if problems and force:
                    _note(_(_FORCED).format(
                        problems="; ".join(text for _problem, text in problems)))
                elif problems:
                    check_signing_certificate(certificate, at=datetime.now(UTC), trust=trust,
                                              intermediates=[*others, *chain])

            def record_login(info: drivers.TokenInfo, error: BaseException | None) -> None:
                audit.record_login(login_result(error), token=info.label,
                                   serial=info.serial, module=str(info.module),
                                   error=None if error is None else str(error))

            if pkcs12 is not None:
                from drivers import Pkcs12Key

                secret = read_secret(pin_env, pin_stdin,
                                     _("Password for {name}").format(name=pkcs12.name))
                try:
                    key: drivers.KeySigner = Pkcs12Key.load(pkcs12, secret)
                except TokenError as exc:
                    audit.record_login(login_result(exc), token=str(pkcs12), serial=None,
                                       module=None, error=str(exc))
                    raise
                audit.record_login("accepted", token=str(pkcs12), serial=None, module=None)
                check(key.certificate, key.chain)
            else:
                key = stack.enter_context(signsvc.tokens.open_token_key(
                    modules, label=label, serial=serial, cert_id=hex_id(cert_id), pin=pins,
                    check=check, on_login=record_login))
            results = sign_iter(plan, out_dir, key, jobs=jobs,
                                executor=_executor(executor), journal=audit,
                                token_timeout=wait_token, pin=pins, keep_pin=keep_pin,
                                # Where to insert the token, how long it waits (JSON: stdout).
                                on_token_event=lambda event: display.line(
                                    json.dumps(event.to_json(), ensure_ascii=False) if as_json
                                    else f"signsvc: {event.text()}", err=not as_json),
                                on_progress=display.progress,
                                **options)
        # Closed before the journal (the stack unwinds in reverse): an interrupted batch
        # finishes its bookkeeping while the journal is still open.
        stack.callback(results.close)
        for result in results:
            # The line that reports a document goes with its journal row: Ctrl-C waits
            # for it.
            with held_interrupts():
                counts[result.status] += 1
                own = result.skip_reason is SkipReason.OWN_OUTPUT
                own_outputs += own
                token_failed |= isinstance(result.exception, TokenError)
                if as_json:
                    text: str | None = json.dumps(result.to_json(), ensure_ascii=False)
                elif own:
                    text = None  # said once, above
                elif result.status is SignStatus.FAILED:
                    # The error names the file already when it is about the input.
                    error = (error_text(result.exception) if result.exception is not None
                             else result.error or "")
                    named = error.startswith(f"{result.input}: ")
                    text = "{status} {error}".format(
                        status=_pad(_("FAILED"), 8),
                        error=error if named else f"{result.input}: {error}")
                else:
                    text = f"{_pad(_(_STATUS[result.status]), 8)} {result.input} -> "\
                           f"{result.output}"
                display.result(text, result.input, failed=result.status is SignStatus.FAILED)
    skipped = (_("{count} skipped") if not own_outputs else
               _("{count} skipped ({own} of them signsvc's own outputs, not signed "
                 "again)")).format(count=counts[SignStatus.SKIPPED], own=own_outputs)
    click.echo(_("{signed} signed, {skipped}, {failed} failed; journal {journal}").format(
        signed=counts[SignStatus.SIGNED], skipped=skipped,
        failed=counts[SignStatus.FAILED], journal=audit.path), err=True)
    if token_failed:
        sys.exit(ExitCode.TOKEN)
    sys.exit(ExitCode.CHECK_FAILED if counts[SignStatus.FAILED] else ExitCode.OK)


# What `signsvc sign` says besides its result lines: whole sentences, kept together so
# they can be translated in one place.
_OWN_OUTPUTS = N_("signsvc: {count} file(s) among the inputs are signsvc's signed outputs "
                  "of other inputs ({names}); they are skipped, not signed again.")
_NOTHING_TO_SIGN = N_("signsvc: nothing to sign: {count} document(s) cannot be signed (see "
                      "above), so no PIN was asked and the token was not used.")
_FORCED = N_("signsvc: warning: signing with --force although {problems}; the journal "
             "records it with each signature.")
_RECOVERED = {
    "placed": N_("signsvc: an interrupted run had signed {output}; it was complete and "
                 "journaled."),
    "completed": N_("signsvc: an interrupted run had signed {output}; its output now has "
                    "its name, as the journal recorded."),
    "failed": N_("signsvc: an interrupted run had signed {output}, but its output could "
                 "not be put in place; the journal says why (signsvc audit)."),
}
_PHASES = {"reading": N_("reading"), "signing": N_("signing"), "writing": N_("writing")}
"""The phases of :class:`signsvc.sign.results.DocumentProgress`, for the live line."""
_STATUS = {"signed": N_("signed"), "skipped": N_("skipped"), "failed": N_("failed")}
"""The result words of the text lines (``--json`` keeps the enum values)."""
_LONG_DOCUMENT = 1.0
"""Seconds after which the live line shows the document being signed, and for how
long (a 100 MB scan, a slow token, a slow TSA)."""


def _nfc(value: str | None) -> str | None:
    return None if value is None else unicodedata.normalize("NFC", value)


def _note(text: str) -> None:
    click.echo(text, err=True)


def _pad(word: str, width: int) -> str:
    """``word`` left-aligned in ``width`` columns (the result lines' first column)."""
    return f"{word:<{width}}"


class _Display:
    """What a person at a terminal sees: the result lines, and below them one live
    line for the batch (count, bar, the document taking long, for how long), redrawn
    in place. Not on a terminal: the result lines only, plain."""

    def __init__(self, total: int, *, as_json: bool) -> None:
        import threading

        self.total = total
        self.done = 0
        self.failed = 0
        self.live = sys.stderr.isatty()
        self.as_json = as_json
        self._lock = threading.Lock()
        self._current: dict[Path, tuple[float, str, int | None]] = {}
        self._shown = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> _Display:
        import threading

        if self.live:
            self._ticker = threading.Thread(target=self._tick, name="signsvc-progress",
                                            daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            self._clear()

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            with self._lock:
                if self._current:
                    self._draw()

    def progress(self, event: DocumentProgress) -> None:
        """A document reached a phase (any thread)."""
        import time

        with self._lock:
            started, _, size = self._current.get(event.input, (time.monotonic(), "", None))
            self._current[event.input] = (started, event.phase, event.size or size)

    def line(self, text: str, *, err: bool = False) -> None:
        """A line above the live line."""
        with self._lock:
            self._clear()
            click.echo(text, err=err)
            self._draw()

    def result(self, text: str | None, path: Path, *, failed: bool) -> None:
        """The document ``path`` is finished; ``text`` is its line (None: no line)."""
        with self._lock:
            self.done += 1
            self.failed += failed
            self._current.pop(path, None)
            self._clear()
            if text is not None:
                click.echo(text)
            self._draw()

    def _clear(self) -> None:
        if self._shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self._shown = False

    def _draw(self) -> None:
        import shutil
        import time

        if not self.live:
            return
        width = shutil.get_terminal_size((80, 24)).columns
        fraction = self.done / self.total if self.total else 1.0
        bar_width = max(10, min(30, width // 4))
        filled = int(bar_width * fraction)
        text = _("Signing {done}/{total} [{bar}] {percent}").format(
            done=self.done, total=self.total,
            bar="#" * filled + "-" * (bar_width - filled), percent=f"{fraction:4.0%}")
        if self.failed:
            text += _(", {count} failed").format(count=self.failed)
        now = time.monotonic()
        slow = [(now - started, path, phase, size)
                for path, (started, phase, size) in self._current.items()
                if now - started >= _LONG_DOCUMENT]
        if slow:
            seconds, path, phase, size = max(slow)
            amount = "" if not size else (f", {size / 1e6:.1f} MB" if size >= 1e6
                                          else f", {max(1, round(size / 1e3))} kB")
            text += f"  {path.name}{amount}: {_(_PHASES.get(phase, phase))}, {seconds:.0f} s"
        # One screen line, never wrapped: a wrapped line cannot be redrawn in place.
        sys.stderr.write("\r\x1b[K" + text[:max(1, width - 1)])
        sys.stderr.flush()
        self._shown = True


def _box(value: str | None, option: str) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        x, y, w, h = (float(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(_("{value!r} is not X,Y,W,H in millimetres").format(
            value=value), param_hint=option) from None
    return x, y, w, h


def _executor(choice: str | None) -> Literal["thread", "process"]:
    from signsvc.sign.batch import DEFAULT_EXECUTOR

    if choice is None:
        return DEFAULT_EXECUTOR
    return "process" if choice == "process" else "thread"


@command(help=N_(
        "Print the audit journal of signing attempts (times in Vietnam time)."))
@option("--since", type=LocalTime(),
        help=N_("Only attempts at or after this time: ISO 8601 or dd/mm/yyyy [HH:MM] "
                "(Vietnam time unless a zone is given)."))
@option("--journal", type=click.Path(dir_okay=False, path_type=Path),
        help=N_("Audit journal to read (default as for 'sign')."))
@option("--logins", is_flag=True,
        help=N_("List the logins instead (each PIN given: accepted, refused, locked; "
                "never the PIN)."))
@json_option(N_("Print a JSON array."))
@verbose_option
def audit(since: datetime | None, journal: Path | None, logins: bool, as_json: bool) -> None:
    """Print the audit journal of signing attempts (times in Vietnam time)."""
    from signsvc.sign.journal import default_journal_path, iter_entries, iter_logins

    path = journal or default_journal_path()
    if logins:
        rows = list(iter_logins(path, since))
        if as_json:
            click.echo(json.dumps([r.to_json() for r in rows], ensure_ascii=False, indent=2))
            return
        if not rows:
            click.echo(_("No logins recorded in {path}.").format(path=path))
        for row in rows:
            when = shown_time(row.local_time)
            click.echo(_("{when}  login {result}  token {token!r} (serial {serial})").format(
                when=when, result=_pad(_(_LOGIN_RESULTS.get(row.result, row.result)), 9),
                token=row.token, serial=row.serial or "-")
                + (f": {row.error}" if row.error else ""))
        return
    entries = list(iter_entries(path, since))
    if as_json:
        click.echo(json.dumps([e.to_json() for e in entries], ensure_ascii=False, indent=2))
        return
    if not entries:
        click.echo(_("No signing attempts recorded in {path}.").format(path=path))
    for entry in entries:
        when = shown_time(entry.local_time)
        detail = entry.output_path if entry.status != "failed" else entry.error
        status = _pad(_(_STATUS.get(entry.status, entry.status)), 7)
        click.echo(f"{when}  {status}  {entry.level or '-':<5}  {entry.input_path}"
                   f"  ->  {detail}")
        click.echo(_("    signer {subject} (serial {serial})").format(
            subject=entry.signer_subject, serial=entry.signer_serial))
        if entry.note:
            click.echo(_("    note: {note}").format(note=entry.note))


_LOGIN_RESULTS = {"accepted": N_("accepted"), "refused": N_("refused"),
                  "locked": N_("locked"), "cancelled": N_("cancelled"), "failed": N_("failed")}
"""The results of :meth:`signsvc.sign.journal.AuditJournal.record_login`, in words."""

