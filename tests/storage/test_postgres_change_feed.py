"""Two engine processes on one PostgreSQL database: a schema (CLP) or role change made through one is seen by the
other at once through LISTEN/NOTIFY, not after the caches' 5 s TTL (made an hour here, so only the feed can
explain what the second app sees)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from engine.http import edge
from engine.pipeline import schema_store
from engine.storage.base import ROLES_TOPIC, SCHEMA_TOPIC
from engine.storage.postgres import PostgresAdapter
from tests.conftest import Api, make_settings, start_app

HOUR = 3600.0


@pytest.fixture
async def two_apps(pg_uri: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Api, Api, Any]]:
    monkeypatch.setattr(edge, "SCHEMA_TTL_SECONDS", HOUR)
    monkeypatch.setattr(schema_store, "REFRESH_SECONDS", HOUR)
    started: list[tuple[Any, httpx.AsyncClient]] = []
    for _ in range(2):
        started.append(await start_app(make_settings(), PostgresAdapter(pg_uri)))
    started[1][0].state.engine.services.roles.ttl = HOUR
    yield Api(started[0][1]), Api(started[1][1]), started[1][0]
    for app, client in started:
        await client.aclose()
        await app.state.engine.stop()


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    # Bounded generously (loaded CI machines); the feed usually delivers within milliseconds.
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the other process never saw the change")


async def test_clp_change_reaches_the_other_process(two_apps: tuple[Api, Api, Any]) -> None:
    a, b, _ = two_apps
    assert (await a.post("/classes/Locked", {"x": 1}, master=True)).status_code == 201

    async def b_sees_class() -> bool:
        return (await b.get("/classes/Locked")).status_code == 200
    await _eventually(b_sees_class)
    r = await a.put("/schemas/Locked", {"classLevelPermissions": {"find": {}, "get": {}}}, master=True)
    assert r.status_code == 200

    async def b_refuses() -> bool:
        r = await b.get("/classes/Locked")
        return r.status_code == 400 and r.json()["code"] == 119
    await _eventually(b_refuses)


async def test_role_membership_change_reaches_the_other_process(two_apps: tuple[Api, Api, Any]) -> None:
    a, b, _ = two_apps
    user_id, token = await a.signup("tech1")
    r = await a.post("/roles", {"name": "Techs", "ACL": {"*": {"read": True}}}, master=True)
    role_id = r.json()["objectId"]
    r = await a.post("/classes/Night", {"n": 1, "ACL": {"role:Techs": {"read": True}}}, master=True)
    night = r.json()["objectId"]
    # B caches the user's (empty) role set.
    assert (await b.get(f"/classes/Night/{night}", headers=b.as_user(token))).status_code == 404
    users = {"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "_User", "objectId": user_id}]}
    assert (await a.put(f"/roles/{role_id}", {"users": users}, master=True)).status_code == 200

    async def b_grants() -> bool:
        return (await b.get(f"/classes/Night/{night}", headers=b.as_user(token))).status_code == 200
    await _eventually(b_grants)


async def test_feed_counts_only_changes_in_its_own_postgres_schema(pg_uri: str) -> None:
    from tests import pg_cluster

    mine, other = PostgresAdapter(pg_uri), PostgresAdapter(pg_cluster.cluster().fresh_uri())
    await mine.open()
    await other.open()
    try:
        before = mine.change_count(SCHEMA_TOPIC), mine.change_count(ROLES_TOPIC)
        await other.save_schema(schema_store.new_class("Elsewhere"))
        await asyncio.sleep(0.2)
        assert (mine.change_count(SCHEMA_TOPIC), mine.change_count(ROLES_TOPIC)) == before
        await mine.save_schema(schema_store.new_class("Here"))

        async def counted() -> bool:
            return mine.change_count(SCHEMA_TOPIC) > before[0]
        await _eventually(counted)
        assert mine.change_count(ROLES_TOPIC) == before[1]
    finally:
        await mine.aclose()
        await other.aclose()
