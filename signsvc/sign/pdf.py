"""Sign one PDF with a token or PKCS#12 key: PAdES baseline B-B, B-T, B-LT, B-LTA.

pyHanko writes the signature (incremental update, so earlier signatures stay valid);
signsvc chooses the settings, builds the CMS once per document
(:mod:`signsvc.sign._template`), reserves the signature space instead of letting pyHanko size it
with a dry run, and writes the output atomically. The input is only ever read.

Example::

    >>> from drivers import Pkcs12Key
    >>> from signsvc import sign_pdf
    >>> key = Pkcs12Key.load(Path("certs_test/official-rsa2048.p12"), "1234")  # doctest: +SKIP
    >>> result = sign_pdf(Path("in.pdf"), Path("out/in.pdf"), key)  # doctest: +SKIP
    >>> result.output_sha256  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import io
import os
import struct
import threading
import time
import unicodedata
import uuid
import zlib
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from drivers import KeySigner, TokenError
from signsvc._files import place, sha256_hex, write_temporary
from signsvc.appearance.profiles import AppearanceMaker, AppearanceOptions
from signsvc.errors import (
    AppearanceError,
    BadInputError,
    OutputError,
    SigningError,
    SignsvcError,
    TimestampError,
)
from signsvc.sign._document import choose_field, open_writer, read_input
from signsvc.sign.results import Level, Phase, SignResult, SignStatus

__all__ = ["DocumentSigner", "Prepared", "SignKeywords", "SignOptions", "sign_pdf"]

_T = TypeVar("_T")

_EXISTS = "exists already (use overwrite/--overwrite or --resume)"

_PDF_DAMAGE: tuple[type[BaseException], ...] = (
    zlib.error, struct.error, KeyError, IndexError, TypeError, AttributeError, ValueError,
    UnicodeError, RecursionError, OverflowError, AssertionError, EOFError,
    NotImplementedError)
"""What pyHanko's reader and writer raise, besides PdfError, on a damaged document
(seen by the fuzz tests: a corrupted object stream gives zlib.error, a cut number
table struct.error, a loop of references RecursionError)."""


@dataclass(frozen=True)
class Prepared:
    """A document signed into a temporary file, not yet under its name."""

    result: SignResult
    """Signed (with ``output`` and its SHA-256) or failed."""
    temporary: Path | None
    """The complete, fsync'ed signed file beside ``result.output``; None when failed."""


def _ignore(phase: Phase) -> None:
    pass


def _described(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "error":  # zlib.error, struct.error: the module says what failed
        name = f"{type(exc).__module__}.{name}"
    text = str(exc)
    return f"{name}: {text}" if text else name


def _output_error(output: Path, exc: OSError) -> OutputError:
    if isinstance(exc, FileExistsError):
        return OutputError(_EXISTS, path=output)
    return OutputError(f"cannot write: {exc.strerror or exc}", path=output)


def remove_file(path: Path) -> None:
    """Remove ``path`` if it is there (best effort: a temporary the caller gives up)."""
    with contextlib.suppress(OSError):
        path.unlink()


class SignKeywords(TypedDict, total=False):
    """The signing options as keywords: how :func:`sign_pdf`, ``sign_batch`` and
    ``sign_iter`` take them (each is the :class:`SignOptions` field of that name)."""

    level: Level | str
    tsa_url: str | None
    tsa_auth: tuple[str, str] | None
    reason: str | None
    location: str | None
    field: str | None
    hash_algorithm: str
    pss: bool
    chain: Sequence[x509.Certificate]
    trust: Sequence[x509.Certificate]
    password: str | None
    overwrite: bool
    timeout: float
    appearance: AppearanceOptions | None
    force: bool


@dataclass(frozen=True)
class SignOptions:
    """How to sign; the same for every document of a batch."""

    level: Level = Level.B_B
    """PAdES baseline level."""
    tsa_url: str | None = None
    """RFC 3161 time-stamping authority; required from B-T up."""
    tsa_auth: tuple[str, str] | None = None
    """HTTP basic authentication (user, password) for the TSA."""
    reason: str | None = None
    """``/Reason`` of the signature dictionary, e.g. "Phê duyệt"."""
    location: str | None = None
    """``/Location``, e.g. "Cần Thơ"."""
    field: str | None = None
    """Signature field to fill or create; default: the first free ``SignatureN``."""
    hash_algorithm: str = "sha256"
    """Document and signed-attribute digest."""
    pss: bool = False
    """RSASSA-PSS instead of PKCS#1 v1.5 for RSA keys."""
    chain: tuple[x509.Certificate, ...] = ()
    """Intermediates (and roots) to embed when the token does not hold them."""
    trust: tuple[x509.Certificate, ...] = ()
    """Trust anchors for B-LT/B-LTA revocation collection (the chain's self-signed
    certificates are used too)."""
    password: str | None = None
    """User password of encrypted inputs."""
    overwrite: bool = False
    """Replace an existing output instead of failing."""
    timeout: float = 10.0
    """Seconds allowed for each TSA request (CRL and OCSP fetches use pyHanko's 10 s)."""
    appearance: AppearanceOptions = dataclasses.field(default_factory=AppearanceOptions)
    """How the signature looks (Decree 30/2020 App. I profile); invisible by default."""
    force: bool = False
    """Sign even with a certificate signsvc refuses (expired, not yet valid, no
    signing key usage, no chain to ``trust``); each such signature says so in its
    result's ``note`` and in the journal."""

    @classmethod
    def from_keywords(cls, keywords: SignKeywords) -> SignOptions:
        """The options the keywords of :class:`SignKeywords` describe.

        Raises:
            TypeError: a keyword that is not an option.
            BadInputError: an unusable combination (a level that needs a TSA without
                one).
        """
        values: dict[str, Any] = dict(keywords)
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown signing option(s): {', '.join(sorted(unknown))}")
        for name in ("chain", "trust"):
            if name in values:
                values[name] = tuple(values[name])
        if values.get("appearance") is None:
            values.pop("appearance", None)
        return cls(**values)

    def __post_init__(self) -> None:
        level = Level(self.level)
        object.__setattr__(self, "level", level)
        for name in ("reason", "location", "field"):
            value = getattr(self, name)
            if value is not None:
                # Text as people type it: precomposed (NFC), as TCVN 6909:2001 writes
                # Vietnamese, whatever the keyboard sent.
                object.__setattr__(self, name, unicodedata.normalize("NFC", value))
        if level.needs_tsa and not self.tsa_url:
            raise BadInputError(f"level {level.value} needs a time-stamping authority URL")


def sign_pdf(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    signer: KeySigner,
    **options: Unpack[SignKeywords],
) -> SignResult:
    """Sign ``input`` into ``output`` (a new file, written atomically).

    Args:
        input: the PDF to sign (only read).
        output: where the signed PDF goes; never the input.
        signer: a token key (:func:`signsvc.open_token_key`) or a
            :class:`drivers.Pkcs12Key`.
        options: how to sign, the fields of :class:`SignOptions` (``level``,
            ``tsa_url``, ``reason``, ``appearance``, ...), the same keywords as
            :func:`~signsvc.sign.batch.sign_batch` takes.

    Returns:
        The result, with ``status == "signed"``.

    Raises:
        CertificateUnusableError: the signer's certificate is expired, not yet
            valid, not for signing, or (with ``trust``) has no valid chain, and not
            ``force``; nothing was signed.
        BadInputError: the input is not a usable PDF (not a PDF, damaged, encrypted
            without ``password``, field already signed).
        OutputError: the output exists (and not ``overwrite``) or cannot be written.
        SigningError: the TSA or revocation sources failed.
        drivers.TokenError: the token refused or disappeared.
    """
    from signsvc.sign._certcheck import check_signing_certificate

    settings = SignOptions.from_keywords(options)
    note = check_signing_certificate(
        signer.certificate, at=datetime.now(UTC), trust=settings.trust,
        intermediates=[*signer.chain, *settings.chain], force=settings.force)
    with DocumentSigner(signer, settings) as worker:
        result = worker.sign(Path(input), Path(output))
    if result.exception is not None:
        raise result.exception
    return replace(result, note=note)


class DocumentSigner:
    """Signs documents one after another with fixed options (one per thread).

    Holds what is worth keeping between documents: the pyHanko signer and its CMS
    template, the reserved signature size, the TSA client, the validation context
    (its CRL/OCSP cache) and an event loop, so pyHanko's asynchronous API runs
    without ``asyncio.run`` per document.
    """

    def __init__(self, key: KeySigner, options: SignOptions) -> None:
        from signsvc.sign._network import NamedTimeStamper
        from signsvc.sign._template import TemplateSigner

        self.key = key
        self.options = options
        self._pyhanko_signer = TemplateSigner(key, extra_certs=options.chain, pss=options.pss)
        self._timestamper = None
        if options.level.needs_tsa:
            assert options.tsa_url is not None
            headers = {}
            if options.tsa_auth is not None:
                # RFC 7617 basic credentials as a header: aiohttp deprecates auth=.
                pair = ":".join(options.tsa_auth).encode()
                headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
            self._timestamper = NamedTimeStamper(
                options.tsa_url, headers=headers, timeout=options.timeout)
        self._validation_context: Any = None
        self._context_made = 0.0
        self._bytes_reserved: int | None = None
        self._look = AppearanceMaker(options.appearance)
        self._loop = _LoopRunner()
        self._thread = threading.get_ident()

    def __enter__(self) -> DocumentSigner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release HTTP sessions and the event loop."""
        if self._loop.closed:
            return
        if self._validation_context is not None:
            with contextlib.suppress(Exception):  # closing sessions must not mask a result
                self._loop.run(self._validation_context.aclose())
        self._loop.close()

    def sign(self, input: Path, output: Path) -> SignResult:
        """Sign one document into ``output`` (written atomically); every failure is
        returned in the result, never raised."""
        from signsvc.sign._batchlock import BatchLock

        # A tag of its own, held like a batch's: a batch starting meanwhile in the same
        # folder leaves this temporary alone (it removes only dead runs' ones).
        tag = uuid.uuid4().hex[:12]
        with BatchLock(tag):
            prepared = self.prepare(input, output, tag=tag)
            if prepared.temporary is None:
                return prepared.result
            try:
                place(prepared.temporary, output, overwrite=self.options.overwrite)
            except OSError as exc:
                remove_file(prepared.temporary)
                error = _output_error(output, exc)
                return replace(prepared.result, output=None, status=SignStatus.FAILED,
                               output_sha256=None, error=str(error),
                               error_type=type(error).__name__, exception=error)
        return prepared.result

    def prepare(self, input: Path, output: Path, *, tag: str,
                on_phase: Callable[[Phase], None] | None = None) -> Prepared:
        """Sign one document into a complete temporary file beside ``output``
        (:func:`signsvc._files.write_temporary` with ``tag``), not yet under its name:
        the caller journals it, then gives it its name (:func:`signsvc._files.place`).

        Every failure is returned in the result, never raised: whatever a damaged
        document makes the PDF stack raise fails that document alone, named.
        """
        base = SignResult(input=input, output=None, status=SignStatus.FAILED,
                          certificate=self.key.certificate, level=self.options.level)
        tell = on_phase or _ignore
        try:
            tell("reading")
            data = read_input(input, output)
            base = replace(base, input_sha256=sha256_hex(data))
            if not self.options.overwrite and os.path.lexists(output):
                # Refused before the token signs anything (link(2) refuses it again
                # at the end, should it appear meanwhile).
                raise OutputError(_EXISTS, path=output)
            signed, field_name, moment = self._sign_bytes(input, data, tell)
            tell("writing")
            try:
                temporary = write_temporary(output, signed, tag=tag)
            except OSError as exc:
                raise _output_error(output, exc) from exc
            result = replace(base, output=output, status=SignStatus.SIGNED,
                             output_sha256=sha256_hex(signed), signing_time=moment,
                             field=field_name)
            return Prepared(result, temporary)
        except (SignsvcError, TokenError) as exc:
            failed = exc
        except Exception as exc:
            # Not the document (its failures are BadInputError by now) nor the network:
            # a defect of signsvc. Still this document's failure only, and said so.
            failed = SigningError(f"internal error while signing ({_described(exc)}); "
                                  "please report it", path=input)
            failed.__cause__ = exc
        return Prepared(replace(base, error=str(failed), error_type=type(failed).__name__,
                                exception=failed), None)

    def _sign_bytes(self, input: Path, data: bytes,
                    tell: Callable[[Phase], None]) -> tuple[bytes, str, datetime]:
        if threading.get_ident() != self._thread:
            raise RuntimeError("a DocumentSigner belongs to the thread that made it")
        password = self.options.password
        try:
            writer = open_writer(input, data, password)
            field_name, exists = choose_field(input, writer, self.options.field)
            moment = datetime.now(UTC).replace(microsecond=0)
            plans: list[Any] = []
            if self._look.visible:
                plans = self._look.plan(
                    writer=writer, data=data, input=input, password=password,
                    signer_name=_name_part(self.key.certificate, NameOID.COMMON_NAME) or "",
                    organisation=_name_part(self.key.certificate, NameOID.ORGANIZATION_NAME),
                    moment=moment)
        except (BadInputError, AppearanceError) as exc:
            if exc.path is not None:
                raise
            # The appearance layer's readers know bytes, not files: name the file here,
            # so the message says which document of the batch it is.
            named = (BadInputError(exc.reason, path=input) if isinstance(exc, BadInputError)
                     else AppearanceError(exc.reason, path=input, characters=exc.characters))
            raise named from exc
        except (SignsvcError, TokenError):
            raise
        except Exception as exc:
            # Reading the document and drawing its appearance touch only the document.
            raise BadInputError(f"damaged PDF ({_described(exc)})", path=input) from exc
        tell("signing")
        signed = data
        for number, plan in enumerate(plans or [None]):
            if number > 0:
                # Issuance text on another page than the seal: a further signature, on
                # the output so far (an incremental update again).
                writer = open_writer(input, signed, password)
                field_name, exists = choose_field(input, writer, None)
            signed = self._apply(input, writer, field_name, exists, plan)
        return signed, field_name, moment

    def _apply(self, input: Path, writer: Any, field_name: str, exists: bool,
               plan: Any) -> bytes:
        """One pyHanko signature on ``writer``: the output's bytes."""
        from pyhanko.pdf_utils.misc import PdfError
        from pyhanko.sign.fields import SigFieldSpec
        from pyhanko.sign.general import SigningError as PyHankoSigningError
        from pyhanko.sign.signers import PdfSigner

        from signsvc.sign._network import FetchFailures, signing_error

        stamp_style = field_spec = None
        if plan is not None:
            stamp_style = plan.stamp_style
            if not exists:
                x0, y0, x1, y1 = (round(v) for v in plan.box)  # pyHanko wants ints
                field_spec = SigFieldSpec(field_name, on_page=plan.page, box=(x0, y0, x1, y1))
        pdf_signer = PdfSigner(self._metadata(field_name), signer=self._pyhanko_signer,
                               timestamper=self._timestamper, stamp_style=stamp_style,
                               new_field_spec=field_spec)
        out = io.BytesIO()
        failures = FetchFailures()
        try:
            reserved = self._reserve()
            with failures if self.options.level.needs_revocation else contextlib.nullcontext():
                self._loop.run(pdf_signer.async_sign_pdf(
                    writer, bytes_reserved=reserved, output=out))
        except TimestampError as exc:
            if exc.path is not None:
                raise
            raise TimestampError(exc.url, exc.cause, path=input) from exc.__cause__
        except (TokenError, SignsvcError):
            raise  # the token's refusal, or signsvc's own words already
        except PyHankoSigningError as exc:
            raise signing_error(exc, failures.found, [self.key.certificate, *self.key.chain,
                                                      *self.options.chain], input) from exc
        except PdfError as exc:
            raise BadInputError(f"pyHanko cannot sign this PDF: {exc}", path=input) from exc
        except _PDF_DAMAGE as exc:
            # pyHanko reads objects lazily: a damaged object stream or content is met
            # while the update is written.
            raise BadInputError(f"damaged PDF ({_described(exc)})", path=input) from exc
        except (OSError, TimeoutError) as exc:
            raise SigningError(f"network or file error while signing: {exc}",
                               path=input) from exc
        except Exception as exc:
            # aiohttp, asn1crypto, pyhanko_certvalidator: one document fails, with the
            # cause named.
            raise SigningError(_described(exc), path=input) from exc
        return out.getvalue()

    def _current_context(self) -> Any:
        """The validation context, renewed each minute.

        pyHanko fixes a context's validation time when it is made and drops OCSP
        responses produced after that time (beyond its tolerance) as "too new", so one
        context cannot serve a long batch; within a minute its CRL/OCSP cache is reused.
        """
        if not self.options.level.needs_revocation:
            return None
        if self._validation_context is None or time.monotonic() - self._context_made > 60:
            if self._validation_context is not None:
                self._loop.run(self._validation_context.aclose())
            self._validation_context = _validation_context(self.key, self.options)
            self._context_made = time.monotonic()
        return self._validation_context

    def _metadata(self, field_name: str) -> Any:
        from pyhanko.sign.fields import SigSeedSubFilter
        from pyhanko.sign.signers import PdfSignatureMetadata

        level = self.options.level
        return PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm=self.options.hash_algorithm,
            reason=self.options.reason,
            location=self.options.location,
            subfilter=SigSeedSubFilter.PADES,
            embed_validation_info=level.needs_revocation,
            use_pades_lta=level is Level.B_LTA,
            validation_context=self._current_context(),
            # Vietnamese signing certificates carry digitalSignature and
            # nonRepudiation; requiring either keeps older certificates usable.
            signer_key_usage={"digital_signature"},
        )

    def _reserve(self) -> int:
        """Bytes reserved for /Contents: measured once on the real CMS (RFC 3161
        tokens included) with a margin, so pyHanko never sizes it with a dry run."""
        if self._bytes_reserved is None:
            digest = bytes(hashlib.new(self.options.hash_algorithm).digest_size)
            sample = self._loop.run(self._pyhanko_signer.async_sign(
                digest, self.options.hash_algorithm, dry_run=True, use_pades=True,
                timestamper=self._timestamper))
            size = len(sample.dump())
            # Hex doubles the size; TSA tokens vary by a few bytes (serial, time, nonce).
            margin = 1024 if self._timestamper is None else 4096
            self._bytes_reserved = 2 * (size + margin)
        return self._bytes_reserved


class _LoopRunner:
    """Runs pyHanko's coroutines for a synchronous caller, inside an event loop too.

    The library API is synchronous. Called from a plain thread, the coroutines run on
    a private loop in that thread. Called from a coroutine (a web service's handler),
    that thread already runs a loop and a second one cannot run there ("Cannot run
    the event loop while another loop is running"), so the private loop moves to a
    thread of its own and the call waits for it: the caller's loop is blocked for the
    signature, as by any synchronous call (offload with ``asyncio.to_thread`` to
    keep it responsive).
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._runner: threading.Thread | None = None

    @property
    def closed(self) -> bool:
        return self._loop.is_closed()

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        if self._runner is None and not _loop_running():
            return self._loop.run_until_complete(coroutine)
        if self._runner is None:
            self._runner = threading.Thread(target=self._loop.run_forever,
                                            name="signsvc-pyhanko-loop", daemon=True)
            self._runner.start()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        if self._runner is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._runner.join()
        self._loop.close()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _name_part(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = certificate.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _validation_context(key: KeySigner, options: SignOptions) -> Any:
    from asn1crypto import x509 as asn1x509
    from pyhanko_certvalidator import ValidationContext

    def asn1(cert: x509.Certificate) -> Any:
        return asn1x509.Certificate.load(cert.public_bytes(Encoding.DER))

    pool = [key.certificate, *key.chain, *options.chain]
    roots = [*options.trust, *(c for c in pool if c.issuer == c.subject)]
    if not roots:
        raise BadInputError(
            f"level {options.level.value} needs the root certificate of the signer's chain "
            "(from the token, --chain or --trust) to collect revocation data")
    # hard-fail: a B-LT file without its revocation data would fail offline later,
    # so refuse now and say why.
    return ValidationContext(
        trust_roots=_unique(asn1(c) for c in roots),
        other_certs=_unique(asn1(c) for c in pool),
        allow_fetching=True, revocation_mode="hard-fail",
        # OCSP responders stamp thisUpdate "now"; allow for clock skew between them
        # and this machine.
        time_tolerance=timedelta(minutes=5))


def _unique(items: Iterable[Any]) -> list[Any]:
    seen: dict[bytes, Any] = {}
    for item in items:
        seen.setdefault(item.dump(), item)
    return list(seen.values())
