"""Parse compatibility: `/schemas` lists the classes and shapes Parse shows (issue 14, item 7).

Expected bodies follow parse-server's spec/schemas.spec.js."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

DEFAULT_CLP = {"find": {"*": True}, "count": {"*": True}, "get": {"*": True}, "create": {"*": True},
               "update": {"*": True}, "delete": {"*": True}, "addField": {"*": True}, "protectedFields": {"*": []}}
BUILTIN = {"objectId": {"type": "String"}, "createdAt": {"type": "Date"}, "updatedAt": {"type": "Date"},
           "ACL": {"type": "ACL"}}


async def _listing(api: Api) -> dict[str, dict[str, Any]]:
    r = await api.get("/schemas", master=True)
    assert r.status_code == 200
    return {c["className"]: c for c in r.json()["results"]}


async def test_fresh_user_and_role_shapes_and_no_internal_classes(api: Api) -> None:
    listed = await _listing(api)
    assert listed["_User"] == {"className": "_User", "classLevelPermissions": DEFAULT_CLP, "fields": {
        **BUILTIN, "username": {"type": "String"}, "password": {"type": "String"}, "email": {"type": "String"},
        "emailVerified": {"type": "Boolean"}, "authData": {"type": "Object"}}}
    assert listed["_Role"] == {"className": "_Role", "classLevelPermissions": DEFAULT_CLP, "fields": {
        **BUILTIN, "name": {"type": "String"}, "users": {"type": "Relation", "targetClass": "_User"},
        "roles": {"type": "Relation", "targetClass": "_Role"}}}
    # Parse's internal classes never reach `_SCHEMA`, so the listing leaves them out; each still reads by name.
    assert "_JobStatus" not in listed and not any("indexes" in c for c in listed.values() if c["className"][0] == "_")
    assert (await api.get("/schemas/_JobStatus", master=True)).json()["className"] == "_JobStatus"


async def test_a_created_class_answers_without_storage_indexes(api: Api) -> None:
    r = await api.post("/schemas", {"className": "NewClass", "fields": {
        "foo": {"type": "Number"}, "ptr": {"type": "Pointer", "targetClass": "SomeClass"}}}, master=True)
    expected = {"className": "NewClass", "classLevelPermissions": DEFAULT_CLP, "fields": {
        **BUILTIN, "foo": {"type": "Number"}, "ptr": {"type": "Pointer", "targetClass": "SomeClass"}}}
    assert r.json() == expected
    assert (await api.get("/schemas/NewClass", master=True)).json() == expected
    assert (await _listing(api))["NewClass"] == expected


async def test_indexes_show_as_parse_shows_them(api: Api) -> None:
    r = await api.post("/schemas", {"className": "Indexed", "fields": {"aString": {"type": "String"}},
                                    "indexes": {"name1": {"aString": 1}}}, master=True)
    assert r.json()["indexes"] == {"name1": {"aString": 1}}
    assert (await api.get("/schemas/Indexed", master=True)).json()["indexes"] == {
        "_id_": {"_id": 1}, "name1": {"aString": 1}}
    r = await api.put("/schemas/Indexed", {"indexes": {"name1": {"__op": "Delete"}}}, master=True)
    assert r.json()["indexes"] == {"_id_": {"_id": 1}}


async def test_master_key_and_clp_denials_use_parse_wording(api: Api) -> None:
    r = await api.get("/schemas")
    assert r.status_code == 403 and r.json()["error"] == "unauthorized: master key is required"
    r = await api.post("/schemas", {"className": "Closed", "classLevelPermissions": {
        "find": {}, "count": {}, "get": {}, "create": {}, "update": {}, "delete": {}, "addField": {}}}, master=True)
    assert r.status_code == 200, r.text
    r = await api.get("/classes/Closed")
    assert r.status_code == 400 and r.json() == {"code": 119,
                                                 "error": "Permission denied for action find on class Closed."}
    r = await api.post("/classes/Closed", {"a": 1})
    assert r.json() == {"code": 119, "error": "Permission denied for action create on class Closed."}
