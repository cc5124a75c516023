"""``signsvc chain`` and ``signsvc trust``: certificate chains and the anchors they end at.

Example::

    signsvc trust add gov-root-g2.pem
    signsvc chain signer.pem --intermediate ca.pem --crl ca.crl --revocation hard-fail

Exit codes as for every command (cli.py): 0 valid, 1 invalid or indeterminate, 2 usage
or bad input. Registered in cli.py; helpers shared with the other commands are imported
from it inside the commands (cli.py imports this module at its end).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click
from cryptography import x509


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


@click.command()
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
    from cli import EXIT_CHECK_FAILED, EXIT_OK, _parse_time, _read_all
    from signsvc.audit import VIETNAM_TIME
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


@click.group()
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
