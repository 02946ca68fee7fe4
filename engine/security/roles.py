"""A user's roles, inherited transitively through `_Role.roles` (cycle-safe), with a short-lived cache."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence

from engine.query.options import FindOptions
from engine.query.where import In
from engine.schema.model import ClassDef
from engine.storage.base import ROLES_TOPIC, StorageAdapter, change_count, has_change_feed

ROLE_CACHE_SECONDS = 5.0  # Parse's cacheTTL for roles; role writes clear it at once
MAX_CACHED_USERS = 10_000
_UNLIMITED = FindOptions(limit=None)
log = logging.getLogger(__name__)


async def _names(storage: StorageAdapter, roles: ClassDef, ids: Sequence[str]) -> dict[str, str]:
    rows = await storage.find(roles, In(("objectId",), tuple(ids)), _UNLIMITED)
    return {r.object_id: str(r.fields.get("name")) for r in rows if isinstance(r.fields.get("name"), str)}


async def expand_roles(storage: StorageAdapter, roles: ClassDef, user_id: str) -> frozenset[str]:
    """Names of every role the user holds: direct members of `users`, plus every role whose `roles`
    relation contains a role already held (a child role's members inherit the parent)."""
    frontier = await storage.owning_ids(roles, "users", [user_id])
    seen: set[str] = set()
    while frontier:
        fresh = [r for r in frontier if r not in seen]
        if not fresh:
            break
        seen.update(fresh)
        frontier = await storage.owning_ids(roles, "roles", fresh)
    if not seen:
        return frozenset()
    return frozenset((await _names(storage, roles, sorted(seen))).values())


def _unheard(refresh: asyncio.Future[frozenset[str]]) -> None:
    # A refresh nobody waited on: its failure is logged here (the next request retries it) rather than left for
    # asyncio's "exception was never retrieved".
    if not refresh.cancelled() and refresh.exception() is not None:
        log.warning("role refresh failed; the cached roles stay until the next one", exc_info=refresh.exception())


class RoleCache:
    """Per-app cache of expanded roles; any `_Role` write calls ``clear``. At most ``max_users`` entries, the
    least recently used dropped first: one entry per signed-in user must not grow without bound."""

    def __init__(self, ttl: float = ROLE_CACHE_SECONDS, max_users: int = MAX_CACHED_USERS) -> None:
        self.ttl = ttl
        self.max_users = max_users
        self._entries: OrderedDict[str, tuple[float, int, frozenset[str]]] = OrderedDict()
        # Expansions under way, by (user, change count): when an entry expires, every request the user has in
        # flight misses at once; they share one expansion (for 1 000 roles, several queries) instead of each
        # running its own and stalling the event loop together.
        self._pending: dict[tuple[str, int], asyncio.Future[frozenset[str]]] = {}

    async def roles_for(self, storage: StorageAdapter, roles: ClassDef, user_id: str) -> frozenset[str]:
        # A store with a change feed reports role writes from other processes: an entry filled before the
        # latest one is stale at once rather than after the TTL.
        change = change_count(storage, ROLES_TOPIC)
        hit = self._entries.get(user_id)
        now = time.monotonic()
        if hit is not None and hit[1] == change:
            self._entries.move_to_end(user_id)
            if now - hit[0] < self.ttl:
                return hit[2]
            if has_change_feed(storage):
                # No role write since it was filled (the feed would have moved): the entry is still right, so
                # it is served while one refresh runs beside the requests. The TTL only bounds how long a
                # change whose feed bump was lost (a process killed between commit and bump) can go unseen;
                # waiting on the refresh instead put a user in 1 000 roles' 100 ms expansion into the tail
                # latency of every request in flight each time the entry aged out.
                self._start(storage, roles, user_id, change, now).add_done_callback(_unheard)
                return hit[2]
        return await asyncio.shield(self._start(storage, roles, user_id, change, now))

    def _start(self, storage: StorageAdapter, roles: ClassDef, user_id: str, change: int,
               now: float) -> asyncio.Future[frozenset[str]]:
        key = (user_id, change)
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._expand(storage, roles, user_id, change, now))
            self._pending[key] = pending
        # Shielded by the callers that wait: one going away (a closed connection) does not cancel the others'.
        return pending

    async def _expand(self, storage: StorageAdapter, roles: ClassDef, user_id: str, change: int,
                      started: float) -> frozenset[str]:
        key = (user_id, change)
        try:
            names = await expand_roles(storage, roles, user_id)
            if self._pending.get(key) is not None:  # not cleared by a role write meanwhile
                self._entries[user_id] = (started, change, names)
                self._entries.move_to_end(user_id)
                while len(self._entries) > self.max_users:
                    self._entries.popitem(last=False)
            return names
        finally:
            if self._pending.get(key) is asyncio.current_task():
                del self._pending[key]

    def clear(self) -> None:
        self._entries.clear()
        # A role write here: requests arriving from now on must not join an expansion that read the old rows.
        self._pending.clear()
