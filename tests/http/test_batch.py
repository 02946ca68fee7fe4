"""/batch: sub-requests run through the same handlers with the caller's auth; each gets success or error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.errors import ErrorCode, ParseError
from engine.pipeline import door
from engine.pipeline.context import request_context
from engine.security.auth import Auth
from tests.conftest import Api, make_settings, start_app


async def test_batch_mixed_results_in_order(api: Api) -> None:
    oid = (await api.post("/classes/Note", {"n": 1}, master=True)).json()["objectId"]
    r = await api.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/classes/Note", "body": {"n": 2}},
        {"method": "PUT", "path": f"/parse/classes/Note/{oid}", "body": {"n": {"__op": "Increment", "amount": 1}}},
        {"method": "GET", "path": f"/parse/classes/Note/{oid}", "body": {}},
        {"method": "GET", "path": "/parse/classes/Note", "body": {"where": {"n": 2}}},
        {"method": "DELETE", "path": "/parse/classes/Note/doesnotexist"},
        {"method": "POST", "path": "/parse/classes/Note", "body": {"n": "wrong type"}},
    ]})
    assert r.status_code == 200
    out = r.json()
    assert set(out[0]["success"]) == {"objectId", "createdAt"}
    assert out[1]["success"]["n"] == 2
    assert out[2]["success"]["n"] == 2
    assert [o["n"] for o in out[3]["success"]["results"]] == [2, 2]
    assert out[4] == {"error": {"code": 101, "error": "Object not found."}}
    assert out[5]["error"]["code"] == 111
    r = await api.get("/classes/Note", master=True, params={"count": "1", "limit": "0"})
    assert r.json()["count"] == 2


async def test_batch_inherits_auth(api: Api) -> None:
    r = await api.post("/batch", {"requests": [{"method": "POST", "path": "/parse/classes/Brand", "body": {}},
                                               {"method": "GET", "path": "/parse/schemas"}]})
    assert r.json()[0]["error"]["code"] == 103
    assert "master key" in r.json()[1]["error"]["error"]
    oid = (await api.post("/classes/Note", {"ACL": {}}, master=True)).json()["objectId"]
    r = await api.post("/batch", {"requests": [{"method": "GET", "path": f"/parse/classes/Note/{oid}"}]})
    assert r.json()[0]["error"]["code"] == 101


async def test_batch_bad_shapes_write_nothing(api: Api) -> None:
    good = {"method": "POST", "path": "/parse/classes/Note", "body": {"n": 1}}
    cases = [
        {"requests": "x"},
        {},
        {"requests": [good, {"method": "POST", "path": "/other/classes/Note", "body": {}}]},
        {"requests": [good, {"method": "POST", "path": "/parse/batch", "body": {"requests": []}}]},
        {"requests": [good, {"method": "PATCH", "path": "/parse/classes/Note"}]},
        {"requests": [good, {"method": "POST", "path": "/parse/classes/Note", "body": [1]}]},
        {"requests": [good, {"method": "POST", "path": "/parse/classes/Note", "body": {"__proto__": {}}}]},
    ]
    for body in cases:
        r = await api.post("/batch", body, master=True)
        assert r.status_code == 400, json.dumps(body)
        assert r.json()["code"] in (105, 107)
    r = await api.get("/classes/Note", master=True, params={"count": "1", "limit": "0"})
    assert r.json()["count"] == 0


async def test_batch_limit_applies_to_clients_not_master() -> None:
    app, client = await start_app(make_settings(batch_limit=2))
    async with client:
        reqs = {"requests": [{"method": "GET", "path": "/parse/classes/SleepStudy"}] * 3}
        r = await client.post("/parse/batch", json=reqs, headers={"X-Parse-Application-Id": "testapp"})
        assert r.status_code == 400 and r.json()["code"] == 107
        r = await client.post("/parse/batch", json=reqs, headers={"X-Parse-Application-Id": "testapp",
                                                                   "X-Parse-Master-Key": "test-master-key"})
        assert r.status_code == 200 and len(r.json()) == 3
    await app.state.engine.stop()


def _store_calls(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy on the store's create and create_many: the number of rows each call stored, in call order (a store
    whose create_many is made of its own creates counts once)."""
    storage = app.state.engine.storage
    create, create_many = storage.create, storage.create_many
    calls: list[int] = []
    inside = [False]

    async def one(*args: Any) -> Any:
        if not inside[0]:
            calls.append(1)
        return await create(*args)

    async def many(cls: Any, objs: Any) -> Any:
        calls.append(len(objs))
        inside[0] = True
        try:
            return await create_many(cls, objs)
        finally:
            inside[0] = False

    monkeypatch.setattr(storage, "create", one)
    monkeypatch.setattr(storage, "create_many", many)
    return calls


async def test_sibling_creates_run_together_and_answer_in_request_order(
        app_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, api = await app_factory()
    await api.post("/classes/Note", {"n": 0}, master=True)  # the class exists before the batch
    calls = _store_calls(app, monkeypatch)
    requests = [{"method": "POST", "path": "/parse/classes/Note", "body": {"n": i}} for i in range(40)]
    requests[7]["body"] = {"n": "not a number"}
    r = await api.post("/batch", {"requests": requests})
    assert r.status_code == 200
    out = r.json()
    assert out[7]["error"]["code"] == 111
    ids = [o["success"]["objectId"] for i, o in enumerate(out) if i != 7]
    assert len(set(ids)) == 39
    assert calls == [39]  # the valid creates reached the store in one call, not one by one
    for i, o in enumerate(out):
        if i != 7:  # each answer belongs to its own request
            got = (await api.get(f"/classes/Note/{o['success']['objectId']}", master=True)).json()
            assert got["n"] == i


async def test_creates_mixed_with_other_requests_keep_their_order(
        app_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, api = await app_factory()
    oid = (await api.post("/classes/Note", {"n": 0}, master=True)).json()["objectId"]
    calls = _store_calls(app, monkeypatch)
    r = await api.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/classes/Note", "body": {"n": 1}},
        {"method": "POST", "path": "/parse/classes/Note", "body": {"n": 1}},
        {"method": "GET", "path": "/parse/classes/Note", "body": {"where": {"n": 1}, "count": 1, "limit": 0}},
        {"method": "PUT", "path": f"/parse/classes/Note/{oid}", "body": {"n": 5}},
        {"method": "POST", "path": "/parse/classes/Note", "body": {"objectId": "x", "n": 2}},
        {"method": "GET", "path": "/parse/classes/Note", "body": {"where": {"n": {"$gte": 1}}, "count": 1, "limit": 0}},
    ]}, master=True)
    out = r.json()
    assert out[2]["success"]["count"] == 2  # the read after the creates sees both
    assert out[3]["success"]["updatedAt"]
    assert out[5]["success"]["count"] == 3
    assert calls == [2]  # the two independent creates together (a client-chosen objectId is refused here)


async def test_creates_together_grow_the_schema_in_request_order(app_factory: Any) -> None:
    _, api = await app_factory()
    r = await api.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/classes/Fresh", "body": {"a": 1}},
        {"method": "POST", "path": "/parse/classes/Fresh", "body": {"b": "x"}},
        {"method": "POST", "path": "/parse/classes/Fresh", "body": {"a": "now a string", "c": True}},
        {"method": "POST", "path": "/parse/classes/Other", "body": {"a": "a string here"}},
        {"method": "POST", "path": "/parse/classes/Fresh", "body": {"a": 2, "b": "y"}},
    ]}, master=True)
    out = r.json()
    assert [("success" in o) for o in out] == [True, True, False, True, True]
    assert out[2]["error"]["code"] == 111  # `a` became a Number with the first create
    fields = (await api.get("/schemas/Fresh", master=True)).json()["fields"]
    assert (fields["a"]["type"], fields["b"]["type"]) == ("Number", "String")
    assert "c" not in fields  # the refused create left no column behind
    found = (await api.get("/classes/Fresh", master=True)).json()["results"]
    assert sorted(repr((o.get("a"), o.get("b"))) for o in found) == ["(1, None)", "(2, 'y')", "(None, 'x')"]


async def test_a_store_failing_the_rows_fails_each_create_not_the_batch(
        app_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, api = await app_factory()
    await api.post("/classes/Note", {"n": 0}, master=True)

    async def broken(cls: Any, objs: Any) -> Any:
        raise ParseError(ErrorCode.INTERNAL_SERVER_ERROR, "Internal server error.")

    monkeypatch.setattr(app.state.engine.storage, "create_many", broken)
    r = await api.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/classes/Note", "body": {"n": 1}},
        {"method": "POST", "path": "/parse/classes/Note", "body": {"n": "bad"}},
        {"method": "POST", "path": "/parse/classes/Note", "body": {"n": 3}}]})
    assert r.status_code == 200
    assert [o["error"]["code"] for o in r.json()] == [1, 111, 1]


async def test_create_many_sends_special_classes_through_their_own_modules(app_factory: Any) -> None:
    """door.create_many is only reached by user classes from /batch; for _User it must still sign up (hash the
    password), never store the body as it came."""
    app, api = await app_factory()
    services = app.state.engine.services
    saved = await door.create_many(services, request_context(Auth()), "_User",
                                   [{"username": "ann", "password": "pw-ann-1"}, {"username": "ann", "password": "x"}])
    first, second = saved
    assert isinstance(first, door.Saved) and first.body.get("sessionToken")
    assert isinstance(second, ParseError) and second.code == ErrorCode.USERNAME_TAKEN
    r = await api.get("/login", params={"username": "ann", "password": "pw-ann-1"})
    assert r.status_code == 200 and "password" not in r.json()
    read_only = await door.create_many(services, request_context(Auth(is_master=True, is_read_only=True)),
                                       "Note", [{"n": 1}, {"n": 2}])
    assert [r.code for r in read_only if isinstance(r, ParseError)] == [ErrorCode.OPERATION_FORBIDDEN] * 2
