"""/batch with ``transaction: true``: every sub-request commits or none does (PostgreSQL), and a store without
transactions refuses the batch rather than writing part of it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine.storage.postgres import PostgresAdapter
from tests.conftest import Api, make_settings, start_app


@pytest.fixture
async def pg_app(pg_uri: str) -> AsyncIterator[tuple[Any, Api]]:
    app, client = await start_app(make_settings(), PostgresAdapter(pg_uri))
    async with client:
        yield app, Api(client)
    await app.state.engine.stop()


@pytest.fixture
def pg_api(pg_app: tuple[Any, Api]) -> Api:
    return pg_app[1]


def _create(cls: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"method": "POST", "path": f"/parse/classes/{cls}", "body": body}


async def _count(api: Api, cls: str) -> int:
    r = await api.get(f"/classes/{cls}", params={"count": 1, "limit": 0}, master=True)
    return int(r.json()["count"]) if r.status_code == 200 else 0


async def test_third_write_failing_leaves_nothing_of_the_first_two(pg_api: Api) -> None:
    await pg_api.signup("taken")
    batch = {"transaction": True, "requests": [
        _create("Night", {"n": 1}),
        _create("BrandNewClass", {"flag": True}),
        {"method": "POST", "path": "/parse/users", "body": {"username": "taken", "password": "pw-1234567"}},
        _create("Night", {"n": 4}),
    ]}
    r = await pg_api.post("/batch", batch, master=True)
    assert r.status_code == 400, r.text
    assert r.json() == {"code": 202, "error": "Account already exists for this username."}
    assert await _count(pg_api, "Night") == 0
    # The class the rolled-back batch created is gone too, from storage and from the schema cache.
    r = await pg_api.get("/schemas/BrandNewClass", master=True)
    assert r.status_code == 400 and r.json()["code"] == 103
    r = await pg_api.get("/users", params={"count": 1, "limit": 0}, master=True)
    assert r.json()["count"] == 1


async def test_failing_update_rolls_back_earlier_updates_and_creates(pg_api: Api) -> None:
    r = await pg_api.post("/classes/Night", {"n": 1}, master=True)
    night = r.json()["objectId"]
    batch = {"transaction": True, "requests": [
        {"method": "PUT", "path": f"/parse/classes/Night/{night}", "body": {"n": {"__op": "Increment", "amount": 5}}},
        _create("Night", {"n": 2}),
        {"method": "PUT", "path": "/parse/classes/Night/doesNotExist", "body": {"n": 3}},
    ]}
    r = await pg_api.post("/batch", batch, master=True)
    assert r.status_code == 404 and r.json() == {"code": 101, "error": "Object not found."}
    r = await pg_api.get("/classes/Night", master=True)
    assert [o["n"] for o in r.json()["results"]] == [1]
    # The rollback left the store usable: a following write and read work as before.
    r = await pg_api.put(f"/classes/Night/{night}", {"n": {"__op": "Increment", "amount": 1}})
    assert r.status_code == 200 and r.json()["n"] == 2


async def test_successful_transaction_commits_everything(pg_api: Api) -> None:
    batch = {"transaction": True, "requests": [_create("Night", {"n": i}) for i in range(3)]
             + [{"method": "GET", "path": "/parse/classes/Night", "body": {"order": "n"}}]}
    r = await pg_api.post("/batch", batch, master=True)
    assert r.status_code == 200, r.text
    results = r.json()
    assert all("success" in item for item in results)
    # Reads inside the transaction see its own writes.
    assert [o["n"] for o in results[3]["success"]["results"]] == [0, 1, 2]
    assert await _count(pg_api, "Night") == 3


async def test_duplicate_value_inside_a_transaction_rolls_back(pg_api: Api) -> None:
    batch = {"transaction": True, "requests": [
        _create("_Role", {"name": "Techs", "ACL": {"*": {"read": True}}}),
        _create("Night", {"n": 1}),
        _create("_Role", {"name": "Techs", "ACL": {"*": {"read": True}}}),
    ]}
    r = await pg_api.post("/batch", batch, master=True)
    assert r.status_code == 400 and r.json()["code"] == 137, r.text
    assert await _count(pg_api, "_Role") == 0
    assert await _count(pg_api, "Night") == 0


async def test_store_without_transactions_refuses_and_writes_nothing(api: Api) -> None:
    if os.environ.get("TEST_STORE") == "postgres":
        pytest.skip("PostgreSQL runs transactions (tested above)")
    batch = {"transaction": True, "requests": [_create("Night", {"n": 1}), _create("Night", {"n": 2})]}
    r = await api.post("/batch", batch, master=True)
    assert r.status_code == 400
    assert r.json()["code"] == 108 and "transaction" in r.json()["error"]
    assert await _count(api, "Night") == 0
    # Without the flag the same batch runs sub-request by sub-request, as before.
    r = await api.post("/batch", {**batch, "transaction": False}, master=True)
    assert r.status_code == 200 and all("success" in item for item in r.json())


async def test_subscribers_hear_only_committed_writes(pg_app: tuple[Any, Api]) -> None:
    app, api = pg_app
    heard: list[str] = []

    async def listener(event: Any) -> None:
        heard.append(f"{type(event).__name__}:{event.obj.fields.get('n')}")
    app.state.engine.services.events.subscribe(listener)
    failing = {"transaction": True, "requests": [
        _create("Night", {"n": 1}), {"method": "DELETE", "path": "/parse/classes/Night/nope", "body": {}}]}
    assert (await api.post("/batch", failing, master=True)).status_code == 404
    assert heard == []  # LiveQuery never announces a write that was rolled back
    ok = {"transaction": True, "requests": [_create("Night", {"n": 2}), _create("Night", {"n": 3})]}
    assert (await api.post("/batch", ok, master=True)).status_code == 200
    assert heard == ["ObjectSaved:2", "ObjectSaved:3"]  # after the commit, in order


async def test_crossing_transactions_both_commit(pg_api: Api) -> None:
    """Two batches locking the same two rows in opposite orders may deadlock; PostgreSQL aborts one (251) and
    it runs again, so both apply exactly once."""
    ids = [(await pg_api.post("/classes/Night", {"n": 0}, master=True)).json()["objectId"] for _ in range(2)]

    def bump(oid: str) -> dict[str, Any]:
        return {"method": "PUT", "path": f"/parse/classes/Night/{oid}",
                "body": {"n": {"__op": "Increment", "amount": 1}}}
    forward = {"transaction": True, "requests": [bump(ids[0]), bump(ids[1])]}
    backward = {"transaction": True, "requests": [bump(ids[1]), bump(ids[0])]}
    results = await asyncio.gather(pg_api.post("/batch", forward, master=True),
                                   pg_api.post("/batch", backward, master=True))
    assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
    r = await pg_api.get("/classes/Night", master=True)
    assert sorted(o["n"] for o in r.json()["results"]) == [2, 2]
