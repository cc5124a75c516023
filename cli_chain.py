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
    Group,
    at_option,
    command,
    json_option,
    online_option,
    option,
    policy_options,
    read_certificates,
    trust_option,
    verbose_option,
)
from signsvc._i18n import N_, _, os_reason, shown_date

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
            raise BadInputError(_("cannot read: {error}").format(error=os_reason(exc)),
                                path=path) from exc
        try:
            crls.append(x509.load_pem_x509_crl(data) if b"-----BEGIN" in data
                        else x509.load_der_x509_crl(data))
        except ValueError as exc:
            raise BadInputError(_("not a PEM or DER CRL: {error}").format(error=exc),
                                path=path) from exc
    return crls


def _refuse_issuer_first(path: Path, first: x509.Certificate,
                         rest: list[x509.Certificate]) -> None:
    """A bundle is read leaf first. When its first certificate issued another one in it,
    the bundle is in the other order (CA first) and validating the first would say
    nothing of the certificate the user meant: refuse instead of guessing."""
    from signsvc.errors import BadInputError

    for i, other in enumerate(rest, start=2):
        if other.issuer == first.subject and other.subject != first.subject:
            raise BadInputError(_(
                "the bundle's first certificate ({first}) issued certificate {number} "
                "({other}): a bundle must start with the certificate to validate, followed "
                "by its issuers. Reorder it, or give the certificate alone and the rest "
                "with --intermediate").format(first=first.subject.rfc4514_string(),
                                              number=i,
                                              other=other.subject.rfc4514_string()),
                path=path)


@command(help=N_(
        "Validate a certificate's chain to a trust anchor (RFC 5280, CRL/OCSP).\n\n"
        "Exit 0 when valid, 1 when invalid or indeterminate, 2 on usage or bad "
        "input."))
@click.argument("cert", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@option("--intermediate", "intermediates", multiple=True,
        type=click.Path(exists=True, path_type=Path),
        help=N_("Intermediate certificates: PEM bundles, DER files or folders of them "
                "(repeatable)."))
@trust_option()
@option("--crl", "crl_paths", multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help=N_("CRLs, PEM or DER (repeatable)."))
@option("--ocsp", "ocsp_paths", multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help=N_("OCSP responses, DER (repeatable)."))
@at_option
@policy_options
@online_option
@json_option(N_("Print the result as JSON."))
@verbose_option
def chain(cert: Path, intermediates: tuple[Path, ...], trust_paths: tuple[Path, ...],
          crl_paths: tuple[Path, ...], ocsp_paths: tuple[Path, ...], at: datetime | None,
          policy: str, revocation: str, online: bool, fetch_alias: bool,
          as_json: bool) -> None:
    """Validate a certificate's chain to a trust anchor (RFC 5280, CRL/OCSP)."""
    from signsvc._time import VIETNAM_TIME
    from signsvc.pki.chain import validate_chain
    from signsvc.pki.fetch import RevocationFetcher
    from signsvc.pki.trust import TrustStore

    leaf, *extra = read_certificates([cert])
    _refuse_issuer_first(cert, leaf, extra)
    store = TrustStore.from_paths(trust_paths) if trust_paths else TrustStore.user()
    if not len(store):
        raise click.UsageError(_("no trust anchor: give --trust FILE|DIR or add one with "
                                 "'signsvc trust add FILE'"))
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
            click.echo(_("{path}: validating the first certificate of the bundle; the "
                         "other {count} are used as intermediates").format(
                             path=cert, count=len(extra)), err=True)
        verdict = result.indication.value + (
            f" / {result.sub_indication.value}" if result.sub_indication else "")
        click.echo(f"{verdict}: {result.reason}")
        from signsvc.verify._plain import plain_line

        click.echo(f"  => {plain_line(result.indication, result.sub_indication)}")
        if result.rule is not None:
            from signsvc.pki.chain import CHAIN_RULES

            rule = CHAIN_RULES.get(result.rule)
            click.echo(_("  rule: {rule}").format(rule=result.rule)
                       + (f" ({rule.section})" if rule else ""))
        for depth, member in enumerate(result.path):
            mark = _("  <- failed here") if depth == result.failed_index else ""
            click.echo(f"  {'  ' * depth}{member.subject.rfc4514_string()}{mark}")
        for note in (*result.algorithm_notes, *result.notes):
            click.echo(_("  note: {note}").format(note=note))
    sys.exit(ExitCode.OK if result.valid else ExitCode.CHECK_FAILED)


@click.group(cls=Group, help=N_(
        "Manage your trust anchors (Vietnam has no trusted list: you choose the "
        "roots)."))
def trust() -> None:
    """Manage your trust anchors (Vietnam has no trusted list: you choose the roots)."""


@trust.command("add", help=N_(
        "Trust these CA certificates (copied into the user trust folder)."))
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@verbose_option
def trust_add(files: tuple[Path, ...]) -> None:
    """Trust these CA certificates (copied into the user trust folder)."""
    from signsvc.pki.trust import add_trust_anchor

    for path in files:
        anchor = add_trust_anchor(path)
        known = _(" (recognised by fingerprint)") if anchor.known else ""
        click.echo(_("added {label}{known}: SHA-256 {fingerprint}").format(
            label=anchor.label, known=known, fingerprint=anchor.fingerprint))


@trust.command("list", help=N_(
        "List the anchors in the user trust folder, or a shipped profile "
        "(--profile).\n\n"
        "With --profile vn --json, one object per certificate: role (root, "
        "issuing CA, time-stamping CA, time-stamping authority), label, subject, "
        "issuer, not_before, not_after, expired (now), fingerprint_sha256, source "
        "(repository@commit:path)."))
@option("--profile", type=click.Choice(TRUST_PROFILES),
        help=N_("List what signsvc ships instead: vn = the Vietnamese roots (trusted "
                "with --trust-profile vn), the issuing CAs it uses to build chains "
                "(never trusted as anchors) and the time-stamping certificates."))
@json_option(N_("Print a JSON array."))
@verbose_option
def trust_list(profile: str | None, as_json: bool) -> None:
    """List the anchors in the user trust folder, or a shipped profile (--profile)."""
    from signsvc.pki.trust import list_trust_anchors, user_trust_dir

    if profile is not None:
        _list_profile(as_json)
        return
    anchors = list_trust_anchors()
    if as_json:
        click.echo(json.dumps([a.to_json() for a in anchors], ensure_ascii=False, indent=2))
        return
    if not anchors:
        click.echo(_("No trust anchors in {folder}; add one with 'signsvc trust add "
                     "FILE'.").format(folder=user_trust_dir()))
    for anchor in anchors:
        click.echo(f"{anchor.label}\n  {anchor.subject}\n  SHA-256 {anchor.fingerprint}")


_ROLES = {role: role for role in (N_("root"), N_("issuing CA"), N_("time-stamping CA"),
                                  N_("time-stamping authority"))}
"""The roles of :func:`signsvc.pki.trust.vn_trust_material`, marked for translation."""


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
        since = shown_date(cert.certificate.not_valid_before_utc)
        until = shown_date(cert.certificate.not_valid_after_utc)
        expired = _(" (expired)") if cert.expired(now) else ""
        click.echo(f"{cert.label}  [{_(_ROLES.get(cert.role, cert.role))}]\n  {cert.subject}\n"
                   + _("  valid {since} to {until}{expired}").format(
                       since=since, until=until, expired=expired)
                   + f"\n  SHA-256 {cert.fingerprint}\n"
                   + _("  source {source}").format(source=cert.source))
    roles = [c.role for c in shipped]
    tsa = roles.count("time-stamping authority")
    click.echo(_("{roots} roots (trusted only with --trust-profile vn); {cas} issuing and "
                 "time-stamping CAs (used to build chains, never trusted as anchors); "
                 "{tsas} time-stamping authorities").format(
                     roots=roles.count("root"), cas=len(roles) - roles.count("root") - tsa,
                     tsas=tsa), err=True)


@trust.command("remove", help=N_(
        "Stop trusting the anchor with this SHA-256 fingerprint."))
@click.argument("fingerprint")
@verbose_option
def trust_remove(fingerprint: str) -> None:
    """Stop trusting the anchor with this SHA-256 fingerprint."""
    from signsvc.pki.trust import remove_trust_anchor

    click.echo(_("removed {label}").format(label=remove_trust_anchor(fingerprint)))
