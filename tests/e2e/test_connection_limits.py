"""Connection hygiene against a real `sleeplab serve` over raw sockets: deadlines, caps and early refusals.

Each server is configured with short timeouts (1 s); assertions only bound them generously ("dropped within 10 s"),
so a loaded machine makes the tests slower, never flaky."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest

from tests.e2e.server import ServerProcess, free_port

pytestmark = pytest.mark.e2e

MASTER = "limits-master-key"
BOUND = 10.0  # generous: the configured timeouts are 1 s
SHORT = {
    "PARSE_SERVER_MASTER_KEY": MASTER,
    "PARSE_SERVER_DATABASE_URI": "memory://",
    "SLEEPLAB_SCHEMA": "",
    "SLEEPLAB_HEADER_TIMEOUT": "1",
    "SLEEPLAB_BODY_TIMEOUT": "1",
    "SLEEPLAB_LIVE_QUERY_CONNECT_TIMEOUT": "1",
    "SLEEPLAB_MAX_BODY_BYTES": "65536",
    "SLEEPLAB_MAX_WEBSOCKETS": "3",
    "SLEEPLAB_MAX_CONNECTIONS": "40",
    # Later than the 1 s connect deadline on the same event loop, so sockets without `connect` always see 1008.
    "SLEEPLAB_WS_PING_INTERVAL": "2",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    work: Path = tmp_path_factory.mktemp("limits")
    proc = ServerProcess([], dict(SHORT), work, work / "server.log", free_port()).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def opened() -> AsyncIterator[list[asyncio.StreamWriter]]:
    """Every socket a test opens, closed at the end whatever happened."""
    writers: list[asyncio.StreamWriter] = []
    yield writers
    for w in writers:
        w.close()


async def _open(server: ServerProcess, opened: list[asyncio.StreamWriter]
                ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    opened.append(writer)
    return reader, writer


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), BOUND)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
    length = int(headers.get("content-length", "0"))
    body = await asyncio.wait_for(reader.readexactly(length), BOUND) if length else b""
    return status, headers, body


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server still sent, once it has closed the connection (fails if it is still open)."""
    data = b""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"connection still open after {seconds}s; got {data!r}"
        try:
            chunk = await asyncio.wait_for(reader.read(65536), left)
        except ConnectionResetError:
            return data
        except TimeoutError:
            continue
        if not chunk:
            return data
        data += chunk


def _json_of(raw: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, orjson.loads(body)


def _request(path: str, extra: str = "") -> bytes:
    return (f"POST /parse{path} HTTP/1.1\r\nHost: x\r\nX-Parse-Application-Id: sleeplab\r\n"
            f"X-Parse-Master-Key: {MASTER}\r\nContent-Type: application/json\r\n{extra}").encode()


async def test_keep_alive_still_serves_many_requests(server: ServerProcess,
                                                     opened: list[asyncio.StreamWriter]) -> None:
    reader, writer = await _open(server, opened)
    for i in range(20):
        body = orjson.dumps({"i": i})
        writer.write(_request("/classes/KeepAlive", f"Content-Length: {len(body)}\r\n\r\n") + body)
        status, _, payload = await _read_response(reader)
        assert status == 201, payload
    writer.write(b"GET /parse/health HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, _ = await _read_response(reader)
    assert status == 200


async def test_slowloris_headers_are_dropped(server: ServerProcess, opened: list[asyncio.StreamWriter]) -> None:
    conns = [await _open(server, opened) for _ in range(30)]
    started = time.monotonic()

    async def trickle(writer: asyncio.StreamWriter) -> None:
        with_headers = b"GET /parse/health HTTP/1.1\r\nHost: x\r\nX-Slow: "
        for byte in with_headers:
            if writer.is_closing():
                return
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                return
            await asyncio.sleep(0.1)

    trickles = [asyncio.create_task(trickle(w)) for _, w in conns]
    try:
        answers = await asyncio.gather(*(_closed_within(r, BOUND) for r, _ in conns))
    finally:
        for t in trickles:
            t.cancel()
    assert time.monotonic() - started < BOUND
    for raw in answers:
        status, body = _json_of(raw)
        assert status == 408 and body["code"] == 124


async def test_silent_connection_is_closed(server: ServerProcess, opened: list[asyncio.StreamWriter]) -> None:
    reader, _ = await _open(server, opened)
    assert await _closed_within(reader, BOUND) == b""


async def test_short_body_is_dropped(server: ServerProcess, opened: list[asyncio.StreamWriter]) -> None:
    reader, writer = await _open(server, opened)
    writer.write(_request("/classes/Short", "Content-Length: 100\r\n\r\n") + b'{"a": 1')
    status, body = _json_of(await _closed_within(reader, BOUND))
    assert status == 408 and body["code"] == 124


async def test_oversize_content_length_is_refused_before_the_body(server: ServerProcess,
                                                                  opened: list[asyncio.StreamWriter]) -> None:
    reader, writer = await _open(server, opened)
    writer.write(_request("/classes/Big", f"Content-Length: {100 * 1024 * 1024}\r\n\r\n"))  # headers only
    status, headers, body = await _read_response(reader)
    assert status == 413 and headers["connection"] == "close"
    assert orjson.loads(body) == {"code": 116, "error": "request entity too large"}
    await _closed_within(reader, BOUND)


async def test_chunked_body_is_cut_off_at_the_limit(server: ServerProcess,
                                                    opened: list[asyncio.StreamWriter]) -> None:
    reader, writer = await _open(server, opened)
    answer = asyncio.create_task(_closed_within(reader, BOUND))
    writer.write(_request("/classes/Chunked", "Transfer-Encoding: chunked\r\n\r\n"))
    chunk = b"x" * 16384
    sent = 0
    try:
        while sent < 1024 * 1024 and not answer.done():  # 16 × the limit: the server must answer long before
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
            sent += len(chunk)
            await asyncio.sleep(0.01)
    except ConnectionError:
        pass
    status, body = _json_of(await answer)
    assert status == 413 and body == {"code": 116, "error": "request entity too large"}
    assert sent < 1024 * 1024


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET /parse/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    b"POST /parse/health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /parse/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
])
async def test_malformed_framing_answers_parse_json(server: ServerProcess, opened: list[asyncio.StreamWriter],
                                                    raw: bytes) -> None:
    reader, writer = await _open(server, opened)
    writer.write(raw)
    status, body = _json_of(await _closed_within(reader, BOUND))
    assert status == 400 and body == {"code": 107, "error": "Invalid HTTP request"}


def _upgrade() -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET /parse HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


async def _server_close_code(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    """Wait for the server's close frame, echo it (a client must), and return its status code."""
    head = await asyncio.wait_for(reader.readexactly(2), BOUND)
    assert head[0] == 0x88, head  # FIN + close opcode
    payload = await asyncio.wait_for(reader.readexactly(head[1] & 0x7F), BOUND)
    code = int.from_bytes(payload[:2], "big")
    writer.write(b"\x88\x82\x00\x00\x00\x00" + payload[:2])  # masked with a zero key
    await _closed_within(reader, BOUND)
    return code


async def test_websocket_without_connect_is_closed(server: ServerProcess,
                                                   opened: list[asyncio.StreamWriter]) -> None:
    reader, writer = await _open(server, opened)
    writer.write(_upgrade())
    status, _, _ = await _read_response(reader)
    assert status == 101
    assert await _server_close_code(reader, writer) == 1008


async def _frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await asyncio.wait_for(reader.readexactly(2), BOUND)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    return head[0] & 0x0F, await asyncio.wait_for(reader.readexactly(length), BOUND)


async def test_websocket_that_ignores_pings_is_closed(server: ServerProcess,
                                                      opened: list[asyncio.StreamWriter]) -> None:
    reader, writer = await _open(server, opened)
    writer.write(_upgrade())
    status, _, _ = await _read_response(reader)
    assert status == 101
    connect = orjson.dumps({"op": "connect", "applicationId": "sleeplab"})
    writer.write(bytes([0x81, 0x80 | len(connect)]) + b"\x00\x00\x00\x00" + connect)  # zero mask key
    opcode, payload = await _frame(reader)
    assert opcode == 0x1 and orjson.loads(payload)["op"] == "connected"
    opcode, _ = await _frame(reader)
    assert opcode == 0x9  # a ping, left unanswered
    opcode, payload = await _frame(reader)
    assert opcode == 0x8 and int.from_bytes(payload[:2], "big") == 1011
    await _closed_within(reader, BOUND)


async def test_oversized_websocket_frame_closes_the_socket(server: ServerProcess,
                                                           opened: list[asyncio.StreamWriter]) -> None:
    reader, writer = await _open(server, opened)
    writer.write(_upgrade())
    status, _, _ = await _read_response(reader)
    assert status == 101
    size = 1024 * 1024  # announced, never sent in full: the server refuses it from the frame header
    writer.write(bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big") + b"\x00\x00\x00\x00" + b"x" * 1024)
    opcode, payload = await _frame(reader)
    assert opcode == 0x8 and int.from_bytes(payload[:2], "big") == 1009  # message too big
    await _closed_within(reader, BOUND)


async def test_websocket_cap(server: ServerProcess, opened: list[asyncio.StreamWriter]) -> None:
    held = []
    for _ in range(3):
        reader, writer = await _open(server, opened)
        writer.write(_upgrade())
        status, _, _ = await _read_response(reader)
        assert status == 101
        held.append((reader, writer))
    reader, writer = await _open(server, opened)
    writer.write(_upgrade())
    status, _, body = await _read_response(reader)
    assert status == 503 and orjson.loads(body)["code"] == 155
    # Once the held sockets are gone (connect deadline), new ones are accepted again.
    for r, w in held:
        assert await _server_close_code(r, w) == 1008
    deadline = time.monotonic() + BOUND
    while True:
        reader, writer = await _open(server, opened)
        writer.write(_upgrade())
        status, _, _ = await _read_response(reader)
        if status == 101:
            break
        assert time.monotonic() < deadline, "websocket slots never freed"
        await asyncio.sleep(0.1)


async def test_connection_cap_answers_parse_json(server: ServerProcess,
                                                 opened: list[asyncio.StreamWriter]) -> None:
    idle = [await _open(server, opened) for _ in range(45)]  # over the cap of 40
    await asyncio.sleep(0.2)
    reader, writer = await _open(server, opened)
    writer.write(b"GET /parse/health HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = await _read_response(reader)
    assert status == 503 and headers["connection"] == "close"
    assert orjson.loads(body) == {"code": 155, "error": "Too many connections"}
    for r, _ in idle:  # the idle ones are dropped by the header deadline, freeing the slots
        await _closed_within(r, BOUND)
    reader, writer = await _open(server, opened)
    writer.write(b"GET /parse/health HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, _ = await _read_response(reader)
    assert status == 200


def test_no_tracebacks_in_the_server_log(server: ServerProcess) -> None:
    # Runs last (file order): every refusal above was answered without an unhandled error.
    log = server.log.read_text()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log
