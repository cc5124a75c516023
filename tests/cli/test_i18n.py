"""Vietnamese first (issue 15): every user-facing string has a translation, the catalog
is compiled, ``--lang``/``SIGNSVC_LANG``/``LANG`` choose, ``--help`` is Vietnamese top
to bottom, a real sign + verify run speaks Vietnamese, dates are read day first, and
every ETSI verdict has a plain line in both languages."""

from __future__ import annotations

import gettext
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from click.testing import CliRunner

import cli
from cli_common import LocalTime, parse_local_time
from signsvc._i18n import LOCALE_DIR, language, set_language
from signsvc._time import VIETNAM_TIME
from signsvc.pki.indications import Indication, SubIndication
from signsvc.verify._plain import INDICATION_TEXTS, SUB_INDICATION_TEXTS, plain_line
from tests.support.paths import PKI, ROOT

PO = LOCALE_DIR / "vi" / "LC_MESSAGES" / "signsvc.po"
MO = PO.with_suffix(".mo")
SAMPLE = ROOT / "samples" / "quyet-dinh-123.pdf"
G2 = PKI / "gov-root-g2.crt.pem"
# str.format fields ({name}, {value!r}, {count:>3}) and printf ones (%s, %(prog)s).
_FIELD = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*(?:![rsa])?(?::[^{}]*)?\}"
                    r"|%\([A-Za-z_]+\)[sdr]|%[sdr]")


def _catalog() -> list[tuple[Any, Any]]:
    with PO.open("rb") as f:
        return [(m.id, m.string) for m in read_po(f) if m.id]


def _fields(text: str) -> list[str]:
    return sorted(m.group(0) for m in _FIELD.finditer(text))


@pytest.fixture(autouse=True)
def _english_afterwards() -> Iterator[None]:
    yield
    set_language("en")


def test_every_msgid_has_a_translation_with_the_same_placeholders() -> None:
    messages = _catalog()
    assert len(messages) > 250
    for msgid, msgstr in messages:
        source = msgid[-1] if isinstance(msgid, tuple) else msgid  # the plural form
        strings = msgstr if isinstance(msgstr, tuple) else (msgstr,)
        for text in strings:
            assert text.strip(), f"untranslated: {msgid!r}"
            assert _fields(text) == _fields(source), (msgid, text)


def test_a_fresh_extraction_finds_nothing_missing_from_the_catalog() -> None:
    keywords = {**DEFAULT_KEYWORDS, "N_": None, "text": None}
    method_map = [(line.strip()[len("[python: "):-1], "python")
                  for line in (ROOT / "babel.cfg").read_text(encoding="utf-8").splitlines()
                  if line.startswith("[python:")]
    assert method_map, "babel.cfg names no sources"
    found = {message for _file, _line, message, _comments, _context
             in extract_from_dir(str(ROOT), method_map, keywords=keywords)}
    click_dir = Path(click.__file__).parent
    found |= {message for _file, _line, message, _comments, _context
              in extract_from_dir(str(click_dir), [("**.py", "python")])}
    known = {msgid for msgid, _ in _catalog()}
    missing = sorted(str(m) for m in found if m and m not in known)
    assert not missing, f"not in {PO.name} (run scripts/i18n.sh, then translate): {missing}"
    # The extraction really sees ours: a string of cli_sign and one of the library.
    assert "no PDF found in the given inputs" in found
    assert "cannot read: {error}" in found


def test_the_compiled_catalog_matches_the_source() -> None:
    with PO.open("rb") as f:
        source = read_po(f)
    fresh = io.BytesIO()
    write_mo(fresh, source)  # what "pybabel compile" writes
    assert MO.read_bytes() == fresh.getvalue(), "run scripts/i18n.sh to compile the .mo"
    with MO.open("rb") as f:
        assert len([m for m in read_mo(f) if m.id]) == len(_catalog())


def _commands(group: click.Group, path: tuple[str, ...] = ()
              ) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, group
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def _long_english() -> list[str]:
    """Every English msgid sentence longer than three words."""
    sentences = []
    for msgid, _ in _catalog():
        for text in (msgid if isinstance(msgid, tuple) else (msgid,)):
            for part in re.split(r"(?<=[.;:])\s+|\n+", text):
                words = re.sub(r"\{[^{}]*\}", " ", part).split()
                # Vietnamese examples inside English help ("Phê duyệt") are not English.
                if len(words) > 3 and part.isascii():
                    sentences.append(" ".join(part.split()))
    return sentences


def test_every_help_page_is_vietnamese_under_vi() -> None:
    runner = CliRunner()
    english = _long_english()
    assert "Show this message and exit." in english
    pages = 0
    for path, command in _commands(cli.cli):
        en = runner.invoke(cli.cli, ["--lang", "en", *path, "--help"])
        vi = runner.invoke(cli.cli, ["--lang", "vi", *path, "--help"])
        assert en.exit_code == vi.exit_code == 0, (path, vi.output)
        assert vi.output != en.output, path
        flat = " ".join(vi.output.split())
        leaked = [s for s in english if s in flat]
        assert not leaked, (path, leaked)
        assert "Cách dùng:" in vi.output and "Tùy chọn:" in vi.output, path
        set_language("vi")
        for param in command.params:
            if isinstance(param, click.Option) and param.help and not param.hidden:
                assert param.help not in english, (path, param.name)
        pages += 1
    assert pages == 14  # signsvc, tokens, sign, audit, chain, verify, serve, trust (+ 3),
    # origins (+ list, revoke)


def _signsvc(*args: str, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if k not in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE", "SIGNSVC_LANG")}
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args],
                          env={**base, "P12": "1234", **(env or {})}, cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("args", "env", "vietnamese"), [
    (("--lang", "vi"), {}, True),
    (("--lang", "en"), {"LANG": "vi_VN.UTF-8"}, False),
    ((), {"SIGNSVC_LANG": "vi"}, True),
    ((), {"LANG": "vi_VN.UTF-8"}, True),
    ((), {"LC_ALL": "vi_VN.UTF-8", "LANG": "C"}, True),
    ((), {"LANG": "C"}, False),
    ((), {"LANG": "C.UTF-8", "LANGUAGE": "vi"}, False),
    ((), {}, False),
])
def test_the_language_is_chosen_by_option_variable_or_locale(
        args: tuple[str, ...], env: dict[str, str], vietnamese: bool) -> None:
    done = _signsvc(*args, "verify", "--help", env=env)
    assert done.returncode == 0, done.stderr
    assert ("Cách dùng:" in done.stdout) is vietnamese, done.stdout[:200]
    assert ("Usage:" in done.stdout) is not vietnamese


def test_set_language_reads_the_locale_and_refuses_others(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    set_language(None)
    assert language() == "vi"
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    set_language(None)
    assert language() == "en"
    with pytest.raises(ValueError, match="fr"):
        set_language("fr")
    # The .mo is what an install without Babel uses.
    assert gettext.translation("signsvc", LOCALE_DIR, languages=["vi"]).gettext(
        "Valid") == "Hợp lệ"


def test_a_clerk_signs_and_verifies_in_vietnamese(tmp_path: Path) -> None:
    out = tmp_path / "da-ky"
    signed = _signsvc("--lang", "vi", "sign", str(SAMPLE), "--out", str(out),
                      "--pkcs12", str(PKI / "official-rsa2048.p12"), "--pin-env", "P12",
                      "--journal", str(tmp_path / "audit.sqlite3"))
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.startswith("đã ký ") and " -> " in signed.stdout
    assert "1 đã ký, 0 bỏ qua, 0 lỗi; nhật ký" in signed.stderr
    good = out / SAMPLE.name
    tampered = tmp_path / "sua-sau-khi-ky.pdf"
    data = bytearray(good.read_bytes())
    at = data.index(b"/Type /Page") + 2  # inside the signed bytes
    data[at] ^= 0x01
    tampered.write_bytes(bytes(data))

    done = _signsvc("--lang", "vi", "verify", str(good), str(tampered), "--trust", str(G2),
                    "--jobs", "1", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    first = lines.index(next(line for line in lines if str(good) in line))
    assert lines[first].split() == ["TOTAL-PASSED", str(good)]
    assert lines[first + 1] == "    => Hợp lệ"
    assert any(line.startswith("    => Không hợp lệ") for line in lines)
    assert "Hợp lệ (TOTAL-PASSED) 1, không hợp lệ (TOTAL-FAILED) 1" in done.stderr
    assert "kho kết quả" in done.stderr

    missing = tmp_path / "khong-co.pdf"
    done = _signsvc("--lang", "vi", "sign", str(missing), "--out", str(out),
                    "--pkcs12", str(PKI / "official-rsa2048.p12"), "--pin-env", "P12",
                    "--journal", str(tmp_path / "audit.sqlite3"))
    assert done.returncode == 1
    assert done.stdout.strip() == (f"LỖI      {missing}: không đọc được: Không có tệp hoặc "
                                   "thư mục này")
    assert "không có gì để ký" in done.stderr and "không hỏi mã PIN" in done.stderr
    done = _signsvc("--lang", "vi", "verify", str(missing), "--trust", str(G2), cwd=tmp_path)
    assert str(missing) in done.stdout
    assert "    => Không đọc được: không kiểm tra được tệp" in done.stdout


def test_english_lines_stay_as_scripts_read_them(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pdf"
    done = _signsvc("verify", str(missing), "--trust", str(G2), cwd=tmp_path)
    assert done.stdout.splitlines() == [
        f"INDETERMINATE  {missing}: cannot read: No such file or directory"]
    assert "TOTAL-PASSED 0, TOTAL-FAILED 0, INDETERMINATE 0, unsigned 0, errors 1" \
        in done.stderr


@pytest.mark.parametrize(("text", "expected"), [
    ("12/03/2026", datetime(2026, 3, 12, tzinfo=VIETNAM_TIME)),
    ("12/03/2026 08:30", datetime(2026, 3, 12, 8, 30, tzinfo=VIETNAM_TIME)),
    ("1/2/2026 7:05", datetime(2026, 2, 1, 7, 5, tzinfo=VIETNAM_TIME)),
    ("2026-03-12T08:30", datetime(2026, 3, 12, 8, 30, tzinfo=VIETNAM_TIME)),
    ("2026-03-12T01:30+00:00", datetime(2026, 3, 12, 8, 30, tzinfo=VIETNAM_TIME)),
])
def test_dates_are_read_day_first_in_vietnam_time(text: str, expected: datetime) -> None:
    moment = LocalTime().convert(text, None, None)
    assert moment == expected
    if "+" not in text:  # no zone given: Vietnam time
        assert moment.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["31/02/2026", "12/13/2026", "12-03-2026x", "hôm qua"])
def test_a_bad_date_is_a_clear_usage_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_local_time(text)
    done = _signsvc("--lang", "vi", "audit", "--since", text, "--journal", "/nonexistent")
    assert done.returncode == 2
    assert f"Giá trị không hợp lệ cho '--since': {text!r} không phải ngày giờ ISO 8601" \
        in done.stderr


def test_audit_since_accepts_a_vietnamese_date(tmp_path: Path) -> None:
    journal = tmp_path / "audit.sqlite3"
    _signsvc("sign", str(SAMPLE), "--out", str(tmp_path / "o"), "--pkcs12",
             str(PKI / "official-rsa2048.p12"), "--pin-env", "P12", "--journal", str(journal))
    everything = _signsvc("--lang", "vi", "audit", "--since", "01/01/2000",
                          "--journal", str(journal))
    nothing = _signsvc("audit", "--since", "01/01/2999 00:00", "--journal", str(journal))
    assert everything.returncode == nothing.returncode == 0, everything.stderr
    assert "đã ký" in everything.stdout and "người ký" in everything.stdout
    # Shown in Vietnam time, day first: "dd/mm/yyyy HH:MM  đã ký ...".
    assert re.match(r"\d\d/\d\d/\d{4} \d\d:\d\d  đã ký ", everything.stdout)
    assert nothing.stdout.startswith("No signing attempts recorded in ")


def test_every_verdict_has_a_plain_line_in_both_languages() -> None:
    assert set(SUB_INDICATION_TEXTS) == set(SubIndication)
    assert set(INDICATION_TEXTS) == set(Indication)
    cases = [(i, None) for i in Indication] + [(s.indication, s) for s in SubIndication]
    for indication, sub in cases:
        set_language("en")
        english = plain_line(indication, sub)
        set_language("vi")
        vietnamese = plain_line(indication, sub)
        assert english and vietnamese and english != vietnamese, (indication, sub)
        word = {"TOTAL-PASSED": "Hợp lệ", "TOTAL-FAILED": "Không hợp lệ",
                "INDETERMINATE": "Chưa xác định"}[indication.value]
        assert vietnamese.startswith(word), (sub, vietnamese)
    set_language("vi")
    assert plain_line(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE) == \
        "Không hợp lệ: tài liệu đã bị sửa sau khi ký"
    assert plain_line(Indication.INDETERMINATE, unsigned=True).startswith("Không có chữ ký")
