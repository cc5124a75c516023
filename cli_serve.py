"""``signsvc serve``: the local signing service for web e-office systems.

Example::

    signsvc serve                      # port 8987, the Tk consent window
    signsvc serve --confirm tty        # a kiosk: asks on the terminal
    signsvc serve --confirm "script:/usr/local/bin/approve" --pin-env SIGNSVC_PIN

Exit codes as for every command (:class:`cli_common.ExitCode`): 2 for a bad option,
a configuration mistake (the message names the file and the key), a port that cannot
be bound, or when run as root.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from cli_common import command, option, verbose_option
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
