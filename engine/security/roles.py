"""A user's roles, inherited transitively through `_Role.roles` (cycle-safe), with a short-lived cache."""

from __future__ import annotations

import time
from collections.abc import Sequence

from engine.query.options import FindOptions
from engine.query.where import In
from engine.schema.model import ClassDef
from engine.storage.base import ROLES_TOPIC, StorageAdapter, change_count

ROLE_CACHE_SECONDS = 5.0  # Parse's cacheTTL for roles; role writes clear it at once
_UNLIMITED = FindOptions(limit=None)


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


class RoleCache:
    """Per-app cache of expanded roles; any `_Role` write calls ``clear``."""

    def __init__(self, ttl: float = ROLE_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, int, frozenset[str]]] = {}

    async def roles_for(self, storage: StorageAdapter, roles: ClassDef, user_id: str) -> frozenset[str]:
        # A store with a change feed reports role writes from other processes: an entry filled before the
        # latest one is stale at once rather than after the TTL.
        change = change_count(storage, ROLES_TOPIC)
        hit = self._entries.get(user_id)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl and hit[1] == change:
            return hit[2]
        names = await expand_roles(storage, roles, user_id)
        self._entries[user_id] = (now, change, names)
        return names

    def clear(self) -> None:
        self._entries.clear()
