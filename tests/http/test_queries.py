"""The query language over HTTP: every operator, options, include, keys, count, relations, subqueries."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.conftest import Api


def ptr(cls: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


def gp(lat: float, lng: float) -> dict[str, Any]:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


def date(iso: str) -> dict[str, str]:
    return {"__type": "Date", "iso": iso}


@pytest.fixture
async def data(api: Api) -> dict[str, str]:
    """Three teams, five players; names are returned so tests can compare sets."""
    ids: dict[str, str] = {}
    for name, city, win in (("Owls", "Oslo", 0.7), ("Bats", "Bergen", 0.4), ("Larks", "Lyon", 0.9)):
        r = await api.post("/classes/Team", {"name": name, "city": city, "winPct": win}, master=True)
        ids[name] = r.json()["objectId"]
    players = [
        ("ann", 10, ["a", "b"], "Oslo", "Owls", (59.9, 10.7), "2024-01-01T00:00:00.000Z", {"color": "red", "n": 1}),
        ("bob", 20, ["b", "c"], "Bergen", "Bats", (60.4, 5.3), "2024-02-01T00:00:00.000Z", {"color": "blue", "n": 2}),
        ("cid", 30, ["c"], "Paris", "Larks", (48.9, 2.35), "2024-03-01T00:00:00.000Z", {"color": "red", "n": 3}),
        ("dan", 40, [], "Lyon", "Owls", (45.76, 4.84), "2024-04-01T00:00:00.000Z", {"color": "green", "n": 4}),
        ("Eve", 50, ["a"], "Oslo", None, None, None, None),
    ]
    for name, score, tags, home, team, loc, when, meta in players:
        body: dict[str, Any] = {"name": name, "score": score, "tags": tags, "hometown": home,
                                "bio": f"{name} likes sleeping and coffee" if name != "dan" else "dan drinks tea"}
        if team:
            body["team"] = ptr("Team", ids[team])
        if loc:
            body["loc"] = gp(*loc)
        if when:
            body["joined"] = date(when)
        if meta:
            body["meta"] = meta
        r = await api.post("/classes/Player", body, master=True)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["objectId"]
    return ids


async def names(api: Api, where: Any, **params: Any) -> list[str]:
    query = {"where": json.dumps(where), **{k: str(v) for k, v in params.items()}}
    r = await api.get("/classes/Player", params=query, master=True)
    assert r.status_code == 200, r.text
    return sorted(o["name"] for o in r.json()["results"])


CASES = [
    ("equality", {"name": "ann"}, ["ann"]),
    ("$lt", {"score": {"$lt": 20}}, ["ann"]),
    ("$lte", {"score": {"$lte": 20}}, ["ann", "bob"]),
    ("$gt", {"score": {"$gt": 40}}, ["Eve"]),
    ("$gte and $lt", {"score": {"$gte": 20, "$lt": 40}}, ["bob", "cid"]),
    ("$ne", {"name": {"$ne": "ann"}}, ["Eve", "bob", "cid", "dan"]),
    ("$eq", {"name": {"$eq": "bob"}}, ["bob"]),
    ("$in", {"name": {"$in": ["ann", "cid", "zed"]}}, ["ann", "cid"]),
    ("$nin", {"name": {"$nin": ["ann", "cid"]}}, ["Eve", "bob", "dan"]),
    ("$exists true", {"team": {"$exists": True}}, ["ann", "bob", "cid", "dan"]),
    ("$exists false", {"loc": {"$exists": False}}, ["Eve"]),
    ("array contains", {"tags": "b"}, ["ann", "bob"]),
    ("$all", {"tags": {"$all": ["a", "b"]}}, ["ann"]),
    ("$all startsWith", {"tags": {"$all": [{"$regex": "^\\Qa\\E"}]}}, ["Eve", "ann"]),
    ("$containedBy", {"tags": {"$containedBy": ["a", "b"]}}, ["Eve", "ann", "dan"]),
    ("$regex", {"name": {"$regex": "^[ab]"}}, ["ann", "bob"]),
    ("$regex $options i", {"name": {"$regex": "^e", "$options": "i"}}, ["Eve"]),
    ("startsWith (\\Q..\\E)", {"bio": {"$regex": "^\\Qann likes\\E"}}, ["ann"]),
    ("dotted key", {"meta.color": "red"}, ["ann", "cid"]),
    ("dotted key compare", {"meta.n": {"$gte": 3}}, ["cid", "dan"]),
    ("date compare", {"joined": {"$gt": date("2024-02-15T00:00:00.000Z")}}, ["cid", "dan"]),
    ("relative time", {"joined": {"$lt": {"$relativeTime": "1 day ago"}}}, ["ann", "bob", "cid", "dan"]),
    ("$or", {"$or": [{"name": "ann"}, {"score": {"$gt": 45}}]}, ["Eve", "ann"]),
    ("$and", {"$and": [{"score": {"$gt": 10}}, {"score": {"$lt": 40}}]}, ["bob", "cid"]),
    ("$nor", {"$nor": [{"name": "ann"}, {"score": {"$gt": 25}}]}, ["bob"]),
    ("$within $box", {"loc": {"$within": {"$box": [gp(45, 0), gp(50, 6)]}}}, ["cid", "dan"]),
    ("$geoWithin $polygon", {"loc": {"$geoWithin": {"$polygon": [gp(58, 4), gp(62, 4), gp(62, 12), gp(58, 12)]}}},
     ["ann", "bob"]),
    ("$geoWithin $centerSphere", {"loc": {"$geoWithin": {"$centerSphere": [[2.35, 48.9], 0.1]}}}, ["cid", "dan"]),
    ("$nearSphere km", {"loc": {"$nearSphere": gp(48.9, 2.35), "$maxDistanceInKilometers": 500}}, ["cid", "dan"]),
    ("$nearSphere miles", {"loc": {"$nearSphere": gp(59.9, 10.7), "$maxDistanceInMiles": 10}}, ["ann"]),
    ("$nearSphere radians", {"loc": {"$nearSphere": gp(59.9, 10.7), "$maxDistanceInRadians": 0.1}}, ["ann", "bob"]),
    ("$text", {"bio": {"$text": {"$search": {"$term": "coffee"}}}}, ["Eve", "ann", "bob", "cid"]),
]


ON_MONGOMOCK = os.environ.get("TEST_STORE") == "mongo"
MONGOMOCK_GAP = ("$near", "$within", "$geoWithin", "$text")
mongomock_gap = pytest.mark.skipif(
    ON_MONGOMOCK, reason="mongomock cannot run geo/text operators; test_mongo_adapter.py checks the filters sent")


@pytest.mark.parametrize(("where", "expected"), [
    pytest.param(w, e, id=name, marks=[mongomock_gap] if name.startswith(MONGOMOCK_GAP) else [])
    for name, w, e in CASES
])
async def test_operator(api: Api, data: dict[str, str], where: Any, expected: list[str]) -> None:
    assert await names(api, where) == expected


async def test_pointer_equality_and_in_query(api: Api, data: dict[str, str]) -> None:
    assert await names(api, {"team": ptr("Team", data["Owls"])}) == ["ann", "dan"]
    assert await names(api, {"team": {"$in": [ptr("Team", data["Bats"]), ptr("Team", data["Larks"])]}}) == [
        "bob", "cid"]
    good = {"$inQuery": {"className": "Team", "where": {"winPct": {"$gt": 0.5}}}}
    assert await names(api, {"team": good}) == ["ann", "cid", "dan"]
    bad = {"$notInQuery": {"className": "Team", "where": {"winPct": {"$gt": 0.5}}}}
    assert await names(api, {"team": bad}) == ["Eve", "bob"]


async def test_select_and_dont_select(api: Api, data: dict[str, str]) -> None:
    sub = {"query": {"className": "Team", "where": {"winPct": {"$gt": 0.5}}}, "key": "city"}
    assert await names(api, {"hometown": {"$select": sub}}) == ["Eve", "ann", "dan"]
    assert await names(api, {"hometown": {"$dontSelect": sub}}) == ["bob", "cid"]


@mongomock_gap
async def test_near_sorts_by_distance(api: Api, data: dict[str, str]) -> None:
    r = await api.get("/classes/Player", master=True,
                      params={"where": json.dumps({"loc": {"$nearSphere": gp(48.9, 2.35)}})})
    assert [o["name"] for o in r.json()["results"]] == ["cid", "dan", "bob", "ann"]


async def test_order_limit_skip_keys_exclude(api: Api, data: dict[str, str]) -> None:
    r = await api.get("/classes/Player", master=True, params={"order": "-score", "limit": "2", "skip": "1"})
    assert [o["name"] for o in r.json()["results"]] == ["dan", "cid"]
    r = await api.get("/classes/Player", master=True, params={"order": "hometown,-score", "keys": "name"})
    rows = r.json()["results"]
    assert [o["name"] for o in rows] == ["bob", "dan", "Eve", "ann", "cid"]
    assert set(rows[0]) == {"objectId", "createdAt", "updatedAt", "name"}
    r = await api.get("/classes/Player", master=True, params={"excludeKeys": "bio,meta", "limit": "1"})
    assert "bio" not in r.json()["results"][0] and "name" in r.json()["results"][0]


async def test_default_and_max_limit(api: Api) -> None:
    await api.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/classes/Bulk", "body": {"i": i}} for i in range(120)]}, master=True)
    r = await api.get("/classes/Bulk", master=True)
    assert len(r.json()["results"]) == 100
    r = await api.get("/classes/Bulk", master=True, params={"limit": "1000"})
    assert len(r.json()["results"]) == 120


async def test_count(api: Api, data: dict[str, str]) -> None:
    r = await api.get("/classes/Player", master=True,
                      params={"where": json.dumps({"score": {"$gt": 15}}), "count": "1", "limit": "0"})
    assert r.json() == {"results": [], "count": 4}
    r = await api.get("/classes/Player", master=True, params={"count": "1", "limit": "2"})
    assert r.json()["count"] == 5 and len(r.json()["results"]) == 2


async def test_include_pointer_and_nested_and_keys(api: Api, data: dict[str, str]) -> None:
    coach = (await api.post("/classes/Coach", {"name": "Kim"}, master=True)).json()["objectId"]
    await api.put(f"/classes/Team/{data['Owls']}", {"coach": ptr("Coach", coach)}, master=True)
    r = await api.get(f"/classes/Player/{data['ann']}", master=True, params={"include": "team.coach"})
    team = r.json()["team"]
    assert team["__type"] == "Object" and team["className"] == "Team" and team["name"] == "Owls"
    assert team["coach"]["name"] == "Kim" and team["coach"]["__type"] == "Object"
    r = await api.get(f"/classes/Player/{data['ann']}", master=True, params={"keys": "team.name"})
    got = r.json()
    assert set(got) == {"objectId", "createdAt", "updatedAt", "team"}
    assert got["team"]["name"] == "Owls" and "city" not in got["team"]
    r = await api.get("/classes/Player", master=True, params={"include": "*", "where": json.dumps({"name": "bob"})})
    assert r.json()["results"][0]["team"]["name"] == "Bats"


async def test_include_array_of_pointers_and_dangling(api: Api, data: dict[str, str]) -> None:
    r = await api.post("/classes/League", {"teams": [ptr("Team", data["Owls"]), ptr("Team", data["Bats"]),
                                                     ptr("Team", "missing123")]}, master=True)
    lid = r.json()["objectId"]
    got = (await api.get(f"/classes/League/{lid}", master=True, params={"include": "teams"})).json()
    assert [t.get("name") for t in got["teams"]] == ["Owls", "Bats"]  # Parse drops the dangling pointer


async def test_relations_and_related_to(api: Api, data: dict[str, str]) -> None:
    tid = data["Owls"]
    r = await api.put(f"/classes/Team/{tid}", {"fans": {"__op": "AddRelation", "objects": [
        ptr("Player", data["bob"]), ptr("Player", data["cid"])]}}, master=True)
    assert r.status_code == 200, r.text
    got = (await api.get(f"/classes/Team/{tid}", master=True)).json()
    assert got["fans"] == {"__type": "Relation", "className": "Player"}
    where = {"$relatedTo": {"object": ptr("Team", tid), "key": "fans"}}
    assert await names(api, where) == ["bob", "cid"]
    await api.put(f"/classes/Team/{tid}", {"fans": {"__op": "Batch", "ops": [
        {"__op": "RemoveRelation", "objects": [ptr("Player", data["bob"])]},
        {"__op": "AddRelation", "objects": [ptr("Player", data["dan"])]}]}}, master=True)
    assert await names(api, where) == ["cid", "dan"]
    r = await api.get("/classes/Team", master=True,
                      params={"where": json.dumps({"fans": ptr("Player", data["dan"])})})
    assert [t["name"] for t in r.json()["results"]] == ["Owls"]


async def test_relation_of_another_class_is_refused(api: Api, data: dict[str, str]) -> None:
    r = await api.put(f"/classes/Team/{data['Owls']}",
                      {"fans": {"__op": "AddRelation", "objects": [ptr("Player", data["bob"])]}}, master=True)
    assert r.status_code == 200
    r = await api.post("/classes/Team", {"fans": {"__op": "AddRelation", "objects": [ptr("Team", data["Bats"])]}},
                       master=True)
    assert r.status_code == 400 and r.json()["code"] == 111
