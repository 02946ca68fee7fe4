"""Keep `--workers` evenly loaded when clients hold their connections open.

SO_REUSEPORT places each new connection on a worker by a hash of its addresses, so a client (or a proxy) holding
a few keep-alive connections can land most of them on one worker: 16 connections split 12/4 or worse about one
time in thirteen, and that worker then does three times the other's work for as long as they stay open.

Each worker posts how many connections it holds to a board in memory shared by the supervisor and its forked
workers. A worker holding more than its share answers one request with `Connection: close`; the client reconnects
and the kernel places the new connection afresh. Only the excess is shed, one connection at a time, so a balanced
set of connections is never touched."""

from __future__ import annotations

import mmap
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SLOT = struct.Struct("i")
ABSENT = -1  # a slot whose worker is not running
SHED_INTERVAL = 0.05  # seconds between two sheds by one worker: the counts must see the reconnect first
MIN_CONNECTIONS_PER_WORKER = 4  # below this many in all, placement by hash costs too little to undo


class LoadBoard:
    """One slot per worker: how many connections it holds, or ABSENT. Created before the workers are forked (an
    anonymous shared mapping), so every process reads and writes the same memory."""

    def __init__(self, workers: int) -> None:
        self._memory = mmap.mmap(-1, _SLOT.size * workers)
        self._all = struct.Struct(f"{workers}i")
        for index in range(workers):
            self.post(index, ABSENT)

    def post(self, index: int, connections: int) -> None:
        _SLOT.pack_into(self._memory, _SLOT.size * index, connections)

    def loads(self) -> tuple[int, ...]:
        return tuple(self._all.unpack_from(self._memory, 0))


def over_share(mine: int, loads: Sequence[int]) -> bool:
    """Whether a worker holding ``mine`` connections holds more than one above an even share of them all."""
    present = [n for n in loads if n != ABSENT]
    total = sum(present)
    if len(present) < 2 or total < MIN_CONNECTIONS_PER_WORKER * len(present):
        return False
    fair = -(-total // len(present))
    return mine > fair + 1


@dataclass
class Shedder:
    """A worker's side of the board: posts its count at each request and says when to shed a connection."""

    board: LoadBoard
    index: int
    connections: Callable[[], int]
    clock: Callable[[], float] = time.monotonic
    _last_shed: float = field(default=float("-inf"), repr=False)

    def should_shed(self) -> bool:
        mine = self.connections()
        self.board.post(self.index, mine)
        now = self.clock()
        if now - self._last_shed < SHED_INTERVAL or not over_share(mine, self.board.loads()):
            return False
        self._last_shed = now
        return True


class ShedExcess:
    """ASGI wrapper: an HTTP response answered while this worker holds more than its share closes its connection."""

    def __init__(self, app: ASGIApp, shedder: Shedder) -> None:
        self.app = app
        self.shedder = shedder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.shedder.should_shed():
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)
