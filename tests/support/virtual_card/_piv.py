"""The PIV card application (NIST SP 800-73-4), as much of it as OpenSC's PIV-II uses.

The applet answers command APDUs with response APDUs; it knows nothing of sockets.
:mod:`tests.support.virtual_card.card` carries its APDUs to and from vpcd::

    >>> applet = PivApplet(CardProfile.from_pki(Path("certs_test")), StateStore(None))
    >>> applet.transmit(bytes.fromhex("00A4040009A0000003080000100000"))[-2:].hex()
    '9000'

What it implements, and the parts of SP 800-73-4 that say how:

* SELECT of the PIV AID answering the application property template (Part 2 §3.1.1).
* GET DATA (Part 2 §3.1.2) of the CHUID, CCC, Discovery Object and the certificates for
  keys 9A and 9C (Part 1 §3.1.1-3.1.3, §3.3.2, Appendix A); any other object is
  ``6A 82``. The objects are public ("Always" read).
* VERIFY of the PIV Card Application PIN, reference ``80`` (Part 2 §3.2.1), with a
  retry counter kept in non-volatile memory (a JSON file), ``63 Cx`` / ``69 83``, the
  empty status query and ``P1 = FF`` (reset of the security status).
* GENERAL AUTHENTICATE (Part 2 §3.2.4) for signatures: RSA-2048 raw on 9A (the host
  pads, SP 800-78-4 algorithm ``07``) and ECDSA P-256 on 9C (input is the hash,
  algorithm ``11``). 9A needs the PIN verified in this card session; 9C is "PIN
  Always" (Part 1 Table 4b): the VERIFY must come immediately before each signature.
* Command chaining and ``61 xx`` / GET RESPONSE (ISO/IEC 7816-4 §5.1.1.1, §5.3.4) for
  the 266-byte RSA command and the certificate objects, which do not fit one short APDU.

Not implemented: secure messaging, key generation, PUT DATA, PIN change, PUK, the
other keys. It is a TEST card: its CHUID is unsigned and its keys are in certs_test/.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from tests.support.virtual_card._iso7816 import (
    SW_AUTH_METHOD_BLOCKED,
    SW_CLA_NOT_SUPPORTED,
    SW_CONDITIONS_NOT_SATISFIED,
    SW_INS_NOT_SUPPORTED,
    SW_MORE_DATA,
    SW_NOT_FOUND,
    SW_OK,
    SW_REFERENCE_NOT_FOUND,
    SW_SECURITY_STATUS_NOT_SATISFIED,
    SW_WRONG_DATA,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
    Command,
    find_tlv,
    iter_tlv,
    sw_bytes,
    sw_tries_left,
    tlv,
)

PIV_AID = bytes.fromhex("A0 00 00 03 08 00 00 10 00 01 00")
"""The PIV AID with its version, ``A0 00 00 03 08 00 00 10 00 01 00``
(SP 800-73-4 Part 1 §2.2); SELECT accepts any right-truncation down to the RID."""
PIV_RID = PIV_AID[:5]

DEFAULT_PIN = "123456"
DEFAULT_TRIES = 3
DEFAULT_GUID = bytes.fromhex("5e1c5e01a2b34c5d8e6f708192a3b4c5")
"""CHUID GUID (Part 1 Table 9, tag 34). Fixed, so the token serial OpenSC derives from
it (the GUID's hex, cut to the 16 characters of CK_TOKEN_INFO.serialNumber) is the same
across re-insertions and runs."""

# SP 800-78-4 Table 6-2 algorithm identifiers; SP 800-73-4 Part 1 Table 4b key refs.
ALG_RSA_2048 = 0x07
ALG_ECC_P256 = 0x11
KEY_PIV_AUTH = 0x9A
KEY_SIGNATURE = 0x9C
PIN_REF_APPLICATION = 0x80

INS_SELECT = 0xA4
INS_GET_DATA = 0xCB
INS_VERIFY = 0x20
INS_GENERAL_AUTHENTICATE = 0x87
INS_GET_RESPONSE = 0xC0

TAG_CHUID = 0x5FC102
TAG_CCC = 0x5FC107
TAG_DISCOVERY = 0x7E
TAG_CERT_9A = 0x5FC105
TAG_CERT_9C = 0x5FC10A

MAX_CHAIN = 4096
"""Largest command a chain may build: an RSA-3072 GENERAL AUTHENTICATE is ~400 bytes."""


def build_atr() -> bytes:
    """ATR ``3B 8B 80 01 80 F9 <PIV AID> TCK`` (ISO/IEC 7816-3 §8.2).

    TD1 80 / TD2 01 (the PC/SC contactless layout: pcscd negotiates T=1, so a case 4
    command reaches the card with its Le, and no T=0 GET RESPONSE dance), historical bytes
    in compact-TLV (category 80) holding the application identifier (tag F, ISO/IEC
    7816-4 §8.1.1.2) = the 9-byte PIV AID. OpenSC's PIV driver recognises exactly
    this and types the card SC_CARD_TYPE_PIV_II_HIST, a type with no card-issue
    workarounds; a generic PIV ATR would get CI_VERIFY_LC0_FAIL and
    CI_OTHER_AID_LOSE_STATE, i.e. extra probing APDUs (card-piv.c,
    ``piv_match_card_continued`` and ``piv_init``).
    """
    aid = PIV_AID[:9]
    historical = bytes([0x80, 0xF0 | len(aid)]) + aid
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


ATR = build_atr()


class CardRemoved(Exception):  # noqa: N818 (an event, not an error of the card)
    """The card leaves the reader before it answers (fault injection)."""


class SignatureHook(Protocol):
    """Faults injected into signature commands; see
    :class:`tests.support.virtual_card.card.Faults`."""

    def before_signature(self, key: int, command: int) -> int | None:
        """Called for each signature command before the card acts on it.

        Args:
            key: the key reference (9A, 9C).
            command: the card's running number of complete commands (a chain counts
                once, GET RESPONSE not at all), to recognise an immediate repeat.

        Returns a status word to answer instead of signing, or None to go on.

        Raises:
            CardRemoved: the card leaves the reader without answering.
        """
        ...


class _NoFaults:
    def before_signature(self, key: int, command: int) -> int | None:
        return None


# -- the card's data --------------------------------------------------------------------


def fascn(agency: str = "9999", system: str = "9999", credential: str = "999999",
          person: str = "0000000001") -> bytes:
    """A 25-byte FASC-N (TIG SCEPACS v2.3 §6: 40 five-bit characters, BCD + odd parity).

    Agency code 9999 marks a non-federal card; OpenSC then takes the token serial from
    the CHUID's GUID instead of the FASC-N (card-piv.c, ``piv_get_serial_nr_from_CHUI``).
    """
    start, separator, end = 0xB, 0xD, 0xF
    chars = [start, *map(int, agency), separator, *map(int, system), separator,
             *map(int, credential), separator, 1, separator, 1, separator,
             *map(int, person), 1, *map(int, "1234"), 1, end]
    lrc = 0
    for c in chars:
        lrc ^= c
    chars.append(lrc)
    bits = ""
    for c in chars:
        data = "".join(str((c >> i) & 1) for i in range(4))  # least significant bit first
        bits += data + ("0" if data.count("1") % 2 else "1")  # odd parity
    assert len(bits) == 200, len(bits)
    return int(bits, 2).to_bytes(25, "big")


def chuid(guid: bytes) -> bytes:
    """Card Holder Unique Identifier (Part 1 §3.1.2, Table 9). The issuer signature
    (tag 3E) is left empty: nothing on this path verifies it."""
    body = (tlv(0x30, fascn()) + tlv(0x34, guid) + tlv(0x35, b"20491231")
            + tlv(0x3E, b"") + tlv(0xFE, b""))
    return tlv(0x53, body)


def ccc(guid: bytes) -> bytes:
    """Card Capability Container (Part 1 §3.1.1, Table 8). Its card identifier (F0)
    must not name the CAC RID, or OpenSC would treat the card as a dual CAC/PIV."""
    card_id = bytes.fromhex("A000000116") + b"\xff\x02" + guid[:14]  # GSC-RID, mfr, type
    body = (tlv(0xF0, card_id) + tlv(0xF1, b"\x21") + tlv(0xF2, b"\x21") + tlv(0xF3, b"")
            + tlv(0xF4, b"\x00") + tlv(0xF5, b"\x10") + tlv(0xF6, b"") + tlv(0xF7, b"")
            + tlv(0xFA, b"") + tlv(0xFB, b"") + tlv(0xFC, b"") + tlv(0xFD, b"")
            + tlv(0xFE, b""))
    return tlv(0x53, body)


def discovery() -> bytes:
    """Discovery Object (Part 1 §3.3.2): the PIV AID and a PIN usage policy of
    ``40 00`` (only the PIV Card Application PIN; no global PIN, no OCC)."""
    return tlv(0x7E, tlv(0x4F, PIV_AID) + tlv(0x5F2F, b"\x40\x00"))


def certificate_object(der: bytes) -> bytes:
    """An X.509 certificate data object (Part 1 Table 10): the DER certificate (70),
    CertInfo ``00`` = not compressed (71), and the empty error detection code (FE)."""
    return tlv(0x53, tlv(0x70, der) + tlv(0x71, b"\x00") + tlv(0xFE, b""))


def application_property_template() -> bytes:
    """The answer to SELECT (Part 2 §3.1.1, Table 3): the AID's PIX with version, the
    tag allocation authority (NIST's RID), a label, and the algorithms the card does."""
    algorithms = tlv(0x80, bytes([ALG_RSA_2048])) + tlv(0x80, bytes([ALG_ECC_P256]))
    return tlv(0x61, tlv(0x4F, PIV_AID[5:]) + tlv(0x79, tlv(0x4F, PIV_RID))
               + tlv(0x50, b"signsvc virtual PIV")
               + tlv(0xAC, algorithms + tlv(0x06, b"\x00")))


@dataclass(frozen=True)
class CardProfile:
    """What is written on the card at issuance: PIN, keys, certificates, GUID."""

    pin: str
    rsa_key: rsa.RSAPrivateKey
    """Key 9A (PIV Authentication): RSA-2048."""
    rsa_cert: x509.Certificate
    ec_key: ec.EllipticCurvePrivateKey
    """Key 9C (Digital Signature): ECDSA P-256."""
    ec_cert: x509.Certificate
    guid: bytes = DEFAULT_GUID

    @classmethod
    def from_pki(cls, pki: Path, *, pin: str = DEFAULT_PIN, rsa_name: str = "official-rsa2048",
                 ec_name: str = "official-ec", guid: bytes = DEFAULT_GUID) -> CardProfile:
        """Keys and certificates from a certs_test/-style directory (unencrypted PEM)."""
        rsa_key = serialization.load_pem_private_key(
            (pki / f"{rsa_name}.key.pem").read_bytes(), None)
        ec_key = serialization.load_pem_private_key(
            (pki / f"{ec_name}.key.pem").read_bytes(), None)
        if not isinstance(rsa_key, rsa.RSAPrivateKey) or rsa_key.key_size != 2048:
            raise ValueError(f"{rsa_name} is not an RSA-2048 key")
        if not isinstance(ec_key, ec.EllipticCurvePrivateKey) or not isinstance(
                ec_key.curve, ec.SECP256R1):
            raise ValueError(f"{ec_name} is not a P-256 key")
        return cls(
            pin=pin,
            rsa_key=rsa_key,
            rsa_cert=x509.load_pem_x509_certificate((pki / f"{rsa_name}.crt.pem").read_bytes()),
            ec_key=ec_key,
            ec_cert=x509.load_pem_x509_certificate((pki / f"{ec_name}.crt.pem").read_bytes()),
            guid=guid,
        )

    @property
    def serial(self) -> str:
        """The PKCS#11 token serial OpenSC reports: the GUID's lowercase hex (pkcs15-piv.c),
        of which ``CK_TOKEN_INFO.serialNumber`` holds the *last* 16 characters
        (framework-pkcs15.c)."""
        return self.guid.hex()[-16:]


def pad_pin(pin: str) -> bytes:
    """PIN as VERIFY carries it: ASCII digits padded with FF to 8 bytes (Part 2 §3.2.1)."""
    raw = pin.encode("ascii")
    if not 1 <= len(raw) <= 8:
        raise ValueError("a PIV PIN has at most 8 characters")
    return raw.ljust(8, b"\xff")


# -- non-volatile memory ----------------------------------------------------------------


@dataclass
class PersistentState:
    """What survives power loss and removal: the retry counter, plus test counters."""

    tries_left: int
    max_tries: int
    verify_count: int = 0
    """VERIFY commands that carried a PIN (not the empty status query)."""
    sign_count: int = 0
    """Signatures computed (GENERAL AUTHENTICATE with 9A or 9C that answered 90 00)."""


class StateStore:
    """The card's EEPROM: a JSON file rewritten atomically on every change.

    A real card keeps its retry counter across removal, so a locked PIN stays locked
    when the token is pulled out and put back; the file gives the emulator the same
    property even across a restart of its process. ``path=None`` keeps it in memory.
    """

    def __init__(self, path: Path | None, *, max_tries: int = DEFAULT_TRIES) -> None:
        self.path = path
        if path is not None and path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            self.state = PersistentState(**data)
        else:
            self.state = PersistentState(tries_left=max_tries, max_tries=max_tries)
            self.save()

    def save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self.state)), encoding="utf-8")
        os.replace(tmp, self.path)


# -- the applet -------------------------------------------------------------------------


class PivApplet:
    """The PIV card application; one instance per emulated card.

    Volatile state (security status, chaining, pending response) is lost at power-off
    or reset, as on a card (ISO/IEC 7816-4 §5.4: security status is reset on
    deselection/reset); :class:`StateStore` holds the rest.

    Args:
        profile: keys, certificates, PIN.
        store: non-volatile state.
        hook: fault injection for signature commands.
        trace: receives one line per command (PINs redacted), for debugging.
    """

    def __init__(self, profile: CardProfile, store: StateStore, hook: SignatureHook | None = None,
                 trace: Callable[[str], None] | None = None) -> None:
        self.profile = profile
        self.store = store
        self.hook: SignatureHook = hook or _NoFaults()
        self._trace = trace
        self._pin = pad_pin(profile.pin)
        self._objects = {
            TAG_CHUID: chuid(profile.guid),
            TAG_CCC: ccc(profile.guid),
            TAG_DISCOVERY: discovery(),
            TAG_CERT_9A: certificate_object(
                profile.rsa_cert.public_bytes(serialization.Encoding.DER)),
            TAG_CERT_9C: certificate_object(
                profile.ec_cert.public_bytes(serialization.Encoding.DER)),
        }
        self._rsa = profile.rsa_key.private_numbers()
        self._rsa_bytes = (profile.rsa_key.key_size + 7) // 8
        self.pin_verified = False
        """Security status of PIN 80 in this card session."""
        self._pin_always = False
        """True only right after a successful VERIFY: the next command may use 9C."""
        self._chain: tuple[tuple[int, int, int], bytearray] | None = None
        self._pending = b""
        self.commands = 0
        """Complete commands answered since the card was made (a chain counts once)."""

    # -- power -------------------------------------------------------------------------

    def reset(self) -> None:
        """Power-up, warm reset or power-off: volatile state goes (7816-4 §5.4)."""
        self.pin_verified = False
        self._pin_always = False
        self._chain = None
        self._pending = b""

    # -- APDU dispatch -----------------------------------------------------------------

    def transmit(self, raw: bytes) -> bytes:
        """Answer one command APDU with a response APDU (data + SW1 SW2).

        Raises:
            CardRemoved: a fault makes the card leave without answering.
        """
        try:
            cmd = Command.parse(raw)
        except ValueError:
            return sw_bytes(SW_WRONG_LENGTH)
        if self._trace is not None:
            shown = "<PIN>" if cmd.ins == INS_VERIFY and cmd.data else cmd.data.hex()
            self._trace(f"C: {cmd.cla:02X} {cmd.ins:02X} {cmd.p1:02X} {cmd.p2:02X} "
                        f"Lc={len(cmd.data)} Ne={cmd.ne} {shown}")
        response = self._dispatch(cmd)
        if self._trace is not None:
            self._trace(f"R: {len(response) - 2} bytes SW={response[-2:].hex().upper()}")
        return response

    def _dispatch(self, cmd: Command) -> bytes:
        if cmd.cla & ~0x10:
            return sw_bytes(SW_CLA_NOT_SUPPORTED)  # no logical channels, no SM
        if cmd.ins == INS_GET_RESPONSE:
            return self._get_response(cmd)
        # ISO/IEC 7816-4 §5.3.4: any other command abandons unread response data.
        self._pending = b""
        # "PIN Always" (Part 1 Table 4b): the verification counts for the very next
        # command only. Consumed here, whatever that command is.
        pin_always, self._pin_always = self._pin_always, False

        head = (cmd.ins, cmd.p1, cmd.p2)
        data = cmd.data
        if self._chain is not None:
            chain_head, buffer = self._chain
            if chain_head == head:
                data = bytes(buffer) + data
            # A different command abandons the chain (lenient: no 68 83).
            self._chain = None
        if cmd.chained:
            if len(data) > MAX_CHAIN:
                return sw_bytes(SW_WRONG_LENGTH)
            self._chain = (head, bytearray(data))
            if cmd.ins == INS_GENERAL_AUTHENTICATE:
                self._pin_always = pin_always  # the chain is one command
            return sw_bytes(SW_OK)

        self.commands += 1
        handler = {
            INS_SELECT: self._select,
            INS_GET_DATA: self._get_data,
            INS_VERIFY: self._verify,
        }.get(cmd.ins)
        if handler is not None:
            body, sw = handler(cmd, data)
        elif cmd.ins == INS_GENERAL_AUTHENTICATE:
            body, sw = self._general_authenticate(cmd, data, pin_always)
        else:
            body, sw = b"", SW_INS_NOT_SUPPORTED
        return self._reply(body, sw, cmd.ne)

    def _reply(self, body: bytes, sw: int, ne: int | None) -> bytes:
        """Send at most Ne bytes; keep the rest for GET RESPONSE (``61 xx``)."""
        if not body:
            return sw_bytes(sw)
        limit = ne if ne is not None else 256
        if len(body) <= limit:
            return body + sw_bytes(sw)
        self._pending = body[limit:]
        return body[:limit] + sw_bytes(SW_MORE_DATA | min(len(self._pending), 256) % 256)

    def _get_response(self, cmd: Command) -> bytes:
        if not self._pending:
            return sw_bytes(SW_CONDITIONS_NOT_SATISFIED)
        body, self._pending = self._pending, b""
        return self._reply(body, SW_OK, cmd.ne)

    # -- commands ----------------------------------------------------------------------

    def _select(self, cmd: Command, data: bytes) -> tuple[bytes, int]:
        # Part 2 §3.1.1: P1 = 04 (by DF name); the AID may be right-truncated.
        if cmd.p1 != 0x04:
            return b"", SW_WRONG_P1P2
        if len(data) < len(PIV_RID) or not PIV_AID.startswith(data):
            return b"", SW_NOT_FOUND
        return application_property_template(), SW_OK

    def _get_data(self, cmd: Command, data: bytes) -> tuple[bytes, int]:
        # Part 2 §3.1.2: P1-P2 = 3F FF, data = 5C <tag>.
        if (cmd.p1, cmd.p2) != (0x3F, 0xFF):
            return b"", SW_WRONG_P1P2
        try:
            tag = find_tlv(data, 0x5C)
        except ValueError:
            return b"", SW_WRONG_DATA
        if tag is None or not 1 <= len(tag) <= 3:
            return b"", SW_WRONG_DATA
        found = self._objects.get(int.from_bytes(tag, "big"))
        if found is None:
            return b"", SW_NOT_FOUND
        return found, SW_OK

    def _verify(self, cmd: Command, data: bytes) -> tuple[bytes, int]:
        state = self.store.state
        if cmd.p2 != PIN_REF_APPLICATION:
            return b"", SW_REFERENCE_NOT_FOUND  # no global PIN, no OCC on this card
        if cmd.p1 == 0xFF and not data:
            # Part 2 §3.2.1: P1 = FF resets the security status of the reference.
            self.pin_verified = False
            return b"", SW_OK
        if cmd.p1 != 0x00:
            return b"", SW_WRONG_P1P2
        if not data:
            # The status query: tells the state without costing a try.
            if state.tries_left == 0:
                return b"", SW_AUTH_METHOD_BLOCKED
            return b"", SW_OK if self.pin_verified else sw_tries_left(state.tries_left)

        state.verify_count += 1
        try:
            if state.tries_left == 0:
                # Blocked: even the right PIN is refused (Part 2 §3.2.1, 69 83).
                self.pin_verified = False
                return b"", SW_AUTH_METHOD_BLOCKED
            if len(data) != 8:
                return b"", SW_WRONG_DATA  # OpenSC always pads to 8 bytes
            # No format check (digits only): like a YubiKey, any 8 bytes are a PIN
            # attempt, so a malformed PIN costs a try exactly as a wrong one does.
            if hmac.compare_digest(data, self._pin):
                state.tries_left = state.max_tries
                self.pin_verified = True
                self._pin_always = True
                return b"", SW_OK
            state.tries_left -= 1
            self.pin_verified = False
            if state.tries_left == 0:
                return b"", SW_AUTH_METHOD_BLOCKED
            return b"", sw_tries_left(state.tries_left)
        finally:
            self.store.save()

    def _general_authenticate(self, cmd: Command, data: bytes,
                              pin_always: bool) -> tuple[bytes, int]:
        # Part 2 §3.2.4: P1 = algorithm, P2 = key reference, data = 7C template with an
        # empty response (82) requested for a challenge (81) = the data to sign.
        key, alg = cmd.p2, cmd.p1
        if (key, alg) not in ((KEY_PIV_AUTH, ALG_RSA_2048), (KEY_SIGNATURE, ALG_ECC_P256)):
            return b"", SW_WRONG_P1P2
        try:
            template = find_tlv(data, 0x7C)
            inner = dict(iter_tlv(template)) if template is not None else {}
        except ValueError:
            return b"", SW_WRONG_DATA
        challenge = inner.get(0x81)
        if inner.get(0x82) != b"" or not challenge:
            return b"", SW_WRONG_DATA

        override = self.hook.before_signature(key, self.commands)  # may raise CardRemoved
        if override is not None:
            return b"", override

        if key == KEY_PIV_AUTH and not self.pin_verified:
            return b"", SW_SECURITY_STATUS_NOT_SATISFIED
        if key == KEY_SIGNATURE and not (self.pin_verified and pin_always):
            return b"", SW_SECURITY_STATUS_NOT_SATISFIED

        if key == KEY_PIV_AUTH:
            signature = self._rsa_private(challenge)
            if signature is None:
                return b"", SW_WRONG_DATA
        else:
            signature = self._ecdsa(challenge)
        self.store.state.sign_count += 1
        self.store.save()
        return tlv(0x7C, tlv(0x82, signature)), SW_OK

    def _rsa_private(self, block: bytes) -> bytes | None:
        """Raw RSA private operation (RSASP1, RFC 8017 §5.2.1) with the CRT; the host
        has already applied the PKCS#1 padding (OpenSC asks for RSA_RAW)."""
        if len(block) != self._rsa_bytes:
            return None
        n = self._rsa.public_numbers.n
        m = int.from_bytes(block, "big")
        if m >= n:
            return None
        p, q = self._rsa.p, self._rsa.q
        m1 = pow(m, self._rsa.dmp1, p)
        m2 = pow(m, self._rsa.dmq1, q)
        s = m2 + ((self._rsa.iqmp * (m1 - m2)) % p) * q
        return s.to_bytes(self._rsa_bytes, "big")

    def _ecdsa(self, digest: bytes) -> bytes:
        """ECDSA over a hash the host computed; DER ``ECDSA-Sig-Value`` out, as PIV
        returns it (Part 2 §3.2.4). SEC 1 §4.1.3 step 5 uses the leftmost 256 bits of a
        longer hash; a shorter one is its integer value, i.e. left-padded with zeros."""
        e = digest[:32].rjust(32, b"\x00")
        return self.profile.ec_key.sign(e, ec.ECDSA(Prehashed(hashes.SHA256())))
