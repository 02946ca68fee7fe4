"""The role cache: bounded, refreshed beside the requests when a change feed vouches for the entry, and never
serving an entry a role write outdated."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from engine.schema.model import ClassDef, FieldDef, FieldType
from engine.security.roles import RoleCache
from engine.storage.base import StoredObject, freeze

ROLES = ClassDef("_Role", {"name": FieldDef(FieldType.STRING)})


class PlainStore:
    """Users u<n> hold the role named by ``self.names[user]``; ``gate`` holds every expansion until set."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.expansions = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def owning_ids(self, cls: ClassDef, field: str, ids: list[str]) -> list[str]:
        if field == "users":
            self.expansions += 1
            await self.gate.wait()
            return [f"r-{i}" for i in ids if i in self.names]
        return []

    async def find(self, cls: ClassDef, where: Any, opts: Any) -> list[StoredObject]:
        now = datetime.now(UTC)
        return [StoredObject("_Role", rid, now, now, fields=freeze({"name": self.names[rid[2:]]}))
                for rid in where.values]


class FeedStore(PlainStore):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def change_count(self, topic: str) -> int:
        return self.count


async def test_entries_are_bounded_least_recently_used_first() -> None:
    store, cache = PlainStore(), RoleCache(max_users=3)
    for i in range(5):
        store.names[f"u{i}"] = f"role{i}"
    for i in range(4):
        await cache.roles_for(store, ROLES, f"u{i}")  # type: ignore[arg-type]
    await cache.roles_for(store, ROLES, "u1")  # u1 used again: u2 is now the oldest
    await cache.roles_for(store, ROLES, "u4")
    assert store.expansions == 5
    assert set(cache._entries) == {"u3", "u1", "u4"}
    await cache.roles_for(store, ROLES, "u1")
    assert store.expansions == 5  # still cached


async def test_aged_entry_is_served_while_one_refresh_runs_when_a_feed_vouches_for_it() -> None:
    store, cache = FeedStore(), RoleCache(ttl=0.0)
    store.names["u1"] = "sleep-tech"
    assert await cache.roles_for(store, ROLES, "u1") == {"sleep-tech"}  # type: ignore[arg-type]
    store.gate.clear()
    store.names["u1"] = "physician"  # no feed bump: as if the bump were lost; the TTL bounds it
    served = [await cache.roles_for(store, ROLES, "u1") for _ in range(5)]  # type: ignore[arg-type]
    assert served == [{"sleep-tech"}] * 5  # nobody waited on the held refresh
    await asyncio.sleep(0)
    assert store.expansions == 2  # one refresh shared by all five
    store.gate.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert cache._entries["u1"][2] == {"physician"}


async def test_a_role_write_is_never_served_stale() -> None:
    store, cache = FeedStore(), RoleCache(ttl=3600.0)
    store.names["u1"] = "sleep-tech"
    assert await cache.roles_for(store, ROLES, "u1") == {"sleep-tech"}  # type: ignore[arg-type]
    store.names["u1"] = "physician"
    store.count += 1  # another process wrote _Role
    assert await cache.roles_for(store, ROLES, "u1") == {"physician"}  # type: ignore[arg-type]


async def test_without_a_feed_an_aged_entry_waits_for_the_refresh() -> None:
    store, cache = PlainStore(), RoleCache(ttl=0.0)
    store.names["u1"] = "sleep-tech"
    await cache.roles_for(store, ROLES, "u1")  # type: ignore[arg-type]
    store.names["u1"] = "physician"
    assert await cache.roles_for(store, ROLES, "u1") == {"physician"}  # type: ignore[arg-type]


async def test_a_failed_background_refresh_keeps_the_entry_and_is_logged(caplog: Any) -> None:
    store, cache = FeedStore(), RoleCache(ttl=0.0)
    store.names["u1"] = "sleep-tech"
    await cache.roles_for(store, ROLES, "u1")  # type: ignore[arg-type]

    async def broken(*_a: Any) -> list[str]:
        raise RuntimeError("store went away")

    store.owning_ids = broken  # type: ignore[method-assign]
    assert await cache.roles_for(store, ROLES, "u1") == {"sleep-tech"}  # type: ignore[arg-type]
    for _ in range(5):
        await asyncio.sleep(0)
    assert "role refresh failed" in caplog.text
    assert cache._entries["u1"][2] == {"sleep-tech"}
