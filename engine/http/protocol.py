"""The HTTP connection protocol: uvicorn's httptools protocol plus deadlines, a connection cap, an early body-size
check, and Parse-shaped JSON for every request refused before the app sees it.

Why a protocol subclass rather than ASGI middleware: the dangerous cases (headers that never finish, a body that
never arrives, a 100 MB upload) happen before or beneath the app; only the protocol sees them in time. The cost on
the hot path is one timer handle per request (armed when a request starts, cancelled when its headers are in),
the same as uvicorn's own keep-alive timer, plus a scan of the parsed header list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from engine.errors import ErrorCode
from engine.http.body import TOO_LARGE_MESSAGE

# Past this many times the cap a connection is closed without an answer: answering costs a parser per socket.
HARD_CAP_FACTOR = 2


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout: float
    body_timeout: float
    max_body_bytes: int
    max_connections: int
    write_timeout: float
    # Uploads (POST under this path prefix, e.g. b"/parse/files/") get their own, larger body limit.
    upload_prefix: bytes = b""
    max_upload_bytes: int = 0


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing a request that has already been answered."""


def _answer_bytes(status: int, code: int, message: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = orjson.dumps({"code": code, "error": message})
    head = [STATUS_LINE[status]]
    for name, value in default_headers:
        head.extend([name, b": ", value, b"\r\n"])
    head.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
    return b"".join(head) + body


async def over_capacity(scope: Any, receive: Any, send: Any) -> None:
    """Stands in for the app on a connection accepted past `max_connections`."""
    body = orjson.dumps({"code": ErrorCode.REQUEST_LIMIT_EXCEEDED.value, "error": "Too many connections"})
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), (b"retry-after", b"1"),
    ]})
    await send({"type": "http.response.body", "body": body})


class GuardedHttpProtocol(HttpToolsProtocol):
    """One connection. `limits` is bound per server by `protocol_for`."""

    limits: ClassVar[ConnectionLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._write_deadline: asyncio.TimerHandle | None = None
        self._in_headers = False
        self._body_seen = 0
        self._body_limit = self.limits.max_body_bytes
        self._last_body_at = 0.0
        self._refused = False

    # ---- connection ----

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        open_now = len(self.connections)
        super().connection_made(transport)
        cap = self.limits.max_connections
        if cap > 0 and open_now >= cap:
            if open_now >= cap * HARD_CAP_FACTOR:
                self._refused = True
                transport.abort()
                return
            # Answered (503 JSON, then closed) once its request line and headers are in, so a client reads why.
            self.app = over_capacity
        self._arm(self.limits.header_timeout, self._headers_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            if not self._refused:  # a callback that refused has answered already
                self.logger.warning("Invalid HTTP request received.")
                self._refuse(400, ErrorCode.INVALID_JSON, "Invalid HTTP request")

    # ---- parser callbacks ----

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._body_seen = 0
        if self._deadline is None:  # the first request keeps the deadline armed when the connection was made
            self._arm(self.limits.header_timeout, self._headers_expired)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._in_headers = False
        self._body_limit = self._limit_for_request()
        expects_body = False
        for name, value in self.headers:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:  # llhttp refuses these itself; never let one become a 500
                    self._refuse(400, ErrorCode.INVALID_JSON, "Invalid HTTP request")
                    raise _Refused from None
                if length > self._body_limit:
                    self._refuse(413, ErrorCode.OBJECT_TOO_LARGE, TOO_LARGE_MESSAGE)
                    raise _Refused
                expects_body = length > 0
            elif name == b"transfer-encoding":
                expects_body = True
        super().on_headers_complete()
        if expects_body and not self.parser.should_upgrade():
            self._last_body_at = self.loop.time()
            self._arm(self.limits.body_timeout, self._body_stalled)

    def on_body(self, body: bytes) -> None:
        # A chunked body has no length up front: it is counted as it streams and cut off at the limit.
        self._body_seen += len(body)
        if self._body_seen > self._body_limit:
            self._refuse(413, ErrorCode.OBJECT_TOO_LARGE, TOO_LARGE_MESSAGE)
            raise _Refused
        self._last_body_at = self.loop.time()
        super().on_body(body)

    def _limit_for_request(self) -> int:
        prefix = self.limits.upload_prefix
        if prefix and self.parser.get_method() == b"POST" and self.url.startswith(prefix):
            return max(self.limits.max_upload_bytes, self.limits.max_body_bytes)
        return self.limits.max_body_bytes

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    # ---- a reader that stops reading our response ----

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_deadline is None:
            self._write_deadline = self.loop.call_later(self.limits.write_timeout, self._write_stalled)

    def resume_writing(self) -> None:
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None
        super().resume_writing()

    def _write_stalled(self) -> None:
        self._write_deadline = None
        self.logger.info("Dropping a connection whose client stopped reading.")
        self.transport.abort()  # close() would wait for a buffer that never drains

    # ---- deadlines ----

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._disarm()
        if seconds > 0:
            self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._in_headers:
            self._refuse(408, ErrorCode.TIMEOUT, "Request headers timed out")
        else:
            self.transport.close()  # connected and never sent a byte: nothing to answer

    def _body_stalled(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        idle = self.loop.time() - self._last_body_at
        remaining = self.limits.body_timeout - idle
        if remaining > 0:  # bytes arrived since the timer was armed: wait for the rest of the window only
            self._deadline = self.loop.call_later(remaining, self._body_stalled)
            return
        self._refuse(408, ErrorCode.TIMEOUT, "Request body timed out")

    def _refuse(self, status: int, code: int, message: str) -> None:
        """Answer (when no response has started) and close; the app, if running, sees a disconnect."""
        self._refused = True
        self._disarm()
        cycle = self.cycle
        started = cycle is not None and cycle.response_started and not cycle.response_complete
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
        if not self.transport.is_closing():
            if not started:
                self.transport.write(_answer_bytes(status, code, message, self.server_state.default_headers))
            self.transport.close()


def protocol_for(limits: ConnectionLimits) -> type[GuardedHttpProtocol]:
    """A protocol class bound to one server's limits (uvicorn instantiates it per connection)."""
    return type("BoundGuardedHttpProtocol", (GuardedHttpProtocol,), {"limits": limits})
