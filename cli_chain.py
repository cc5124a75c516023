"""``signsvc chain`` and ``signsvc trust``: certificate chains and the anchors they end at.

Example::

    signsvc trust add gov-root-g2.pem
    signsvc chain signer.pem --intermediate ca.pem --crl ca.crl --revocation hard-fail
    signsvc trust list --profile vn            # the Vietnamese roots and CAs signsvc ships
    signsvc chain signer.pem --trust-profile vn

A PEM bundle given as CERT is read as the certificate to validate (the first in the
bundle) followed by its intermediates, and the output says how many it took as such. A
bundle in the other order (its first certificate issued a later one: CA first) is
refused with exit 2 rather than validating the CA and saying nothing of the leaf.

Exit codes as for every command (:class:`cli_common.ExitCode`): 0 valid, 1 invalid or
indeterminate, 2 usage or bad input.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from cli_common import (
    TRUST_PROFILES,
    ExitCode,
    at_option,
    json_option,
    online_option,
    policy_options,
    read_certificates,
    trust_option,
    verbose_option,
)

if TYPE_CHECKING:
    from cryptography import x509

    from signsvc.pki.revocation import RevocationMode


def _read_crls(paths: tuple[Path, ...]) -> list[x509.CertificateRevocationList]:
    from cryptography import x509

    from signsvc.errors import BadInputError

    crls = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadInputError(f"cannot read: {exc.strerror or exc}", path=path) from exc
        try:
            crls.append(x509.load_pem_x509_crl(data) if b"-----BEGIN" in data
                        else x509.load_der_x509_crl(data))
        except ValueError as exc:
            raise BadInputError(f"not a PEM or DER CRL: {exc}", path=path) from exc
    return crls


def _refuse_issuer_first(path: Path, first: x509.Certificate,
                         rest: list[x509.Certificate]) -> None:
    """A bundle is read leaf first. When its first certificate issued another one in it,
    the bundle is in the other order (CA first) and validating the first would say
    nothing of the certificate the user meant: refuse instead of guessing."""
    from signsvc.errors import BadInputError

    for i, other in enumerate(rest, start=2):
        if other.issuer == first.subject and other.subject != first.subject:
            raise BadInputError(
                f"the bundle's first certificate ({first.subject.rfc4514_string()}) issued "
                f"certificate {i} ({other.subject.rfc4514_string()}): a bundle must start "
                "with the certificate to validate, followed by its issuers. Reorder it, or "
                "give the certificate alone and the rest with --intermediate", path=path)


@click.command()
@click.argument("cert", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--intermediate", "intermediates", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="Intermediate certificates: PEM bundles, DER files or folders of them "
                   "(repeatable).")
@trust_option()
@click.option("--crl", "crl_paths", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CRLs, PEM or DER (repeatable).")
@click.option("--ocsp", "ocsp_paths", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="OCSP responses, DER (repeatable).")
@at_option
@policy_options
@online_option
@json_option("Print the result as JSON.")
@verbose_option
def chain(cert: Path, intermediates: tuple[Path, ...], trust_paths: tuple[Path, ...],
          crl_paths: tuple[Path, ...], ocsp_paths: tuple[Path, ...], at: datetime | None,
          policy: str, revocation: str, online: bool, fetch_alias: bool,
          as_json: bool) -> None:
    """Validate a certificate's chain to a trust anchor (RFC 5280, CRL/OCSP).

    Exit 0 when valid, 1 when invalid or indeterminate, 2 on usage or bad input.
    """
    from signsvc._time import VIETNAM_TIME
    from signsvc.pki.chain import validate_chain
    from signsvc.pki.fetch import RevocationFetcher
    from signsvc.pki.trust import TrustStore

    leaf, *extra = read_certificates([cert])
    _refuse_issuer_first(cert, leaf, extra)
    store = TrustStore.from_paths(trust_paths) if trust_paths else TrustStore.user()
    if not len(store):
        raise click.UsageError("no trust anchor: give --trust FILE|DIR or add one with "
                               "'signsvc trust add FILE'")
    result = validate_chain(
        leaf, intermediates=[*extra, *read_certificates(intermediates)], trust=store,
        at=at or datetime.now(VIETNAM_TIME),
        crls=_read_crls(crl_paths), ocsp_responses=[p.read_bytes() for p in ocsp_paths],
        revocation=cast("RevocationMode", revocation),
        policy=policy,
        fetcher=RevocationFetcher(online=True) if online or fetch_alias else None)
    if as_json:
        payload = result.to_json()
        payload["bundle_intermediates"] = len(extra)
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        if extra:
            click.echo(f"{cert}: validating the first certificate of the bundle; the "
                       f"other {len(extra)} are used as intermediates", err=True)
        verdict = result.indication.value + (
            f" / {result.sub_indication.value}" if result.sub_indication else "")
        click.echo(f"{verdict}: {result.reason}")
        if result.rule is not None:
            from signsvc.pki.chain import CHAIN_RULES

            rule = CHAIN_RULES.get(result.rule)
            click.echo(f"  rule: {result.rule}" + (f" ({rule.section})" if rule else ""))
        for depth, member in enumerate(result.path):
            mark = "  <- failed here" if depth == result.failed_index else ""
            click.echo(f"  {'  ' * depth}{member.subject.rfc4514_string()}{mark}")
        for note in (*result.algorithm_notes, *result.notes):
            click.echo(f"  note: {note}")
    sys.exit(ExitCode.OK if result.valid else ExitCode.CHECK_FAILED)


@click.group()
def trust() -> None:
    """Manage your trust anchors (Vietnam has no trusted list: you choose the roots)."""


@trust.command("add")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@verbose_option
def trust_add(files: tuple[Path, ...]) -> None:
    """Trust these CA certificates (copied into the user trust folder)."""
    from signsvc.pki.trust import add_trust_anchor

    for path in files:
        anchor = add_trust_anchor(path)
        known = " (recognised by fingerprint)" if anchor.known else ""
        click.echo(f"added {anchor.label}{known}: SHA-256 {anchor.fingerprint}")


@trust.command("list")
@click.option("--profile", type=click.Choice(TRUST_PROFILES),
              help="List what signsvc ships instead: vn = the Vietnamese roots (trusted "
                   "with --trust-profile vn), the issuing CAs it uses to build chains "
                   "(never trusted as anchors) and the time-stamping certificates.")
@json_option("Print a JSON array.")
@verbose_option
def trust_list(profile: str | None, as_json: bool) -> None:
    """List the anchors in the user trust folder, or a shipped profile (--profile).

    With --profile vn --json, one object per certificate: role (root, issuing CA,
    time-stamping CA, time-stamping authority), label, subject, issuer, not_before,
    not_after, expired (now), fingerprint_sha256, source (repository@commit:path).
    """
    from signsvc.pki.trust import list_trust_anchors, user_trust_dir

    if profile is not None:
        _list_profile(as_json)
        return
    anchors = list_trust_anchors()
    if as_json:
        click.echo(json.dumps([a.to_json() for a in anchors], ensure_ascii=False, indent=2))
        return
    if not anchors:
        click.echo(f"No trust anchors in {user_trust_dir()}; add one with "
                   "'signsvc trust add FILE'.")
    for anchor in anchors:
        click.echo(f"{anchor.label}\n  {anchor.subject}\n  SHA-256 {anchor.fingerprint}")


def _list_profile(as_json: bool) -> None:
    from signsvc._time import VIETNAM_TIME
    from signsvc.pki.trust import vn_trust_material

    now = datetime.now(VIETNAM_TIME)
    shipped = vn_trust_material()
    if as_json:
        click.echo(json.dumps([c.to_json(at=now) for c in shipped], ensure_ascii=False,
                              indent=2))
        return
    for cert in shipped:
        since = cert.certificate.not_valid_before_utc.astimezone(VIETNAM_TIME).date()
        until = cert.certificate.not_valid_after_utc.astimezone(VIETNAM_TIME).date()
        expired = " (expired)" if cert.expired(now) else ""
        click.echo(f"{cert.label}  [{cert.role}]\n  {cert.subject}\n"
                   f"  valid {since} to {until}{expired}\n  SHA-256 {cert.fingerprint}\n"
                   f"  source {cert.source}")
    roles = [c.role for c in shipped]
    tsa = roles.count("time-stamping authority")
    click.echo(f"{roles.count('root')} roots (trusted only with --trust-profile vn); "
               f"{len(roles) - roles.count('root') - tsa} issuing and time-stamping CAs "
               f"(used to build chains, never trusted as anchors); {tsa} time-stamping "
               "authorities", err=True)


@trust.command("remove")
@click.argument("fingerprint")
@verbose_option
def trust_remove(fingerprint: str) -> None:
    """Stop trusting the anchor with this SHA-256 fingerprint."""
    from signsvc.pki.trust import remove_trust_anchor

    click.echo(f"removed {remove_trust_anchor(fingerprint)}")
