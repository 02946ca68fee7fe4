"""Serving an existing Parse Server MongoDB database: documents in Parse's exact layout, read through the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from mongomock_motor import AsyncMongoMockClient

from engine.storage.mongo import MongoAdapter
from tests.conftest import APP_ID, MASTER, make_settings, start_app

URI = "mongodb://127.0.0.1:27017/clinic"
H = {"X-Parse-Application-Id": APP_ID}
M = {**H, "X-Parse-Master-Key": MASTER}


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _seed_parse_database(db: Any) -> None:
    """Exactly what Parse Server 9 writes for these classes (field types as `_SCHEMA` strings)."""
    await db["_SCHEMA"].insert_many([
        {"_id": "Clinic", "objectId": "string", "createdAt": "date", "updatedAt": "date", "name": "string",
         "loc": "geopoint", "staff": "relation<_User>",
         "_metadata": {"class_permissions": {"find": {"*": True}, "get": {"*": True}, "count": {"*": True},
                                             "create": {"*": True}, "update": {"*": True}, "delete": {"*": True},
                                             "addField": {"*": True}, "protectedFields": {"*": []}},
                       "indexes": {"_id_": {"_id": 1}, "name_1": {"name": 1}}}},
        {"_id": "Visit", "objectId": "string", "createdAt": "date", "updatedAt": "date", "clinic": "*Clinic",
         "when": "date", "notes": "object", "tags": "array", "score": "number", "report": "file",
         "_metadata": {"fields_options": {"score": {"required": False, "defaultValue": 0}}}},
    ])
    await db["Clinic"].insert_one({
        "_id": "clinic0001", "_created_at": _when("2024-05-01T10:20:30.123"),
        "_updated_at": _when("2024-05-02T10:20:30.456"), "name": "North", "loc": [10.75, 59.91],
    })
    await db["Visit"].insert_many([
        {"_id": "visit00001", "_created_at": _when("2024-06-01T08:00:00.000"),
         "_updated_at": _when("2024-06-01T08:00:00.000"), "_p_clinic": "Clinic$clinic0001",
         "when": _when("2024-06-01T07:30:00.000"), "notes": {"pressure": 9, "at": _when("2024-06-01T07:00:00.000")},
         "tags": ["cpap", "night"], "score": 3, "report": "abc123_report.pdf",
         "_rperm": ["*", "user000001"], "_wperm": ["user000001"],
         "_acl": {"*": {"r": True}, "user000001": {"r": True, "w": True}}},
        {"_id": "visit00002", "_created_at": _when("2024-06-02T08:00:00.000"),
         "_updated_at": _when("2024-06-02T08:00:00.000"), "_p_clinic": "Clinic$clinic0001",
         "tags": ["cpap"], "score": 7, "_rperm": ["user000002"], "_wperm": ["user000002"],
         "_acl": {"user000002": {"r": True, "w": True}}},
    ])
    await db["_Join:staff:Clinic"].insert_one({"owningId": "clinic0001", "relatedId": "user000001"})


async def test_existing_parse_database_is_served_as_is() -> None:
    mongo = AsyncMongoMockClient()
    await _seed_parse_database(mongo["clinic"])
    app, client = await start_app(make_settings(), MongoAdapter(URI, client=mongo))
    async with client:
        r = await client.get("/parse/classes/Visit/visit00001", headers=H, params={"include": "clinic"})
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["createdAt"] == "2024-06-01T08:00:00.000Z" and got["updatedAt"] == "2024-06-01T08:00:00.000Z"
        assert got["when"] == {"__type": "Date", "iso": "2024-06-01T07:30:00.000Z"}
        assert got["notes"] == {"pressure": 9, "at": {"__type": "Date", "iso": "2024-06-01T07:00:00.000Z"}}
        assert got["tags"] == ["cpap", "night"] and got["score"] == 3
        assert got["report"]["name"] == "abc123_report.pdf"
        assert got["ACL"] == {"*": {"read": True}, "user000001": {"read": True, "write": True}}
        assert got["clinic"]["__type"] == "Object" and got["clinic"]["name"] == "North"
        assert got["clinic"]["loc"] == {"__type": "GeoPoint", "latitude": 59.91, "longitude": 10.75}
        assert got["clinic"]["staff"] == {"__type": "Relation", "className": "_User"}
        # The second visit is readable only by user000002: hidden from the public, visible to the master key.
        r = await client.get("/parse/classes/Visit", headers=H, params={"where": json.dumps({"tags": "cpap"})})
        assert [v["objectId"] for v in r.json()["results"]] == ["visit00001"]
        r = await client.get("/parse/classes/Visit", headers=M, params={"count": "1", "limit": "0"})
        assert r.json()["count"] == 2
        ptr = {"__type": "Pointer", "className": "Clinic", "objectId": "clinic0001"}
        r = await client.get("/parse/classes/Visit", headers=M, params={"where": json.dumps({"clinic": ptr}),
                                                                         "order": "-score"})
        assert [v["score"] for v in r.json()["results"]] == [7, 3]
        r = await client.get("/parse/schemas/Visit", headers=M)
        assert r.json()["fields"]["clinic"] == {"type": "Pointer", "targetClass": "Clinic"}
        assert r.json()["fields"]["score"] == {"type": "Number", "defaultValue": 0}
        where = {"$relatedTo": {"object": {"__type": "Pointer", "className": "Clinic", "objectId": "clinic0001"},
                                "key": "staff"}}
        r = await client.get("/parse/classes/_User", headers=M, params={"where": json.dumps(where)})
        assert r.status_code == 200
        # Writes keep Parse's layout, so Parse Server could take the database back.
        r = await client.put("/parse/classes/Visit/visit00001", headers=M, json={"score": {"__op": "Increment",
                                                                                          "amount": 1}})
        assert r.json()["score"] == 4
        raw = await mongo["clinic"]["Visit"].find_one({"_id": "visit00001"})
        assert raw["score"] == 4 and raw["_p_clinic"] == "Clinic$clinic0001" and raw["_rperm"] == ["*", "user000001"]
    await app.state.engine.stop()


async def test_provisioning_twice_against_one_database_keeps_every_object() -> None:
    mongo = AsyncMongoMockClient()
    ids = []
    for _ in range(2):
        app, client = await start_app(make_settings(), MongoAdapter(URI, client=mongo))
        async with client:
            r = await client.post("/parse/classes/TitrationLog", headers=H, json={
                "patient": {"__type": "Pointer", "className": "PatientProfile", "objectId": "p1"},
                "logDate": {"__type": "Date", "iso": "2026-01-01T00:00:00.000Z"},
                "pressureAdjustment": "+1", "note": "ok"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["objectId"])
            r = await client.get("/parse/classes/TitrationLog", headers=H)
            assert sorted(o["objectId"] for o in r.json()["results"]) == sorted(ids)
        await app.state.engine.stop()
    schema = await mongo["clinic"]["_SCHEMA"].find_one({"_id": "TitrationLog"})
    assert schema["patient"] == "*PatientProfile" and schema["logDate"] == "date"
    assert schema["_metadata"]["fields_options"]["note"] == {"required": True}
