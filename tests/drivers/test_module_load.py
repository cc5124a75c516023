"""Loading PKCS#11 modules, listing their tokens and selecting one.

Every test that loads libsofthsm2.so requests the ``hsm`` fixture: SoftHSM reads
``SOFTHSM2_CONF`` once per process, at its first load.
"""

from __future__ import annotations

import ctypes.util
import shutil
import unicodedata
from pathlib import Path

import pkcs11.exceptions
import pytest

from certs_test.softhsm import SoftHSM
from drivers import (
    AmbiguousSelectionError,
    ModuleLoadError,
    ModuleLoadReason,
    Pkcs11Module,
    TokenError,
    TokenNotFoundError,
    load_module,
)
from tests.support.modules import module_missing_a_dependency, thirty_two_bit_module
from tests.support.tokens import ANH, ORG, TOKENS, TWIN_LABEL, VIETTEL


def _libz() -> Path:
    """This machine's zlib: an ELF shared library without C_GetFunctionList."""
    name = ctypes.util.find_library("z")
    assert name is not None, "zlib is part of every Debian system"
    for directory in ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu"):
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate.resolve()
    pytest.fail(f"{name} not found in the multiarch library directories")


def _load_error(path: Path | str) -> ModuleLoadError:
    with pytest.raises(ModuleLoadError) as info:
        load_module(path)
    exc = info.value
    assert type(exc) is ModuleLoadError
    assert isinstance(exc, TokenError)
    assert not isinstance(exc, pkcs11.exceptions.PKCS11Error)
    assert exc.path == Path(path)
    assert str(path) in str(exc)
    return exc


# -- load failures ---------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "viettel-ca_v6.so"
    exc = _load_error(path)
    assert exc.reason is ModuleLoadReason.NOT_FOUND
    assert "no such file" in str(exc)


def test_missing_file_given_as_string(tmp_path: Path) -> None:
    exc = _load_error(str(tmp_path / "libcastle.so.1.0.0"))
    assert exc.reason is ModuleLoadReason.NOT_FOUND


def test_text_file_is_not_a_library(tmp_path: Path) -> None:
    path = tmp_path / "fake.so"
    path.write_text("Đây không phải là thư viện PKCS#11.\n" * 10, encoding="utf-8")
    exc = _load_error(path)
    assert exc.reason is ModuleLoadReason.NOT_A_LIBRARY
    # The loader's refusal is kept as the cause, translated once.
    assert isinstance(exc.__cause__, pkcs11.exceptions.PKCS11Error)
    assert str(path) in str(exc.__cause__)


def test_tiny_file_is_not_a_library(tmp_path: Path) -> None:
    path = tmp_path / "truncated.so"
    path.write_bytes(b"\x7fELF")
    exc = _load_error(path)
    assert exc.reason is ModuleLoadReason.NOT_A_LIBRARY
    assert isinstance(exc.__cause__, pkcs11.exceptions.PKCS11Error)


def test_directory_is_not_a_library(tmp_path: Path) -> None:
    path = tmp_path / "pkcs11.so"
    path.mkdir()
    exc = _load_error(path)
    assert exc.reason is ModuleLoadReason.NOT_A_LIBRARY


def test_shared_library_without_pkcs11_interface(tmp_path: Path) -> None:
    # A private copy under a new name: nothing else in the process has it loaded.
    path = tmp_path / "libnot-a-token.so"
    shutil.copyfile(_libz(), path)
    exc = _load_error(path)
    assert exc.reason is ModuleLoadReason.NOT_PKCS11
    assert "C_GetFunctionList" in exc.detail
    assert isinstance(exc.__cause__, pkcs11.exceptions.PKCS11Error)
    assert "C_GetFunctionList" in str(exc.__cause__)


def test_library_for_another_architecture(tmp_path: Path) -> None:
    # zlib with e_machine (ELF header offset 18) set to EM_AARCH64 (183): an ARM build
    # of a vendor module installed on an x86-64 PC.
    data = bytearray(_libz().read_bytes())
    data[18:20] = (183).to_bytes(2, "little")
    path = tmp_path / "libarm-token.so"
    path.write_bytes(bytes(data))
    exc = _load_error(path)
    assert exc.reason is ModuleLoadReason.WRONG_ARCHITECTURE, str(exc)
    assert exc.detail == "a 64-bit ARM64 library; this program is 64-bit x86-64"


def test_a_32_bit_driver_is_named_as_such_with_a_hint(tmp_path: Path) -> None:
    """FPT-CA's Debian package may hold a 32-bit ELF: a 64-bit Python cannot load it."""
    path = thirty_two_bit_module(tmp_path / "fptca_v4.so")
    exc = _load_error(path)
    assert exc.reason is ModuleLoadReason.WRONG_ARCHITECTURE
    assert exc.detail == "a 32-bit x86 library; this program is 64-bit x86-64"
    assert "64-bit driver" in exc.hint and exc.hint.endswith(".")
    assert str(exc) == (f"cannot load PKCS#11 module {path}: built for another kind of "
                        "computer (a 32-bit x86 library; this program is 64-bit x86-64)")
    # dlopen's own words are kept as the cause.
    assert "ELFCLASS32" in str(exc.__cause__) or "wrong ELF class" in str(exc.__cause__)


def test_a_driver_whose_library_is_missing_names_it_and_the_package(tmp_path: Path) -> None:
    path, missing = module_missing_a_dependency(tmp_path / "libeTPkcs11.so")
    exc = _load_error(path)
    assert exc.reason is ModuleLoadReason.MISSING_DEPENDENCY
    assert exc.missing == missing
    assert f"{missing}: cannot open shared object file" in exc.detail
    if missing == "libcrypto.so.1.1":  # built with gcc
        assert "libssl1.1" in exc.hint and "older" in exc.hint
    else:
        assert "apt-file search" in exc.hint


def test_a_windows_dll_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "libviettel-ca_v2.so"
    path.write_bytes(b"MZ\x90\x00" + bytes(200))  # the DOS header every PE file has
    exc = _load_error(path)
    assert exc.reason is ModuleLoadReason.WRONG_ARCHITECTURE
    assert exc.detail.startswith("a Windows DLL; this program is 64-bit x86-64 on Linux")


def test_module_with_missing_dependency(tmp_path: Path) -> None:
    # zlib whose DT_NEEDED libc.so.6 is renamed: a vendor module installed without
    # the library it links against (e.g. libpcsclite). The module itself exists.
    data = _libz().read_bytes()
    assert data.count(b"libc.so.6\0") == 1
    path = tmp_path / "libneeds-missing.so"
    path.write_bytes(data.replace(b"libc.so.6\0", b"libq.so.6\0"))
    exc = _load_error(path)
    assert exc.reason is not ModuleLoadReason.NOT_FOUND, str(exc)
    assert "libq.so.6" in str(exc)


# -- a real module ---------------------------------------------------------------------


@pytest.fixture
def softhsm(hsm: SoftHSM) -> Pkcs11Module:
    return load_module(hsm.module)


def test_same_module_through_symlink_is_one_object(hsm: SoftHSM, tmp_path: Path) -> None:
    link = tmp_path / "libtoken-link.so"
    link.symlink_to(hsm.module)
    direct = load_module(hsm.module)
    through_link = load_module(link)
    assert through_link is direct
    assert direct.path == hsm.module.resolve()
    assert direct.path != link
    assert not direct.path.is_symlink()
    assert direct.vendor == "SoftHSM2"


def test_tokens_keep_vietnamese_labels(softhsm: Pkcs11Module) -> None:
    labels = [t.label for t in softhsm.tokens()]
    assert set(TOKENS) <= set(labels)
    assert "Nguyễn Thị Lấp Lánh Ánh" in labels
    assert "TRẦN NGỌC TÚ" in labels
    assert labels.count("Trùng nhãn") == 2
    # SoftHSM always offers one uninitialised slot; it holds nothing to sign with.
    assert "" not in labels


def test_token_info_fields(softhsm: Pkcs11Module) -> None:
    tokens = softhsm.tokens()
    assert len({t.serial for t in tokens}) == len(tokens), "serials are unique"
    assert len({t.slot_id for t in tokens}) == len(tokens)
    for token in tokens:
        assert token.module == softhsm.path
        assert token.manufacturer == "SoftHSM project"
        assert token.model == "SoftHSM v2"
        assert len(token.serial) == 16 and token.serial == token.serial.strip()
        assert token.label in token.describe()


def test_softhsm_token_flags(softhsm: Pkcs11Module) -> None:
    for token in softhsm.tokens():
        assert token.flags.login_required is True, token.label
        assert token.flags.protected_auth_path is False, token.label
        assert token.flags.pin_locked is False, token.label
    anh = softhsm.find_token(label=ANH)
    with softhsm.open(token=anh) as session:
        assert session._current_flags() == anh.flags


def test_find_token_by_label(softhsm: Pkcs11Module) -> None:
    token = softhsm.find_token(label=VIETTEL)
    assert token.label == "TRẦN NGỌC TÚ"
    assert softhsm.find_token(label=ORG).label == "Sở Nội vụ"


def test_find_token_ambiguous_label(softhsm: Pkcs11Module) -> None:
    with pytest.raises(AmbiguousSelectionError) as info:
        softhsm.find_token(label=TWIN_LABEL)
    exc = info.value
    assert exc.what == "token"
    assert len(exc.candidates) == 2
    twins = [t for t in softhsm.tokens() if t.label == TWIN_LABEL]
    for twin in twins:
        assert any(twin.serial in c for c in exc.candidates)


def test_find_token_without_selection_is_ambiguous(softhsm: Pkcs11Module) -> None:
    with pytest.raises(AmbiguousSelectionError) as info:
        softhsm.find_token()
    tokens = softhsm.tokens()
    assert len(tokens) >= len(TOKENS) + 2
    assert len(info.value.candidates) == len(tokens)


def test_find_token_not_found_lists_present_labels(softhsm: Pkcs11Module) -> None:
    with pytest.raises(TokenNotFoundError) as info:
        softhsm.find_token(label="Không có")
    exc = info.value
    assert "Không có" in exc.wanted
    assert sorted(exc.available) == sorted(t.label for t in softhsm.tokens())
    assert set(TOKENS) <= set(exc.available)
    assert exc.available.count(TWIN_LABEL) == 2
    assert ANH in str(exc)


def test_find_token_by_a_label_typed_in_decomposed_unicode(softhsm: Pkcs11Module) -> None:
    """"Ánh" as A + U+0301 (how macOS and some Vietnamese input methods send it) is
    the precomposed label the token carries."""
    typed = unicodedata.normalize("NFD", ANH)
    assert typed != ANH and len(typed) > len(ANH)
    assert softhsm.find_token(label=typed).label == ANH
    assert softhsm.find_token(label=unicodedata.normalize("NFD", VIETTEL)).label == VIETTEL


def test_a_label_differing_only_in_case_is_pointed_out(softhsm: Pkcs11Module) -> None:
    with pytest.raises(TokenNotFoundError) as info:
        softhsm.find_token(label=VIETTEL.lower() + " ")
    assert info.value.label == VIETTEL.lower() + " "
    assert f"{VIETTEL!r} differs from the label given only in letter case or spaces" in str(
        info.value)


def test_find_token_by_serial(softhsm: Pkcs11Module) -> None:
    twins = [t for t in softhsm.tokens() if t.label == TWIN_LABEL]
    second = twins[1]
    found = softhsm.find_token(serial=second.serial)
    assert (found.slot_id, found.serial, found.label) == (second.slot_id, second.serial,
                                                          TWIN_LABEL)
    assert softhsm.find_token(label=TWIN_LABEL, serial=second.serial).slot_id == second.slot_id
    with pytest.raises(TokenNotFoundError):
        softhsm.find_token(label=ANH, serial=second.serial)
