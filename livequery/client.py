"""One websocket connection: who connected (master, session token, installation) and its bounded outgoing queue."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from engine.errors import ParseError
from engine.security.auth import Auth, SessionLookup

log = logging.getLogger("livequery")
# A reader that stops reading must not grow the server's memory without bound: past either limit it is dropped.
QUEUE_SIZE = 1000
QUEUE_BYTES = 8 * 1024 * 1024
Sender = Callable[[str], Awaitable[None]]


class Sink(Protocol):
    """A socket that takes a frame synchronously (the lean path): no writer task, nothing queued while it keeps up."""

    @property
    def paused(self) -> bool: ...

    def write_text(self, text: str) -> None: ...


class Client:
    """Messages are queued as encoded text (an event's object text is shared by every subscriber that gets the
    same rendering); an idle client holds no task, only a writer while something is queued."""

    __slots__ = ("_bytes", "_on_overflow", "_pending", "_sender", "_sink", "_writer", "id", "installation_id",
                 "is_master", "max_bytes", "max_messages", "overflowed", "session_token")

    def __init__(self, *, is_master: bool = False, session_token: str | None = None,
                 installation_id: str | None = None, client_id: str | None = None, sender: Sender | None = None,
                 on_overflow: Callable[[], None] | None = None, max_messages: int = QUEUE_SIZE,
                 max_bytes: int = QUEUE_BYTES, sink: Sink | None = None) -> None:
        self.id = client_id or str(uuid.uuid4())
        self.is_master = is_master
        self.session_token = session_token
        self.installation_id = installation_id
        self.overflowed = False
        self.max_messages, self.max_bytes = max_messages, max_bytes
        self._pending: deque[str] | None = None  # made on the first message that has to wait: most never do
        self._bytes = 0
        self._sender = sender
        self._sink = sink
        self._on_overflow = on_overflow
        self._writer: asyncio.Task[None] | None = None

    @property
    def queued(self) -> int:
        return len(self._pending) if self._pending is not None else 0

    def send(self, message: dict[str, Any] | str) -> None:
        """Queue a message; never blocks the dispatcher (a full queue ends this connection instead)."""
        if self.overflowed:
            return
        text = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))
        sink = self._sink
        if sink is not None and not self._pending and not sink.paused:
            sink.write_text(text)
            return
        if self.queued >= self.max_messages or self._bytes + len(text) > self.max_bytes:
            self.overflow()
            return
        if self._pending is None:
            self._pending = deque()
        self._pending.append(text)
        self._bytes += len(text)
        if self._sender is not None and self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    def overflow(self) -> None:
        """Drop everything queued (that memory is the point) and let the connection end itself."""
        self.overflowed = True
        self._pending = None
        self._bytes = 0
        if self._writer is not None:
            self._writer.cancel()
        if self._on_overflow is not None:
            self._on_overflow()

    def take(self) -> list[str]:
        """Everything queued, removed (tests and a connection without a writer)."""
        out = list(self._pending or ())
        self._pending = None
        self._bytes = 0
        return out

    def resume(self) -> None:
        """The sink can take more: write what waited, in order, until it pauses again."""
        pending, sink = self._pending, self._sink
        if sink is None or pending is None:
            return
        while pending and not sink.paused:
            text = pending.popleft()
            self._bytes -= len(text)
            sink.write_text(text)
        if not pending:
            self._pending = None

    async def _drain(self) -> None:
        assert self._sender is not None
        try:
            while self._pending:
                text = self._pending.popleft()
                self._bytes -= len(text)
                await self._sender(text)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.debug("livequery writer ended", exc_info=True)
            self._pending = None
            self._bytes = 0
        finally:
            self._writer = None
            if not self._pending:
                self._pending = None

    async def flush(self, timeout: float) -> None:  # noqa: ASYNC109
        """Let queued messages go out (an error before a close), for at most `timeout` seconds."""
        writer = self._writer
        if writer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(writer), timeout)
            except (TimeoutError, asyncio.CancelledError):
                writer.cancel()

    def close(self) -> None:
        self._pending = None
        if self._writer is not None:
            self._writer.cancel()

    async def auth(self, token: str | None, sessions: SessionLookup,
                   memo: dict[str, Auth | None] | None = None) -> Auth | None:
        """The Auth for a subscription (its own token, else the connect's); None when the token is invalid.

        Tokens are resolved on every call (``memo`` shares one lookup per event): a logout takes effect
        on the next event instead of after a cache timeout."""
        if self.is_master:
            return Auth(is_master=True, installation_id=self.installation_id)
        token = token or self.session_token
        if not token:
            return Auth(installation_id=self.installation_id)
        if memo is not None and token in memo:
            return memo[token]
        try:
            found = await sessions(token)
        except ParseError:
            found = None  # an expired session (209) is as good as none
        if found is not None and found.installation_id is None and self.installation_id:
            found = Auth(user_id=found.user_id, role_names=found.role_names, installation_id=self.installation_id,
                         session_token=found.session_token)
        if memo is not None:
            memo[token] = found
        return found
