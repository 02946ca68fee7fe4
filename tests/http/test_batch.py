"""/batch: sub-requests run through the same handlers with the caller's auth; each gets success or error."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

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


def _count_in_flight(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy on the store's create: returns [now, peak] creates in flight."""
    storage = app.state.engine.storage
    create = storage.create
    seen = [0, 0]

    async def spy(*args: Any, **kwargs: Any) -> Any:
        seen[0] += 1
        seen[1] = max(seen[1], seen[0])
        try:
            await asyncio.sleep(0)  # a store that answers without yielding (mongomock) still shows the overlap
            return await create(*args, **kwargs)
        finally:
            seen[0] -= 1

    monkeypatch.setattr(storage, "create", spy)
    return seen


async def test_sibling_creates_run_together_and_answer_in_request_order(
        app_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, api = await app_factory()
    await api.post("/classes/Note", {"n": 0}, master=True)  # the class exists before the batch
    seen = _count_in_flight(app, monkeypatch)
    requests = [{"method": "POST", "path": "/parse/classes/Note", "body": {"n": i}} for i in range(40)]
    requests[7]["body"] = {"n": "not a number"}
    r = await api.post("/batch", {"requests": requests})
    assert r.status_code == 200
    out = r.json()
    assert out[7]["error"]["code"] == 111
    ids = [o["success"]["objectId"] for i, o in enumerate(out) if i != 7]
    assert len(set(ids)) == 39
    assert seen[1] > 1  # the creates met in the store together (one group commit), not one by one
    for i, o in enumerate(out):
        if i != 7:  # each answer belongs to its own request
            got = (await api.get(f"/classes/Note/{o['success']['objectId']}", master=True)).json()
            assert got["n"] == i


async def test_creates_mixed_with_other_requests_keep_their_order(
        app_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, api = await app_factory()
    oid = (await api.post("/classes/Note", {"n": 0}, master=True)).json()["objectId"]
    seen = _count_in_flight(app, monkeypatch)
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
    assert seen[1] == 2
