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
    command,
    jobs_option,
    json_option,
    online_option,
    option,
    policy_options,
    trust_option,
    verbose_option,
)
from signsvc._i18n import N_, _, language, localize

if TYPE_CHECKING:
    from signsvc.pki.revocation import RevocationMode
    from signsvc.verify.results import DocumentResult

DEFAULT_STORE = Path(".signsvc-verify.sqlite3")
"""In the current directory: a batch's store is visible next to the work it belongs
to, and deleting it is how an admin starts afresh. A per-user store would grow with
every document ever verified."""


@command(help=N_(
        "Verify the signatures of PDF documents (PAdES; ETSI EN 319 102-1 "
        "verdicts).\n\n"
        "PATHS are PDF files or folders (every *.pdf under them; symbolic links "
        "are followed only inside the folder), or fsspec URLs of files or folders "
        "(s3://..., file://...; needs signsvc[cluster]). Exit 0 when every document is "
        "TOTAL-PASSED, 1 otherwise, 2 on usage or bad input."))
@click.argument("paths", nargs=-1, required=True)
@trust_option()
@policy_options
@online_option
@at_option
@jobs_option(N_("Worker processes. Default: one per core."))
@option("--timeout", default=60.0, show_default=True,
        type=click.FloatRange(0, min_open=True), metavar="SECONDS",
        help=N_("Time limit per document; one over it is reported and skipped."))
@option("--store", type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_STORE, show_default=True,
        help=N_("SQLite file where each result is kept (for --resume and --report)."))
@option("--resume", is_flag=True,
        help=N_("Reuse stored results of unchanged documents (same trust and options)."))
@option("--report", type=click.Path(dir_okay=False, path_type=Path),
        help=N_("Write a report: .json, .csv (Excel) or .html, by suffix."))
@option("--pdf-password-env", metavar="VAR",
        help=N_("Open encrypted PDFs with the password in this environment variable "
                "(default: the empty user password)."))
@option("--scheduler", metavar="tcp://HOST:PORT",
        help=N_("Verify on this Dask cluster (needs signsvc[cluster]); every worker must "
                "see the PATHS at the same place."))
@option("--local-cluster", type=click.IntRange(1), metavar="N",
        help=N_("Verify on a Dask LocalCluster of N workers started for this run."))
@json_option(N_("One JSON object per document, one line each, as they finish."))
@verbose_option
def verify(paths: tuple[str, ...], trust_paths: tuple[Path, ...], policy: str,
           revocation: str, online: bool, fetch_alias: bool, at: datetime | None,
           jobs: int | None,
           timeout: float, store: Path, resume: bool, report: Path | None,
           as_json: bool, pdf_password_env: str | None = None,
           scheduler: str | None = None, local_cluster: int | None = None) -> None:
    """Verify the signatures of PDF documents (PAdES; ETSI EN 319 102-1 verdicts)."""
    # pyHanko logs a traceback (WARNING) for every modification its difference
    # analysis rejects; the verdict already says so, in words.
    logging.getLogger("pyhanko").addHandler(logging.NullHandler())
    logging.getLogger("pyhanko").propagate = False
    from signsvc._inputs import collect_pdfs
    from signsvc.pki.trust import TrustStore
    from signsvc.verify.batch import VerifyStore, json_line, verify_blocks

    if report is not None:
        from signsvc.verify.reports import report_format

        report_format(report)  # an unknown suffix fails now, not after the batch
        folder = report.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            # Found out now, not after verifying thousands of documents.
            raise click.BadParameter(_("{report}: cannot write into {folder}").format(
                report=report, folder=folder), param_hint="--report")
    trust = TrustStore.from_paths(trust_paths) if trust_paths else TrustStore.user()
    if not len(trust):
        raise click.UsageError(_("no trust anchor: give --trust FILE|DIR or add one with "
                                 "'signsvc trust add FILE'"))
    from signsvc.verify._urls import expand, is_url

    # fsspec URLs (s3://, file://, ...) as given; everything else is a local path.
    documents: list[Path | str] = [
        *collect_pdfs([Path(p) for p in paths if not is_url(p)]),
        *expand([p for p in paths if is_url(p)])]
    if not documents:
        raise click.UsageError(_("no PDF found in the given paths"))
    from cli_common import env_value

    # From the environment, never argv (visible in ps); never logged or stored.
    pdf_password = env_value("--pdf-password-env", pdf_password_env)

    if scheduler is not None and local_cluster is not None:
        raise click.UsageError(_("give --scheduler or --local-cluster, not both"))
    with contextlib.ExitStack() as stack:
        cluster = None
        if scheduler is not None or local_cluster is not None:
            from signsvc.verify.cluster import Cluster

            cluster = stack.enter_context(
                Cluster.connect(scheduler) if scheduler is not None
                else Cluster.local(cast(int, local_cluster)))
        journal = stack.enter_context(VerifyStore.open(store))
        blocks = verify_blocks(documents, trust=trust, jobs=jobs, at=at, policy=policy,
                               revocation=cast("RevocationMode", revocation),
                               online=online or fetch_alias, timeout=timeout,
                               resume=resume, store=journal, pdf_password=pdf_password,
                               cluster=cluster)
        bar = None
        plain = _plain_lines()
        if sys.stderr.isatty():
            bar = stack.enter_context(click.progressbar(
                length=len(documents), label=_("Verifying"), file=sys.stderr))
        for block in blocks:
            if bar is not None:
                bar.update(len(block))
            # One write per block (stored already), not a flushed write per document.
            if as_json:
                click.echo("\n".join(json_line(result) for result in block))
            else:
                click.echo("\n".join(_line(result, plain=plain) for result in block))
        summary = journal.summary()
        not_checked = journal.not_checked_for_revocation()
        if report is not None:
            from signsvc.verify.reports import write_report

            write_report(report, journal.iter_json, summary=summary,
                         trust=[anchor.label for anchor in trust], policy=policy,
                         not_checked_for_revocation=not_checked)
    # The passed documents nobody checked for revocation are counted apart, after the
    # categories: "TOTAL-PASSED n, TOTAL-FAILED n, ..." stays as scripts read it.
    template = _SUMMARY_NOT_CHECKED if not_checked else _SUMMARY
    click.echo(_(template).format(
                   passed=summary["TOTAL-PASSED"], failed=summary["TOTAL-FAILED"],
                   indeterminate=summary["INDETERMINATE"], unsigned=summary["unsigned"],
                   errors=summary["error"], not_checked=not_checked, store=store)
               + (_("; report {report}").format(report=report) if report is not None
                  else ""), err=True)
    passed = summary["TOTAL-PASSED"] == sum(summary.values())
    sys.exit(ExitCode.OK if passed else ExitCode.CHECK_FAILED)


def _line(result: DocumentResult, *, plain: bool) -> str:
    """``STATUS  PATH`` and, when not passed, why (the error, or the first reason),
    when passed without a revocation check, that; with ``plain``, a second line saying
    what the verdict means in words (and :func:`_revocation_line`)."""
    line = f"{result.indication.value:<14} {result.location}"
    reason = None if result.passed else result.error or result.reason or next(
        (s.reason for s in result.signatures if not s.passed), None)
    if reason:
        line = f"{line}: {localize(reason)}"
    elif not plain and result.passed and result.revocation_not_checked:
        line = f"{line}: {_not_checked_words(result.revocation_not_checked)}"
    if not plain:
        return line
    from signsvc.verify._plain import plain_line
    from signsvc.verify.results import ModificationLevel

    first = next((s for s in result.signatures if s.indication is result.indication), None)
    modified = (first is not None and first.modification is not None
                and first.modification.level is ModificationLevel.DISALLOWED)
    meaning = plain_line(result.indication, result.sub_indication,
                         unsigned=result.unsigned, unreadable=result.error is not None,
                         modified=modified)
    return f"{line}\n    => {meaning}{_revocation_line(result)}"


_SUMMARY = N_("TOTAL-PASSED {passed}, TOTAL-FAILED {failed}, INDETERMINATE "
              "{indeterminate}, unsigned {unsigned}, errors {errors}; store {store}")
_SUMMARY_NOT_CHECKED = N_(
    "TOTAL-PASSED {passed}, TOTAL-FAILED {failed}, INDETERMINATE {indeterminate}, "
    "unsigned {unsigned}, errors {errors}; {not_checked} TOTAL-PASSED not checked for "
    "revocation; store {store}")


def _not_checked_words(count: int) -> str:
    """What ends a passed document's line when ``count`` of its signatures passed
    without a revocation check (soft-fail without usable data, or revocation off)."""
    if count == 1:
        return _("not checked for revocation")
    return _("{count} signatures not checked for revocation").format(count=count)


def _revocation_line(result: DocumentResult) -> str:
    """The plain line under a passed document nobody checked for revocation (the
    first line then stays ``STATUS  PATH``, as the clerk scans it), else ""."""
    if not (result.passed and result.revocation_not_checked):
        return ""
    return "\n    => " + _("Not checked for revocation: no usable CRL or OCSP data said "
                           "whether a certificate was revoked (verify with --online, or "
                           "sign at PAdES B-LT)")


def _plain_lines() -> bool:
    """The plain-language line under each result: always in Vietnamese (the clerk's
    reading), in English on a terminal only, since scripts parse the English lines."""
    return language() == "vi" or sys.stdout.isatty()
