"""The lean websocket path: uvicorn hands every upgraded connection to this asyncio Protocol, which speaks
RFC 6455 itself (frames.py) and feeds LiveQuery directly, without ASGI.

Why: 10 000 mostly idle subscribers are the normal load, and a generic ASGI websocket keeps per connection the
parsed handshake, a scope, a receive queue, an event, a task and its coroutine frames (~16 KiB). Here an idle
connection is its transport, this object (slots only), its `Client` and its subscriptions: no task, no queue,
no timer (one shared timer pings every socket). Messages are handled by a task that exists only while some are
waiting; events are written straight to the transport while it keeps up, queued in the `Client` (bounded) when
the kernel buffer is full. permessage-deflate is not spoken here: with it enabled the server uses uvicorn's
implementation and the ASGI endpoint instead (engine/cli.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any, cast
from urllib.parse import unquote

import orjson

from engine.errors import ErrorCode
from livequery import frames, protocol
from livequery.client import Client
from livequery.server import CONNECT_TIMEOUT_CLOSE, SLOW_CONSUMER, LiveQueryServer

log = logging.getLogger("livequery")
CLOSE_WAIT = 1.0  # after our close frame, how long the peer gets to answer before the socket is dropped
INBOX = 16  # messages read ahead of the handler before the socket stops being read
PING_SLOTS = 64
_PING = frames.encode(frames.PING, b"")


class _Hub:
    """What every lean socket of one server shares: the LiveQuery server, the mount, and one keepalive timer.

    Sockets are spread over PING_SLOTS slots pinged in turn, one slot per 1/PING_SLOTS of the interval, so each
    socket gets a ping per interval, its first one about an interval after it opened (as with a timer of its own),
    and the writes come in batches as even as the connects were instead of one burst that would stall every
    event and request behind 10 000 writes."""

    def __init__(self, server: LiveQueryServer, mount: str, ping_interval: float) -> None:
        self.server = server
        self.mount = "/" + mount.strip("/")
        self.ping_interval = ping_interval
        self.slots: list[set[LeanSocket]] = [set() for _ in range(PING_SLOTS)]
        self._turn = 0  # the slot the timer pings next
        self._timer: asyncio.TimerHandle | None = None

    def add(self, sock: LeanSocket) -> int:
        slot = (self._turn - 1) % PING_SLOTS  # the slot pinged last from now
        self.slots[slot].add(sock)
        if self._timer is None and self.ping_interval > 0:
            self._timer = asyncio.get_running_loop().call_later(self.ping_interval / PING_SLOTS, self._tick)
        return slot

    def discard(self, sock: LeanSocket, slot: int) -> None:
        self.slots[slot].discard(sock)

    def ping_all(self) -> None:
        """A whole round at once (tests)."""
        for _ in range(PING_SLOTS):
            self._ping_turn()

    def _tick(self) -> None:
        self._timer = None
        self._ping_turn()
        if any(self.slots):
            self._timer = asyncio.get_running_loop().call_later(self.ping_interval / PING_SLOTS, self._tick)

    def _ping_turn(self) -> None:
        slot = self.slots[self._turn]
        self._turn = (self._turn + 1) % PING_SLOTS
        for sock in list(slot):
            sock.keepalive()  # a socket that has not answered the previous round's ping is closed

    def serves(self, path: str) -> bool:
        return path == self.mount or path.startswith(self.mount.rstrip("/") + "/")


class LeanSocket(asyncio.Protocol):
    __slots__ = ("_buf", "_client", "_closing", "_connections", "_host", "_inbox", "_parts", "_ping_slot",
                 "_pong_due", "_task", "_timer", "_transport", "paused")
    hub: _Hub  # set on the subclass `lean_protocol` makes

    def __init__(self, config: Any = None, server_state: Any = None, app_state: Any = None,
                 _loop: Any = None) -> None:
        self._connections: set[Any] | None = server_state.connections if server_state is not None else None
        self._transport: asyncio.Transport | None = None
        self._buf: bytearray | None = None
        self._parts: list[bytes] | None = None  # a fragmented message's frames so far, the first one's opcode
        self._client: Client | None = None
        self._inbox: deque[str | bytes] | None = None
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None  # the connect deadline, then the close wait
        self._host = ""
        self._closing = False
        self._pong_due = False
        self._ping_slot = -1
        self.paused = False

    # ---- asyncio.Protocol ----

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        if self._connections is not None:
            self._connections.add(self)  # counted by the connection cap and closed by a graceful shutdown
        peer = self._transport.get_extra_info("peername")
        self._host = str(peer[0]) if isinstance(peer, tuple) and peer else ""

    def connection_lost(self, exc: Exception | None) -> None:
        if self._connections is not None:
            self._connections.discard(self)
        if self._ping_slot >= 0:
            self.hub.discard(self, self._ping_slot)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._inbox = self._buf = self._parts = None
        client, self._client = self._client, None
        if client is not None:
            self.hub.server.open_sockets -= 1
            self.hub.server.forget(client)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self._client is not None:
            self._client.resume()

    def data_received(self, data: bytes) -> None:
        if self._closing and self._client is None:
            return
        buf = self._buf
        if buf is None:
            buf = self._buf = bytearray(data)
        else:
            buf += data
        try:
            if self._client is None:
                self._handshake(buf)
            else:
                self._frames(buf)
        except frames.FrameError as exc:
            self._buf = None
            self.close(exc.code, exc.reason)
        if self._buf is not None and not self._buf:
            self._buf = None  # an idle socket holds no buffer

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: 1012 (service restart), as its own websocket protocols send."""
        self.close(1012, "")
        if self._transport is not None:
            self._transport.close()

    # ---- the upgrade ----

    def _handshake(self, buf: bytearray) -> None:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > frames.MAX_HEAD:
                self._refuse(431, "Request Header Fields Too Large", b"")
            return
        upgrade = frames.parse_upgrade(bytes(buf[:end]))
        del buf[:end + 4]
        if upgrade is None:
            self._refuse(400, "Bad Request", b"")
            return
        if not self.hub.serves(unquote(upgrade.path.partition("?")[0])):
            self._refuse(404, "Not Found", b"")
            return
        server = self.hub.server
        cap = server.settings.max_websockets
        if cap > 0 and server.open_sockets >= cap:
            body = orjson.dumps({"code": ErrorCode.REQUEST_LIMIT_EXCEEDED.value,
                                 "error": "Too many websocket connections"})
            self._refuse(503, "Service Unavailable", body, b"retry-after: 1\r\n")
            return
        assert self._transport is not None
        self._transport.write(frames.accept_response(upgrade.key))
        server.open_sockets += 1
        limit = server.settings.live_query_max_queue
        self._client = Client(sink=self, on_overflow=self._overflowed, max_messages=limit)
        # A socket that never says `connect` holds memory and a file descriptor for nothing: it gets a deadline.
        self._timer = asyncio.get_running_loop().call_later(server.settings.live_query_connect_timeout,
                                                            self._connect_timed_out)
        self._ping_slot = self.hub.add(self)
        if buf:
            self._frames(buf)

    def _refuse(self, status: int, reason: str, body: bytes, extra: bytes = b"") -> None:
        assert self._transport is not None
        self._closing = True
        self._buf = None
        self._transport.write(frames.http_response(status, reason, body, extra))
        self._transport.close()

    # ---- frames ----

    def _frames(self, buf: bytearray) -> None:
        while buf:
            parsed = frames.parse_frame(buf, protocol.MAX_FRAME)
            if parsed is None:
                return
            frame, used = parsed
            del buf[:used]
            op = frame.opcode
            if self._closing:  # only the peer's answer to our close matters now
                if op == frames.CLOSE:
                    self._peer_closed(frame.payload)
                    return
            elif op == frames.PING:
                self._write(frames.encode(frames.PONG, frame.payload))
            elif op == frames.PONG:
                self._pong_due = False
            elif op == frames.CLOSE:
                self._peer_closed(frame.payload)
            else:
                self._data(frame)

    def _data(self, frame: frames.Frame) -> None:
        parts = self._parts
        if frame.opcode == frames.CONT:
            if parts is None:
                raise frames.FrameError(frames.PROTOCOL_ERROR, "continuation of nothing")
            parts.append(frame.payload)
            if sum(len(p) for p in parts) - 1 > protocol.MAX_FRAME:
                raise frames.FrameError(frames.TOO_BIG, "message too big")
        elif parts is not None:
            raise frames.FrameError(frames.PROTOCOL_ERROR, "new message inside a fragmented one")
        elif not frame.fin:
            self._parts = [bytes((frame.opcode,)), frame.payload]
            return
        else:
            parts = [bytes((frame.opcode,)), frame.payload]
        if not frame.fin:
            return
        self._parts = None
        data = parts[1] if len(parts) == 2 else b"".join(parts[1:])
        message: str | bytes = data
        if parts[0][0] == frames.TEXT:
            try:
                message = data.decode()
            except UnicodeDecodeError as exc:
                raise frames.FrameError(frames.INVALID_DATA, "invalid UTF-8") from exc
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = deque()
        inbox.append(message)
        if len(inbox) >= INBOX and self._transport is not None:
            self._transport.pause_reading()  # the handler is behind: let TCP push back
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._handle())

    async def _handle(self) -> None:
        """Messages in order, one at a time (connect must finish before a subscribe is read)."""
        try:
            while self._inbox and self._client is not None:
                message = self._inbox.popleft()
                client = self._client
                try:
                    await self.hub.server.on_message(client, message, self._host)
                except Exception:
                    log.exception("livequery message failed")
                if self._timer is not None and not self._closing and self.hub.server.clients.get(client.id) is client:
                    self._timer.cancel()  # connected: the deadline is met
                    self._timer = None
                if self._transport is not None and len(self._inbox or ()) < INBOX:
                    self._transport.resume_reading()
        finally:
            self._task = None
            if not self._inbox:
                self._inbox = None

    def _peer_closed(self, payload: bytes) -> None:
        if not self._closing:
            self._write(frames.close_frame(frames.close_code(payload)))
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    # ---- sending ----

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def write_text(self, text: str) -> None:
        """The Client's sink: one text frame, straight to the transport."""
        if not self._closing:
            self._write(frames.encode(frames.TEXT, text.encode()))

    def close(self, code: int, reason: str) -> None:
        """Our close frame, then the peer has CLOSE_WAIT to answer before the socket is dropped."""
        if self._closing or self._transport is None:
            return
        self._write(frames.close_frame(code, reason))
        self._closing = True
        self._inbox = None
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(CLOSE_WAIT, self._transport.abort)

    def keepalive(self) -> None:
        if self._closing:
            return
        if self._pong_due:
            self.close(1011, "keepalive ping timeout")
            return
        self._pong_due = True
        self._write(_PING)

    def _connect_timed_out(self) -> None:
        self._timer = None
        self.close(CONNECT_TIMEOUT_CLOSE, "connect timed out")

    def _overflowed(self) -> None:
        client = self._client
        if client is None:
            return
        log.warning("livequery client %s dropped: more than %d events waiting", client.id, client.max_messages)
        # Past the queue: the error goes straight to the transport's buffer (bounded by the close wait's abort).
        error = protocol.error(ErrorCode.REQUEST_LIMIT_EXCEEDED.value, SLOW_CONSUMER, reconnect=True)
        with contextlib.suppress(Exception):
            self._write(frames.encode(frames.TEXT, protocol.dumps(error).encode()))
        self.close(CONNECT_TIMEOUT_CLOSE, "slow consumer")


def lean_protocol(server: LiveQueryServer, mount: str, ping_interval: float) -> type[LeanSocket]:
    """The websocket protocol class for uvicorn (`ws=`), bound to one LiveQuery server."""

    class BoundLeanSocket(LeanSocket):
        __slots__ = ()

    BoundLeanSocket.hub = _Hub(server, mount, ping_interval)
    return BoundLeanSocket
