"""Every schema and config write is validated as Parse Server does; nothing invalid is stored (read back)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.schema.loader import SchemaFileError, parse_schema_document
from engine.schema.model import PROTOTYPE_NAMES
from engine.schema.rest import class_from_json
from tests.conftest import Api

PTR_USER = {"type": "Pointer", "targetClass": "_User"}


async def _no_class(api: Api, name: str) -> None:
    r = await api.get(f"/schemas/{name}", master=True)
    assert r.status_code == 400 and r.json()["code"] == 103


@pytest.mark.parametrize("name", sorted(n for n in PROTOTYPE_NAMES if n[0].isalpha()))
async def test_prototype_names_are_not_class_names(api: Api, name: str) -> None:
    r = await api.post("/schemas", {"className": name}, master=True)
    assert r.status_code == 400, r.text
    assert r.json() == {"code": 103, "error": f"Invalid classname: {name}, classnames can only have alphanumeric "
                                              "characters and _, and must start with an alpha character "}
    await _no_class(api, name)


async def test_prototype_names_are_not_field_names(app_factory: Any) -> None:
    _, api = await app_factory(allow_client_class_creation=True)
    r = await api.post("/schemas/Night", {"className": "Night", "fields": {"toString": {"type": "String"}}},
                       master=True)
    assert r.status_code == 400 and r.json() == {"code": 105, "error": "invalid field name: toString"}
    await _no_class(api, "Night")
    r = await api.post("/classes/Night", {"valueOf": 1, "hasOwnProperty": 2})
    assert r.status_code == 400 and r.json()["code"] == 105
    r = await api.post("/schemas/Other", {"className": "Other", "fields": {"p": {"type": "Pointer",
                                                                              "targetClass": "constructor"}}},
                       master=True)
    assert r.status_code == 400 and r.json()["code"] == 103


@pytest.mark.parametrize(("spec", "message"), [
    ({"type": "Number", "defaultValue": "x"},
     "schema mismatch for Night.f default value; expected Number but got String"),
    ({"type": "String", "defaultValue": 3},
     "schema mismatch for Night.f default value; expected String but got Number"),
    ({"type": "Date", "defaultValue": "2024-01-01"},
     "schema mismatch for Night.f default value; expected Date but got String"),
    ({"type": "Pointer", "targetClass": "_User", "defaultValue": {"__type": "Pointer", "className": "_Role",
                                                                   "objectId": "r1"}},
     "schema mismatch for Night.f default value; expected Pointer<_User> but got Pointer<_Role>"),
    ({"type": "Relation", "targetClass": "_User", "defaultValue": {"__type": "Relation", "className": "_User"}},
     "The 'default value' option is not applicable for Relation<_User>"),
    ({"type": "Relation", "targetClass": "_User", "required": True},
     "The 'required' option is not applicable for Relation<_User>"),
])
async def test_default_values_must_match_the_field_type(api: Api, spec: dict[str, Any], message: str) -> None:
    r = await api.post("/schemas/Night", {"className": "Night", "fields": {"f": spec}}, master=True)
    assert r.status_code == 400 and r.json() == {"code": 111, "error": message}
    await _no_class(api, "Night")
    await api.post("/schemas/Night", {"className": "Night"}, master=True)
    r = await api.put("/schemas/Night", {"className": "Night", "fields": {"f": spec}}, master=True)
    assert r.status_code == 400 and r.json() == {"code": 111, "error": message}
    fields = (await api.get("/schemas/Night", master=True)).json()["fields"]
    assert "f" not in fields


async def test_matching_default_values_are_stored_and_applied(api: Api) -> None:
    fields = {"n": {"type": "Number", "defaultValue": 0}, "s": {"type": "String", "defaultValue": "new"},
              "d": {"type": "Date", "defaultValue": {"__type": "Date", "iso": "2024-01-01T00:00:00.000Z"}}}
    r = await api.post("/schemas/Night", {"className": "Night", "fields": fields}, master=True)
    assert r.status_code == 200, r.text
    r = await api.post("/classes/Night", {}, master=True)
    obj = (await api.get(f"/classes/Night/{r.json()['objectId']}", master=True)).json()
    assert obj["n"] == 0 and obj["s"] == "new" and obj["d"]["iso"] == "2024-01-01T00:00:00.000Z"


@pytest.mark.parametrize(("clp", "fragment"), [
    ({"protectedFields": {"*": "x"}}, "expected an array"),
    ({"protectedFields": {"*": ["missing"]}}, "does not exist"),
    ({"protectedFields": {"*": ["objectId"]}}, "can not be protected"),
    ({"protectedFields": {"bad key!": ["owner"]}}, "is not a valid key"),
    ({"protectedFields": {"*": [1]}}, "not a valid field name"),
    ({"find": {"pointerFields": "owner"}}, "expected an array"),
    ({"find": {"pointerFields": ["title"]}}, "not a valid column for class level pointer permissions"),
    ({"find": {"pointerFields": ["nope"]}}, "not a valid column"),
    ({"readUserFields": ["title"]}, "not a valid column"),
    ({"writeUserFields": "owner"}, "expected an array"),
    ({"find": {"bad-id!": True}}, "is not a valid key"),
    ({"find": {"*": False}}, "is not a valid value"),
    ({"find": []}, "must be an object"),
    ({"explode": {}}, "is not a valid operation"),
])
async def test_clp_shape_is_checked(api: Api, clp: dict[str, Any], fragment: str) -> None:
    fields = {"owner": PTR_USER, "title": {"type": "String"}, "team": {"type": "Array"}}
    r = await api.post("/schemas/Night", {"className": "Night", "fields": fields, "classLevelPermissions": clp},
                       master=True)
    assert r.status_code == 400 and r.json()["code"] == 107 and fragment in r.json()["error"], r.text
    await _no_class(api, "Night")
    await api.post("/schemas/Night", {"className": "Night", "fields": fields}, master=True)
    r = await api.put("/schemas/Night", {"classLevelPermissions": clp}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 107, r.text
    stored = (await api.get("/schemas/Night", master=True)).json()["classLevelPermissions"]
    assert stored["find"] == {"*": True} and stored["protectedFields"] == {"*": []}


async def test_a_valid_clp_is_accepted(api: Api) -> None:
    fields = {"owner": PTR_USER, "title": {"type": "String"}, "team": {"type": "Array"}}
    clp = {"find": {"*": True, "requiresAuthentication": True, "role:Staff": True, "abc123XYZ": True,
                    "pointerFields": ["owner", "team"]},
           "get": {}, "readUserFields": ["owner"], "writeUserFields": ["team"],
           "protectedFields": {"*": ["title"], "authenticated": [], "role:Staff": [], "userField:owner": [],
                               "abc123XYZ": ["title"]},
           "ACL": {"currentUser": {"read": True, "write": True}, "role:Staff": {"read": True}}}
    r = await api.post("/schemas/Night", {"className": "Night", "fields": fields, "classLevelPermissions": clp},
                       master=True)
    assert r.status_code == 200, r.text
    assert (await api.get("/schemas/Night", master=True)).json()["classLevelPermissions"] == clp


async def test_a_clp_may_name_a_field_added_in_the_same_update(api: Api) -> None:
    await api.post("/schemas/Night", {"className": "Night"}, master=True)
    r = await api.put("/schemas/Night", {"fields": {"secret": {"type": "String"}},
                                         "classLevelPermissions": {"protectedFields": {"*": ["secret"]}}},
                      master=True)
    assert r.status_code == 200, r.text


def test_schema_file_provisioning_validates_the_same_way() -> None:
    doc = {"classes": [
        {"className": "constructor"},
        {"className": "Night", "fields": {"n": {"type": "Number", "defaultValue": "x"}}},
        {"className": "Day", "classLevelPermissions": {"protectedFields": {"*": "x"}}},
    ]}
    with pytest.raises(SchemaFileError) as err:
        parse_schema_document(doc)
    problems = "\n".join(err.value.problems)
    assert "$.classes[0]: Invalid classname: constructor" in problems
    assert "$.classes[1]: schema mismatch for Night.n default value" in problems
    assert "$.classes[2]: 'x' is not a valid value for protectedFields[*]" in problems


async def test_long_names_are_not_echoed(api: Api) -> None:
    big = "A" * 100_000
    r = await api.post("/schemas", {"className": big}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 103 and len(r.content) < 1024
    r = await api.post("/schemas/Night", {"className": "Night", "fields": {big: {"type": "String"}}}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 105 and len(r.content) < 1024


@pytest.mark.parametrize("name", ["a.b", "$where", "__type", "__op", "constructor", "toString", "", "x" * 300])
async def test_invalid_config_parameter_names_are_refused(api: Api, name: str) -> None:
    r = await api.put("/config", {"params": {name: 1}}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 105, r.text
    assert (await api.get("/config", master=True)).json()["params"] == {}


async def test_config_shape_and_size(api: Api) -> None:
    r = await api.put("/config", {"params": {"a": 1}, "masterKeyOnly": {"a": "yes"}}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 107
    r = await api.put("/config", {"params": {"a": {"nested.key": 1}}}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 121
    r = await api.put("/config", {"params": {"a": {"__op": "Increment", "amount": 1}}}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 108
    r = await api.put("/config", {"params": {f"p{i}": i for i in range(1001)}}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 116
    assert (await api.get("/config", master=True)).json()["params"] == {}
    # A flag for a parameter that does not exist is dropped, so it cannot surprise a later parameter.
    r = await api.put("/config", {"params": {"a": 1}, "masterKeyOnly": {"a": True, "ghost": True}}, master=True)
    assert r.status_code == 200
    assert (await api.get("/config", master=True)).json() == {"params": {"a": 1}, "masterKeyOnly": {"a": True}}
    assert (await api.get("/config")).json() == {"params": {}}


def test_schemas_stored_before_the_checks_still_load() -> None:
    # Storage decodes leniently: a server whose database predates a check must still start.
    stored = {"className": "Old", "fields": {"n": {"type": "Number", "defaultValue": "x"}},
              "classLevelPermissions": {"protectedFields": {"*": ["gone"]}}}
    cls = class_from_json(stored)
    assert cls.fields["n"].default == "x" and cls.clp["protectedFields"] == {"*": ["gone"]}


async def test_deleting_a_protected_field_and_an_empty_clp_keep_working(api: Api) -> None:
    clp = {"protectedFields": {"*": ["secret"]}}
    r = await api.post("/schemas/Night", {"className": "Night", "fields": {"secret": {"type": "String"}},
                                          "classLevelPermissions": clp}, master=True)
    assert r.status_code == 200, r.text
    r = await api.put("/schemas/Night", {"fields": {"secret": {"__op": "Delete"}}}, master=True)
    assert r.status_code == 200, r.text
    r = await api.put("/schemas/Night", {"classLevelPermissions": {}}, master=True)
    assert r.status_code == 200
    assert r.json()["classLevelPermissions"] == clp
