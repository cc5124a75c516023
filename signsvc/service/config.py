"""The service's configuration: the admin's files, the user's file, the paired origins.

Read, in this order (TOML, :mod:`tomllib`)::

    $SIGNSVC_SYSTEM_CONFIG_DIR/service.toml       (default /etc/signsvc; the admin's)
    $SIGNSVC_SYSTEM_CONFIG_DIR/origins.d/*.toml   (the admin's, in name order)
    $XDG_CONFIG_HOME/signsvc/service.toml         (the user's; ``--config FILE`` instead)
    $XDG_CONFIG_HOME/signsvc/paired-origins.toml  (origins the user approved; the
                                                   service writes it)

Keys::

    [service]
    allowed_origins = ["https://eoffice.cantho.gov.vn"]  # admin + user, united
    session_cookie = "ASP.NET_SessionId"    # the cookie SessionId is sent as
    pairing = true                          # false (in any file): unknown sites are
                                            # refused without asking the official
    max_files = 50                          # limits: the smallest value set wins
    max_file_bytes = 52428800
    max_batch_bytes = 524288000
    max_message_bytes = 262144
    [service.file_origins]                  # admin only: extra file servers
    "https://eoffice.cantho.gov.vn" = ["https://files.cantho.gov.vn"]
    [token]                                 # the user's or the admin's; never a request's
    module = "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"
    label = "Nguyễn Văn A"
    serial = "..."                          # optional
    cert_id = "01"                          # hex CKA_ID
    [appearance.approved]                   # AppearanceOptions fields, paths relative
    signature_image = "chu-ky.png"          # to the file that names them
    anchor = "Nguyễn Văn A"
    [appearance.issued]
    seal_image = "dau.png"
    seal_size_mm = 36
    org_name = "UBND quận Ô Môn"
    number_anchor = "[[SO]]"
    date_anchor = "[[NGAY]]"
    place = "Cần Thơ"                       # the date line: "Cần Thơ, ngày 05 tháng 01 năm 2027"
    [appearance.appendix]
    [appearance.copy]
    copy_form = "SAO Y"
    org_name = "..."
    [sign]
    level = "B-B"
    tsa_url = "..."
    reason = "..."
    journal = "..."                         # default: the signing journal

Later files override earlier ones key by key, except the allowed origins (united) and
the limits (the smallest wins: a user may tighten the admin's limits, never loosen
them). The file origins are the admin's alone: a user's file cannot widen where the
service fetches from. Every mistake is a :class:`ServiceConfigError` naming the file
and the key.

Example::

    >>> config = load_config(user_file=Path("service.toml"))  # doctest: +SKIP
    >>> "https://eoffice.cantho.gov.vn" in config.allowed_origins  # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signsvc.errors import BadInputError
from signsvc.service.origins import normalise_origin
from signsvc.service.vgca import CallAppearance, appearance_for

__all__ = ["APPEARANCE_KINDS", "Limits", "ServiceConfig",
           "ServiceConfigError", "SignSettings", "TokenChoice", "load_config",
           "paired_origins_file", "system_config_dir", "user_config_file"]

MIB = 1024 * 1024
APPEARANCE_KINDS = ("approved", "issued", "appendix", "copy")
"""The ``[appearance.*]`` tables: one per VGCA call the service answers."""

_PATH_FIELDS = frozenset({"signature_image", "seal_image", "font"})
_BOX_FIELDS = frozenset({"box_mm", "number_box_mm", "date_box_mm"})
_TEXT_FIELDS = frozenset({"anchor", "org_name", "number_anchor", "date_anchor", "copy_form"})
_NUMBER_FIELDS = frozenset({"seal_size_mm"})
_BOOL_FIELDS = frozenset({"show_text", "force"})
_INT_FIELDS = frozenset({"page"})
_APPEARANCE_KEYS = (_PATH_FIELDS | _BOX_FIELDS | _TEXT_FIELDS | _NUMBER_FIELDS
                    | _BOOL_FIELDS | _INT_FIELDS | {"place"})
"""AppearanceOptions fields a config may set (profile, doc_number and doc_date come
from the call and the request), and ``place`` for the date line."""
_LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


class ServiceConfigError(BadInputError):
    """A configuration file cannot be used.

    Attributes:
        path: the file.
        key: the key at fault (``service.allowed_origins``), "" for the whole file.
    """

    def __init__(self, reason: str, *, path: str | os.PathLike[str], key: str = "") -> None:
        self.key = key
        super().__init__(f"{key}: {reason}" if key else reason, path=path)


@dataclass(frozen=True)
class Limits:
    """How much one request may ask for (each bounded: a page cannot fill the disk)."""

    max_files: int = 50
    """Documents in one batch."""
    max_file_bytes: int = 50 * MIB
    """One document."""
    max_batch_bytes: int = 500 * MIB
    """All documents of a batch together."""
    max_message_bytes: int = 256 * 1024
    """The request itself (WebSocket message or HTTP body)."""


@dataclass(frozen=True)
class TokenChoice:
    """Which token and key sign: from local configuration only, never from a request
    (whoever names the PKCS#11 library runs code in the service: SERVICE-DESIGN §1.1)."""

    module: Path | None = None
    """The PKCS#11 module; None: discover them."""
    label: str | None = None
    """The token's label."""
    serial: str | None = None
    """The token's serial number."""
    cert_id: bytes | None = None
    """CKA_ID of the signing certificate."""


@dataclass(frozen=True)
class SignSettings:
    """The ``[sign]`` table."""

    level: str = "B-B"
    """PAdES baseline level."""
    tsa_url: str | None = None
    """RFC 3161 time-stamping authority (needed from B-T)."""
    reason: str | None = None
    """``/Reason`` of every signature."""
    journal: Path | None = None
    """The signing journal; None: :func:`signsvc.sign.journal.default_journal_path`."""


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the service reads from its files."""

    allowed_origins: frozenset[str] = frozenset()
    """Origins (normalised) that may call without pairing: admin's, user's, paired."""
    file_origins: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Per calling origin, the other origins its documents may be on (admin only)."""
    limits: Limits = Limits()
    """Request limits."""
    token: TokenChoice = TokenChoice()
    """The signing token."""
    appearances: Mapping[str, CallAppearance] = field(default_factory=dict)
    """By kind (:data:`APPEARANCE_KINDS`): how that call's signature looks."""
    sign: SignSettings = SignSettings()
    """How to sign."""
    session_cookie: str = "ASP.NET_SessionId"
    """Name of the cookie the request's ``SessionId`` is sent as (ASP.NET's session
    cookie, what VGCA's integrations use)."""
    paired_file: Path = Path("paired-origins.toml")
    """Where origins the user approves are kept."""
    pairing: bool = True
    """Whether an unknown origin may ask the official to be paired (``[service]
    pairing``; ``false`` in any file wins, so an administrator can forbid it). Without
    it only the allowlist calls, and no site can make a window appear."""
    files: tuple[Path, ...] = ()
    """The files read, in order."""


def system_config_dir() -> Path:
    """``$SIGNSVC_SYSTEM_CONFIG_DIR``, else ``/etc/signsvc``."""
    return Path(os.environ.get("SIGNSVC_SYSTEM_CONFIG_DIR") or "/etc/signsvc")


def _user_dir() -> Path:
    home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(home) / "signsvc"


def user_config_file() -> Path:
    """``$XDG_CONFIG_HOME/signsvc/service.toml`` (``~/.config`` by default)."""
    return _user_dir() / "service.toml"


def paired_origins_file() -> Path:
    """``$XDG_CONFIG_HOME/signsvc/paired-origins.toml``."""
    return _user_dir() / "paired-origins.toml"


def _read(path: Path, *, required: bool) -> dict[str, Any] | None:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        if required:
            raise ServiceConfigError("the file does not exist", path=path) from None
        return None
    except OSError as exc:
        raise ServiceConfigError(f"cannot be read: {exc.strerror or exc}", path=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ServiceConfigError(f"not valid TOML: {exc}", path=path) from exc
    except UnicodeDecodeError as exc:
        raise ServiceConfigError("not UTF-8 text", path=path) from exc


class _File:
    """One parsed file, with the checks that name it and the key at fault."""

    def __init__(self, path: Path, data: dict[str, Any], *, admin: bool) -> None:
        self.path = path
        self.data = data
        self.admin = admin

    def fail(self, key: str, reason: str) -> ServiceConfigError:
        return ServiceConfigError(reason, path=self.path, key=key)

    def table(self, key: str, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
        parts = key.split(".")
        here: Any = self.data if data is None else data
        for part in parts:
            here = here.get(part, {}) if isinstance(here, dict) else None
            if not isinstance(here, dict):
                raise self.fail(key, "must be a table")
        found: dict[str, Any] = here
        return found

    def known(self, key: str, table: Mapping[str, Any], keys: frozenset[str]) -> None:
        for name in table:
            if name not in keys:
                raise self.fail(f"{key}.{name}" if key else name,
                                f"unknown key (known: {', '.join(sorted(keys))})")

    def string(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value

    def boolean(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def positive(self, key: str, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.fail(key, "must be a positive integer")
        return value

    def origins(self, key: str, value: Any) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(key, "must be a list of origins")
        out = []
        for item in value:
            origin = normalise_origin(item, lenient=True) if isinstance(item, str) else None
            if origin is None:
                raise self.fail(key, f"{item!r} is not an origin: write scheme://host[:port] "
                                     "(http or https, no path)")
            out.append(origin)
        return out

    def path_of(self, key: str, value: Any) -> Path:
        text = self.string(key, value)
        path = Path(text).expanduser()
        return path if path.is_absolute() else (self.path.parent / path)


_TOP_KEYS = frozenset({"service", "token", "appearance", "sign"})
_SERVICE_KEYS = frozenset({"allowed_origins", "file_origins", "session_cookie", "pairing",
                           *(f.name for f in dataclasses.fields(Limits))})
_TOKEN_KEYS = frozenset({"module", "label", "serial", "cert_id"})
_SIGN_KEYS = frozenset({"level", "tsa_url", "reason", "journal"})


def load_config(*, user_file: Path | None = None) -> ServiceConfig:
    """Read every configuration file (see the module).

    Args:
        user_file: ``--config FILE``, instead of the user's default file; it must
            exist (the default need not).

    Raises:
        ServiceConfigError: a file cannot be read or has a mistake (naming the key).
    """
    system = system_config_dir()
    files: list[_File] = []
    admin_files = [system / "service.toml", *sorted((system / "origins.d").glob("*.toml"))]
    for path in admin_files:
        data = _read(path, required=False)
        if data is not None:
            files.append(_File(path, data, admin=True))
    user_path = user_file if user_file is not None else user_config_file()
    data = _read(user_path, required=user_file is not None)
    if data is not None:
        files.append(_File(user_path, data, admin=False))
    paired = paired_origins_file()
    origins: set[str] = set()
    file_origins: dict[str, set[str]] = {}
    limits: dict[str, int] = {}
    token: dict[str, Any] = {}
    sign: dict[str, Any] = {}
    cookie = ServiceConfig.session_cookie
    pairing = True
    appearances: dict[str, CallAppearance] = {}
    for entry in files:
        entry.known("", entry.data, _TOP_KEYS)
        service = entry.table("service")
        entry.known("service", service, _SERVICE_KEYS)
        origins.update(entry.origins("service.allowed_origins",
                                     service.get("allowed_origins", [])))
        if "file_origins" in service:
            if not entry.admin:
                raise entry.fail("service.file_origins",
                                 "only the administrator's files may list file servers")
            table = entry.table("service.file_origins")
            for caller, extra in table.items():
                key = f"service.file_origins.{caller!r}"
                normal = entry.origins(key, [caller])[0]
                file_origins.setdefault(normal, set()).update(entry.origins(key, extra))
        for limit in dataclasses.fields(Limits):
            if limit.name in service:
                value = entry.positive(f"service.{limit.name}", service[limit.name])
                limits[limit.name] = min(value, limits.get(limit.name, value))
        if "session_cookie" in service:
            cookie = _cookie_name(entry, service["session_cookie"])
        if "pairing" in service:
            pairing = pairing and entry.boolean("service.pairing", service["pairing"])
        token.update(_token(entry))
        sign.update(_sign(entry))
        appearances.update(_appearances(entry))
    paired_data = _read(paired, required=False)
    if paired_data is not None:
        entry = _File(paired, paired_data, admin=False)
        entry.known("", paired_data, frozenset({"origins"}))
        origins.update(entry.origins("origins", paired_data.get("origins", [])))
    settings = SignSettings(**sign)
    if settings.level in ("B-T", "B-LT", "B-LTA") and not settings.tsa_url:
        where = files[-1].path if files else user_path
        raise ServiceConfigError(f"level {settings.level} needs sign.tsa_url", path=where,
                                 key="sign.level")
    return ServiceConfig(
        allowed_origins=frozenset(origins),
        file_origins={k: frozenset(v) for k, v in file_origins.items()},
        limits=Limits(**limits), token=TokenChoice(**token), appearances=appearances,
        sign=settings, session_cookie=cookie, paired_file=paired, pairing=pairing,
        files=tuple(f.path for f in files) + ((paired,) if paired_data is not None else ()))


def _cookie_name(entry: _File, value: Any) -> str:
    name = entry.string("service.session_cookie", value)
    # RFC 6265 §4.1.1: a cookie name is an RFC 7230 token.
    if not all(c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~") for c in name):
        raise entry.fail("service.session_cookie", "not a cookie name (RFC 6265 §4.1.1)")
    return name


def _token(entry: _File) -> dict[str, Any]:
    table = entry.table("token")
    entry.known("token", table, _TOKEN_KEYS)
    out: dict[str, Any] = {}
    if "module" in table:
        name = entry.string("token.module", table["module"])
        # A bare file name (libeTPkcs11.so) is the loader's to find, as signsvc sign
        # --module takes it; a path is relative to the file that names it.
        out["module"] = (Path(name) if "/" not in name
                         else entry.path_of("token.module", name))
    for key in ("label", "serial"):
        if key in table:
            out[key] = entry.string(f"token.{key}", table[key])
    if "cert_id" in table:
        hex_id = entry.string("token.cert_id", table["cert_id"])
        try:
            out["cert_id"] = bytes.fromhex(hex_id)
        except ValueError:
            raise entry.fail("token.cert_id", f"{hex_id!r} is not hexadecimal") from None
    return out


def _sign(entry: _File) -> dict[str, Any]:
    table = entry.table("sign")
    entry.known("sign", table, _SIGN_KEYS)
    out: dict[str, Any] = {}
    if "level" in table:
        if table["level"] not in _LEVELS:
            raise entry.fail("sign.level", f"must be one of {', '.join(_LEVELS)}")
        out["level"] = table["level"]
    for key in ("tsa_url", "reason"):
        if key in table:
            out[key] = entry.string(f"sign.{key}", table[key])
    if "journal" in table:
        out["journal"] = entry.path_of("sign.journal", table["journal"])
    return out


def _appearances(entry: _File) -> dict[str, CallAppearance]:
    table = entry.table("appearance")
    entry.known("appearance", table, frozenset(APPEARANCE_KINDS))
    out = {}
    for kind in table:
        key = f"appearance.{kind}"
        section = entry.table(key)
        entry.known(key, section, _APPEARANCE_KEYS)
        fields: dict[str, Any] = {}
        place = None
        for name, value in section.items():
            where = f"{key}.{name}"
            if name == "place":
                place = entry.string(where, value)
            elif name in _PATH_FIELDS:
                fields[name] = entry.path_of(where, value)
            elif name in _TEXT_FIELDS:
                fields[name] = entry.string(where, value)
            elif name in _BOOL_FIELDS:
                if not isinstance(value, bool):
                    raise entry.fail(where, "must be true or false")
                fields[name] = value
            elif name in _INT_FIELDS:
                if not isinstance(value, int) or isinstance(value, bool) or value == 0:
                    raise entry.fail(where, "must be a page number (1-based; -1 = last)")
                fields[name] = value
            elif name in _NUMBER_FIELDS:
                if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                    raise entry.fail(where, "must be a positive number of millimetres")
                fields[name] = float(value)
            else:
                fields[name] = _box(entry, where, value)
        appearance = CallAppearance(fields, place)
        _check_appearance(entry, key, kind, appearance)
        out[kind] = appearance
    return out


def _box(entry: _File, key: str, value: Any) -> tuple[float, float, float, float]:
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise entry.fail(key, "must be [x, y, width, height] in millimetres")
    x, y, w, h = (float(v) for v in value)
    return x, y, w, h


def _check_appearance(entry: _File, key: str, kind: str, appearance: CallAppearance) -> None:
    """Build the appearance as a call would (with sample texts) and load its images,
    so a mistake stops the service at start, not an official's first signature."""
    from signsvc.appearance.profiles import AppearanceMaker
    from signsvc.errors import SignsvcError

    try:
        options = appearance_for(kind, appearance, doc_number="Số: 1/TEST",
                                 issued=(1, 1, 2027))
        AppearanceMaker(options)
    except SignsvcError as exc:
        raise entry.fail(key, str(exc)) from exc

