"""Find the PKCS#11 modules on this machine, so an official never types a module path.

The first source that names modules wins, in this order:

1. modules given explicitly (``--module PATH``);
2. the ``SIGNSVC_PKCS11_MODULE`` environment variable (``os.pathsep``-separated);
3. the user config file (``$SIGNSVC_CONFIG``, else ``~/.config/signsvc/config.toml``)::

       [pkcs11]
       modules = ["/usr/lib/viettel-ca_v6.so"]

4. otherwise everything found in the p11-kit registry (``*.module`` files) and every
   vendor module of :file:`vendors.toml` present on disk, without duplicates.

Example::

    >>> from drivers import discover_modules
    >>> [c.path.name for c in discover_modules()]  # doctest: +SKIP
    ['opensc-pkcs11.so', 'libsofthsm2.so']
"""

from __future__ import annotations

import os
import sys
import sysconfig
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from drivers.errors import ConfigFileError

__all__ = ["ModuleCandidate", "VendorProfile", "discover_modules", "vendor_profiles"]

NAMED_SOURCES = frozenset({"explicit", "env", "config"})
"""The :attr:`ModuleCandidate.source` values of modules the user named."""
ENV_MODULE = "SIGNSVC_PKCS11_MODULE"
ENV_CONFIG = "SIGNSVC_CONFIG"


@dataclass(frozen=True)
class VendorProfile:
    """One token vendor's module file names (from :file:`drivers/vendors.toml`)."""

    name: str
    """Short identifier, e.g. ``"viettel-ca"``."""
    display: str
    """Name shown to users, e.g. ``"Viettel-CA"``."""
    files: tuple[str, ...]
    """Module file names or absolute paths for the current platform (``~/`` is the
    user's home folder)."""
    sources: tuple[str, ...] = ()
    """Where each of :attr:`files` comes from, in the same order (the text of the
    ``[sources]`` entry vendors.toml names)."""

    def source_of(self, file: str) -> str | None:
        """Where the module name ``file`` comes from."""
        for name, source in zip(self.files, self.sources, strict=False):
            if name == file:
                return source
        return None


@dataclass(frozen=True)
class ModuleCandidate:
    """A PKCS#11 module found by :func:`discover_modules` (not loaded yet)."""

    path: Path
    """The path as found (symlinks are resolved only when loading)."""
    source: str
    """Where it came from: ``explicit``, ``env``, ``config``, ``p11-kit`` or ``vendor``."""
    vendor: str | None
    """Display name of the matching vendor profile, if any."""

    @property
    def named(self) -> bool:
        """The user named this module (``--module``, ``SIGNSVC_PKCS11_MODULE``, the
        config file): a failure to load it is an error, not a module to skip."""
        return self.source in NAMED_SOURCES


def _platform_key(platform: str | None = None) -> str:
    platform = platform or sys.platform
    if platform.startswith("win"):
        return "windows"
    if platform == "darwin":
        return "darwin"
    return "linux"


@cache
def vendor_profiles(platform: str | None = None) -> tuple[VendorProfile, ...]:
    """The vendor profiles for ``platform`` (default: this machine's)."""
    key = _platform_key(platform)
    text = resources.files("drivers").joinpath("vendors.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    sources: dict[str, str] = data.get("sources", {})
    profiles = []
    for vendor in data["vendor"]:
        files: list[str] = []
        origins: list[str] = []
        for table in (vendor, vendor.get("seen", {})):
            for name in table.get(key, ()):
                files.append(name)
                origins.append(sources.get(table.get("source", ""), table.get("source", "")))
        profiles.append(VendorProfile(name=vendor["name"], display=vendor["display"],
                                      files=tuple(files), sources=tuple(origins)))
    return tuple(profiles)


def vendor_for(path: Path, platform: str | None = None) -> str | None:
    """The display name of the vendor whose profile names this module file."""
    # Windows file names are case-insensitive (EPS2003CSP11.DLL is eps2003csp11.dll).
    fold = _platform_key(platform) == "windows"
    name = path.name.lower() if fold else path.name
    for profile in vendor_profiles(platform):
        for entry in profile.files:
            candidate = Path(entry).name
            if name == (candidate.lower() if fold else candidate):
                return profile.display
    return None


def _library_dirs(platform: str | None = None) -> list[Path]:
    key = _platform_key(platform)
    if key == "windows":
        root = Path(os.environ.get("SystemRoot", r"C:\Windows"))
        return [root / "System32", root / "SysWOW64"]
    if key == "darwin":
        return [Path("/usr/local/lib"), Path("/opt/homebrew/lib"), Path("/Library/OpenSC/lib")]
    multiarch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    return [
        Path(f"/usr/lib/{multiarch}/pkcs11"),
        Path(f"/usr/lib/{multiarch}"),
        Path("/usr/lib/pkcs11"),
        Path("/usr/lib"),
        Path("/usr/local/lib"),
        Path("/usr/lib64"),
        Path("/lib"),
    ]


def _p11kit_module_dir() -> Path:
    multiarch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    return Path(f"/usr/lib/{multiarch}/pkcs11")


def _p11kit_registry_dirs(environ: Mapping[str, str]) -> list[Path]:
    # p11-kit's precedence (pkcs11.conf(5)): user files override system ones of the
    # same name, and /etc overrides /usr/share.
    home = environ.get("HOME", str(Path.home()))
    config_home = environ.get("XDG_CONFIG_HOME", str(Path(home) / ".config"))
    return [
        Path(config_home) / "pkcs11" / "modules",
        Path("/etc/pkcs11/modules"),
        Path("/usr/share/p11-kit/modules"),
    ]


def _parse_p11kit_file(path: Path) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def p11kit_modules(
    dirs: Iterable[Path] | None = None, *, environ: Mapping[str, str] | None = None
) -> list[Path]:
    """Module paths registered with p11-kit, skipping its trust-policy modules.

    Trust modules (``trust-policy: yes``, e.g. ``p11-kit-trust.so``) expose the
    system's CA store as tokens; they never hold a signing key, so listing them would
    only bury the official's token under a hundred root certificates.
    """
    environ = os.environ if environ is None else environ
    seen: dict[str, Path] = {}
    for directory in dirs if dirs is not None else _p11kit_registry_dirs(environ):
        if not directory.is_dir():
            continue
        for entry in sorted(directory.glob("*.module")):
            if entry.name in seen:
                continue
            fields = _parse_p11kit_file(entry)
            module = fields.get("module")
            if not module or fields.get("trust-policy", "").lower() in {"yes", "true"}:
                seen.setdefault(entry.name, Path())
                continue
            path = Path(module)
            seen[entry.name] = path if path.is_absolute() else _p11kit_module_dir() / path
    return [p for p in seen.values() if p != Path()]


def _config_modules(environ: Mapping[str, str], config_file: Path | None) -> list[Path]:
    if config_file is None:
        if ENV_CONFIG in environ:
            config_file = Path(environ[ENV_CONFIG])
        else:
            home = environ.get("HOME", str(Path.home()))
            config_home = environ.get("XDG_CONFIG_HOME", str(Path(home) / ".config"))
            config_file = Path(config_home) / "signsvc" / "config.toml"
    if not config_file.is_file():
        return []
    try:
        with config_file.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigFileError(config_file, f"cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(config_file, f"not valid TOML: {exc}") from exc
    section = data.get("pkcs11", {})
    modules = section.get("modules", []) if isinstance(section, dict) else None
    if not isinstance(modules, list):
        raise ConfigFileError(config_file, "[pkcs11] modules must be a list of paths")
    home = environ.get("HOME", str(Path.home()))
    return [Path(home + m[1:] if m.startswith("~/") else m) for m in modules
            if isinstance(m, str)]


def _probe_vendors(platform: str | None, environ: Mapping[str, str]) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    dirs = _library_dirs(platform)
    home = environ.get("HOME", str(Path.home()))
    for profile in vendor_profiles(platform):
        for entry in profile.files:
            entry_path = Path(home, entry[2:]) if entry.startswith("~/") else Path(entry)
            candidates = [entry_path] if entry_path.is_absolute() else [d / entry for d in dirs]
            for candidate in candidates:
                if candidate.is_file():
                    found.append((candidate, profile.display))
                    break
    return found


def discover_modules(
    explicit: Sequence[str | Path] = (),
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    registry_dirs: Iterable[Path] | None = None,
    platform: str | None = None,
) -> list[ModuleCandidate]:
    """List the PKCS#11 modules to use, in the order documented in this module.

    Args:
        explicit: module paths the user named; when given, nothing else is searched.
        environ: environment to read (default ``os.environ``); for tests.
        config_file: overrides the config-file location.
        registry_dirs: overrides the p11-kit registry directories; for tests.
        platform: overrides ``sys.platform`` for the vendor profiles.

    Returns:
        Candidates without duplicates (two paths to one file count once). Explicit,
        environment and config paths are returned even when missing, so that loading
        them reports a clear :class:`~drivers.errors.ModuleLoadError`.

    Raises:
        ConfigFileError: the config file exists but cannot be read or is not TOML.
    """
    environ = os.environ if environ is None else environ

    def named(paths: Iterable[str | Path], source: str) -> list[ModuleCandidate]:
        return _unique(ModuleCandidate(Path(p), source, vendor_for(Path(p), platform))
                       for p in paths)

    if explicit:
        return named(explicit, "explicit")
    if environ.get(ENV_MODULE):
        return named((p for p in environ[ENV_MODULE].split(os.pathsep) if p), "env")
    configured = _config_modules(environ, config_file)
    if configured:
        return named(configured, "config")
    registered = [
        ModuleCandidate(p, "p11-kit", vendor_for(p, platform))
        for p in p11kit_modules(registry_dirs, environ=environ)
        if p.is_file()
    ]
    probed = [ModuleCandidate(p, "vendor", v) for p, v in _probe_vendors(platform, environ)]
    return _unique([*registered, *probed])


def _unique(candidates: Iterable[ModuleCandidate]) -> list[ModuleCandidate]:
    seen: set[str] = set()
    out: list[ModuleCandidate] = []
    for c in candidates:
        key = os.path.realpath(c.path)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out
