"""When this process's webhook registrations must be re-read from `_Hooks` (webhook_store.refresh_webhooks).

Every `sleeplab serve --workers N` process keeps its own registrations in its Cloud. A store with a change feed
(base.ChangeFeed) counts `_Hooks` writes from every process sharing the database, so asking "did the webhooks
change?" costs a counter read per request, never a query. A store without one (MongoDB) re-reads at most every
``HOOKS_TTL_SECONDS`` (the role cache's TTL); with a feed the TTL only bounds how long a lost bump (a process killed
between its commit and its bump) goes unseen.
"""

from __future__ import annotations

import asyncio
import time

from engine.security.roles import ROLE_CACHE_SECONDS
from engine.storage.base import HOOKS_TOPIC, change_count

HOOKS_TTL_SECONDS = ROLE_CACHE_SECONDS


class WebhookSync:
    """The `_Hooks` change count this process's registrations were loaded at, and when."""

    def __init__(self, ttl: float = HOOKS_TTL_SECONDS) -> None:
        self.ttl = ttl
        # Held while rows are read and applied: requests arriving meanwhile wait for that one re-sync, then find
        # the registrations fresh (no thundering herd of `_Hooks` queries).
        self.lock = asyncio.Lock()
        self._loaded_change = -1
        self._loaded_at = float("-inf")
        self.refused: frozenset[tuple[tuple[str, str], ...]] = frozenset()  # stored rows left unregistered

    def stale(self, storage: object) -> bool:
        return (change_count(storage, HOOKS_TOPIC) != self._loaded_change
                or time.monotonic() - self._loaded_at >= self.ttl)

    def begin(self, storage: object) -> int:
        """The count to record once the rows read after this call are applied: noted before the read, so a write
        landing during it leaves the next check stale."""
        return change_count(storage, HOOKS_TOPIC)

    def loaded(self, change: int) -> None:
        self._loaded_change = change
        self._loaded_at = time.monotonic()
