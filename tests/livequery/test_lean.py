"""The lean websocket path (livequery/lean.py + frames.py) driven byte by byte through a fake transport: what a
client on the wire sees for the handshake, the protocol, refusals, keepalive, slow consumers and teardown.
(Real sockets: tests/e2e/test_livequery_processes.py and the JS SDK suite run `sleeplab serve`, which uses it.)"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import struct
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.schema.model import new_class
from engine.security.auth import Auth
from engine.storage.base import StoredObject, freeze
from livequery import frames
from livequery.dispatch import LiveEvent
from livequery.lean import LeanSocket, lean_protocol
from livequery.server import LiveQueryServer
from tests.conftest import APP_ID, make_settings

KEY = base64.b64encode(b"0123456789abcdef").decode()
UPGRADE = (f"GET /parse HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
           f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class FakeTransport:
    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = self.aborted = self.reading_paused = False

    def write(self, data: bytes) -> None:
        self.out += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading_paused = True

    def resume_reading(self) -> None:
        self.reading_paused = False

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 5555) if name == "peername" else None


def masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def text(message: dict[str, Any]) -> bytes:
    return masked(frames.TEXT, json.dumps(message).encode())


def server_frames(out: bytearray) -> list[tuple[int, bytes]]:
    """Every frame the server wrote (after the 101), consumed from `out`."""
    head = out.find(b"\r\n\r\n")
    if out.startswith(b"HTTP/"):
        del out[:head + 4]
    got = []
    while len(out) >= 2:
        opcode, n, at = out[0] & 0x0F, out[1] & 0x7F, 2
        if n == 126:
            n, at = struct.unpack_from("!H", out, 2)[0], 4
        elif n == 127:
            n, at = struct.unpack_from("!Q", out, 2)[0], 10
        got.append((opcode, bytes(out[at:at + n])))
        del out[:at + n]
    return got


class Wire:
    def __init__(self, server: LiveQueryServer, **kw: Any) -> None:
        self.transport = FakeTransport()
        cls = kw.get("cls") or lean_protocol(server, "/parse", 0.0)
        self.sock: LeanSocket = cls()
        self.sock.connection_made(self.transport)  # type: ignore[arg-type]
        self.seen: list[tuple[int, bytes]] = []

    def feed(self, data: bytes) -> None:
        self.sock.data_received(data)

    async def next(self, opcode: int | None = None) -> tuple[int, bytes]:
        for _ in range(2000):  # measured in loop turns, not time: the handler is a task
            self.seen += server_frames(self.transport.out)
            for i, (op, payload) in enumerate(self.seen):
                if opcode is None or op == opcode:
                    del self.seen[i]
                    return op, payload
            await asyncio.sleep(0)
        raise AssertionError(f"no frame; transport closed={self.transport.closed}")

    async def json(self) -> dict[str, Any]:
        _, payload = await self.next(frames.TEXT)
        result: dict[str, Any] = json.loads(payload)
        return result


def make_server(**settings: Any) -> LiveQueryServer:
    async def sessions(token: str) -> Auth | None:
        return None

    schema = {"Msg": new_class("Msg")}
    return LiveQueryServer(make_settings(database_uri="memory://", **settings), schema.get, sessions)


async def opened(server: LiveQueryServer, **kw: Any) -> Wire:
    wire = Wire(server, **kw)
    wire.feed(UPGRADE)
    assert wire.transport.out.startswith(b"HTTP/1.1 101 ")
    accept = base64.b64encode(hashlib.sha1(KEY.encode() + frames.GUID).digest())
    assert b"Sec-WebSocket-Accept: " + accept + b"\r\n" in wire.transport.out
    return wire


async def connected(server: LiveQueryServer, **kw: Any) -> Wire:
    wire = await opened(server, **kw)
    wire.feed(text({"op": "connect", "applicationId": APP_ID}))
    assert (await wire.json())["op"] == "connected"
    return wire


async def test_connect_subscribe_event_and_teardown() -> None:
    server = make_server()
    wire = await connected(server)
    # Split across reads, fragmented, in one go with a ping: the socket reassembles each.
    sub = json.dumps({"op": "subscribe", "requestId": 1, "query": {"className": "Msg", "where": {"n": 1}}}).encode()
    data = masked(frames.TEXT, sub[:10], fin=False) + masked(frames.PING, b"hi") + masked(frames.CONT, sub[10:])
    wire.feed(data[:7])
    wire.feed(data[7:])
    assert await wire.next(frames.PONG) == (frames.PONG, b"hi")
    assert (await wire.json())["op"] == "subscribed"
    obj = StoredObject("Msg", "o1", T0, T0, None, freeze({"n": 1}))
    assert await server.dispatcher.dispatch(LiveEvent("Msg", obj)) == 1
    event = await wire.json()
    assert event["op"] == "create" and event["object"]["n"] == 1
    assert server.open_sockets == 1 and len(server.index) == 1
    wire.feed(masked(frames.CLOSE, struct.pack("!H", 1000)))
    assert await wire.next(frames.CLOSE) == (frames.CLOSE, struct.pack("!H", 1000))
    assert wire.transport.closed
    wire.sock.connection_lost(None)
    assert server.open_sockets == 0 and len(server.index) == 0 and not server.clients


async def test_messages_before_connect_are_refused() -> None:
    wire = await opened(make_server())
    wire.feed(text({"op": "subscribe", "requestId": 3, "query": {"className": "Msg", "where": {}}}))
    error = await wire.json()
    assert error["op"] == "error" and error["code"] == 2 and error["requestId"] == 3


@pytest.mark.parametrize(("request_bytes", "status"), [
    (UPGRADE.replace(b"Version: 13", b"Version: 8"), b"400"),
    (UPGRADE.replace(b"Upgrade: websocket", b"Upgrade: h2c"), b"400"),
    (UPGRADE.replace(b"GET /parse", b"GET /elsewhere"), b"404"),
])
async def test_bad_upgrades_get_an_http_answer(request_bytes: bytes, status: bytes) -> None:
    wire = Wire(make_server())
    wire.feed(request_bytes)
    assert wire.transport.out.startswith(b"HTTP/1.1 " + status) and wire.transport.closed


async def test_websocket_cap_answers_parse_503() -> None:
    server = make_server(max_websockets=1)
    await opened(server)
    wire = Wire(server)
    wire.feed(UPGRADE)
    out = bytes(wire.transport.out)
    assert out.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in out
    assert json.loads(out.split(b"\r\n\r\n", 1)[1]) == {"code": 155, "error": "Too many websocket connections"}
    assert server.open_sockets == 1


@pytest.mark.parametrize(("frame", "code"), [
    (struct.pack("!BB", 0x81, 5) + b"hello", frames.PROTOCOL_ERROR),  # unmasked
    (struct.pack("!BBQ", 0x81, 0xFF, 1 << 40), frames.TOO_BIG),  # refused from its header alone
    (masked(frames.TEXT, b"\xff\xfe"), frames.INVALID_DATA),
    (masked(frames.CONT, b"x"), frames.PROTOCOL_ERROR),
    (bytes([0xC1, 0x80]) + b"\0\0\0\0", frames.PROTOCOL_ERROR),  # reserved bit
], ids=["unmasked", "too-big", "invalid-utf8", "stray-continuation", "reserved-bit"])  # masks are random: fixed ids
async def test_protocol_violations_close_with_their_code(frame: bytes, code: int) -> None:
    wire = await opened(make_server())
    wire.feed(frame)
    op, payload = await wire.next(frames.CLOSE)
    assert struct.unpack("!H", payload[:2])[0] == code


async def test_fragments_past_the_cap_close_1009() -> None:
    wire = await opened(make_server())
    chunk = b"x" * 60_000
    wire.feed(masked(frames.TEXT, chunk, fin=False) + masked(frames.CONT, chunk, fin=False))
    _, payload = await wire.next(frames.CLOSE)
    assert struct.unpack("!H", payload[:2])[0] == frames.TOO_BIG


async def test_connect_deadline_closes_1008() -> None:
    wire = await opened(make_server(live_query_connect_timeout=0.01))
    answered = len(wire.transport.out)
    for _ in range(500):  # generous: the deadline is a loop timer
        if len(wire.transport.out) > answered:
            break
        await asyncio.sleep(0.01)
    _, payload = await wire.next(frames.CLOSE)
    assert struct.unpack("!H", payload[:2])[0] == 1008


async def test_keepalive_pings_and_drops_the_silent() -> None:
    server = make_server()
    cls = lean_protocol(server, "/parse", 3600)
    quiet, answering = await connected(server, cls=cls), await connected(server, cls=cls)
    hub = cls.hub
    hub.ping_all()
    assert await quiet.next(frames.PING) and await answering.next(frames.PING)
    answering.feed(masked(frames.PONG, b""))
    hub.ping_all()
    _, payload = await quiet.next(frames.CLOSE)
    assert struct.unpack("!H", payload[:2])[0] == 1011
    assert await answering.next(frames.PING)
    assert not answering.seen


async def test_slow_consumer_gets_155_and_is_closed() -> None:
    server = make_server(live_query_max_queue=3)
    wire = await connected(server)
    wire.feed(text({"op": "subscribe", "requestId": 1, "query": {"className": "Msg", "where": {}}}))
    assert (await wire.json())["op"] == "subscribed"
    wire.sock.pause_writing()  # the kernel buffer is full: events wait in the client's bounded queue
    for i in range(3):
        await server.dispatcher.dispatch(LiveEvent("Msg", StoredObject("Msg", f"o{i}", T0, T0, None, freeze({}))))
    assert not server_frames(wire.transport.out)
    wire.sock.resume_writing()  # drained in order
    assert [(await wire.json())["object"]["objectId"] for _ in range(3)] == ["o0", "o1", "o2"]
    wire.sock.pause_writing()
    for i in range(4):
        await server.dispatcher.dispatch(LiveEvent("Msg", StoredObject("Msg", f"p{i}", T0, T0, None, freeze({}))))
    error = await wire.json()
    assert error["code"] == 155 and error["reconnect"] is True
    _, payload = await wire.next(frames.CLOSE)
    assert struct.unpack("!H", payload[:2])[0] == 1008


def test_upgrade_parsing() -> None:
    up = frames.parse_upgrade(UPGRADE[:-4])
    assert up is not None and up.path == "/parse" and up.key == KEY
    assert frames.parse_upgrade(UPGRADE[:-4].replace(KEY.encode(), b"short")) is None
    assert frames.parse_upgrade(b"POST /parse HTTP/1.1\r\n") is None
    assert frames.parse_frame(b"\x81", 10) is None  # incomplete: wait for more
