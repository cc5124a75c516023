"""The gate's pieces, one by one: origins, Host, the URL policy, the schema, the peer
lookup, the configuration."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from signsvc.service.config import Limits, ServiceConfigError, load_config
from signsvc.service.fetch import Credentials, DocumentError, UrlPolicy, address_class, download
from signsvc.service.gate import (
    OriginGate,
    Pairing,
    PeerLookup,
    host_allowed,
    netlink_peer_uid,
    peer_uid,
    proc_peer_uid,
)
from signsvc.service.origins import canonical_host, normalise_origin
from signsvc.service.replies import Refusal, Status
from signsvc.service.schema import parse_request
from tests.service.fileserver import FileServer

ORIGIN = "https://eoffice.gov.vn"


# -- origins ---------------------------------------------------------------------------

@pytest.mark.parametrize(("header", "allowed"), [
    ("https://eoffice.gov.vn", True),
    ("https://EOFFICE.gov.vn", False),          # a browser sends it lower-case
    ("HTTPS://eoffice.gov.vn", False),
    ("https://eoffice.gov.vn/", False),         # an origin has no path
    ("https://eoffice.gov.vn:443", False),      # nor its default port
    ("https://eoffice.gov.vn:8443", False),
    ("http://eoffice.gov.vn", False),
    ("https://eoffice.gov.vn.evil.com", False),
    ("https://evil.com/https://eoffice.gov.vn", False),
    ("https://xn--eoffice-9za.gov.vn", False),  # an IDN look-alike
    ("https://eoffịce.gov.vn", False),          # a Unicode look-alike, not even ASCII
    ("null", False),
    ("", False),
    (None, False),
])
def test_the_origin_allowlist_matches_exactly(header: str | None, allowed: bool) -> None:
    gate = OriginGate({ORIGIN})
    assert gate.allowed(header) is allowed
    if not allowed:
        with pytest.raises(Refusal) as refused:
            gate.check(header)
        assert refused.value.http_status == 403
        assert refused.value.status is Status.REFUSED
    else:
        assert gate.check(header) == ORIGIN


@pytest.mark.parametrize(("written", "normal"), [
    ("https://EOffice.gov.vn:443/", "https://eoffice.gov.vn"),
    ("HTTP://127.0.0.1:80", "http://127.0.0.1"),
    ("http://127.0.0.1:8001", "http://127.0.0.1:8001"),
    ("https://Bücher.vn", "https://xn--bcher-kva.vn"),
    ("http://[::1]:8001", "http://[::1]:8001"),
    ("http://2130706433:8001", "http://127.0.0.1:8001"),
    ("https://eoffice.gov.vn/path", None),
    ("ftp://eoffice.gov.vn", None),
    ("https://user@eoffice.gov.vn", None),
    ("https://eoffice.gov.vn:0", None),
    ("https://eoffice.gov.vn:99999", None),
    ("null", None),
])
def test_configured_origins_are_normalised(written: str, normal: str | None) -> None:
    assert normalise_origin(written, lenient=True) == normal


@pytest.mark.parametrize(("host", "canonical"), [
    ("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"), ("[::ffff:127.0.0.1]", "[::ffff:7f00:1]"),
    ("[0:0:0:0:0:0:0:1]", "[::1]"), ("1.2.3.4.5", None), ("[fe80::1%eth0]", None),
    ("127.0.0.1.nip.io", "127.0.0.1.nip.io"), ("a b", None), ("", None),
])
def test_hosts_are_spelled_as_browsers_spell_them(host: str, canonical: str | None) -> None:
    assert canonical_host(host) == canonical


@pytest.mark.parametrize(("host", "allowed"), [
    ("127.0.0.1", True), ("127.0.0.1:8987", True), ("localhost", True),
    ("LOCALHOST:8987", True), ("[::1]", True), ("[::1]:8987", True),
    ("attacker.example", False), ("attacker.example:8987", False),
    ("127.0.0.1.nip.io", False), ("localhost.", False), ("", False), (None, False),
    ("::1", False), ("[::1]x", False), ("[0:0:0:0:0:0:0:1]", False), ("127.1", False),
    ("127.0.0.1:", False), ("127.0.0.1:http", False), ("2130706433", False),
])
def test_only_loopback_host_headers_pass(host: str | None, allowed: bool) -> None:
    assert host_allowed(host) is allowed


# -- URL policy ------------------------------------------------------------------------

def _policy(caller: str = ORIGIN, extra: tuple[str, ...] = (),
            answers: dict[str, list[str]] | None = None) -> UrlPolicy:
    table = answers if answers is not None else {"eoffice.gov.vn": ["14.225.0.10"],
                                                 "files.gov.vn": ["14.225.0.11"]}
    return UrlPolicy(caller, extra, resolver=lambda host, port: list(table.get(host, [])))


@pytest.mark.parametrize("url", [
    "https://evil.example/a.pdf",                 # another site
    "https://eoffice.gov.vn.evil.com/a.pdf",
    "http://eoffice.gov.vn/a.pdf",                # http from an https page
    "https://eoffice.gov.vn:8443/a.pdf",          # another port is another origin
    "https://user:pw@eoffice.gov.vn/a.pdf",       # userinfo
    "https://evil.example@eoffice.gov.vn/a.pdf",
    "https://eoffice.gov.vn/a.pdf#x",             # fragments
    "file:///etc/passwd", "data:application/pdf;base64,JVBERi0=",
    "\\\\fileserver\\share\\a.pdf", "//eoffice.gov.vn/a.pdf", "/a.pdf", "a.pdf",
    "https://files.gov.vn/a.pdf",                 # a file server not listed
    "https://2130706433/a.pdf", "https://[::ffff:127.0.0.1]/a.pdf",
    "https://eoffice.gov.vn /a.pdf", "https://%65office.gov.vn/a.pdf",
])
def test_urls_off_the_calling_site_are_refused(url: str) -> None:
    with pytest.raises(Refusal) as refused:
        _policy().check(url, "FileName")
    assert refused.value.http_status == 403
    assert refused.value.message.startswith("FileName: ")


def test_a_listed_file_server_is_allowed_and_the_address_pinned() -> None:
    target = _policy(extra=("https://files.gov.vn",)).check(
        "https://files.gov.vn/vb/1.pdf?id=7", "FileName")
    assert (target.origin, target.address, target.path) == (
        "https://files.gov.vn", "14.225.0.11", "/vb/1.pdf?id=7")
    assert target.pinned_url() == "https://14.225.0.11:443/vb/1.pdf?id=7"
    assert target.host_header() == "files.gov.vn"


def test_a_numeric_host_counts_as_its_real_address() -> None:
    policy = _policy("http://127.0.0.1:8001", answers={})
    assert policy.check("http://2130706433:8001/a.pdf", "FileName").origin == \
        "http://127.0.0.1:8001"
    with pytest.raises(Refusal):
        policy.check("http://[::ffff:127.0.0.1]:8001/a.pdf", "FileName")


@pytest.mark.parametrize(("answer", "why"), [
    (["10.0.0.5"], "not a public address"),      # public site rebinding into the intranet
    (["127.0.0.1"], "not a public address"),
    (["0.0.0.0"], "not a public address"),
    ([], "does not resolve"),
])
def test_the_address_class_must_be_the_callers(answer: list[str], why: str) -> None:
    policy = _policy(answers={"eoffice.gov.vn": ["14.225.0.10"], "files.gov.vn": answer})
    policy.allowed = frozenset({ORIGIN, "https://files.gov.vn"})
    with pytest.raises(Refusal) as refused:
        policy.check("https://files.gov.vn/a.pdf", "FileName")
    assert why.split()[-1] in refused.value.message


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"), ("192.168.1.1", "private"), ("fd00::1", "private"),
    ("14.225.0.10", "public"), ("100.64.0.1", None), ("224.0.0.1", None), ("0.0.0.0", None),
])
def test_address_classes(address: str, kind: str | None) -> None:
    assert address_class(address) == kind


def test_a_resolver_changing_its_answer_cannot_move_the_fetch(sample: bytes) -> None:
    """Resolved once, connected to that address: a second answer (rebinding to
    another address) is never asked for, and the request reaches the first one."""
    calls: list[str] = []
    answers = iter([["127.0.0.1"], ["192.0.2.66"]])

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    with FileServer(host="files.test") as server:
        server.add("/a.pdf", sample)
        policy = UrlPolicy(server.origin, resolver=resolver)
        target = policy.check(server.origin + "/a.pdf", "FileName")
        again = policy.check(server.origin + "/a.pdf", "FileName")
        data = download(target, Credentials("s", None), max_bytes=1 << 20)
    assert data == sample
    assert calls == ["files.test"]
    assert again.address == target.address == "127.0.0.1"
    [logged] = server.log
    assert logged.headers["Host"] == f"files.test:{server.port}"
    assert logged.headers["Cookie"] == "ASP.NET_SessionId=s"


def test_downloads_refuse_redirects_big_files_and_non_pdfs(sample: bytes) -> None:
    with FileServer() as server, FileServer() as elsewhere:
        server.redirects["/moved.pdf"] = elsewhere.add("/a.pdf", sample)
        server.add("/big.pdf", sample)
        server.add("/page.html", b"<html>not a pdf</html>")
        policy = UrlPolicy(server.origin, resolver=lambda host, port: [])
        for path, words in (("/moved.pdf", "redirect"), ("/big.pdf", "larger than 100"),
                            ("/page.html", "not a PDF"), ("/missing.pdf", "HTTP 404")):
            with pytest.raises(DocumentError) as failed:
                download(policy.check(server.origin + path, "FileName"),
                         Credentials(None, None), max_bytes=100 if "big" in path else 1 << 20)
            assert words in failed.value.reason
    assert elsewhere.log == []


# -- schema ----------------------------------------------------------------------------

GOOD = {"FileName": "https://eoffice.gov.vn/a.pdf",
        "FileUploadHandler": "https://eoffice.gov.vn/up"}


@pytest.mark.parametrize("extra", [
    {"PIN": "1234"}, {"pin": "1"}, {"UserPin": "1"}, {"Password": "x"}, {"passwd": "x"},
    {"DllName": "viettel-ca_v6.dll"}, {"liblist": "a.dll"}, {"LibraryPath": "/x"},
    {"PathFileInput": "C:\\a.pdf"}, {"Module": "/usr/lib/x.so"},
    {"MetaData": [{"Key": "pin", "Value": "1234"}]},
    {"MetaData": [{"Key": "a", "Value": "b", "path": "/etc"}]},
])
def test_keys_naming_a_pin_library_or_path_are_refused(extra: dict[str, object]) -> None:
    with pytest.raises(Refusal) as refused:
        parse_request(json.dumps({**GOOD, **extra}), Limits())
    assert refused.value.http_status == 400


@pytest.mark.parametrize("raw", [
    "[]", "1", "null", "not json", '{"FileName": "a", "FileName": "b"}',
    json.dumps({**GOOD, "Extra": 1}), json.dumps({"FileUploadHandler": "x"}),
    json.dumps({**GOOD, "FileName": 5}), json.dumps({**GOOD, "FileName": []}),
    json.dumps({**GOOD, "SessionId": "a; b=c"}), json.dumps({**GOOD, "IssuedDate": "31/02/2027"}),
    json.dumps({**GOOD, "MetaData": {"Key": "a"}}), '{"FileName": NaN}',
    "[" * 100_000 + "]" * 100_000,
])
def test_anything_but_a_strict_vgca_request_is_refused(raw: str) -> None:
    with pytest.raises(Refusal) as refused:
        parse_request(raw, Limits())
    assert refused.value.http_status in (400, 413)
    assert refused.value.status is Status.BAD_REQUEST


def test_limits_are_413() -> None:
    limits = Limits(max_files=3, max_message_bytes=2000)
    for raw in (json.dumps({**GOOD, "FileName": ["https://e/a"] * 4}),
                json.dumps({**GOOD, "DocNumber": "x" * 3000})):
        with pytest.raises(Refusal) as refused:
            parse_request(raw, limits)
        assert refused.value.http_status == 413


def test_a_batch_in_vgca_forms() -> None:
    joined = parse_request(json.dumps({**GOOD, "FileName": "https://e/a.pdf;https://e/b.pdf",
                                       "IssuedDate": "2027-01-05", "DocNumber": "Số: 1",
                                       "MetaData": [{"Key": "k", "Value": 1}]}), Limits())
    assert joined.files == ("https://e/a.pdf", "https://e/b.pdf") and joined.batch
    assert joined.issued == (5, 1, 2027) and joined.doc_number == "Số: 1"
    single = parse_request(json.dumps({**GOOD, "SessionId": "abc", "JWTToken": "x.y.z"}),
                           Limits())
    assert not single.batch and "abc" not in repr(single) and "x.y.z" not in repr(single)


# -- peer lookup -----------------------------------------------------------------------

@pytest.fixture
def connection() -> Iterator[tuple[socket.socket, socket.socket]]:
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    yield client, server
    for sock in (client, server, listener):
        sock.close()


@pytest.mark.parametrize("lookup", [proc_peer_uid, netlink_peer_uid, peer_uid])
def test_the_peer_of_a_connection_is_found(
        connection: tuple[socket.socket, socket.socket], lookup: PeerLookup) -> None:
    client, server = connection
    peer, local = client.getsockname(), server.getsockname()
    assert lookup(peer, local) == os.geteuid()
    # No such connection: unknown. (The kernel's own lookup would fall back to the
    # listening socket on that port; sock_diag's answer is checked against the
    # 4-tuple asked for.)
    assert lookup(local, (peer[0], 1)) is None
    assert lookup(("127.0.0.1", 1), local) is None


def test_sock_diag_and_proc_agree_on_another_users_socket(tmp_path: Path) -> None:
    """A connection made by ``nobody`` (runuser, the system's Python: no venv needed)
    to a listener here is nobody's in both lookups."""
    import shutil
    import subprocess

    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root and runuser to make another user's socket")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    child = subprocess.Popen(
        ["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c",
         "import socket, sys, time\n"
         f"s = socket.create_connection(('127.0.0.1', {port}))\n"
         "print(s.getsockname()[1], flush=True)\n"
         "time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        server, _ = listener.accept()
        assert child.stdout is not None
        peer = ("127.0.0.1", int(child.stdout.readline()))
        local = server.getsockname()
        nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True,
                                    check=True).stdout)
        assert proc_peer_uid(peer, local) == nobody
        assert netlink_peer_uid(peer, local) == nobody
        server.close()
    finally:
        child.kill()
        child.wait()
        listener.close()


# -- pairing ---------------------------------------------------------------------------

def test_pairing_asks_once_at_a_time_and_records_a_yes(tmp_path: Path) -> None:
    asked: list[str] = []
    release = threading.Event()

    def ask(origin: str) -> bool:
        asked.append(origin)
        release.wait(30)
        return origin.endswith("good.vn")

    gate = OriginGate(set())
    paired = tmp_path / "cfg" / "paired-origins.toml"
    gate.pairing = Pairing(ask, paired, gate.add)
    assert gate.pairing.request("https://good.vn")
    assert not gate.pairing.request("https://other.vn")  # one question at a time
    release.set()
    assert gate.pairing.wait_idle(30)
    assert gate.allowed("https://good.vn")
    assert 'origins = [\n    "https://good.vn",\n]' in paired.read_text()
    assert gate.pairing.request("https://bad.vn")
    assert gate.pairing.wait_idle(30)
    assert not gate.allowed("https://bad.vn")
    assert not gate.pairing.request("https://bad.vn")  # not asked again for 10 min
    assert asked == ["https://good.vn", "https://bad.vn"]


# -- configuration ---------------------------------------------------------------------

@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    etc, home = tmp_path / "etc", tmp_path / "home"
    (etc / "origins.d").mkdir(parents=True)
    (home / "signsvc").mkdir(parents=True)
    monkeypatch.setenv("SIGNSVC_SYSTEM_CONFIG_DIR", str(etc))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return etc, home / "signsvc"


def test_configuration_unites_origins_and_keeps_the_smallest_limit(
        dirs: tuple[Path, Path]) -> None:
    etc, user = dirs
    (etc / "service.toml").write_text('[service]\nallowed_origins = ["https://A.gov.vn/"]\n'
                                      'max_files = 10\n[service.file_origins]\n'
                                      '"https://a.gov.vn" = ["https://files.a.gov.vn"]\n')
    (etc / "origins.d" / "b.toml").write_text('[service]\nallowed_origins = '
                                              '["https://b.gov.vn:8443"]\n')
    (user / "service.toml").write_text('[service]\nallowed_origins = ["http://127.0.0.1:8001"]\n'
                                       'max_files = 99\n[token]\nlabel = "Ánh"\n'
                                       'cert_id = "0A"\n')
    (user / "paired-origins.toml").write_text('origins = ["https://c.gov.vn"]\n')
    config = load_config()
    assert config.allowed_origins == {"https://a.gov.vn", "https://b.gov.vn:8443",
                                      "http://127.0.0.1:8001", "https://c.gov.vn"}
    assert config.file_origins == {"https://a.gov.vn": {"https://files.a.gov.vn"}}
    assert config.limits.max_files == 10
    assert (config.token.label, config.token.cert_id) == ("Ánh", b"\x0a")


@pytest.mark.parametrize(("user_text", "key"), [
    ('[service]\nallowed_origins = ["https://a.gov.vn/path"]\n', "service.allowed_origins"),
    ('[service]\nallowed_origins = "https://a.gov.vn"\n', "service.allowed_origins"),
    ('[service.file_origins]\n"https://a.gov.vn" = ["https://b.gov.vn"]\n',
     "service.file_origins"),
    ("[service]\nmax_files = 0\n", "service.max_files"),
    ("[service]\nmax_file = 3\n", "service.max_file"),
    ('[token]\ncert_id = "zz"\n', "token.cert_id"),
    ('[token]\npin = "1234"\n', "token.pin"),
    ('[sign]\nlevel = "B-T"\n', "sign.level"),
    ('[appearance.approved]\nanchor = "x"\n', "appearance.approved"),
    ('[appearance.issued]\nseal_size_mm = "big"\n', "appearance.issued.seal_size_mm"),
    ("[appearance.other]\n", "appearance.other"),
])
def test_configuration_mistakes_name_the_file_and_key(dirs: tuple[Path, Path], user_text: str,
                                                      key: str) -> None:
    _etc, user = dirs
    (user / "service.toml").write_text(user_text)
    with pytest.raises(ServiceConfigError) as failed:
        load_config()
    assert failed.value.key == key
    assert failed.value.path == user / "service.toml"
    assert str(failed.value).startswith(f"{user / 'service.toml'}: {key}: ")


def test_a_missing_config_file_named_on_the_command_line(dirs: tuple[Path, Path]) -> None:
    with pytest.raises(ServiceConfigError, match="does not exist"):
        load_config(user_file=dirs[1] / "nope.toml")


@pytest.fixture(scope="module")
def sample() -> bytes:
    from tests.service.conftest import SAMPLES

    return (SAMPLES / "quyet-dinh-123.pdf").read_bytes()
