"""/classes CRUD over HTTP as SDK clients see it: shapes, status codes, headers, operators, both request styles."""

from __future__ import annotations

import json
import re

from tests.conftest import APP_ID, MASTER, Api

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
OID = re.compile(r"^[A-Za-z0-9]{10}$")


async def _make(api: Api, body: dict, cls: str = "Note") -> str:
    r = await api.post(f"/classes/{cls}", body, master=True)
    assert r.status_code == 201, r.text
    return r.json()["objectId"]


async def test_create_returns_201_location_and_id(api: Api) -> None:
    r = await api.post("/classes/Note", {"title": "a"}, master=True)
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"objectId", "createdAt"}
    assert OID.match(body["objectId"]) and ISO.match(body["createdAt"])
    assert r.headers["location"] == f"http://testserver/parse/classes/Note/{body['objectId']}"


async def test_get_update_delete_round_trip(api: Api) -> None:
    oid = await _make(api, {"title": "a", "n": 1})
    r = await api.get(f"/classes/Note/{oid}")
    assert r.status_code == 200
    got = r.json()
    assert got["title"] == "a" and got["n"] == 1 and got["objectId"] == oid
    assert ISO.match(got["createdAt"]) and got["createdAt"] == got["updatedAt"]
    r = await api.put(f"/classes/Note/{oid}", {"title": "b", "objectId": "ignored"})
    assert r.status_code == 200 and set(r.json()) == {"updatedAt"}
    assert (await api.get(f"/classes/Note/{oid}")).json()["title"] == "b"
    r = await api.delete(f"/classes/Note/{oid}")
    assert r.status_code == 200 and r.json() == {}
    r = await api.get(f"/classes/Note/{oid}")
    assert r.status_code == 404 and r.json() == {"code": 101, "error": "Object not found."}
    r = await api.delete(f"/classes/Note/{oid}")
    assert r.status_code == 404 and r.json()["code"] == 101
    r = await api.put(f"/classes/Note/{oid}", {"title": "c"})
    assert r.status_code == 404 and r.json()["code"] == 101


async def test_update_operators_echo_results(api: Api) -> None:
    oid = await _make(api, {"n": 1, "tags": ["a"], "meta": {"count": 1}, "gone": "x"})
    r = await api.put(f"/classes/Note/{oid}", {
        "n": {"__op": "Increment", "amount": 5},
        "tags": {"__op": "Add", "objects": ["b", "a"]},
        "meta.count": {"__op": "Increment", "amount": 2},
        "gone": {"__op": "Delete"},
    })
    assert r.status_code == 200, r.text
    assert r.json()["n"] == 6 and r.json()["tags"] == ["a", "b", "a"]
    r = await api.put(f"/classes/Note/{oid}", {
        "tags": {"__op": "AddUnique", "objects": ["a", "c"]},
        "n": {"__op": "Increment", "amount": -1},
    })
    assert r.json()["tags"] == ["a", "b", "a", "c"] and r.json()["n"] == 5
    r = await api.put(f"/classes/Note/{oid}", {"tags": {"__op": "Remove", "objects": ["a"]}})
    assert r.json()["tags"] == ["b", "c"]
    got = (await api.get(f"/classes/Note/{oid}")).json()
    assert got["meta"] == {"count": 3} and "gone" not in got and got["n"] == 5


async def test_create_flattens_operators(api: Api) -> None:
    r = await api.post("/classes/Note", {"n": {"__op": "Increment", "amount": 3},
                                         "tags": {"__op": "AddUnique", "objects": ["x", "x"]}}, master=True)
    assert r.status_code == 201
    assert r.json()["n"] == 3 and r.json()["tags"] == ["x"]


async def test_types_round_trip(api: Api) -> None:
    body = {
        "when": {"__type": "Date", "iso": "2024-05-01T10:20:30.123Z"},
        "loc": {"__type": "GeoPoint", "latitude": 40.0, "longitude": -30.0},
        "photo": {"__type": "File", "name": "abc_photo.png"},
        "raw": {"__type": "Bytes", "base64": "AAEC"},
        "area": {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1]]},
        "owner": {"__type": "Pointer", "className": "Note", "objectId": "abcdefghij"},
        "meta": {"nested": {"__type": "Date", "iso": "2024-01-01T00:00:00.000Z"}, "k": [1, "two"]},
        "flag": True, "num": 1.5, "text": "x", "list": [1, {"a": 2}],
    }
    oid = await _make(api, body)
    got = (await api.get(f"/classes/Note/{oid}")).json()
    for key in ("when", "loc", "raw", "owner", "meta", "flag", "num", "text", "list"):
        assert got[key] == body[key], key
    assert got["area"]["coordinates"] == [[0, 0], [0, 1], [1, 1], [0, 0]]  # Parse closes the ring
    assert got["photo"]["name"] == "abc_photo.png"
    # File URLs are signed for the reader (SLEEPLAB_PUBLIC_FILES restores Parse's plain ones).
    assert got["photo"]["url"].startswith(f"http://testserver/parse/files/{APP_ID}/abc_photo.png?exp=")
    schema = (await api.get("/schemas/Note", master=True)).json()["fields"]
    assert schema["when"] == {"type": "Date"} and schema["owner"] == {"type": "Pointer", "targetClass": "Note"}
    assert schema["area"]["type"] == "Polygon" and schema["raw"]["type"] == "Bytes"


async def test_acl_round_trip(api: Api) -> None:
    acl = {"*": {"read": True}, "someUser": {"read": True, "write": True}}
    oid = await _make(api, {"ACL": acl})
    got = (await api.get(f"/classes/Note/{oid}", master=True)).json()
    assert got["ACL"] == acl
    # Without write permission the object looks missing, as in Parse.
    r = await api.put(f"/classes/Note/{oid}", {"x": 1})
    assert r.status_code == 404 and r.json()["code"] == 101
    r = await api.delete(f"/classes/Note/{oid}")
    assert r.status_code == 404
    assert (await api.get(f"/classes/Note/{oid}")).status_code == 200


async def test_private_object_is_hidden_without_master(api: Api) -> None:
    oid = await _make(api, {"secret": 1, "ACL": {}})
    assert (await api.get(f"/classes/Note/{oid}")).status_code == 404
    assert (await api.get("/classes/Note")).json()["results"] == []
    assert (await api.get("/classes/Note", params={"count": "1", "limit": "0"})).json()["count"] == 0
    assert (await api.get(f"/classes/Note/{oid}", master=True)).json()["secret"] == 1


async def test_js_sdk_style_post_with_method_override_and_body_credentials(api: Api) -> None:
    headers = {"Content-Type": "text/plain"}
    creds = {"_ApplicationId": APP_ID, "_ClientVersion": "js8.6.2", "_InstallationId": "inst-1"}
    r = await api.client.post("/parse/classes/Note", content=json.dumps({"title": "js", **creds, "_MasterKey": MASTER}),
                              headers=headers)
    assert r.status_code == 201, r.text
    oid = r.json()["objectId"]
    r = await api.client.post("/parse/classes/Note", headers=headers, content=json.dumps(
        {"where": {"title": "js"}, "limit": 10, "_method": "GET", **creds}))
    assert r.status_code == 200 and [o["objectId"] for o in r.json()["results"]] == [oid]
    r = await api.client.post(f"/parse/classes/Note/{oid}", headers=headers, content=json.dumps(
        {"title": "js2", "_method": "PUT", **creds}))
    assert r.status_code == 200 and "updatedAt" in r.json()
    r = await api.client.post(f"/parse/classes/Note/{oid}", headers=headers, content=json.dumps(
        {"_method": "GET", **creds}))
    assert r.json()["title"] == "js2" and "_ApplicationId" not in r.json()
    r = await api.client.post(f"/parse/classes/Note/{oid}", headers=headers, content=json.dumps(
        {"_method": "DELETE", **creds}))
    assert r.status_code == 200 and r.json() == {}


async def test_body_credentials_must_be_strings(api: Api) -> None:
    r = await api.client.post("/parse/classes/Note", content=json.dumps(
        {"_ApplicationId": APP_ID, "_SessionToken": {"$regex": "r:a"}, "_method": "GET"}))
    assert r.status_code == 403


async def test_header_keys_and_app_id(api: Api) -> None:
    r = await api.client.get("/parse/classes/Note", headers={"X-Parse-Application-Id": "wrong"})
    assert r.status_code == 403 and r.json()["error"] == "unauthorized"
    r = await api.client.get("/parse/classes/Note")
    assert r.status_code == 403
    r = await api.client.get("/parse/classes/SleepStudy", headers={
        "X-Parse-Application-Id": APP_ID, "X-Parse-REST-API-Key": "anything", "X-Parse-Installation-Id": "i"})
    assert r.status_code == 200


async def test_master_key_only_from_allowed_ips() -> None:
    from tests.conftest import make_settings, start_app

    app, client = await start_app(make_settings(master_key_ips=("10.0.0.0/8",)))
    async with client:
        r = await client.get("/parse/schemas", headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER})
        assert r.status_code == 403
    await app.state.engine.stop()


async def test_configured_client_key_is_required() -> None:
    from tests.conftest import make_settings, start_app

    app, client = await start_app(make_settings(rest_api_key="rk"))
    async with client:
        h = {"X-Parse-Application-Id": APP_ID}
        assert (await client.get("/parse/classes/Note", headers=h)).status_code == 403
        bad = await client.get("/parse/classes/Note", headers={**h, "X-Parse-REST-API-Key": "bad"})
        assert bad.status_code == 403
        ok = await client.get("/parse/classes/SleepStudy", headers={**h, "X-Parse-REST-API-Key": "rk"})
        assert ok.status_code == 200
        assert (await client.get("/parse/classes/Note", headers={**h, "X-Parse-Master-Key": MASTER})).status_code == 200
    await app.state.engine.stop()


async def test_cors_headers_and_preflight(api: Api) -> None:
    r = await api.client.options("/parse/classes/Note", headers={"Origin": "https://clinic.example"})
    assert r.status_code == 200 and r.content == b""
    assert r.headers["access-control-allow-origin"] == "*"
    assert "X-Parse-Session-Token" in r.headers["access-control-allow-headers"]
    assert r.headers["access-control-allow-methods"] == "GET,PUT,POST,DELETE,OPTIONS"
    r = await api.get("/classes/Note", master=True)
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["access-control-expose-headers"] == "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id"


async def test_health_and_server_info(api: Api) -> None:
    r = await api.client.get("/parse/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await api.get("/serverInfo")
    assert r.status_code == 403
    r = await api.get("/serverInfo", master=True)
    assert r.status_code == 200 and r.json()["parseServerVersion"]
    features = r.json()["features"]
    assert features["schemas"]["addField"] is True
    # Truthful: /config, /jobs, /purge, /hooks and /scriptlog are served; sending push is not.
    assert features["globalConfig"] == {"create": True, "read": True, "update": True, "delete": True}
    assert features["cloudCode"]["jobs"] is True and features["schemas"]["clearAllDataFromClass"] is True
    assert features["hooks"]["create"] is True and features["logs"]["level"] is True
    assert features["push"]["immediatePush"] is False


async def test_routes_are_case_insensitive_and_tolerate_slashes(api: Api) -> None:
    oid = await _make(api, {"a": 1})
    assert (await api.get(f"/Classes/Note/{oid}/")).status_code == 200
    r = await api.client.get(f"/parse//classes/Note/{oid}", headers=api.headers())
    assert r.status_code == 200


async def test_unknown_route_is_a_parse_error(api: Api) -> None:
    r = await api.get("/nope/at/all")
    assert r.status_code == 404 and set(r.json()) == {"code", "error"}
