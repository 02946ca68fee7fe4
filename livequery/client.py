"""One websocket connection: who connected (master, session token, installation) and its outgoing queue."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from engine.errors import ParseError
from engine.security.auth import Auth, SessionLookup

# A reader that stops reading must not grow the server's memory without bound: past this it is dropped.
QUEUE_SIZE = 1000


class Client:
    def __init__(self, *, is_master: bool = False, session_token: str | None = None,
                 installation_id: str | None = None, client_id: str | None = None) -> None:
        self.id = client_id or str(uuid.uuid4())
        self.is_master = is_master
        self.session_token = session_token
        self.installation_id = installation_id
        self.overflowed = False
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_SIZE)

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message; never blocks the dispatcher (a full queue closes this connection instead)."""
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            self._queue.get_nowait()  # make room for the sentinel that ends the writer
            self._queue.put_nowait(None)

    def close(self) -> None:
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            self.overflowed = True

    async def next_message(self) -> dict[str, Any] | None:
        """The next message to write, or None when the connection should end."""
        return await self._queue.get()

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
