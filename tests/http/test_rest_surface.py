"""The rest of Parse's REST surface: config, purge, installations, idempotency, loginAs, query extras, push."""

from __future__ import annotations

import json
import os
from typing import Any

from tests.conftest import Api

DATE = {"__type": "Date", "iso": "2026-01-02T03:04:05.000Z"}


async def test_config_round_trip_and_master_only_keys(api: Api) -> None:
    assert (await api.get("/config")).json() == {"params": {}}
    body = {"params": {"welcome": "hi", "maxNights": 30, "launch": DATE, "secret": "s3",
                       "loc": {"__type": "GeoPoint", "latitude": 1.0, "longitude": 2.0}, "list": [1, "a"]},
            "masterKeyOnly": {"secret": True}}
    assert (await api.put("/config", body)).status_code == 403
    r = await api.put("/config", body, master=True)
    assert r.json() == {"result": True}
    client = (await api.get("/config")).json()
    assert client == {"params": {k: v for k, v in body["params"].items() if k != "secret"}}
    master = (await api.get("/config", master=True)).json()
    assert master["params"]["secret"] == "s3" and master["masterKeyOnly"] == {"secret": True}
    await api.put("/config", {"params": {"welcome": {"__op": "Delete"}, "maxNights": 31}}, master=True)
    client = (await api.get("/config")).json()["params"]
    assert "welcome" not in client and client["maxNights"] == 31 and client["launch"] == DATE
    r = await api.put("/config", {"params": {"x": {"constructor": {"prototype": {}}}}}, master=True)
    assert r.json()["code"] == 105


async def test_purge_keeps_class_and_schema(api: Api) -> None:
    for i in range(3):
        await api.post("/classes/Note", {"i": i}, master=True)
    assert (await api.delete("/purge/Note")).status_code == 403
    assert (await api.delete("/purge/Note", master=True)).json() == {}
    assert (await api.get("/classes/Note", master=True)).json()["results"] == []
    assert (await api.get("/schemas/Note", master=True)).json()["fields"]["i"] == {"type": "Number"}
    assert (await api.delete("/purge/Nope", master=True)).json()["code"] == 103


async def test_push_is_not_configured(api: Api) -> None:
    assert (await api.post("/push", {"data": {"alert": "x"}})).status_code == 403
    r = await api.post("/push", {"data": {"alert": "x"}, "channels": ["a"]}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 115 and "not configured" in r.json()["error"]


async def test_installations(api: Api) -> None:
    iid = "8A5E5E6C-2B3A-4C9D-9F0E-1234567890AB"
    r = await api.post("/installations", {"installationId": iid, "deviceType": "ios", "deviceToken": "tok-1"})
    assert r.status_code == 201, r.text
    oid = r.json()["objectId"]
    r = await api.post("/installations", {"installationId": iid, "deviceType": "ios", "badge": 3})
    assert r.status_code == 200 and r.json()["objectId"] == oid  # the same device updates its record
    got = (await api.get(f"/installations/{oid}")).json()
    assert got["installationId"] == iid.lower() and got["badge"] == 3
    assert (await api.post("/installations", {"installationId": "x2"})).json()["code"] == 135
    r = await api.put(f"/installations/{oid}", {"deviceType": "android"})
    assert r.json()["code"] == 136
    r = await api.put(f"/installations/{oid}", {"installationId": "other"})
    assert r.json()["code"] == 136
    assert (await api.get("/installations")).json()["code"] == 119
    assert (await api.delete(f"/installations/{oid}")).json()["code"] == 119
    assert (await api.get("/classes/_Installation")).json()["code"] == 119
    # A device token moves to a new installation: the old record goes.
    r = await api.post("/installations", {"installationId": "second", "deviceType": "ios", "deviceToken": "tok-1"})
    assert r.status_code == 201
    rows = (await api.get("/installations", master=True)).json()["results"]
    assert [i["installationId"] for i in rows] == ["second"]
    r = await api.post("/installations", {"installationId": "third", "deviceType": "ios",
                                          "deviceToken": {"$ne": None}})
    assert r.status_code == 400 and r.json()["code"] == 111
    assert len((await api.get("/installations", master=True)).json()["results"]) == 1
    r = await api.post("/installations", {"deviceType": "web"},
                       headers=api.headers(**{"X-Parse-Installation-Id": "FROM-HEADER"}))
    assert r.status_code == 201
    got = (await api.get(f"/installations/{r.json()['objectId']}")).json()
    assert got["installationId"] == "from-header"


async def test_idempotency(app_factory: Any) -> None:
    _, api = await app_factory(idempotency_paths=("classes/.*", "functions/.*"))
    await api.post("/classes/Note", {"n": 0}, master=True)
    h = api.headers(**{"X-Parse-Request-Id": "req-1"})
    assert (await api.post("/classes/Note", {"n": 1}, headers=h)).status_code == 201
    r = await api.post("/classes/Note", {"n": 1}, headers=h)
    assert r.status_code == 400 and r.json() == {"code": 159, "error": "Duplicate request"}
    rows = (await api.get("/classes/Note", master=True, params={"where": '{"n":1}'})).json()["results"]
    assert len(rows) == 1
    other = api.headers(**{"X-Parse-Request-Id": "req-2"})
    assert (await api.post("/classes/Note", {"n": 1}, headers=other)).status_code == 201
    # GETs and unconfigured paths are not de-duplicated.
    assert (await api.get("/classes/Note", headers=h)).status_code == 200
    assert (await api.post("/users", {"username": "a", "password": "p"}, headers=h)).status_code == 201


async def test_idempotency_ttl(app_factory: Any) -> None:
    _, api = await app_factory(idempotency_paths=("classes/.*",), idempotency_ttl=-1)
    await api.post("/classes/Note", {"n": 0}, master=True)
    h = api.headers(**{"X-Parse-Request-Id": "req-1"})
    assert (await api.post("/classes/Note", {"n": 1}, headers=h)).status_code == 201
    assert (await api.post("/classes/Note", {"n": 1}, headers=h)).status_code == 201  # expired


async def test_login_as(api: Api) -> None:
    uid, _ = await api.signup("ada")
    assert (await api.post("/loginAs", {"userId": uid})).status_code == 403
    r = await api.post("/loginAs", {"userId": uid}, master=True)
    assert r.status_code == 200 and r.json()["objectId"] == uid and r.json()["sessionToken"].startswith("r:")
    me = (await api.get("/sessions/me", headers=api.as_user(r.json()["sessionToken"]))).json()
    assert me["createdWith"] == {"action": "login", "authProvider": "masterkey"}
    assert (await api.post("/loginAs", {"userId": "nobody"}, master=True)).json()["code"] == 101
    assert (await api.post("/loginAs", {"userId": {"$ne": None}}, master=True)).json()["code"] == 162


async def test_verify_password(api: Api) -> None:
    await api.signup("ada", "right-password", email="ada@x.org")
    r = await api.post("/verifyPassword", {"username": "ada", "password": "right-password"})
    assert r.status_code == 200 and r.json()["username"] == "ada" and "sessionToken" not in r.json()
    r = await api.get("/verifyPassword", params={"email": "ada@x.org", "password": "right-password"})
    assert r.status_code == 200
    assert (await api.post("/verifyPassword", {"username": "ada", "password": "x"})).json()["code"] == 101


async def test_query_extras(api: Api) -> None:
    await api.post("/classes/Note", {"n": 1}, master=True)
    r = await api.get("/classes/Note", params={"explain": "true"})
    assert r.status_code == 400 and r.json()["code"] == 102
    r = await api.get("/classes/Note", master=True, params={"explain": "true"})
    assert r.status_code == 200 and r.json()["results"]
    r = await api.get("/classes/Note", master=True, params={"hint": "n_1", "readPreference": "SECONDARY",
                                                            "comment": "why"})
    assert len(r.json()["results"]) == 1
    assert (await api.get("/classes/Note", params={"readPreference": "FASTEST"})).json()["code"] == 102
    target = (await api.post("/classes/Target", {"name": "t"}, master=True)).json()["objectId"]
    await api.post("/classes/Holder", {"ref": {"__type": "Pointer", "className": "Target", "objectId": target}},
                   master=True)
    rows = (await api.get("/classes/Holder", params={"includeAll": "true"})).json()["results"]
    assert rows[0]["ref"]["name"] == "t" and rows[0]["ref"]["__type"] == "Object"


async def test_redirect_class_name_for_key(api: Api) -> None:
    a = (await api.post("/classes/Player", {"name": "a"}, master=True)).json()["objectId"]
    team = (await api.post("/classes/Team", {"fans": {"__op": "AddRelation", "objects": [
        {"__type": "Pointer", "className": "Player", "objectId": a}]}}, master=True)).json()["objectId"]
    where = {"$relatedTo": {"object": {"__type": "Pointer", "className": "Team", "objectId": team}, "key": "fans"}}
    r = await api.get("/classes/Team", params={"where": json.dumps(where), "redirectClassNameForKey": "fans"})
    assert r.json()["className"] == "Player" and [p["name"] for p in r.json()["results"]] == ["a"]


async def test_rest_surface_through_batch(api: Api) -> None:
    uid, _ = await api.signup("ada")
    r = await api.post("/batch", {"requests": [
        {"method": "GET", "path": "/parse/config"},
        {"method": "POST", "path": "/parse/loginAs", "body": {"userId": uid}},
        {"method": "POST", "path": "/parse/installations", "body": {"installationId": "b1", "deviceType": "ios"}},
        {"method": "GET", "path": "/parse/installations"},
    ]})
    out = r.json()
    assert out[0] == {"success": {"params": {}}}
    assert "master key" in out[1]["error"]["error"]
    assert "objectId" in out[2]["success"] and out[3]["error"]["code"] == 119


async def _agg(api: Api, pipeline: Any, master: bool = True) -> Any:
    return await api.get("/aggregate/Night", master=master, params={"pipeline": json.dumps(pipeline)})


async def test_aggregate(api: Api) -> None:
    uid, _ = await api.signup("ada")
    owner = {"__type": "Pointer", "className": "_User", "objectId": uid}
    for minutes, stage, day in ((400, "deep", "2026-01-01"), (300, "rem", "2026-01-01"), (500, "deep", "2026-02-01")):
        await api.post("/classes/Night", {"minutes": minutes, "stage": stage, "owner": owner, "tags": [stage, "x"],
                                          "when": {"__type": "Date", "iso": f"{day}T00:00:00.000Z"}}, master=True)
    assert (await _agg(api, [{"$count": "n"}], master=False)).status_code == 403
    group = {"_id": "$stage", "total": {"$sum": "$minutes"}, "n": {"$sum": 1}}
    r = await _agg(api, [{"$match": {"minutes": {"$gt": 350}}}, {"$group": group}])
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [{"objectId": "deep", "total": 900, "n": 2}]
    r = await _agg(api, {"$group": {"_id": None, "avg": {"$avg": "$minutes"}, "max": {"$max": "$minutes"}}})
    assert r.json()["results"] == [{"objectId": None, "avg": 400, "max": 500}]
    r = await _agg(api, [{"$group": {"_id": "$owner", "n": {"$sum": 1}}}])
    assert r.json()["results"] == [{"objectId": uid, "n": 3}]
    r = await _agg(api, [{"$unwind": "$tags"}, {"$group": {"_id": "$tags", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}])
    assert r.json()["results"] == [{"objectId": "deep", "n": 2}, {"objectId": "rem", "n": 1}, {"objectId": "x", "n": 3}]
    r = await _agg(api, [{"$sort": {"minutes": -1}}, {"$skip": 1}, {"$limit": 1}, {"$project": {"minutes": 1}}])
    assert [row["minutes"] for row in r.json()["results"]] == [400]
    r = await _agg(api, [{"$group": {"_id": {"$month": "$when"}, "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}])
    assert r.json()["results"] == [{"objectId": 1, "n": 2}, {"objectId": 2, "n": 1}]
    r = await _agg(api, [{"$match": {"owner": uid}}, {"$count": "mine"}])
    assert r.json()["results"] == [{"mine": 3}]
    for bad in ([{"$lookup": {"from": "_User"}}], [{"$out": "X"}], [{"$match": {"$where": "1"}}], [{"$foo": 1}],
                [{"$group": {"objectId": "$stage"}}], [{"$limit": "x"}], "not json"):
        r = await api.get("/aggregate/Night", master=True,
                          params={"pipeline": bad if isinstance(bad, str) else json.dumps(bad)})
        assert r.status_code == 400 and r.json()["code"] in (102, 107), (bad, r.text)


async def test_distinct(api: Api) -> None:
    for stage, minutes in (("deep", 1), ("rem", 2), ("deep", 3)):
        await api.post("/classes/Night", {"stage": stage, "minutes": minutes, "tags": [stage, "all"]}, master=True)
    r = await api.get("/aggregate/Night", master=True, params={"distinct": "stage"})
    assert sorted(r.json()["results"]) == ["deep", "rem"]
    r = await api.get("/aggregate/Night", master=True,
                      params={"distinct": "stage", "where": json.dumps({"minutes": {"$gt": 1}})})
    assert sorted(r.json()["results"]) == ["deep", "rem"]
    r = await api.get("/aggregate/Night", master=True, params={"distinct": "tags"})
    assert sorted(r.json()["results"]) == ["all", "deep", "rem"]
    assert (await api.get("/aggregate/Night", params={"distinct": "stage"})).status_code == 403
    assert (await api.get("/aggregate/Night", master=True, params={"bogus": "1"})).json()["code"] == 102


async def test_explain_shows_the_store_plan(api: Api) -> None:
    await api.post("/schemas/Indexed", {"className": "Indexed", "fields": {"n": {"type": "Number"}},
                                        "indexes": {"n_1": {"n": 1}}}, master=True)
    await api.post("/classes/Indexed", {"n": 1}, master=True)
    r = await api.get("/classes/Indexed", master=True, params={"explain": "true", "where": '{"n": 1}'})
    plan = r.json()["results"]
    assert plan, r.text
    if os.environ.get("TEST_STORE") != "mongo":
        assert any("n_1" in step["detail"] for step in plan), plan
