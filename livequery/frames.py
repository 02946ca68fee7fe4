"""RFC 6455 server side, sans I/O: the upgrade handshake and the frames, for the lean LiveQuery socket (lean.py).

Only what LiveQuery needs: no extensions (permessage-deflate connections go through uvicorn's implementation),
no subprotocols. Every length is checked against the cap before anything is buffered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

try:  # the C unmasking loop websockets ships; the pure-Python one otherwise
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
DATA_OPCODES = frozenset((CONT, TEXT, BINARY))
CONTROL_OPCODES = frozenset((CLOSE, PING, PONG))
PROTOCOL_ERROR, UNSUPPORTED_DATA, INVALID_DATA, TOO_BIG = 1002, 1003, 1007, 1009
MAX_HEAD = 16 * 1024  # the upgrade request's head; browsers send under 2 KiB


class FrameError(Exception):
    """The peer broke the protocol: the connection is closed with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(frozen=True, slots=True)
class Upgrade:
    path: str
    key: str
    host: str


def parse_upgrade(head: bytes) -> Upgrade | None:
    """The upgrade request (request line and headers, up to the blank line); None when it is not a valid one."""
    try:
        lines = head.decode("latin-1").split("\r\n")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
        return None
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[0] != "GET" or parts[2] != "HTTP/1.1":
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            return None
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    key = headers.get("sec-websocket-key", "")
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return None
    except (binascii.Error, ValueError):
        return None
    connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if headers.get("upgrade", "").lower() != "websocket" or "upgrade" not in connection:
        return None
    if headers.get("sec-websocket-version") != "13":
        return None
    return Upgrade(path=parts[1], key=key, host=headers.get("host", ""))


def accept_response(key: str, extra: bytes = b"") -> bytes:
    accept = base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest())  # RFC 6455 fixes SHA-1 here
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n" + extra + b"\r\n")


def http_response(status: int, reason: str, body: bytes, extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n"
            % (status, reason.encode("ascii"), len(body))) + extra + b"\r\n" + body


def encode(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final frame (servers never mask)."""
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x80 | opcode, n) + payload
    if n < 1 << 16:
        return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, n) + payload


def close_frame(code: int, reason: str = "") -> bytes:
    return encode(CLOSE, struct.pack("!H", code) + reason.encode()[:123])


@dataclass(frozen=True, slots=True)
class Frame:
    fin: bool
    opcode: int
    payload: bytes


def parse_frame(buf: bytes | bytearray, max_size: int) -> tuple[Frame, int] | None:
    """The first frame in `buf` and how many bytes it took; None when it is not complete yet. The declared length
    is checked against `max_size` as soon as the header is in, so an oversized frame is refused unbuffered."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    if b0 & 0x70:
        raise FrameError(PROTOCOL_ERROR, "reserved bits set")
    opcode = b0 & 0x0F
    if opcode not in DATA_OPCODES and opcode not in CONTROL_OPCODES:
        raise FrameError(PROTOCOL_ERROR, "unknown opcode")
    if not b1 & 0x80:
        raise FrameError(PROTOCOL_ERROR, "client frames must be masked")
    fin = bool(b0 & 0x80)
    length, at = b1 & 0x7F, 2
    if opcode in CONTROL_OPCODES and (length > 125 or not fin):
        raise FrameError(PROTOCOL_ERROR, "bad control frame")
    if length == 126:
        if len(buf) < 4:
            return None
        length, at = struct.unpack_from("!H", buf, 2)[0], 4
    elif length == 127:
        if len(buf) < 10:
            return None
        length, at = struct.unpack_from("!Q", buf, 2)[0], 10
    if length > max_size:
        raise FrameError(TOO_BIG, "frame too big")
    end = at + 4 + length
    if len(buf) < end:
        return None
    payload = apply_mask(bytes(buf[at + 4:end]), bytes(buf[at:at + 4]))
    return Frame(fin, opcode, payload), end


def close_code(payload: bytes) -> int:
    """The code to echo for a peer's close frame (1000 when it gave none)."""
    if len(payload) >= 2:
        code = int(struct.unpack_from("!H", payload)[0])
        if code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014) or 3000 <= code < 5000:
            return code
        return PROTOCOL_ERROR
    return PROTOCOL_ERROR if payload else 1000
