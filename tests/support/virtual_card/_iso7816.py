"""ISO/IEC 7816 plumbing for the virtual card: command APDUs, BER-TLV, status words.

Only what a contact card answering OpenSC needs: parsing the four command cases (short
and extended, ISO/IEC 7816-3 §12.1.3 / 7816-4 §5.1), building BER-TLV (7816-4 §5.2,
the encoding SP 800-73-4 Part 1 §3 uses for every PIV data object), and the status
words the PIV application answers (SP 800-73-4 Part 2 §3, 7816-4 §5.1.3)::

    >>> Command.parse(bytes.fromhex("00CB3FFF055C035FC10500")).data.hex()
    '5c035fc105'
    >>> tlv(0x53, b"\\x01").hex()
    '530101'
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# ISO/IEC 7816-4 §5.1.3 / SP 800-73-4 Part 2 status words used by the card.
SW_OK = 0x9000
SW_MORE_DATA = 0x6100
"""``61 xx``: xx more bytes wait for GET RESPONSE (7816-4 §5.3.4, used in T=1 too)."""
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_STATUS_NOT_SATISFIED = 0x6982
SW_AUTH_METHOD_BLOCKED = 0x6983
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_LAST_COMMAND_OF_CHAIN_EXPECTED = 0x6883
SW_WRONG_DATA = 0x6A80
SW_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_REFERENCE_NOT_FOUND = 0x6A88
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00


def sw_bytes(sw: int) -> bytes:
    """The two status bytes SW1 SW2."""
    return sw.to_bytes(2, "big")


def sw_tries_left(tries: int) -> int:
    """``63 Cx``: verification failed, x further tries allowed (7816-4 §5.1.3)."""
    return 0x63C0 | min(tries, 15)


@dataclass(frozen=True)
class Command:
    """One command APDU (ISO/IEC 7816-4 §5.1)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    """The command data field (empty for cases 1 and 2)."""
    ne: int | None
    """Maximum response length Ne, already decoded (``00`` -> 256 short, 65536
    extended); None when the command has no Le field (cases 1 and 3)."""

    @property
    def chained(self) -> bool:
        """CLA bit b5 set: more commands of this chain follow (7816-4 §5.1.1.1)."""
        return bool(self.cla & 0x10)

    @classmethod
    def parse(cls, raw: bytes) -> Command:
        """Decode the four cases, short or extended (ISO/IEC 7816-3 §12.1.3).

        Raises:
            ValueError: the bytes are no well-formed command APDU.
        """
        if len(raw) < 4:
            raise ValueError("command APDU shorter than its 4-byte header")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        data = b""
        ne: int | None = None
        if not body:  # case 1
            pass
        elif len(body) == 1:  # case 2 short
            ne = body[0] or 256
        elif body[0] != 0:  # case 3 or 4 short
            lc = body[0]
            if len(body) == 1 + lc:
                data = body[1:]
            elif len(body) == 2 + lc:
                data, ne = body[1:-1], body[-1] or 256
            else:
                raise ValueError("Lc does not match the command length")
        elif len(body) == 3:  # case 2 extended
            ne = int.from_bytes(body[1:3], "big") or 65536
        else:  # case 3 or 4 extended
            lc = int.from_bytes(body[1:3], "big")
            if lc == 0:
                raise ValueError("extended Lc of zero")
            if len(body) == 3 + lc:
                data = body[3:]
            elif len(body) == 5 + lc:
                data, ne = body[3:-2], int.from_bytes(body[-2:], "big") or 65536
            else:
                raise ValueError("extended Lc does not match the command length")
        return cls(cla, ins, p1, p2, bytes(data), ne)


def _length(n: int) -> bytes:
    """BER definite length (ISO/IEC 7816-4 §5.2.2.2)."""
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    if n <= 0xFFFF:
        return bytes([0x82]) + n.to_bytes(2, "big")
    raise ValueError("TLV value too long for a smart card")


def tlv(tag: int, value: bytes) -> bytes:
    """One BER-TLV data object; ``tag`` is its bytes read as a number (``0x5FC105``)."""
    tag_bytes = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    return tag_bytes + _length(len(value)) + value


def iter_tlv(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The BER-TLV data objects of ``data``, in order, as ``(tag, value)``.

    Raises:
        ValueError: truncated or malformed encoding.
    """
    i = 0
    while i < len(data):
        start = i
        if data[i] & 0x1F == 0x1F:  # multi-byte tag (7816-4 §5.2.2.1)
            i += 1
            while i < len(data) and data[i] & 0x80:
                i += 1
        i += 1
        if i >= len(data):
            raise ValueError("TLV truncated in its tag or length")
        tag = int.from_bytes(data[start:i], "big")
        first = data[i]
        i += 1
        if first < 0x80:
            length = first
        elif first in (0x81, 0x82, 0x83):
            size = first & 0x7F
            length = int.from_bytes(data[i:i + size], "big")
            i += size
        else:
            raise ValueError(f"unsupported BER length byte {first:#04x}")
        if i + length > len(data):
            raise ValueError("TLV value runs past the end of the data")
        yield tag, data[i:i + length]
        i += length


def find_tlv(data: bytes, tag: int) -> bytes | None:
    """The value of the first top-level data object with ``tag``, or None."""
    for found, value in iter_tlv(data):
        if found == tag:
            return value
    return None
