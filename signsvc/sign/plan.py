"""What a batch will sign, decided before the token is touched.

:func:`plan_batch` maps every input to its output and checks all that can be checked
without a key: the input exists, can be read and is a PDF; its output is not the input
and no other input's; the output folder can be made; the output does not exist (unless
``overwrite``); with ``resume``, whether the output already holds this input signed;
and whether the input is signsvc's own output of another input of the same batch
(running ``signsvc sign in/ --suffix -da-ky`` twice must not sign ``qd-da-ky.pdf``
into ``qd-da-ky-da-ky.pdf``). Everything decided here is a result already; only the
rest are jobs. A command line plans first, and asks for the PIN only if there is
something to sign.

Example::

    >>> from signsvc.sign.plan import plan_batch
    >>> plan = plan_batch(["in/"], None, suffix="-da-ky", resume=True)  # doctest: +SKIP
    >>> len(plan.jobs), [r.skip_reason for r in plan.settled]  # doctest: +SKIP
    (0, ['already-signed', 'own-output'])
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from signsvc._files import sha256_hex
from signsvc._i18n import _, os_reason
from signsvc._inputs import InputFile
from signsvc.errors import BadInputError, OutputError
from signsvc.sign._runners import Job
from signsvc.sign.journal import AuditJournal, RecoveredOutput
from signsvc.sign.results import SignResult, SignStatus, SkipReason

__all__ = ["BatchPlan", "plan_batch", "plan_outputs"]

_HEADER_WINDOW = 1024
"""ISO 32000-1 §7.5.2 puts ``%PDF-`` first; readers accept it in the first 1 KiB."""


@dataclass(frozen=True)
class BatchPlan:
    """A batch, planned: what is left to sign and what is decided already."""

    jobs: tuple[Job, ...]
    """The documents to sign, in input order."""
    settled: tuple[SignResult, ...]
    """The documents decided without signing: failed (missing, not a PDF, output
    taken, ...) or skipped (already signed with ``resume``, or an own output)."""
    recovered: tuple[RecoveredOutput, ...] = ()
    """Outputs of killed batches the journal finished first (see
    :meth:`~signsvc.sign.journal.AuditJournal.recover`)."""
    out_dir: Path | None = None
    """The output folder, if the batch has one."""
    overwrite: bool = False
    """Existing outputs may be replaced."""

    @property
    def own_outputs(self) -> tuple[SignResult, ...]:
        """The inputs left out because they are signsvc's outputs of other inputs."""
        return tuple(r for r in self.settled if r.skip_reason is SkipReason.OWN_OUTPUT)

    @property
    def total(self) -> int:
        """Every input: jobs and settled results."""
        return len(self.jobs) + len(self.settled)


def plan_outputs(
    inputs: Iterable[str | os.PathLike[str] | InputFile],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    suffix: str | None = None,
) -> list[Job | SignResult]:
    """Map inputs to outputs: ``out_dir/RELATIVE`` or ``NAME<suffix>.pdf`` beside the
    input. RELATIVE is the input's name, or its path under the folder it was found in
    (:class:`~signsvc._inputs.InputFile`), so a folder's tree is mirrored.

    Returns a :class:`Job` per input, or a failed result when two inputs would write
    the same output (the second one fails; nothing is overwritten).
    """
    if (out_dir is None) == (suffix is None):
        raise BadInputError(_("give exactly one of an output directory or a suffix"))
    if suffix is not None and not suffix:
        raise BadInputError(_("the suffix must not be empty (it would replace the input)"))
    taken: dict[Path, Path] = {}
    planned: list[Job | SignResult] = []
    for index, item in enumerate(inputs):
        if isinstance(item, InputFile):
            source, relative = item.path, item.relative
        else:
            source = Path(item)
            relative = Path(source.name)
        if out_dir is not None:
            target = Path(out_dir, relative)
        else:
            target = source.with_name(source.stem + str(suffix) + (source.suffix or ".pdf"))
        key = target.resolve()
        if key in taken:
            planned.append(SignResult(
                input=source, output=None, status=SignStatus.FAILED,
                error=_("{path}: same output {output} as {other}").format(
                    path=source, output=target, other=taken[key]),
                error_type="BadInputError"))
            continue
        taken[key] = source
        planned.append(Job(index, source, target))
    return planned


def plan_batch(
    inputs: Iterable[str | os.PathLike[str] | InputFile],
    out_dir: str | os.PathLike[str] | None,
    *,
    suffix: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    journal: AuditJournal | None = None,
) -> BatchPlan:
    """Plan a batch (see the module); reads every input once, touches no token.

    The journal, when given, first finishes what killed batches left
    (:meth:`~signsvc.sign.journal.AuditJournal.recover`), then tells which inputs
    signsvc signed from other inputs of this batch.

    Raises:
        BadInputError: neither or both of ``out_dir`` and ``suffix``, an empty suffix.
        OutputError: the journal cannot be read.
    """
    planned = plan_outputs(inputs, out_dir, suffix=suffix)
    recovered = tuple(journal.recover()) if journal is not None else ()
    jobs = [p for p in planned if isinstance(p, Job)]
    settled: list[tuple[int, SignResult]] = [
        (n, p) for n, p in enumerate(planned) if isinstance(p, SignResult)]
    position = {job.index: n for n, job in enumerate(planned) if isinstance(job, Job)}
    by_path = {_real(j.input): j for j in jobs}
    targets = {_real(j.output): j for j in jobs}
    hashes: dict[int, str] = {}
    checked: list[Job] = []
    for job in jobs:
        # One document in memory at a time: only its hash is kept.
        outcome = _check_input(job)
        if isinstance(outcome, SignResult):
            settled.append((position[job.index], outcome))
            continue
        hashes[job.index] = outcome
        checked.append(job)
    input_hashes = set(hashes.values())
    made: set[Path] = set()
    if out_dir is not None:
        _make_folder(Path(out_dir))
        made.add(Path(out_dir))
    remaining: list[Job] = []
    for job in checked:
        sha = hashes[job.index]
        here = position[job.index]
        source = _own_output_of(job, sha, targets, by_path, input_hashes, journal)
        if source is not None:
            settled.append((here, SignResult(
                input=job.input, output=None, status=SignStatus.SKIPPED, input_sha256=sha,
                skip_reason=SkipReason.OWN_OUTPUT, source=source,
                note=f"signsvc's signed output of {source}; not signed again")))
            continue
        if out_dir is not None and job.output.parent not in made:
            try:
                _make_folder(job.output.parent)
                made.add(job.output.parent)
            except OutputError as exc:
                settled.append((here, _failed(job, exc, sha)))
                continue
        if resume and os.path.lexists(job.output):
            skipped = _already_signed(job, sha, journal)
            if skipped is not None:
                settled.append((here, skipped))
                continue
        if not overwrite and os.path.lexists(job.output):
            settled.append((here, _failed(job, OutputError(_(
                "exists already (use --overwrite to replace it, or --resume to skip "
                "documents already signed)"), path=job.output), sha)))
            continue
        remaining.append(job)
    settled.sort(key=lambda pair: pair[0])
    return BatchPlan(tuple(remaining), tuple(r for _index, r in settled), recovered,
                     Path(out_dir) if out_dir is not None else None, overwrite)


def _real(path: Path) -> str:
    return os.path.realpath(path)


def _failed(job: Job, exc: BadInputError | OutputError, sha: str | None = None) -> SignResult:
    return SignResult(input=job.input, output=None, status=SignStatus.FAILED,
                      input_sha256=sha, error=str(exc), error_type=type(exc).__name__,
                      exception=exc)


def _check_input(job: Job) -> str | SignResult:
    """The input's SHA-256, or why it cannot be signed (checked without pyHanko)."""
    if _real(job.input) == _real(job.output):
        return _failed(job, BadInputError(
            _("the output would replace the input; choose another output"), path=job.input))
    try:
        data = job.input.read_bytes()
    except IsADirectoryError:
        return _failed(job, BadInputError(_("is a folder, not a PDF file"), path=job.input))
    except OSError as exc:
        return _failed(job, BadInputError(_("cannot read: {error}").format(
            error=os_reason(exc)), path=job.input))
    if b"%PDF-" not in data[:_HEADER_WINDOW]:
        what = _("an empty file") if not data else _("no %PDF- header")
        return _failed(job, BadInputError(_("not a PDF ({what})").format(what=what),
                                          path=job.input))
    return sha256_hex(data)


def _own_output_of(job: Job, sha: str, targets: dict[str, Job], by_path: dict[str, Job],
                   input_hashes: set[str], journal: AuditJournal | None) -> Path | None:
    """The input of this batch ``job.input`` is signsvc's signed output of, if any."""
    other = targets.get(_real(job.input))
    if other is not None and other is not job:
        return other.input  # its name is another input's output name
    if journal is None:
        return None
    for input_path, input_sha in journal.signed_from(sha):
        source = by_path.get(_real(Path(input_path)))
        if source is not None and source is not job:
            return source.input
        if input_sha is not None and input_sha in input_hashes and input_sha != sha:
            return Path(input_path)
    return None


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        # Under a file, under /proc, read-only: a clear message, not a traceback.
        raise OutputError(_("cannot create the output folder: {error}").format(
            error=os_reason(exc)), path=folder) from exc


def _already_signed(job: Job, input_sha: str,
                    journal: AuditJournal | None) -> SignResult | None:
    """A skipped result when ``job.output`` already is ``job.input`` signed.

    An incremental update starts with the exact bytes of the input (ISO 32000-1
    §7.5.6), so the output must begin with the input, and its last signature must
    cover the whole output and be intact.
    """
    try:
        signed = job.output.read_bytes()
        data = job.input.read_bytes()
    except OSError:
        return None
    output_sha = sha256_hex(signed)
    if journal is not None and journal.signed_output(input_sha, job.output) == output_sha:
        ok = True
    else:
        ok = len(signed) > len(data) and signed.startswith(data) and _last_signature_intact(
            signed)
    if not ok:
        return None
    return SignResult(input=job.input, output=job.output, status=SignStatus.SKIPPED,
                      input_sha256=input_sha, output_sha256=output_sha,
                      skip_reason=SkipReason.ALREADY_SIGNED)


def _last_signature_intact(data: bytes) -> bool:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import SignatureCoverageLevel

    try:
        signatures = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures
        if not signatures:
            return False
        last = signatures[-1]
        last.compute_integrity_info(skip_diff=True)
        claimed = [a["values"][0].native for a in last.signer_info["signed_attrs"]
                   if a["type"].native == "message_digest"]
        # RFC 5652 §11.2: the messageDigest attribute is the digest of the signed
        # byte ranges; equal means the bytes are as signed.
        return bool(last.coverage == SignatureCoverageLevel.ENTIRE_FILE
                    and claimed == [last.compute_digest()])
    except Exception:  # a damaged output is simply not "already signed"
        return False
