"""``signsvc verify``: check the signatures of many PDFs.

Example::

    signsvc verify hop-thu-den/ --trust certs/ --report bao-cao.html --resume

Exit codes, as for every command (:class:`cli_common.ExitCode`):

    0  every document is TOTAL-PASSED
    1  at least one is not (failed, indeterminate, unsigned, unreadable)
    2  usage error or bad input (no trust anchor, unknown report format, no PDF)

Every result is committed to the store (``--store``, default
``.signsvc-verify.sqlite3`` in the current directory) before it is printed, so an
interrupted run continues with ``--resume``, and ``--report`` is written from the store,
streamed, however many documents there are.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from cli_common import (
    ExitCode,
    at_option,
    jobs_option,
    json_option,
    online_option,
    policy_options,
    trust_option,
    verbose_option,
)

if TYPE_CHECKING:
    from signsvc.pki.revocation import RevocationMode
    from signsvc.verify.results import DocumentResult

DEFAULT_STORE = Path(".signsvc-verify.sqlite3")
"""In the current directory: a batch's store is visible next to the work it belongs
to, and deleting it is how an admin starts afresh. A per-user store would grow with
every document ever verified."""


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@trust_option()
@policy_options
@online_option
@at_option
@jobs_option("Worker processes. Default: one per core.")
@click.option("--timeout", default=60.0, show_default=True,
              type=click.FloatRange(0, min_open=True), metavar="SECONDS",
              help="Time limit per document; one over it is reported and skipped.")
@click.option("--store", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_STORE, show_default=True,
              help="SQLite file where each result is kept (for --resume and --report).")
@click.option("--resume", is_flag=True,
              help="Reuse stored results of unchanged documents (same trust and options).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a report: .json, .csv (Excel) or .html, by suffix.")
@json_option("One JSON object per document, one line each, as they finish.")
@verbose_option
def verify(paths: tuple[Path, ...], trust_paths: tuple[Path, ...], policy: str,
           revocation: str, online: bool, fetch_alias: bool, at: datetime | None,
           jobs: int | None,
           timeout: float, store: Path, resume: bool, report: Path | None,
           as_json: bool) -> None:
    """Verify the signatures of PDF documents (PAdES; ETSI EN 319 102-1 verdicts).

    PATHS are PDF files or folders (every *.pdf under them; symbolic links are
    followed only inside the folder). Exit 0 when every document is TOTAL-PASSED, 1
    otherwise, 2 on usage or bad input.
    """
    # pyHanko logs a traceback (WARNING) for every modification its difference
    # analysis rejects; the verdict already says so, in words.
    logging.getLogger("pyhanko").addHandler(logging.NullHandler())
    logging.getLogger("pyhanko").propagate = False
    from signsvc._inputs import collect_pdfs
    from signsvc.pki.trust import TrustStore
    from signsvc.verify.batch import VerifyStore, json_line, verify_iter

    if report is not None:
        from signsvc.verify.reports import report_format

        report_format(report)  # an unknown suffix fails now, not after the batch
        folder = report.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            # Found out now, not after verifying thousands of documents.
            raise click.BadParameter(f"{report}: cannot write into {folder}",
                                     param_hint="--report")
    trust = TrustStore.from_paths(trust_paths) if trust_paths else TrustStore.user()
    if not len(trust):
        raise click.UsageError("no trust anchor: give --trust FILE|DIR or add one with "
                               "'signsvc trust add FILE'")
    documents = collect_pdfs(paths)
    if not documents:
        raise click.UsageError("no PDF found in the given paths")

    with contextlib.ExitStack() as stack:
        journal = stack.enter_context(VerifyStore.open(store))
        results = verify_iter(documents, trust=trust, jobs=jobs, at=at, policy=policy,
                              revocation=cast("RevocationMode", revocation),
                              online=online or fetch_alias, timeout=timeout,
                              resume=resume, store=journal)
        bar = None
        if sys.stderr.isatty():
            bar = stack.enter_context(click.progressbar(
                length=len(documents), label="Verifying", file=sys.stderr))
        for result in results:
            if bar is not None:
                bar.update(1)
            if as_json:
                click.echo(json_line(result))
            else:
                click.echo(_line(result))
        summary = journal.summary()
        if report is not None:
            from signsvc.verify.reports import write_report

            write_report(report, journal.iter_json, summary=summary,
                         trust=[anchor.label for anchor in trust], policy=policy)
    click.echo(f"TOTAL-PASSED {summary['TOTAL-PASSED']}, TOTAL-FAILED "
               f"{summary['TOTAL-FAILED']}, INDETERMINATE {summary['INDETERMINATE']}, "
               f"unsigned {summary['unsigned']}, errors {summary['error']}; store {store}"
               + (f"; report {report}" if report is not None else ""), err=True)
    passed = summary["TOTAL-PASSED"] == sum(summary.values())
    sys.exit(ExitCode.OK if passed else ExitCode.CHECK_FAILED)


def _line(result: DocumentResult) -> str:
    """``STATUS  PATH`` and, when not passed, why (the error, or the first reason)."""
    line = f"{result.indication.value:<14} {result.path}"
    if result.passed:
        return line
    reason = result.error or result.reason or next(
        (s.reason for s in result.signatures if not s.passed), None)
    return f"{line}: {reason}" if reason else line
