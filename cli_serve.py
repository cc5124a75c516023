"""``signsvc serve``: the local signing service for web e-office systems.

Example::

    signsvc serve                      # port 8987, the Tk consent window
    signsvc serve --confirm tty        # a kiosk: asks on the terminal
    signsvc serve --confirm "script:/usr/local/bin/approve" --pin-env SIGNSVC_PIN
    signsvc origins list               # the sites allowed: configured, and paired
    signsvc origins revoke https://mot-trang.example.vn

Exit codes as for every command (:class:`cli_common.ExitCode`): 2 for a bad option,
a configuration mistake (the message names the file and the key), a port that cannot
be bound, or when run as root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from cli_common import Group, command, json_option, option, verbose_option
from signsvc._i18n import N_, _, error_text


@command(help=N_(
    "Run the local signing service for web e-office systems: VGCA-compatible calls "
    "(SignApproved, SignIssued, SignAppendix, SignCopy) over WebSocket and JSON on "
    "127.0.0.1 (and ::1).\n\n"
    "Only the origins allowed in the configuration may call ([service] "
    "allowed_origins in /etc/signsvc/service.toml, /etc/signsvc/origins.d/*.toml and "
    "~/.config/signsvc/service.toml); documents are fetched only from the calling "
    "site; the token is the one the configuration names ([token]); every batch is "
    "confirmed once by the official and signed with one login. Never run as root."))
@option("--port", default=8987, show_default=True, type=click.IntRange(1, 65535),
        help=N_("TCP port on 127.0.0.1 and ::1."))
@option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
        help=N_("The user's configuration file, instead of "
                "~/.config/signsvc/service.toml."))
@option("--confirm", default="tk", show_default=True, metavar="tk|tty|script:CMD",
        help=N_("How the official confirms each batch: tk (a window), tty (the "
                "terminal), or script:CMD (a local command reads the batch as JSON on "
                "its standard input; exit 0 approves)."))
@option("--pin-env", metavar="VAR",
        help=N_("Read the PIN from this environment variable at each login, instead "
                "of asking in the confirmation (needed with script:CMD, unless the "
                "token has a PIN pad)."))
@verbose_option
def serve(port: int, config_file: Path | None, confirm: str, pin_env: str | None) -> None:
    """Run the local signing service for web e-office systems."""
    if os.geteuid() == 0:
        raise click.UsageError(_("signsvc serve must not run as root: run it as the "
                                 "official's own user (systemctl --user start signsvc)"))
    from signsvc.service.app import make_app
    from signsvc.service.app import serve as run_service
    from signsvc.service.config import load_config
    from signsvc.service.consent import make_confirmer

    try:
        confirmer = make_confirmer(confirm)
    except ValueError as exc:
        raise click.BadParameter(error_text(exc), param_hint="--confirm") from None
    if pin_env is not None and not os.environ.get(pin_env):
        raise click.BadParameter(_("the variable {name} is unset or empty").format(
            name=pin_env), param_hint="--pin-env")
    config = load_config(user_file=config_file)
    app = make_app(config, confirmer, pin_env=pin_env)
    try:
        run_service(app, port=port)
    except OSError as exc:
        raise click.UsageError(_("cannot listen on 127.0.0.1:{port}: {reason}").format(
            port=port, reason=exc.strerror or exc)) from None


@click.group(cls=Group, help=N_(
        "The sites that may ask this computer's signing service to sign: the ones the "
        "configuration allows, and the ones you paired."))
def origins() -> None:
    """The sites that may ask this computer's signing service to sign."""


@origins.command("list", help=N_(
        "List the allowed sites: from the configuration files, and paired by you."))
@option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
        help=N_("The user's configuration file, instead of "
                "~/.config/signsvc/service.toml."))
@json_option(N_("Print a JSON object: configured, paired, pairing, files."))
@verbose_option
def origins_list(config_file: Path | None, as_json: bool) -> None:
    """List the allowed sites: from the configuration files, and paired by you."""
    from signsvc.service.config import load_config
    from signsvc.service.gate import paired_origins

    config = load_config(user_file=config_file)
    paired = paired_origins(config.paired_file)
    configured = sorted(config.allowed_origins - set(paired))
    if as_json:
        click.echo(json.dumps({"configured": configured, "paired": paired,
                               "pairing": config.pairing,
                               "files": [str(f) for f in config.files]}, ensure_ascii=False))
        return
    for origin in configured:
        click.echo(_("{origin}  (configuration)").format(origin=origin))
    for origin in paired:
        click.echo(_("{origin}  (paired by you; signsvc origins revoke {origin})").format(
            origin=origin))
    if not configured and not paired:
        click.echo(_("no site may ask this computer to sign"), err=True)
    if not config.pairing:
        click.echo(_("pairing is off: unknown sites are refused without a question"),
                   err=True)


@origins.command("revoke", help=N_(
        "Forget a site you paired: it is refused again once the service restarts "
        "(systemctl --user restart signsvc)."))
@click.argument("origin")
@option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
        help=N_("The user's configuration file, instead of "
                "~/.config/signsvc/service.toml."))
@verbose_option
def origins_revoke(origin: str, config_file: Path | None) -> None:
    """Forget a site you paired."""
    from signsvc.service.config import load_config
    from signsvc.service.gate import revoke_paired
    from signsvc.service.origins import normalise_origin

    normal = normalise_origin(origin, lenient=True)
    if normal is None:
        raise click.BadParameter(_("{origin} is not an origin: write scheme://host[:port]")
                                 .format(origin=origin), param_hint="ORIGIN")
    config = load_config(user_file=config_file)
    if revoke_paired(config.paired_file, normal):
        click.echo(_("{origin} is no longer paired; restart the service for it to take "
                     "effect (systemctl --user restart signsvc)").format(origin=normal))
        return
    if normal in config.allowed_origins:
        raise click.UsageError(_("{origin} is allowed by the configuration, not by a "
                                 "pairing: remove it from [service] allowed_origins in "
                                 "{files}").format(
                                     origin=normal,
                                     files=", ".join(str(f) for f in config.files)))
    raise click.UsageError(_("{origin} is not paired").format(origin=normal))
