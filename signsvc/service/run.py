"""One signing request, from the checked request to the reply (SERVICE-DESIGN §3.3-3.5).

In this order, and nothing later happens when something earlier fails:

1. one batch at a time: a second request meanwhile is answered "busy";
2. every URL is checked (:class:`~signsvc.service.fetch.UrlPolicy`) before the first
   request is made, so a hostile URL in a batch makes no request anywhere;
3. every document is fetched and checked (size, ``%PDF-``, pages, SHA-256);
4. the token is found and its certificate read (public objects, no PIN) and checked
   (validity, key usage): a certificate that cannot sign is said before anyone is
   asked anything;
5. the official is asked once for the whole batch (:class:`Confirmer.confirm`); a no,
   a timeout, no display: "denied by the user", and the token is not logged in to;
6. one login (the PIN from the answer, from ``--pin-env``, or the PIN pad), never
   retried, never cached; ``sign_batch`` signs the temporary copies (a private 0700
   folder), each signed document is uploaded, the session is logged out and closed,
   the temporary folder removed.

Every step is in the audit (:mod:`signsvc.service.audit`) and the signing journal.

Example::

    >>> service = SigningService(load_config(), make_confirmer("tk"),
    ...                          ServiceAudit(default_journal_path()))  # doctest: +SKIP
    >>> outcome = service.handle("SignApproved", "https://eoffice.gov.vn",
    ...                          parse_request(message, Limits()), "3f2a9c")  # doctest: +SKIP
    >>> outcome.reply["Status"]  # doctest: +SKIP
    0
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signsvc._i18n import _, error_text
from signsvc.errors import BadInputError, PinSourceError, SignsvcError
from signsvc.service.audit import FileRecord, ServiceAudit
from signsvc.service.config import ServiceConfig
from signsvc.service.consent import Confirmer, ConsentAnswer, ConsentFile, ConsentRequest
from signsvc.service.fetch import (
    Credentials,
    DocumentError,
    Resolver,
    Target,
    UrlPolicy,
    document_name,
    download,
    system_resolver,
    upload,
)
from signsvc.service.replies import Refusal, Status, reply
from signsvc.service.schema import VgcaRequest
from signsvc.service.vgca import CALLS, ROLES, appearance_for, stamp_text

if TYPE_CHECKING:
    from cryptography import x509

    import drivers
    from signsvc.appearance.profiles import AppearanceOptions

__all__ = ["Outcome", "SigningService"]


@dataclass(frozen=True)
class Outcome:
    """A finished request: the HTTP status and the reply."""

    http_status: int
    """200 when the request was carried out (see ``Status`` for how it ended)."""
    reply: dict[str, Any]
    """The VGCA reply."""


class _Denied(Exception):  # noqa: N818 -- the official's answer, carried out of open_token_key
    def __init__(self, answer: ConsentAnswer) -> None:
        super().__init__(answer.reason)
        self.answer = answer


@dataclass
class _Fetched:
    target: Target
    name: str
    data: bytes
    sha256: str
    pages: int | None


def _pages(data: bytes) -> int | None:
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            return len(pdf.pages)
    except Exception:  # damaged or encrypted: the window says "unknown", signing says why
        return None


def _subject(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


class SigningService:
    """Carries out requests the gate let through; one batch at a time.

    Args:
        config: the service configuration.
        confirmer: asks the official (``make_confirmer(--confirm)``).
        audit: where decisions are recorded.
        pin_env: the variable holding the PIN (``--pin-env``), read at each login;
            None: the consent window asks for it, or the token's PIN pad.
        resolver: host names to addresses (the system's; tests give a fixed one).
        consent_lock: held around every question to the official (pairing too).
    """

    def __init__(self, config: ServiceConfig, confirmer: Confirmer, audit: ServiceAudit, *,
                 pin_env: str | None = None, resolver: Resolver = system_resolver,
                 consent_lock: threading.Lock | None = None) -> None:
        self.config = config
        self.confirmer = confirmer
        self.audit = audit
        self.pin_env = pin_env
        self.resolver = resolver
        self.consent_lock = consent_lock or threading.Lock()
        self._busy = threading.Lock()

    @property
    def journal_path(self) -> Path:
        from signsvc.sign.journal import default_journal_path

        return self.config.sign.journal or default_journal_path()

    def handle(self, call: str, origin: str, request: VgcaRequest, request_id: str) -> Outcome:
        """Carry out one request (blocking; run it in a worker thread). Never raises:
        every failure is a reply."""
        record = {"origin": origin, "call": call}
        try:
            kind = CALLS[call]
            look = self._appearance(kind, request)
            if not self._busy.acquire(blocking=False):
                raise Refusal(409, Status.BUSY, _("busy: another batch is waiting for the "
                                                  "official or being signed"),
                              decision="busy")
        except Refusal as refusal:
            self.audit.decision(request_id, decision=refusal.decision, error=refusal.message,
                                **record)
            return Outcome(refusal.http_status, refusal.reply())
        try:
            return self._run(kind, call, origin, request, request_id, look)
        except Refusal as refusal:
            self.audit.decision(request_id, decision=refusal.decision, error=refusal.message,
                                **record)
            return Outcome(refusal.http_status, refusal.reply())
        except Exception as exc:  # the one boundary of a request: a bug is a reply too
            self.audit.decision(request_id, decision="internal-error",
                                error=f"{type(exc).__name__}: {exc}", **record)
            return Outcome(500, reply(Status.INTERNAL, _("internal error in signsvc (the "
                                                         "service's log says more)")))
        finally:
            self._busy.release()

    def _appearance(self, kind: str, request: VgcaRequest) -> AppearanceOptions:
        configured = self.config.appearances.get(kind)
        if configured is None:
            raise Refusal(200, Status.NOT_CONFIGURED,
                          _("this computer is not set up for this kind of signature "
                            "([appearance.{kind}] in the service's configuration)").format(
                              kind=kind), decision="not-configured")
        try:
            return appearance_for(kind, configured, doc_number=request.doc_number,
                                  issued=request.issued)
        except BadInputError as exc:
            raise Refusal(400, Status.BAD_REQUEST, error_text(exc),
                          decision="bad-request") from exc

    def _run(self, kind: str, call: str, origin: str, request: VgcaRequest,
             request_id: str, look: AppearanceOptions) -> Outcome:
        policy = UrlPolicy(origin, self.config.file_origins.get(origin, ()),
                           resolver=self.resolver)
        targets = [policy.check(url, "FileName") for url in request.files]
        destination = policy.check(request.upload, "FileUploadHandler")
        credentials = Credentials(request.session_id, request.jwt, self.config.session_cookie)
        try:
            documents = self._fetch(targets, credentials)
        except DocumentError as exc:
            raise Refusal(200, Status.DOCUMENT, str(exc), decision="fetch-failed") from exc
        consent = ConsentRequest(
            origin=origin, call=call, role=_(ROLES[kind]), certificate="",
            certificate_serial="", stamp_text=stamp_text(look),
            files=tuple(ConsentFile(name=d.name, url=d.target.url, size=len(d.data),
                                    pages=d.pages, sha256=d.sha256) for d in documents),
            pin_needed=False)
        folder = Path(tempfile.mkdtemp(prefix="signsvc-"))  # mode 0700
        try:
            return self._sign(call, origin, request, request_id, look, documents, consent,
                              destination, credentials, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _fetch(self, targets: Sequence[Target], credentials: Credentials) -> list[_Fetched]:
        limits = self.config.limits
        total = 0
        documents = []
        for target in targets:
            room = min(limits.max_file_bytes, limits.max_batch_bytes - total)
            if room <= 0:
                raise DocumentError(target.url, _("the batch is larger than {limit} "
                                                  "bytes").format(limit=limits.max_batch_bytes))
            data = download(target, credentials, max_bytes=room)
            total += len(data)
            documents.append(_Fetched(target, document_name(target), data,
                                      hashlib.sha256(data).hexdigest(), _pages(data)))
        return documents

    def _ask(self, consent: ConsentRequest) -> ConsentAnswer:
        with self.consent_lock:
            try:
                return self.confirmer.confirm(consent)
            except Exception:  # consent-contract: a failing confirmer denies
                return ConsentAnswer(False, reason="error")

    def _sign(self, call: str, origin: str, request: VgcaRequest, request_id: str,
              look: AppearanceOptions, documents: list[_Fetched], consent: ConsentRequest,
              destination: Target, credentials: Credentials, folder: Path) -> Outcome:
        import signsvc.tokens
        from drivers import PROTECTED_AUTH, TokenError
        from signsvc.sign._certcheck import check_signing_certificate
        from signsvc.sign.batch import login_result, sign_batch
        from signsvc.sign.journal import AuditJournal
        from signsvc.sign.results import SignStatus

        token = self.config.token
        modules = [token.module] if token.module is not None else []
        record: dict[str, Any] = {"origin": origin, "call": call}
        inputs = []
        for number, document in enumerate(documents, start=1):
            path = folder / "in" / f"{number:03d}.pdf"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(document.data)
            inputs.append(path)
        state: dict[str, Any] = {"answer": None}

        def decide(certificate: str, serial: str, pin_needed: bool) -> None:
            record.update(serial=serial or None, subject=certificate)
            answer = self._ask(_with(consent, certificate=certificate,
                                     certificate_serial=serial, pin_needed=pin_needed))
            if not answer.approved:
                raise _Denied(answer)
            state["answer"] = answer

        try:
            with contextlib.ExitStack() as stack:
                journal = stack.enter_context(AuditJournal.open(self.journal_path))
                _module, info = signsvc.tokens.find_token(modules, label=token.label,
                                                          serial=token.serial)
                pin_needed = (info.flags.login_required and self.pin_env is None
                              and not info.flags.protected_auth_path)

                def check(certificate: x509.Certificate,
                          chain: Sequence[x509.Certificate]) -> None:
                    check_signing_certificate(certificate, at=datetime.now(UTC),
                                              intermediates=chain)
                    if state["answer"] is None:
                        decide(_subject(certificate), format(certificate.serial_number, "x"),
                               pin_needed)

                def pin(chosen: drivers.TokenInfo) -> Any:
                    if state["answer"] is None:
                        # A token that shows its certificate only after login: the
                        # official is asked before it, without the certificate.
                        decide(_("(shown by the token only after the PIN)"), "", pin_needed)
                    answer: ConsentAnswer = state["answer"]
                    if answer.pin:
                        return answer.pin
                    if self.pin_env is not None:
                        value = os.environ.get(self.pin_env)
                        if not value:
                            raise PinSourceError(_("--pin-env {name}: the variable is unset "
                                                   "or empty").format(name=self.pin_env))
                        return value
                    if chosen.flags.protected_auth_path:
                        return PROTECTED_AUTH
                    raise PinSourceError(_("no PIN: this confirmation gives none; start the "
                                           "service with --pin-env VAR"))

                def on_login(chosen: drivers.TokenInfo, error: BaseException | None) -> None:
                    journal.record_login(login_result(error), token=chosen.label,
                                         serial=chosen.serial, module=str(chosen.module),
                                         error=None if error is None else str(error),
                                         batch=request_id)

                key = stack.enter_context(signsvc.tokens.open_token_key(
                    modules, label=token.label, serial=token.serial, cert_id=token.cert_id,
                    pin=pin, check=check, on_login=on_login))
                results = sign_batch(inputs, folder / "out", key, journal=journal,
                                     level=self.config.sign.level,
                                     tsa_url=self.config.sign.tsa_url,
                                     reason=self.config.sign.reason, appearance=look)
        except _Denied as denied:
            self.audit.decision(request_id, decision="denied", error=denied.answer.reason,
                                **record)
            return Outcome(200, reply(Status.DENIED, _("denied by the user")))
        except (TokenError, PinSourceError) as exc:
            self.audit.decision(request_id, decision="token-error", error=str(exc), **record)
            return Outcome(200, reply(Status.TOKEN, _scrub(error_text(exc), folder, inputs,
                                                           documents)))
        except SignsvcError as exc:
            self.audit.decision(request_id, decision="signing-failed", error=str(exc),
                                **record)
            return Outcome(200, reply(Status.SIGNING, _scrub(error_text(exc), folder, inputs,
                                                             documents)))
        files = []
        for document, result in zip(documents, results, strict=True):
            if result.status is not SignStatus.SIGNED or result.output is None:
                error = _scrub(error_text(result.exception) if result.exception is not None
                               else result.error or "", folder, inputs, documents)
                files.append(self._file(request, Status.SIGNING, error, document.name))
                self.audit.file(FileRecord(request_id, document.target.url, document.sha256,
                                           None, destination.url, "not-signed"))
                continue
            signed = result.output.read_bytes()
            try:
                server = upload(destination, credentials, document.name, signed)
            except DocumentError as exc:
                files.append(self._file(request, Status.DOCUMENT, str(exc), document.name))
                self.audit.file(FileRecord(request_id, document.target.url, document.sha256,
                                           result.output_sha256, destination.url,
                                           exc.reason))
                continue
            files.append(self._file(request, Status.OK, _("signed"), document.name,
                                    server=server))
            self.audit.file(FileRecord(request_id, document.target.url, document.sha256,
                                       result.output_sha256, destination.url, "uploaded"))
        signed_count = sum(f["Status"] == Status.OK for f in files)
        failed = signed_count != len(files)
        self.audit.decision(request_id, decision="failed" if failed else "signed",
                            error=next((f["Message"] for f in files if f["Status"]), None),
                            **record)
        if not request.batch:
            return Outcome(200, files[0])
        status = Status.OK if not failed else next(Status(f["Status"]) for f in files
                                                    if f["Status"])
        return Outcome(200, reply(
            status, _("{signed} of {total} documents signed and uploaded").format(
                signed=signed_count, total=len(files)),
            DocumentNumber=request.doc_number or "", DocumentDate=request.issued_text or "",
            Files=files))

    @staticmethod
    def _file(request: VgcaRequest, status: Status, message: str, name: str, *,
              server: str = "") -> dict[str, Any]:
        return reply(status, message, FileName=name, FileServer=server,
                     DocumentNumber=request.doc_number or "",
                     DocumentDate=request.issued_text or "")


def _scrub(message: str, folder: Path, inputs: Sequence[Path],
           documents: Sequence[_Fetched]) -> str:
    """``message`` without a local path: the page must not learn the official's file
    system (SERVICE-DESIGN §3.3). A temporary copy is named by the document's own
    name, anything else under the private folder by "…"."""
    for path, document in zip(inputs, documents, strict=True):
        message = message.replace(str(path), document.name)
    message = message.replace(str(folder), "…")
    home = str(Path.home())
    return message.replace(home, "~") if len(home) > 1 else message


def _with(consent: ConsentRequest, **changes: Any) -> ConsentRequest:
    from dataclasses import replace

    return replace(consent, **changes)

