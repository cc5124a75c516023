"""Finding PKCS#11 modules: explicit > env > config > p11-kit registry + vendor probing.

Registry tests write real ``*.module`` files (pkcs11.conf(5) syntax) into temporary
directories; the last tests read this machine's own p11-kit registry.
"""

from __future__ import annotations

import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivers.discovery import (
    ModuleCandidate,
    discover_modules,
    p11kit_modules,
    vendor_for,
    vendor_profiles,
)
from drivers.errors import ConfigFileError, TokenError
from tests.support.tools import need, skip_or_fail

SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")
SYSTEM_REGISTRY = Path("/usr/share/p11-kit/modules")
# Where Debian's p11-kit looks up a relative ``module:`` (p11_module_path).
P11KIT_MODULE_DIR = Path("/usr/lib") / (sysconfig.get_config_var("MULTIARCH")
                                        or "x86_64-linux-gnu") / "pkcs11"


def _module_file(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _config(path: Path, *modules: str) -> Path:
    listed = ", ".join(f'"{m}"' for m in modules)
    path.write_text(f"[pkcs11]\nmodules = [{listed}]\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Lower:
    """Sources that must lose: a config file and a registry, each naming a module."""

    config_file: Path
    registry_dirs: list[Path]


@pytest.fixture
def lower_sources(tmp_path: Path) -> Lower:
    """A config file and a registry that each name a different, existing module."""
    config_module = tmp_path / "from-config.so"
    config_module.write_bytes(b"")
    registry_module = tmp_path / "from-registry.so"
    registry_module.write_bytes(b"")
    registry = tmp_path / "registry"
    _module_file(registry, "reg.module", f"module: {registry_module}\n")
    return Lower(_config(tmp_path / "config.toml", str(config_module)), [registry])


def _paths(candidates: list[ModuleCandidate]) -> list[Path]:
    return [c.path for c in candidates]


# -- precedence ------------------------------------------------------------------------


def test_explicit_paths_win_and_are_kept_when_missing(
    tmp_path: Path, lower_sources: Lower
) -> None:
    missing = tmp_path / "viettel-ca_v6.so"
    found = discover_modules(
        [missing, "/opt/nowhere/libcastle.so.1.0.0"],
        environ={"SIGNSVC_PKCS11_MODULE": str(tmp_path / "env.so")},
        config_file=lower_sources.config_file,
        registry_dirs=lower_sources.registry_dirs,
    )
    assert _paths(found) == [missing, Path("/opt/nowhere/libcastle.so.1.0.0")]
    assert {c.source for c in found} == {"explicit"}
    assert [c.vendor for c in found] == ["Viettel-CA", "Feitian ePass2003"]


def test_env_variable_wins_over_config_and_registry(
    tmp_path: Path, lower_sources: Lower
) -> None:
    first, second = tmp_path / "a" / "libbit4xpki.so", tmp_path / "b.so"
    # An empty element (a trailing or doubled separator) names nothing.
    value = f"{first}{os.pathsep}{os.pathsep}{second}{os.pathsep}"
    found = discover_modules(
        environ={"SIGNSVC_PKCS11_MODULE": value},
        config_file=lower_sources.config_file,
        registry_dirs=lower_sources.registry_dirs,
    )
    assert _paths(found) == [first, second]
    assert [c.source for c in found] == ["env", "env"]
    assert [c.vendor for c in found] == ["Bit4id TokenME", None]


def test_config_file_wins_over_registry(
    tmp_path: Path, lower_sources: Lower
) -> None:
    found = discover_modules(
        environ={},
        config_file=lower_sources.config_file,
        registry_dirs=lower_sources.registry_dirs,
    )
    assert _paths(found) == [tmp_path / "from-config.so"]
    assert found[0].source == "config"


def test_config_file_named_by_signsvc_config(
    tmp_path: Path, lower_sources: Lower
) -> None:
    missing = tmp_path / "not-installed" / "fptca_v4.so"
    config = _config(tmp_path / "elsewhere.toml", str(missing))
    found = discover_modules(
        environ={"SIGNSVC_CONFIG": str(config)},
        registry_dirs=lower_sources.registry_dirs,
    )
    # Configured paths are kept even when missing, so loading can say why.
    assert found == [ModuleCandidate(missing, "config", "FPT-CA")]


@pytest.mark.parametrize(("text", "words"), [
    ('[pkcs11]\nmodules = ["/usr/lib/x.so"\n', "not valid TOML"),
    ('[pkcs11]\nmodules = "/usr/lib/x.so"\n', "must be a list of paths"),
    ("pkcs11 = 3\n", "must be a list of paths"),
])
def test_a_broken_config_file_is_a_config_file_error(tmp_path: Path, text: str,
                                                      words: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigFileError) as raised:
        discover_modules(environ={"SIGNSVC_CONFIG": str(config)}, registry_dirs=[])
    assert raised.value.path == config
    assert words in raised.value.reason
    assert isinstance(raised.value, TokenError)  # exit 3, like a module that fails


def test_missing_config_file_falls_through_to_registry(
    tmp_path: Path, lower_sources: Lower
) -> None:
    found = discover_modules(
        environ={"SIGNSVC_CONFIG": str(tmp_path / "absent.toml")},
        registry_dirs=lower_sources.registry_dirs,
    )
    registered = [c for c in found if c.source == "p11-kit"]
    assert _paths(registered) == [tmp_path / "from-registry.so"]
    assert "config" not in {c.source for c in found}


# -- the p11-kit registry --------------------------------------------------------------


def test_registry_relative_module_resolves_in_p11kit_module_dir(tmp_path: Path) -> None:
    _module_file(tmp_path, "opensc.module", "module: opensc-pkcs11.so\n")
    assert p11kit_modules([tmp_path], environ={}) == [P11KIT_MODULE_DIR / "opensc-pkcs11.so"]


def test_registry_skips_trust_policy_modules(tmp_path: Path) -> None:
    _module_file(tmp_path, "p11-kit-trust.module",
                 "module: p11-kit-trust.so\npriority: 1\ntrust-policy: yes\n")
    _module_file(tmp_path, "token.module", "module: /opt/token/libtoken.so\n")
    assert p11kit_modules([tmp_path], environ={}) == [Path("/opt/token/libtoken.so")]


def test_registry_earlier_dir_overrides_same_file_name(tmp_path: Path) -> None:
    user, system = tmp_path / "user", tmp_path / "system"
    _module_file(user, "vendor.module", "module: /home/me/libvendor-fixed.so\n")
    _module_file(system, "vendor.module", "module: /usr/lib/libvendor.so\n")
    _module_file(system, "other.module", "module: /usr/lib/libother.so\n")
    # A user file marking a module as trust-only hides the system entry too.
    _module_file(user, "shadowed.module", "module: /x.so\ntrust-policy: yes\n")
    _module_file(system, "shadowed.module", "module: /usr/lib/libshadowed.so\n")
    modules = p11kit_modules([user, system], environ={})
    assert sorted(modules) == [Path("/home/me/libvendor-fixed.so"), Path("/usr/lib/libother.so")]


def test_registry_ignores_comments_blank_lines_and_other_files(tmp_path: Path) -> None:
    _module_file(
        tmp_path,
        "commented.module",
        "# module: /evil/libcommented.so\n\n   \n"
        "   module:   /opt/token/libspaced.so   \n# trust-policy: yes\n",
    )
    _module_file(tmp_path, "README", "module: /not/a/registry/entry.so\n")
    _module_file(tmp_path, "empty.module", "# nothing here\n")
    assert p11kit_modules([tmp_path], environ={}) == [Path("/opt/token/libspaced.so")]


def test_registry_drops_modules_whose_file_is_missing(tmp_path: Path) -> None:
    present = tmp_path / "libpresent.so"
    present.write_bytes(b"")
    registry = tmp_path / "registry"
    _module_file(registry, "a-gone.module", f"module: {tmp_path / 'libgone.so'}\n")
    _module_file(registry, "b-present.module", f"module: {present}\n")
    found = discover_modules(environ={}, config_file=tmp_path / "absent.toml",
                             registry_dirs=[registry])
    assert [c.path for c in found if c.source == "p11-kit"] == [present]
    assert tmp_path / "libgone.so" not in _paths(found)


# -- duplicates ------------------------------------------------------------------------


def test_symlinked_module_counts_once(tmp_path: Path) -> None:
    need("softhsm")
    link = tmp_path / "libsofthsm2-link.so"
    link.symlink_to(SOFTHSM)
    registry = tmp_path / "registry"
    _module_file(registry, "a.module", f"module: {SOFTHSM}\n")
    _module_file(registry, "b.module", f"module: {link}\n")
    found = discover_modules(environ={}, config_file=tmp_path / "absent.toml",
                             registry_dirs=[registry])
    real = SOFTHSM.resolve()
    same = [c for c in found if c.path.resolve() == real]
    # Vendor probing finds /usr/lib/softhsm/libsofthsm2.so again: still one entry.
    assert same == [ModuleCandidate(SOFTHSM, "p11-kit", "SoftHSM2")]

    explicit = discover_modules([link, SOFTHSM, link], environ={})
    assert explicit == [ModuleCandidate(link, "explicit", None)]


# -- vendor profiles -------------------------------------------------------------------


def _files(platform: str) -> dict[str, tuple[str, ...]]:
    return {p.name: p.files for p in vendor_profiles(platform)}


def test_vendor_profiles_cover_the_tokens_used_in_viet_nam() -> None:
    required = {"epass2003", "safenet", "bit4id", "viettel-ca", "vnpt-ca", "bkav-ca",
                "fpt-ca", "opensc", "softhsm"}
    for platform in ("linux", "win32", "darwin"):
        assert required <= set(_files(platform)), platform
    displays = {p.name: p.display for p in vendor_profiles("linux")}
    assert displays["viettel-ca"] == "Viettel-CA"
    assert displays["vnpt-ca"] == "VNPT-CA"
    assert displays["softhsm"] == "SoftHSM2"


def test_vendor_profiles_windows_names() -> None:
    files = _files("win32")
    assert "viettel-ca_v6.dll" in files["viettel-ca"]
    assert "eps2003csp11.dll" in files["epass2003"]
    assert "bit4xpki.dll" in files["bit4id"]
    assert "eTPKCS11.dll" in files["safenet"]
    assert files["vnpt-ca"], "VNPT-CA ships Windows modules"
    every = [f for names in files.values() for f in names]
    assert all(f.endswith(".dll") for f in every), every


def test_vendor_profiles_linux_and_darwin_names() -> None:
    linux = _files("linux")
    assert "libcastle.so.1.0.0" in linux["epass2003"]
    assert "/usr/lib/fptca_v4.so" in linux["fpt-ca"]
    assert "libsofthsm2.so" in linux["softhsm"]
    assert all(".so" in f for names in linux.values() for f in names)
    darwin = _files("darwin")
    assert "libcastle.1.0.0.dylib" in darwin["epass2003"]
    assert not any(f.endswith(".dll") for names in darwin.values() for f in names)


def test_vendor_for_matches_file_names() -> None:
    assert vendor_for(Path("/x/libsofthsm2.so")) == "SoftHSM2"
    assert vendor_for(Path("/usr/lib/fptca_v4.so"), "linux") == "FPT-CA"
    assert vendor_for(Path("C:/Windows/System32/eps2003csp11.dll"), "win32") == \
        "Feitian ePass2003"
    # A Windows DLL name means nothing on Linux, and unknown files match no vendor.
    assert vendor_for(Path("/x/eps2003csp11.dll"), "linux") is None
    assert vendor_for(Path("/x/libunknown.so")) is None


def test_vendor_for_folds_case_on_windows_only() -> None:
    assert vendor_for(Path("C:/Windows/System32/EPS2003CSP11.DLL"), "win32") == \
        "Feitian ePass2003"
    assert vendor_for(Path("/usr/lib/LIBSOFTHSM2.SO"), "linux") is None


def test_config_tilde_uses_the_given_home(tmp_path: Path, lower_sources: Lower) -> None:
    config = _config(tmp_path / "tilde.toml", "~/tokens/viettel-ca_v6.so")
    found = discover_modules(environ={"HOME": "/home/can-bo"}, config_file=config,
                             registry_dirs=lower_sources.registry_dirs)
    assert _paths(found) == [Path("/home/can-bo/tokens/viettel-ca_v6.so")]


# -- this machine ----------------------------------------------------------------------


def _need_registered(name: str) -> None:
    """Skip when the system package did not register ``name``; fail in CI (like need)."""
    if (SYSTEM_REGISTRY / name).is_file():
        return
    skip_or_fail(f"{SYSTEM_REGISTRY / name} missing (Debian's softhsm2 and p11-kit install it)")


def test_system_registry_finds_softhsm(tmp_path: Path) -> None:
    need("softhsm")
    _need_registered("softhsm2.module")
    found = discover_modules(environ={}, config_file=tmp_path / "absent.toml")
    softhsm = [c for c in found if c.path.resolve() == SOFTHSM.resolve()]
    assert len(softhsm) == 1
    assert softhsm[0].source == "p11-kit"
    assert softhsm[0].vendor == "SoftHSM2"


def test_system_registry_skips_p11kit_trust(tmp_path: Path) -> None:
    _need_registered("p11-kit-trust.module")
    found = discover_modules(environ={}, config_file=tmp_path / "absent.toml")
    assert found, "the registry names at least one module"
    assert "p11-kit-trust.so" not in {c.path.name for c in found}
    # The trust module exists on disk: it is skipped, not merely missing.
    assert (P11KIT_MODULE_DIR / "p11-kit-trust.so").is_file()


# -- the vendor table: the tokens officials really have --------------------------------

# Names DOMAIN.md records from public integration code of Vietnamese signing tools.
SEEN_IN_INTEGRATION_CODE = {
    "win32": ["viettel-ca_v1.dll", "viettel-ca_v2_s.x64.dll", "viettel-ca.dll",
              "vnptcav2_p11_v8.dll", "vnpt-ca_cl_v1.dll", "VNPT-CA_v34.dll",
              "VNPTCACardv8csp11.dll", "vdctdcsp11.dll", "wdpkcs.dll", "BkavCAv2S.dll",
              "st3csp11.dll", "fpt-ca_v5.dll", "fpt-ca.dll", "fpt-ca-stx.dll",
              "CA2_csp11.dll", "CA2_v34.dll", "newca_v4.dll", "Safe-ca_v2.dll",
              "efy-ca_v1.dll", "vina-ca_v3.dll", "misaca_csp11_v2.dll", "ncca_csp11_v1.dll",
              "nca_v6.dll", "fca_v1.dll", "ShuttleCsp11_3003.dll", "ngp11v211.dll",
              "gclib.dll", "psapkcs.dll"],
    "linux": ["libviettel-ca_v2.so", "libvsignspkcs11.so", "~/.uid/viettel-ca_v6.so",
              "libshuttle_p11v220.so.1.0.0",
              "/opt/SecurityData_Linux/redist/x86_64/libshuttle_p11v220.so.1.0.0"],
    "darwin": ["viettel-ca_v4.dylib", "viettel-ca_v5.dylib", "nca_v6.dylib"],
}


@pytest.mark.parametrize("platform", sorted(SEEN_IN_INTEGRATION_CODE))
def test_the_vendor_table_has_the_names_seen_in_vietnamese_integration_code(
        platform: str) -> None:
    profiles = vendor_profiles(platform)
    listed = {f: p for p in profiles for f in p.files}
    for name in SEEN_IN_INTEGRATION_CODE[platform]:
        assert name in listed, name
        source = listed[name].source_of(name)
        assert source is not None and "public integration code" in source, (name, source)
    # The vendors' own names keep their own source.
    viettel = next(p for p in profiles if p.name == "viettel-ca")
    own = {"win32": "viettel-ca_v6.dll", "linux": "/usr/lib/viettel-ca_v6.so",
           "darwin": "viettel-ca_v6.dylib"}[platform]
    assert "the table" in (viettel.source_of(own) or "")


def test_every_vendor_name_has_a_source_and_appears_once() -> None:
    for platform in ("linux", "win32", "darwin"):
        names = [f for p in vendor_profiles(platform) for f in p.files]
        assert len(names) == len(set(names)), platform
        for profile in vendor_profiles(platform):
            assert len(profile.sources) == len(profile.files)
            assert all(s.startswith("../shared/DOMAIN.md") for s in profile.sources), profile


def test_a_vendor_module_under_the_home_folder_is_found(tmp_path: Path) -> None:
    """Viettel's local service installs ~/.uid/viettel-ca_v6.so; discovery probes it."""
    module = tmp_path / ".uid" / "viettel-ca_v6.so"
    module.parent.mkdir()
    module.write_bytes(b"\x7fELF")
    found = discover_modules(environ={"HOME": str(tmp_path)},
                             config_file=tmp_path / "absent.toml", registry_dirs=[],
                             platform="linux")
    assert ModuleCandidate(module, "vendor", "Viettel-CA") in found
