"""Bad input answers a Parse-style {code, error} with Parse's HTTP status, writes nothing, and never 500s."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import MASTER, Api, make_settings, start_app

STUDY = {
    "patient": {"__type": "Pointer", "className": "PatientProfile", "objectId": "p000000001"},
    "studyDate": {"__type": "Date", "iso": "2026-01-02T03:04:05.000Z"},
    "results": "AHI 12",
    "status": "final",
}

WRITE_CASES: list[tuple[str, str, Any, int]] = [
    ("wrong type", "SleepStudy", {**STUDY, "results": 12}, 111),
    ("wrong pointer class", "SleepStudy", {**STUDY, "patient": {"__type": "Pointer", "className": "_User",
                                                                "objectId": "u1"}}, 111),
    ("missing required", "SleepStudy", {k: v for k, v in STUDY.items() if k != "status"}, 142),
    ("required null", "SleepStudy", {**STUDY, "status": None}, 142),
    ("invalid field name", "SleepStudy", {**STUDY, "bad-name": 1}, 105),
    ("underscore field", "SleepStudy", {**STUDY, "_rperm": ["*"]}, 105),
    ("dollar field", "SleepStudy", {**STUDY, "$set": 1}, 105),
    ("objectId on create", "SleepStudy", {**STUDY, "objectId": "abcdefghij"}, 105),
    ("__proto__ nested", "SleepStudy", {**STUDY, "attachments": [{"x": {"__proto__": {"admin": True}}}]}, 105),
    ("constructor key", "SleepStudy", {**STUDY, "constructor": {"prototype": {}}}, 105),
    ("bsontype", "SleepStudy", {**STUDY, "attachments": [{"_bsontype": "Code", "code": "x"}]}, 105),
    ("nested $ key", "SleepStudy", {**STUDY, "attachments": [{"$where": 1}]}, 121),
    ("nested dot key", "SleepStudy", {**STUDY, "attachments": [{"a.b": 1}]}, 121),
    ("unknown __op", "SleepStudy", {**STUDY, "results": {"__op": "Explode"}}, 108),
    ("bad increment", "SleepStudy", {**STUDY, "n": {"__op": "Increment", "amount": "1"}}, 107),
    ("bad add", "SleepStudy", {**STUDY, "attachments": {"__op": "Add", "objects": "x"}}, 107),
    ("bad ACL", "SleepStudy", {**STUDY, "ACL": {"*": {"read": "yes"}}}, 123),
    ("bad ACL role", "SleepStudy", {**STUDY, "ACL": {"role:": {"read": True}}}, 123),
    ("pointer without id", "SleepStudy", {**STUDY, "patient": {"__type": "Pointer", "className": "PatientProfile"}},
     106),
    ("bad date", "SleepStudy", {**STUDY, "studyDate": {"__type": "Date", "iso": "not-a-date"}}, 111),
    ("unknown __type", "SleepStudy", {**STUDY, "x": {"__type": "Code", "code": "1"}}, 111),
    ("bad geopoint", "SleepStudy", {**STUDY, "loc": {"__type": "GeoPoint", "latitude": 91, "longitude": 0}}, 107),
    ("unknown class", "NoSuchClass", {"a": 1}, 103),
    ("invalid class name", "a$b", {"a": 1}, 103),
    ("system-ish class name", "_Foo", {"a": 1}, 103),
]


@pytest.mark.parametrize(("cls", "body", "code"), [c[1:] for c in WRITE_CASES], ids=[c[0] for c in WRITE_CASES])
async def test_bad_create_is_refused_and_writes_nothing(api: Api, cls: str, body: Any, code: int) -> None:
    r = await api.post(f"/classes/{cls}", body)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == code and isinstance(r.json()["error"], str)
    check = await api.get("/classes/SleepStudy", master=True, params={"count": "1", "limit": "0"})
    assert check.json()["count"] == 0
    fields = (await api.get("/schemas/SleepStudy", master=True)).json()["fields"]
    assert "n" not in fields and "loc" not in fields and "x" not in fields


async def test_bad_update_keeps_the_object(api: Api) -> None:
    oid = (await api.post("/classes/SleepStudy", STUDY)).json()["objectId"]
    for body, code in (({"results": 5}, 111), ({"status": {"__op": "Delete"}}, 142), ({"a.b": 1}, 105),
                       ({"results": "x", "obj.constructor.prototype.dummy": {"__op": "Increment", "amount": 1}}, 105),
                       ({"attachments": [], "attachments.x": 1}, 105)):
        r = await api.put(f"/classes/SleepStudy/{oid}", body)
        assert r.status_code == 400 and r.json()["code"] == code, r.text
    got = (await api.get(f"/classes/SleepStudy/{oid}")).json()
    assert got["results"] == "AHI 12" and got["status"] == "final"


QUERY_CASES: list[tuple[str, dict[str, str], int]] = [
    ("where not JSON", {"where": "{bad"}, 107),
    ("where not an object", {"where": "[1]"}, 102),
    ("unknown operator", {"where": json.dumps({"results": {"$foo": 1}})}, 102),
    ("$where top level", {"where": json.dumps({"$where": "sleep(1)"})}, 105),
    ("$expr top level", {"where": json.dumps({"$expr": {}})}, 105),
    ("$function in field", {"where": json.dumps({"results": {"$function": {}}})}, 102),
    ("$elemMatch", {"where": json.dumps({"results": {"$elemMatch": {}}})}, 102),
    ("query on ACL", {"where": json.dumps({"ACL": 1})}, 102),
    ("internal field", {"where": json.dumps({"_hashed_password": "x"})}, 105),
    ("bad $in", {"where": json.dumps({"results": {"$in": "x"}})}, 107),
    ("bad $exists", {"where": json.dumps({"results": {"$exists": "yes"}})}, 107),
    ("bad $options", {"where": json.dumps({"results": {"$regex": "a", "$options": "imxs$g"}})}, 102),
    ("malformed regex", {"where": json.dumps({"results": {"$regex": "(["}})}, 102),
    ("over-long regex", {"where": json.dumps({"results": {"$regex": "a" * 5000}})}, 102),
    ("bad $or", {"where": json.dumps({"$or": {"a": 1}})}, 102),
    ("bad $relatedTo", {"where": json.dumps({"$relatedTo": {"key": 1}})}, 107),
    ("bad nearSphere", {"where": json.dumps({"loc": {"$nearSphere": [1, 2]}})}, 107),
    ("prototype in where", {"where": json.dumps({"results": {"__proto__": {"x": 1}}})}, 105),
    ("unknown query param", {"foo": "1"}, 102),
    ("bad limit", {"limit": "abc"}, 102),
    ("bad skip", {"skip": "-1"}, 102),
    ("bad order", {"order": "a;drop"}, 105),
]


@pytest.mark.parametrize(("params", "code"), [c[1:] for c in QUERY_CASES], ids=[c[0] for c in QUERY_CASES])
async def test_bad_query_is_refused(api: Api, params: dict[str, str], code: int) -> None:
    r = await api.get("/classes/SleepStudy", params=params)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == code


async def test_get_accepts_only_get_params(api: Api) -> None:
    oid = (await api.post("/classes/SleepStudy", STUDY)).json()["objectId"]
    r = await api.get(f"/classes/SleepStudy/{oid}", params={"limit": "1"})
    assert r.status_code == 400 and r.json() == {"code": 102, "error": "Improper encode of parameter"}


@pytest.mark.parametrize("raw", [b'{"a":', b"\xff\xfe{}", b'{"a":NaN}', b'{"a":Infinity}', b"[1,2]", b'"x"',
                                 b'{"a":"\\ud800"}'])
async def test_malformed_json_body(api: Api, raw: bytes) -> None:
    r = await api.client.post("/parse/classes/SleepStudy", content=raw, headers=api.headers())
    assert r.status_code == 400 and r.json()["code"] == 107


async def test_oversized_body_is_refused() -> None:
    app, client = await start_app(make_settings(max_body_bytes=1000))
    async with client:
        r = await client.post("/parse/classes/SleepStudy", content=b'{"a":"' + b"x" * 2000 + b'"}',
                              headers={"X-Parse-Application-Id": "testapp"})
        assert r.status_code == 413 and r.json()["code"] == 116
    await app.state.engine.stop()


async def test_client_class_creation_is_off_by_default_and_can_be_enabled(api: Api) -> None:
    r = await api.post("/classes/Brand", {"a": 1})
    assert r.status_code == 400 and r.json()["code"] == 103
    assert (await api.get("/classes/Brand")).json()["code"] == 103
    assert (await api.get("/classes/Brand", master=True)).json() == {"results": []}
    app, client = await start_app(make_settings(allow_client_class_creation=True))
    async with client:
        r = await client.post("/parse/classes/Brand", json={"a": 1}, headers={"X-Parse-Application-Id": "testapp"})
        assert r.status_code == 201
    await app.state.engine.stop()


GARBAGE: list[Any] = [None, 1, "x", [], {"__op": "Add"}, {"__type": "Pointer"}, {"__type": "Date"},
                      {"__type": "Bytes", "base64": "!!"}, {"__type": "Polygon", "coordinates": [[1]]},
                      {"__type": "File"}, {"__type": "Relation"}, {"__op": "Batch", "ops": [1]},
                      {"__op": "AddRelation", "objects": [1]}, {"__op": "Increment", "amount": float("1e308")}]


@pytest.mark.parametrize("value", GARBAGE, ids=lambda v: json.dumps(v)[:40])
async def test_garbage_values_never_500(api: Api, value: Any) -> None:
    for method, path in (("POST", "/classes/SleepStudy"), ("POST", "/classes/Misc"), ("PUT", "/classes/Misc/x")):
        for master in (False, True):
            r = await api.request(method, path, {"field": value}, master=master)
            assert r.status_code < 500, r.text
            assert "Traceback" not in r.text and MASTER not in r.text
            if r.status_code >= 400:
                assert set(r.json()) == {"code", "error"}


async def test_conflicting_paths_in_one_update_are_refused(api: Api) -> None:
    await api.post("/schemas/Thing", {"className": "Thing", "fields": {"meta": {"type": "Object"}}}, master=True)
    oid = (await api.post("/classes/Thing", {"meta": {"n": 1}}, master=True)).json()["objectId"]
    r = await api.put(f"/classes/Thing/{oid}", {"meta": {"n": 5}, "meta.n": {"__op": "Increment", "amount": 1}})
    assert r.status_code == 400 and r.json()["code"] == 107
    assert (await api.get(f"/classes/Thing/{oid}")).json()["meta"] == {"n": 1}
