"""Sign one PDF with a token or PKCS#12 key: PAdES baseline B-B, B-T, B-LT, B-LTA.

pyHanko writes the signature (incremental update, so earlier signatures stay valid);
signsvc chooses the settings, builds the CMS once per document
(:mod:`signsvc._cms`), reserves the signature space instead of letting pyHanko size it
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
import dataclasses
import hashlib
import io
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from drivers import KeySigner, TokenError
from signsvc._files import atomic_write, sha256_hex
from signsvc.appearance import AppearanceMaker, AppearanceOptions
from signsvc.errors import BadInputError, OutputError, SigningError, SignsvcError

__all__ = ["Level", "SignOptions", "SignResult", "sign_pdf"]


class Level(StrEnum):
    """PAdES baseline levels (ETSI EN 319 142-1 §6)."""

    B_B = "B-B"
    """Signature only."""
    B_T = "B-T"
    """Plus an RFC 3161 signature time-stamp."""
    B_LT = "B-LT"
    """Plus the certificates, CRLs and OCSP responses in the DSS (offline validation)."""
    B_LTA = "B-LTA"
    """Plus a document time-stamp over everything."""

    @property
    def needs_tsa(self) -> bool:
        return self is not Level.B_B

    @property
    def needs_revocation(self) -> bool:
        return self in (Level.B_LT, Level.B_LTA)


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

    def __post_init__(self) -> None:
        level = Level(self.level)
        object.__setattr__(self, "level", level)
        if level.needs_tsa and not self.tsa_url:
            raise BadInputError(f"level {level.value} needs a time-stamping authority URL")


@dataclass(frozen=True)
class SignResult:
    """What happened to one document."""

    input: Path
    """The input document (never modified)."""
    output: Path | None
    """The signed document; None when nothing was written."""
    status: str
    """"signed", "failed" or "skipped" (already signed, ``resume``)."""
    input_sha256: str | None = None
    """SHA-256 of the input as read (hex); None if it could not be read."""
    output_sha256: str | None = None
    """SHA-256 of the output (hex)."""
    signing_time: datetime | None = None
    """When the signature was made (UTC, whole seconds as in ``/M``)."""
    certificate: x509.Certificate | None = None
    """The signer's certificate."""
    level: Level | None = None
    """PAdES level applied."""
    field: str | None = None
    """Signature field name used."""
    error: str | None = None
    """Why it failed, for the user; None on success."""
    error_type: str | None = None
    """Class name of the error (``BadInputError``, ``PinLockedError``, ...)."""
    exception: BaseException | None = dataclasses.field(default=None, repr=False, compare=False)
    """The exception itself (not serialised)."""

    @property
    def ok(self) -> bool:
        """True unless the document failed."""
        return self.status != "failed"

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object of ``signsvc sign``: a contract other tools parse."""
        cert = self.certificate
        return {
            "input": str(self.input),
            "output": str(self.output) if self.output else None,
            "status": self.status,
            "error": self.error,
            "error_type": self.error_type,
            "sha256": self.output_sha256,
            "input_sha256": self.input_sha256,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "level": self.level.value if self.level else None,
            "field": self.field,
            "signer": cert.subject.rfc4514_string() if cert else None,
            "signer_serial": format(cert.serial_number, "x") if cert else None,
        }


def sign_pdf(
    input: Path,
    output: Path,
    signer: KeySigner,
    *,
    level: Level | str = Level.B_B,
    tsa_url: str | None = None,
    tsa_auth: tuple[str, str] | None = None,
    reason: str | None = None,
    location: str | None = None,
    field: str | None = None,
    hash_algorithm: str = "sha256",
    pss: bool = False,
    chain: Sequence[x509.Certificate] = (),
    trust: Sequence[x509.Certificate] = (),
    password: str | None = None,
    overwrite: bool = False,
    timeout: float = 10.0,
    appearance: AppearanceOptions | None = None,
) -> SignResult:
    """Sign ``input`` into ``output`` (a new file, written atomically).

    Returns:
        The result, with ``status == "signed"``.

    Raises:
        BadInputError: the input is not a usable PDF (not a PDF, damaged, encrypted
            without ``password``, field already signed).
        OutputError: the output exists (and not ``overwrite``) or cannot be written.
        SigningError: the TSA or revocation sources failed.
        drivers.TokenError: the token refused or disappeared.
    """
    options = SignOptions(
        level=Level(level), tsa_url=tsa_url, tsa_auth=tsa_auth, reason=reason,
        location=location, field=field, hash_algorithm=hash_algorithm, pss=pss,
        chain=tuple(chain), trust=tuple(trust), password=password, overwrite=overwrite,
        timeout=timeout, appearance=appearance or AppearanceOptions())
    with DocumentSigner(signer, options) as worker:
        result = worker.sign(input, output)
    if result.exception is not None:
        raise result.exception
    return result


class DocumentSigner:
    """Signs documents one after another with fixed options (one per thread).

    Holds what is worth keeping between documents: the pyHanko signer and its CMS
    template, the reserved signature size, the TSA client, the validation context
    (its CRL/OCSP cache) and an event loop, so pyHanko's asynchronous API runs
    without ``asyncio.run`` per document.
    """

    def __init__(self, key: KeySigner, options: SignOptions) -> None:
        from pyhanko.sign.timestamps import HTTPTimeStamper

        from signsvc._cms import TemplateSigner

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
            self._timestamper = HTTPTimeStamper(
                options.tsa_url, headers=headers, timeout=options.timeout)
        self._validation_context: Any = None
        self._context_made = 0.0
        self._bytes_reserved: int | None = None
        self._look = AppearanceMaker(options.appearance)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.get_ident()

    def __enter__(self) -> DocumentSigner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release HTTP sessions and the event loop."""
        if self._loop.is_closed():
            return
        if self._validation_context is not None:
            self._loop.run_until_complete(self._validation_context.aclose())
        self._loop.close()

    def sign(self, input: Path, output: Path) -> SignResult:
        """Sign one document; every failure is returned in the result, never raised."""
        base = SignResult(input=input, output=None, status="failed",
                          certificate=self.key.certificate, level=self.options.level)
        try:
            data = _read_input(input, output)
            base = replace(base, input_sha256=sha256_hex(data))
            signed, field_name, moment = self._sign_bytes(input, data)
            try:
                atomic_write(output, signed, overwrite=self.options.overwrite)
            except FileExistsError as exc:
                raise OutputError("exists already (use overwrite/--overwrite or --resume)",
                                  path=output) from exc
            except OSError as exc:
                raise OutputError(f"cannot write: {exc.strerror or exc}", path=output) from exc
            return replace(base, output=output, status="signed",
                           output_sha256=sha256_hex(signed), signing_time=moment,
                           field=field_name)
        except (SignsvcError, TokenError) as exc:
            return replace(base, error=str(exc), error_type=type(exc).__name__, exception=exc)

    def _sign_bytes(self, input: Path, data: bytes) -> tuple[bytes, str, datetime]:
        if threading.get_ident() != self._thread:
            raise RuntimeError("a DocumentSigner belongs to the thread that made it")
        password = self.options.password
        writer = _open_writer(input, data, password)
        field_name, exists = _choose_field(input, writer, self.options.field)
        moment = datetime.now(UTC).replace(microsecond=0)
        plans: list[Any] = []
        if self._look.visible:
            plans = self._look.plan(
                writer=writer, data=data, input=input, password=password,
                signer_name=_name_part(self.key.certificate, NameOID.COMMON_NAME) or "",
                organisation=_name_part(self.key.certificate, NameOID.ORGANIZATION_NAME),
                moment=moment)
        signed = data
        for number, plan in enumerate(plans or [None]):
            if number > 0:
                # Issuance text on another page than the seal: a further signature, on
                # the output so far (an incremental update again).
                writer = _open_writer(input, signed, password)
                field_name, exists = _choose_field(input, writer, None)
            signed = self._apply(input, writer, field_name, exists, plan)
        return signed, field_name, moment

    def _apply(self, input: Path, writer: Any, field_name: str, exists: bool,
               plan: Any) -> bytes:
        """One pyHanko signature on ``writer``: the output's bytes."""
        from pyhanko.pdf_utils.misc import PdfError
        from pyhanko.sign.fields import SigFieldSpec
        from pyhanko.sign.general import SigningError as PyHankoSigningError
        from pyhanko.sign.signers import PdfSigner

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
        try:
            reserved = self._reserve()
            self._loop.run_until_complete(pdf_signer.async_sign_pdf(
                writer, bytes_reserved=reserved, output=out))
        except TokenError:
            raise
        except PyHankoSigningError as exc:
            raise SigningError(_pyhanko_reason(exc), path=input) from exc
        except PdfError as exc:
            raise BadInputError(f"pyHanko cannot sign this PDF: {exc}", path=input) from exc
        except (OSError, TimeoutError) as exc:
            raise SigningError(f"network or file error while signing: {exc}",
                               path=input) from exc
        except Exception as exc:
            # aiohttp, asn1crypto, pyhanko_certvalidator, and pyHanko's ValueError for
            # a TSA rejection (asn1crypto wants a token even in a rejection, RFC 3161
            # §2.4.2 forbids one): one document fails, with the cause named.
            raise SigningError(f"{type(exc).__name__}: {exc}", path=input) from exc
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
                self._loop.run_until_complete(self._validation_context.aclose())
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
            sample = self._loop.run_until_complete(self._pyhanko_signer.async_sign(
                digest, self.options.hash_algorithm, dry_run=True, use_pades=True,
                timestamper=self._timestamper))
            size = len(sample.dump())
            # Hex doubles the size; TSA tokens vary by a few bytes (serial, time, nonce).
            margin = 1024 if self._timestamper is None else 4096
            self._bytes_reserved = 2 * (size + margin)
        return self._bytes_reserved


def _read_input(input: Path, output: Path) -> bytes:
    if input.resolve() == output.resolve():
        raise BadInputError("the output would replace the input; choose another output",
                            path=input)
    try:
        data = input.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read: {exc.strerror or exc}", path=input) from exc
    # ISO 32000-1 §7.5.2 puts the header first; readers accept it in the first 1 KiB.
    if b"%PDF-" not in data[:1024]:
        what = "an empty file" if not data else "no %PDF- header"
        raise BadInputError(f"not a PDF ({what})", path=input)
    return data


def _open_writer(input: Path, data: bytes, password: str | None) -> Any:
    from pyhanko.pdf_utils.crypt import AuthStatus
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError

    try:
        # strict=False: tolerate what real-world producers get wrong (duplicate keys,
        # stray bytes), as viewers do; a broken xref is still refused by pyHanko.
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        if writer.prev.encrypted:
            if password is None:
                raise BadInputError("encrypted; give the document password "
                                    "(--pdf-password-env)", path=input)
            result = writer.encrypt(password)  # type: ignore[no-untyped-call]
            if result.status == AuthStatus.FAILED:
                raise BadInputError("encrypted; the document password is wrong", path=input)
        writer.root  # noqa: B018 - resolve the catalogue now so damage is reported here
    except PdfError as exc:
        raise BadInputError(f"damaged PDF: {exc}", path=input) from exc
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BadInputError(f"damaged PDF ({type(exc).__name__}: {exc})", path=input) from exc
    return writer


def _choose_field(input: Path, writer: Any, wanted: str | None) -> tuple[str, bool]:
    """The field to sign and whether it exists already (empty)."""
    from pyhanko.sign.fields import enumerate_sig_fields

    existing = {name: value for name, value, _ in enumerate_sig_fields(writer)}
    if wanted is not None:
        if wanted in existing and existing[wanted] is not None:
            raise BadInputError(f"signature field {wanted!r} is already signed", path=input)
        return wanted, wanted in existing
    number = 1
    while f"Signature{number}" in existing:
        number += 1
    return f"Signature{number}", False


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


def _pyhanko_reason(exc: Exception) -> str:
    text = str(exc)
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text

