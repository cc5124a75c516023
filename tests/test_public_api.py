"""The facade: every public name imports from ``signsvc``, loaded only when used, and
the command line starts without the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import signsvc
from tests.support.paths import ROOT

HEAVY = ("pyhanko", "cryptography.x509", "pkcs11", "asn1crypto", "pdfminer", "PIL")


def test_every_exported_name_resolves_and_is_homed_once() -> None:
    homed = [name for names in signsvc._HOME.values() for name in names]
    assert sorted(homed) == sorted(signsvc.__all__)
    assert len(set(homed)) == len(homed)
    for name in signsvc.__all__:
        assert getattr(signsvc, name) is not None, name
    assert signsvc.open_token_key.__module__ == "signsvc.tokens"
    # The signing plan, its progress and the signing errors an integrator catches.
    assert signsvc.plan_batch.__module__ == "signsvc.sign.plan"
    assert signsvc.SkipReason.OWN_OUTPUT.value == "own-output"
    assert issubclass(signsvc.TimestampError, signsvc.SigningError)
    assert issubclass(signsvc.CertificateUnusableError, signsvc.SignsvcError)
    assert signsvc.TokenKey.__module__.startswith("drivers")


def test_a_name_that_is_not_exported_is_an_attribute_error() -> None:
    try:
        signsvc.CertInfo  # type: ignore[attr-defined]  # noqa: B018 - private, not exported
    except AttributeError as exc:
        assert "CertInfo" in str(exc)
    else:
        raise AssertionError("CertInfo must not be public")


def _modules_after(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        cwd=ROOT, capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_import_signsvc_loads_no_heavy_library() -> None:
    loaded = _modules_after("import signsvc")
    assert [m for m in loaded if m.startswith(HEAVY)] == []
    # ... and a name pulls in what it needs.
    loaded = _modules_after("import signsvc; signsvc.validate_chain")
    assert "cryptography.x509" in loaded and "pyhanko" not in loaded


def test_help_loads_no_heavy_library() -> None:
    for command in ("[]", "['verify']", "['sign']", "['chain']", "['tokens']"):
        loaded = _modules_after(
            "import sys; sys.argv = ['signsvc', *" + command + ", '--help']\n"
            "import cli\ntry:\n    cli.main()\nexcept SystemExit:\n    pass")
        assert [m for m in loaded if m.startswith(HEAVY)] == [], command


PUBLIC_PACKAGES = ("signsvc", "signsvc.sign", "signsvc.appearance", "signsvc.pki",
                   "signsvc.verify", "signsvc.tokens", "drivers")


def _public_names() -> dict[int, str]:
    """id(object) -> a public dotted name, for everything the public packages export."""
    import importlib

    found: dict[int, str] = {}
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            found.setdefault(id(getattr(module, name)), f"{package}.{name}")
    return found


def _classes_in(hint: object) -> list[type]:
    import typing

    if isinstance(hint, type):
        return [hint]
    return [c for arg in typing.get_args(hint) for c in _classes_in(arg)]


def test_public_signatures_use_only_public_types() -> None:
    import dataclasses
    import importlib
    import inspect
    import typing

    public = _public_names()
    # Names some modules import only under TYPE_CHECKING resolve from the public ones.
    modules = [importlib.import_module(package) for package in PUBLIC_PACKAGES]
    namespace = {name: getattr(module, name) for module in modules for name in module.__all__}
    offenders = []
    for package, module in zip(PUBLIC_PACKAGES, modules, strict=True):
        for name in module.__all__:
            obj = getattr(module, name)
            targets = [obj] if inspect.isfunction(obj) else []
            if inspect.isclass(obj):
                targets += [m for n, m in vars(obj).items()
                            if inspect.isfunction(m) and not n.startswith("_")]
                if dataclasses.is_dataclass(obj):
                    targets.append(obj)
            for target in targets:
                hints = typing.get_type_hints(target, localns=namespace)
                for hint in hints.values():
                    for cls in _classes_in(hint):
                        home = cls.__module__
                        private = any(part.startswith("_") for part in home.split("."))
                        ours = home.split(".")[0] in ("signsvc", "drivers")
                        if ours and private and id(cls) not in public:
                            offenders.append(f"{package}.{name}: {home}.{cls.__qualname__}")
    assert sorted(set(offenders)) == []
