"""Parse compatibility: query options in every form the SDKs send (issue 14, item 3) and includes as Parse
answers them (item 4)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Api


def ptr(cls: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


@pytest.fixture
async def data(app_factory: Any) -> dict[str, Any]:
    _, api = await app_factory(allow_client_class_creation=True)
    _, token = await api.signup("reader")
    seen = (await api.post("/classes/Target", {"n": 1, "secret": "s1"})).json()["objectId"]
    hidden = (await api.post("/classes/Target", {"n": 2, "ACL": {}}, master=True)).json()["objectId"]
    first = (await api.post("/classes/Host", {"name": "first", "t": ptr("Target", seen), "obj": {"x": 1},
                                              "many": [ptr("Target", seen), ptr("Target", hidden),
                                                       ptr("Target", "missing123")]})).json()["objectId"]
    await api.post("/classes/Host", {"name": "second", "t": ptr("Target", hidden)})
    await api.post("/classes/Host", {"name": "third", "t": ptr("Target", "missing123")})
    return {"api": api, "user": api.as_user(token), "seen": seen, "hidden": hidden, "first": first}


async def _find(api: Api, headers: dict[str, str], query: str) -> list[dict[str, Any]]:
    r = await api.client.get(f"/parse/classes/Host?{query}", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


async def test_repeated_keys_parameters_are_joined(data: dict[str, Any]) -> None:
    api = data["api"]
    rows = await _find(api, data["user"], "keys=name&keys=obj&order=name")
    assert set(rows[0]) == {"objectId", "createdAt", "updatedAt", "name", "obj"}


async def test_order_on_storage_timestamp_aliases(data: dict[str, Any]) -> None:
    api = data["api"]
    newest = [r["name"] for r in await _find(api, data["user"], "order=-_created_at&keys=name")]
    assert newest == ["third", "second", "first"]
    oldest = [r["name"] for r in await _find(api, data["user"], "order=_updated_at&keys=name")]
    assert oldest == ["first", "second", "third"]


async def test_pointer_compared_with_plain_object_ids(data: dict[str, Any]) -> None:
    api = data["api"]
    where = json.dumps({"t": {"$in": [data["seen"], "nope"]}})
    assert [r["name"] for r in await _find(api, data["user"], f"where={where}")] == ["first"]
    where = json.dumps({"t": data["seen"]})
    assert [r["name"] for r in await _find(api, data["user"], f"where={where}")] == ["first"]
    where = json.dumps({"t": {"$nin": [data["seen"]]}})
    assert sorted(r["name"] for r in await _find(api, data["user"], f"where={where}")) == ["second", "third"]


async def test_include_as_a_json_array_and_star(data: dict[str, Any]) -> None:
    api = data["api"]
    for include in (["t"], ["*"]):
        r = await api.post("/classes/Host", {"_method": "GET", "include": include, "order": "name"},
                           headers=data["user"])
        first = r.json()["results"][0]
        assert first["t"]["__type"] == "Object" and first["t"]["n"] == 1, include


async def test_missing_or_unreadable_included_pointers_are_dropped(data: dict[str, Any]) -> None:
    api = data["api"]
    rows = {r["name"]: r for r in await _find(api, data["user"], "include=t,many&order=name")}
    assert rows["first"]["t"]["n"] == 1
    assert "t" not in rows["second"] and "t" not in rows["third"]  # unreadable, then dangling
    assert [t["objectId"] for t in rows["first"]["many"]] == [data["seen"]]  # and out of arrays
    # Without include the pointers stay as stored.
    rows = {r["name"]: r for r in await _find(api, data["user"], "order=name")}
    assert rows["second"]["t"] == ptr("Target", data["hidden"]) and len(rows["first"]["many"]) == 3


async def test_exclude_keys_with_a_dotted_path_into_an_include(data: dict[str, Any]) -> None:
    api = data["api"]
    rows = await _find(api, data["user"], "include=t&excludeKeys=t.secret,obj&order=name")
    assert rows[0]["t"]["n"] == 1 and "secret" not in rows[0]["t"] and "obj" not in rows[0]
