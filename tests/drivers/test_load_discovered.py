"""Loading every discovered module: failures are recorded, never raised, and say
whether the user named the module.

Every test that loads libsofthsm2.so requests the ``hsm`` fixture (see
test_module_load.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import drivers
import drivers.module
from certs_test.softhsm import SoftHSM
from drivers import (
    LoadedCandidate,
    ModuleCandidate,
    ModuleLoadError,
    ModuleLoadReason,
    load_discovered,
    load_module,
)
from tests.support.tokens import ANH


def _not_a_library(directory: Path, name: str = "libvnpt-ca.so") -> Path:
    path = directory / name
    path.write_text("Đây không phải là thư viện PKCS#11.\n" * 10, encoding="utf-8")
    return path


def _discovered_only(tmp_path: Path) -> dict[str, object]:
    """discover_modules() arguments with no user config file of this machine."""
    return {"config_file": tmp_path / "no-config.toml"}


def test_a_good_module_loads(hsm: SoftHSM) -> None:
    [entry] = load_discovered([hsm.module])
    assert entry.candidate == ModuleCandidate(hsm.module, "explicit", "SoftHSM2")
    assert entry.module is load_module(hsm.module)
    assert entry.error is None
    assert entry.explicit
    assert entry.module_or_raise() is entry.module
    assert ANH in [t.label for t in entry.module.tokens()]


def test_a_module_named_in_the_environment_that_fails_is_recorded_and_the_next_ones_load(
    hsm: SoftHSM, tmp_path: Path
) -> None:
    broken = _not_a_library(tmp_path)
    missing = tmp_path / "viettel-ca_v6.so"
    environ = {"SIGNSVC_PKCS11_MODULE": os.pathsep.join(map(str, (broken, missing,
                                                                  hsm.module)))}
    entries = list(load_discovered(environ=environ, **_discovered_only(tmp_path)))
    assert [(e.candidate.path, e.candidate.source) for e in entries] == [
        (broken, "env"), (missing, "env"), (hsm.module, "env")]

    bad, gone, good = entries
    for failed, reason in ((bad, ModuleLoadReason.NOT_A_LIBRARY),
                           (gone, ModuleLoadReason.NOT_FOUND)):
        assert failed.module is None
        assert failed.explicit  # named by the user, as with --module
        assert isinstance(failed.error, ModuleLoadError)
        assert failed.error.reason is reason
        assert failed.error.path == failed.candidate.path
        assert str(failed.candidate.path) in str(failed.error)
        with pytest.raises(ModuleLoadError) as raised:
            failed.module_or_raise()
        assert raised.value is failed.error
    assert good.error is None and good.explicit
    assert good.module is load_module(hsm.module)


def test_a_module_from_the_p11kit_registry_that_fails_is_not_explicit(
    tmp_path: Path
) -> None:
    broken = _not_a_library(tmp_path, "libbroken-token.so")
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "broken-token.module").write_text(f"module: {broken}\n", encoding="utf-8")
    entries = load_discovered(environ={"HOME": str(tmp_path)}, registry_dirs=[registry],
                              **_discovered_only(tmp_path))
    # Registry modules come before the vendor modules probed on disk; stop there, so
    # this machine's vendor modules are not loaded.
    first = next(iter(entries))
    assert (first.candidate.path, first.candidate.source) == (broken, "p11-kit")
    assert first.module is None and not first.explicit
    assert first.error is not None
    assert first.error.reason is ModuleLoadReason.NOT_A_LIBRARY


def test_an_explicit_module_that_fails_is_reported_as_explicit(
    hsm: SoftHSM, tmp_path: Path
) -> None:
    broken = _not_a_library(tmp_path)
    bad, good = load_discovered([broken, hsm.module])
    assert bad.explicit and bad.candidate.source == "explicit"
    assert bad.module is None
    assert bad.error is not None and bad.error.reason is ModuleLoadReason.NOT_A_LIBRARY
    with pytest.raises(ModuleLoadError):
        bad.module_or_raise()
    # Not raised by load_discovered itself: the caller decides what an explicit
    # failure means, and the other modules are still there to report on.
    assert good.explicit and good.module is load_module(hsm.module)


def test_modules_are_loaded_only_as_the_iteration_reaches_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[Path] = []

    def fake_load(path: str | Path) -> drivers.Pkcs11Module:
        loaded.append(Path(path))
        raise ModuleLoadError(Path(path), ModuleLoadReason.NOT_FOUND)

    monkeypatch.setattr(drivers.module, "load_module", fake_load)
    first, second = tmp_path / "one.so", tmp_path / "two.so"
    entries = iter(load_discovered([first, second]))
    assert loaded == []
    assert next(entries).candidate.path == first
    assert loaded == [first]
    assert next(entries).candidate.path == second
    assert loaded == [first, second]
    assert next(entries, None) is None


def test_an_entry_has_either_a_module_or_an_error(hsm: SoftHSM, tmp_path: Path) -> None:
    candidate = ModuleCandidate(tmp_path / "x.so", "explicit", None)
    with pytest.raises(ValueError):
        LoadedCandidate(candidate, None, None)
    error = ModuleLoadError(candidate.path, ModuleLoadReason.NOT_FOUND)
    with pytest.raises(ValueError):
        LoadedCandidate(candidate, load_module(hsm.module), error)
