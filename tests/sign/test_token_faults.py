"""Batches under token faults: pulled out between and during signatures, wrong and
locked PINs, slot events, the always-authenticate key.

On the virtual PIV card behind pcscd and OpenSC (tests/support/virtual_card), which really
leaves its reader, counts every VERIFY that carries a PIN and locks after three wrong
ones. The SoftHSM2 variants (sessions closed under the batch) are in
test_token_recovery.py; shared helpers in tests/support/faults.py.

Every output that exists is checked with pyHanko, an independent validator: after a
fault there must be no partial or corrupted output and no temporary file.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import drivers
import signsvc
from signsvc.sign.reconnect import TokenEvent
from tests.support.faults import PinCounter, assert_outputs_sound, cli, documents, json_lines
from tests.support.paths import ROOT
from tests.support.tokens import ANH
from tests.support.virtual_card import VirtualCard

# ---- the virtual PIV card: really pulled out, really locked -----------------------

RSA_ID, EC_ID = "01", "02"
"""CKA_IDs OpenSC gives the PIV keys 9A (PIN once) and 9C (PIN always)."""
HUMAN_SECONDS = 0.5
"""No hand puts a token back sooner after pulling it out; vpcd sometimes never accepts
a card that reconnects at the very moment pcscd reports the reader empty."""


def card_cli(card: VirtualCard, tmp_path: Path, *args: str, pin: str | None = None,
             timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**card.env, "SIGNSVC_AUDIT_DB": str(tmp_path / "audit.sqlite3"),
           "PIN": card.pin if pin is None else pin}
    return cli(env, *args, "--module", card.module_path, "--serial", card.serial,
               "--cert-id", RSA_ID, "--pin-env", "PIN", timeout=timeout)


def card_key(card: VirtualCard, cert_id: str = RSA_ID) -> Any:
    return signsvc.tokens.open_token_key([card.module_path], serial=card.serial,
                                         cert_id=bytes.fromhex(cert_id),
                                         pin=lambda _: card.pin)


def plug_back_when_gone(card: VirtualCard) -> Callable[[TokenEvent], None]:
    """An event callback playing the official: told to insert the token, she does,
    once it is really out (pcscd has seen the reader empty)."""

    def on_event(event: TokenEvent) -> None:
        if event.kind == "token-removed":
            def put_back() -> None:
                card.stack.wait_card(present=False, timeout=10)
                time.sleep(HUMAN_SECONDS)
                card.plug()
            threading.Thread(target=put_back, daemon=True).start()

    return on_event


def test_each_wrong_pin_given_is_one_verify_and_three_lock_the_card(
        virtual_card: VirtualCard, tmp_path: Path) -> None:
    """Three CLI runs, each with a wrong PIN: the card sees exactly one VERIFY per PIN
    given, warns before the last try, locks on the third; then even the right PIN
    makes no further VERIFY and no document is signed."""
    card = virtual_card
    source = documents(tmp_path / "in", 2)
    args = ("sign", str(tmp_path / "in"), "--out", str(tmp_path / "out"))
    stderr = []
    for number, wrong in enumerate(("000000", "111111", "222222"), start=1):
        done = card_cli(card, tmp_path, *args, pin=wrong)
        assert done.returncode == 3, done.stderr
        assert card.verify_count == number
        assert card.tries_left == 3 - number
        stderr.append(done.stderr)
        assert wrong not in done.stdout + done.stderr
    assert "the PIN is incorrect" in stderr[0] and "LOCK" not in stderr[0]
    assert "the next wrong PIN will LOCK the token" in stderr[1]
    assert "is locked" in stderr[2] and "ask the CA" in stderr[2]

    done = card_cli(card, tmp_path, *args)  # the right PIN, too late
    assert done.returncode == 3
    assert "is locked" in done.stderr and "ask the CA" in done.stderr
    assert card.verify_count == 3 and card.sign_count == 0
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert [p.name for p in (tmp_path / "in").iterdir()] == [p.name for p in source]


def test_a_wrong_pin_is_tried_once_and_reports_the_final_try_flag(
        virtual_card: VirtualCard) -> None:
    card = virtual_card
    module = drivers.load_module(card.module_path)
    with module.open(serial=card.serial) as session:
        with pytest.raises(drivers.PinIncorrectError) as first:
            session.login("000000")
        assert card.verify_count == 1
        assert first.value.final_try is None  # this card gives no warning yet
        with pytest.raises(drivers.PinIncorrectError) as second:
            session.login("000000")
        assert card.verify_count == 2
        assert second.value.final_try is True
        assert "next wrong PIN will LOCK" in str(second.value)
        session.login(card.pin)  # the right one resets the counter
    assert (card.verify_count, card.tries_left) == (3, 3)


def test_a_card_that_locks_mid_batch_stops_it_at_once(virtual_card: VirtualCard,
                                                      tmp_path: Path) -> None:
    """The card answers a signature "authentication method blocked" (69 83): the batch
    stops at once, waits for nothing and never logs in again."""
    card = virtual_card
    docs = documents(tmp_path / "in", 6)
    events: list[TokenEvent] = []
    with card_key(card) as key:
        done: list[signsvc.SignResult] = []

        def progress(result: signsvc.SignResult) -> None:
            done.append(result)
            if len(done) == 2:
                card.fail_next(0x6983, count=6)

        verifies = card.verify_count
        results = signsvc.sign_batch(docs, tmp_path / "out", key, progress=progress,
                                     token_timeout=30, pin=lambda _: card.pin,
                                     on_token_event=events.append)
    assert [r.status for r in results] == ["signed"] * 2 + ["failed"] * 4
    assert isinstance(results[2].exception, drivers.PinLockedError)
    assert "ask the CA" in (results[2].error or "")
    assert all("not attempted" in (r.error or "") for r in results[3:])
    assert events == []
    assert card.verify_count == verifies == 1
    assert_outputs_sound(tmp_path / "out", [d.name for d in docs[:2]], ANH)


@pytest.mark.parametrize(("jobs", "executor"), [(1, "thread"), (2, "process")])
@pytest.mark.parametrize("fault", ["between", "during"])
def test_card_pulled_mid_batch_the_batch_completes_after_reinsertion(
        virtual_card: VirtualCard, tmp_path: Path, jobs: int, executor: str,
        fault: str) -> None:
    """20 documents; the card is pulled out between two signatures, or leaves during
    one. The document in flight fails cleanly, the batch waits, logs in again with the
    PIN given again (one more VERIFY), retries it and finishes: every output sound."""
    card = virtual_card
    docs = documents(tmp_path / "in", 20)
    asked = PinCounter(card.pin)
    events: list[TokenEvent] = []
    waiter = plug_back_when_gone(card)

    def on_event(event: TokenEvent) -> None:
        events.append(event)
        waiter(event)

    with card_key(card) as key:
        done: list[signsvc.SignResult] = []

        def progress(result: signsvc.SignResult) -> None:
            done.append(result)
            if len(done) == 7 and fault == "between":
                card.unplug(wait=False)
            if len(done) == 3 and fault == "during":
                card.remove_after(4)

        results = signsvc.sign_batch(docs, tmp_path / "out", key, jobs=jobs,
                                     executor=executor,  # type: ignore[arg-type]
                                     progress=progress, token_timeout=60, pin=asked,
                                     on_token_event=on_event)
    assert len(results) == 20
    assert [(r.input.name, r.error) for r in results if r.status != "signed"] == []
    assert [e.kind for e in events] == ["token-removed", "token-inserted"]
    assert (events[0].token, events[0].serial) == (card.label, card.serial)
    assert asked.asked == [card.label]
    assert card.verify_count == 2  # the first login and the one after re-insertion
    assert card.sign_count == 20
    assert_outputs_sound(tmp_path / "out", [d.name for d in docs], ANH)


def test_card_pulled_during_a_signature_without_waiting_then_resume(
        virtual_card: VirtualCard, tmp_path: Path) -> None:
    card = virtual_card
    documents(tmp_path / "in", 20)
    args = ("sign", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--jobs", "1",
            "--json")
    card.remove_after(6)
    done = card_cli(card, tmp_path, *args, "--wait-token", "0")
    assert done.returncode == 3, done.stderr
    results = json_lines(done.stdout)
    assert [r["status"] for r in results] == ["signed"] * 6 + ["failed"] * 14
    assert "was removed during sign" in results[6]["error"]
    assert all("not attempted" in r["error"] for r in results[7:])
    assert "6 signed, 0 skipped, 14 failed" in done.stderr
    assert_outputs_sound(tmp_path / "out", [Path(r["input"]).name for r in results[:6]])

    card.stack.wait_card(present=False, timeout=10)
    time.sleep(HUMAN_SECONDS)
    card.plug()
    again = card_cli(card, tmp_path, *args, "--resume")
    assert again.returncode == 0, again.stderr
    assert [r["status"] for r in json_lines(again.stdout)] == ["skipped"] * 6 + ["signed"] * 14
    assert_outputs_sound(tmp_path / "out", [r["input"].rsplit("/", 1)[1] for r in results])
    assert (card.verify_count, card.sign_count) == (2, 20)


def test_cli_waits_for_the_token_and_says_so_in_json(virtual_card: VirtualCard,
                                                     tmp_path: Path) -> None:
    card = virtual_card
    documents(tmp_path / "in", 20)
    env = {**card.env, "SIGNSVC_AUDIT_DB": str(tmp_path / "audit.sqlite3"), "PIN": card.pin}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "sign", str(tmp_path / "in"), "--out",
         str(tmp_path / "out"), "--module", card.module_path, "--serial", card.serial,
         "--cert-id", RSA_ID, "--pin-env", "PIN", "--json", "--wait-token", "60", "--jobs", "2",
         "--executor", "process"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines: list[dict[str, Any]] = []
    pulled = False
    for line in process.stdout:
        lines.append(json.loads(line))
        if not pulled and sum("status" in item for item in lines) == 5:
            card.unplug(wait=False)
            pulled = True
        if lines[-1].get("event") == "token-removed":
            card.stack.wait_card(present=False, timeout=10)
            time.sleep(HUMAN_SECONDS)
            card.plug()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, (stderr, lines)
    events = [item for item in lines if "event" in item]
    assert [e["event"] for e in events] == ["token-removed", "token-inserted"]
    assert events[0]["token"] == card.label and events[0]["serial"] == card.serial
    assert events[0]["waiting_seconds"] == 60
    results = [item for item in lines if "status" in item]
    assert len(results) == 20 and {r["status"] for r in results} == {"signed"}
    assert card.verify_count == 2
    assert_outputs_sound(tmp_path / "out", [f"qd-{n:02d}.pdf" for n in range(20)], ANH)


@pytest.mark.parametrize("keep_pin", [True, False])
def test_cli_tells_which_token_to_insert_and_logs_in_again(virtual_card: VirtualCard,
                                                           tmp_path: Path,
                                                           keep_pin: bool) -> None:
    """Human output: the card leaves during the 6th signature; the CLI names the token
    to insert, then logs in again with the kept PIN (--keep-pin) or with the next line
    of standard input (--pin-stdin asks again), one VERIFY either way."""
    card = virtual_card
    documents(tmp_path / "in", 8)
    card.remove_after(5)
    stdin = f"{card.pin}\n" if keep_pin else f"{card.pin}\n{card.pin}\n"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "sign", str(tmp_path / "in"), "--out",
         str(tmp_path / "out"), "--module", card.module_path, "--serial", card.serial,
         "--cert-id", RSA_ID, "--pin-stdin", "--wait-token", "60", "--jobs", "1",
         *(["--keep-pin"] if keep_pin else [])],
        env={**card.env, "SIGNSVC_AUDIT_DB": str(tmp_path / "audit.sqlite3")},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdin is not None
    process.stdin.write(stdin)
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while card.present and time.monotonic() < deadline:
        time.sleep(0.05)
    card.stack.wait_card(present=False, timeout=10)
    time.sleep(HUMAN_SECONDS)
    card.plug()
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    token = f"token {card.label!r} (serial {card.serial})"
    assert f"Insert {token} to continue; waiting up to 60 s" in stderr
    assert f"{token} is back after" in stderr
    assert "8 signed, 0 skipped, 0 failed" in stderr
    assert stdout.count("signed   ") == 8 and "FAILED" not in stdout
    assert card.pin not in stdout + stderr
    assert (card.verify_count, card.sign_count) == (2, 8)


def test_insert_and_remove_events_arrive_within_one_second(
        virtual_card: VirtualCard) -> None:
    card = virtual_card
    module = drivers.load_module(card.module_path)
    seen: list[drivers.SlotEvent] = []
    stop = threading.Event()

    def follow() -> None:
        events = drivers.watch(module)  # the default poll interval, 0.25 s
        for event in events:
            seen.append(event)
            if stop.is_set():
                break
        events.close()

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    time.sleep(0.5)  # the watch has its baseline
    latencies = {}
    for kind, action in (("removed", card.unplug), ("inserted", card.plug)):
        before = len(seen)
        start = time.monotonic()
        action(wait=False)
        while len(seen) == before and time.monotonic() - start < 10:
            time.sleep(0.005)
        [event] = seen[before:]
        assert (event.kind, event.serial, event.label) == (kind, card.serial, card.label)
        latencies[kind] = event.monotonic - start
    stop.set()
    card.unplug()  # wakes the watch once more so the thread ends
    thread.join(timeout=10)
    assert latencies["removed"] < 1.0, latencies
    assert latencies["inserted"] < 1.0, latencies


def line_reader(process: subprocess.Popen[str]) -> Callable[[], str]:
    """``next_line()`` for a child's stdout that fails after 30 s instead of hanging."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lambda: lines.get(timeout=30)


def test_tokens_watch_prints_events_until_ctrl_c(virtual_card: VirtualCard) -> None:
    card = virtual_card
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "tokens", "--watch", "--json", "--module",
         card.module_path], env=card.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    next_line = line_reader(process)
    try:
        present = json.loads(next_line())
        card.unplug()
        removed = json.loads(next_line())
        card.plug()
        inserted = json.loads(next_line())
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert [present["event"], removed["event"], inserted["event"]] == [
        "present", "removed", "inserted"]
    for event in (present, removed, inserted):
        assert (event["token"], event["serial"]) == (card.label, card.serial)
        assert event["module"] == str(Path(card.module_path).resolve())
        assert event["time"].endswith("Z")
    assert removed["time"] < inserted["time"]


def test_tokens_watch_human_lines(virtual_card: VirtualCard) -> None:
    card = virtual_card
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "tokens", "--watch", "--module",
         card.module_path], env=card.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    next_line = line_reader(process)
    try:
        present = next_line()
        card.unplug()
        removed = next_line()
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Ctrl-C stops" in stderr
    for line, kind in ((present, "present"), (removed, "removed")):
        assert f"  {kind}" in line and "+07:00" in line
        assert f"{card.label!r} serial {card.serial}" in line


def test_always_authenticate_key_logs_in_for_every_signature(virtual_card: VirtualCard,
                                                             tmp_path: Path) -> None:
    """Key 9C: one C_Login for the batch, then a context-specific login (one VERIFY on
    the card) right before each signature, also after the card was pulled out."""
    card = virtual_card
    docs = documents(tmp_path / "in", 6)
    asked = PinCounter(card.pin)
    with card_key(card, EC_ID) as key:
        assert key.always_authenticate
        done: list[signsvc.SignResult] = []

        def progress(result: signsvc.SignResult) -> None:
            done.append(result)
            if len(done) == 3:
                card.unplug()  # between two signatures: nothing in flight

        results = signsvc.sign_batch(docs, tmp_path / "out", key, progress=progress,
                                     token_timeout=60, pin=asked,
                                     on_token_event=plug_back_when_gone(card))
    assert [r.status for r in results] == ["signed"] * 6
    assert asked.asked == [card.label]
    # 1 login + 1 login after re-insertion + 1 context-specific login per signature.
    assert (card.verify_count, card.sign_count) == (1 + 1 + 6, 6)
    assert_outputs_sound(tmp_path / "out", [d.name for d in docs])
