"""ACLs, roles with inheritance, class-level permissions and protected fields, on every read and write path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Api


def ptr(cls: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


@pytest.fixture
async def people(api: Api) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("ada", "bob", "cat"):
        uid, token = await api.signup(name)
        out[name] = uid
        out[name + "_h"] = api.as_user(token)
    return out


async def _role(api: Api, name: str, users: list[str] = (), roles: list[str] = ()) -> str:  # type: ignore[assignment]
    body: dict[str, Any] = {"name": name, "ACL": {"*": {"read": True}}}
    if users:
        body["users"] = {"__op": "AddRelation", "objects": [ptr("_User", u) for u in users]}
    if roles:
        body["roles"] = {"__op": "AddRelation", "objects": [ptr("_Role", r) for r in roles]}
    r = await api.post("/roles", body, master=True)
    assert r.status_code == 201, r.text
    return r.json()["objectId"]


async def test_acl_on_every_path(api: Api, people: dict[str, Any]) -> None:
    ada_h, bob_h = people["ada_h"], people["bob_h"]
    acl = {people["ada"]: {"read": True, "write": True}}
    r = await api.post("/classes/Note", {"text": "private", "ACL": acl}, master=True)
    oid = r.json()["objectId"]
    await api.post("/classes/Note", {"text": "public"}, master=True)
    assert (await api.get(f"/classes/Note/{oid}", headers=ada_h)).status_code == 200
    assert (await api.get(f"/classes/Note/{oid}", headers=bob_h)).status_code == 404
    found = (await api.get("/classes/Note", headers=bob_h)).json()["results"]
    assert [n["text"] for n in found] == ["public"]
    r = await api.get("/classes/Note", headers=bob_h, params={"count": "1", "limit": "0"})
    assert r.json()["count"] == 1
    assert (await api.put(f"/classes/Note/{oid}", {"text": "x"}, headers=bob_h)).status_code == 404
    assert (await api.delete(f"/classes/Note/{oid}", headers=bob_h)).status_code == 404
    r = await api.post("/batch", {"requests": [
        {"method": "GET", "path": f"/parse/classes/Note/{oid}"},
        {"method": "PUT", "path": f"/parse/classes/Note/{oid}", "body": {"text": "x"}},
        {"method": "DELETE", "path": f"/parse/classes/Note/{oid}"}]}, headers=bob_h)
    assert [item["error"]["code"] for item in r.json()] == [101, 101, 101]
    assert (await api.get(f"/classes/Note/{oid}", master=True)).json()["text"] == "private"
    assert (await api.put(f"/classes/Note/{oid}", {"text": "mine"}, headers=ada_h)).status_code == 200


async def test_read_only_acl_and_public_read(api: Api, people: dict[str, Any]) -> None:
    acl = {"*": {"read": True}, people["ada"]: {"write": True}}
    oid = (await api.post("/classes/Note", {"n": 1, "ACL": acl}, master=True)).json()["objectId"]
    assert (await api.get(f"/classes/Note/{oid}")).status_code == 200
    assert (await api.put(f"/classes/Note/{oid}", {"n": 2}, headers=people["bob_h"])).status_code == 404
    assert (await api.put(f"/classes/Note/{oid}", {"n": 2}, headers=people["ada_h"])).status_code == 200


async def test_roles_with_inheritance(api: Api, people: dict[str, Any]) -> None:
    clin = await _role(api, "clinician", users=[people["bob"]])
    await _role(api, "staff", roles=[clin])
    oid = (await api.post("/classes/Note", {"t": 1, "ACL": {"role:staff": {"read": True}}}, master=True)).json()[
        "objectId"]
    assert (await api.get(f"/classes/Note/{oid}", headers=people["bob_h"])).status_code == 200
    assert (await api.get(f"/classes/Note/{oid}", headers=people["cat_h"])).status_code == 404


async def test_role_cycles_are_safe(api: Api, people: dict[str, Any]) -> None:
    a = await _role(api, "a_role", users=[people["ada"]])
    b = await _role(api, "b_role", roles=[a])
    await api.put(f"/roles/{a}", {"roles": {"__op": "AddRelation", "objects": [ptr("_Role", b)]}}, master=True)
    oid = (await api.post("/classes/Note", {"ACL": {"role:b_role": {"read": True}}}, master=True)).json()["objectId"]
    assert (await api.get(f"/classes/Note/{oid}", headers=people["ada_h"])).status_code == 200


async def test_role_membership_change_takes_effect(api: Api, people: dict[str, Any]) -> None:
    rid = await _role(api, "night")
    oid = (await api.post("/classes/Note", {"ACL": {"role:night": {"read": True}}}, master=True)).json()["objectId"]
    assert (await api.get(f"/classes/Note/{oid}", headers=people["cat_h"])).status_code == 404
    await api.put(f"/roles/{rid}", {"users": {"__op": "AddRelation", "objects": [ptr("_User", people["cat"])]}},
                  master=True)
    assert (await api.get(f"/classes/Note/{oid}", headers=people["cat_h"])).status_code == 200


@pytest.mark.parametrize(("body", "code"), [
    ({"ACL": {"*": {"read": True}}}, 111), ({"name": "x"}, 111), ({"name": "bad/name", "ACL": {}}, 139),
    ({"name": "role:x", "ACL": {}}, 139),
])
async def test_role_validation(api: Api, body: dict[str, Any], code: int) -> None:
    r = await api.post("/roles", body, master=True)
    assert r.status_code == 400 and r.json()["code"] == code


async def test_role_name_is_unique_and_immutable(api: Api) -> None:
    rid = await _role(api, "clinician")
    assert (await api.post("/roles", {"name": "clinician", "ACL": {}}, master=True)).json()["code"] == 137
    assert (await api.put(f"/roles/{rid}", {"name": "admin"}, master=True)).json()["code"] == 136


async def test_include_of_unreadable_pointer_is_dropped(api: Api, people: dict[str, Any]) -> None:
    hidden = (await api.post("/classes/Secret", {"v": 1, "ACL": {}}, master=True)).json()["objectId"]
    oid = (await api.post("/classes/Note", {"s": ptr("Secret", hidden)}, master=True)).json()["objectId"]
    got = (await api.get(f"/classes/Note/{oid}", headers=people["bob_h"], params={"include": "s"})).json()
    assert "s" not in got and "v" not in got  # as Parse: removed, none of the target's fields leak
    got = (await api.get(f"/classes/Note/{oid}", master=True, params={"include": "s"})).json()
    assert got["s"]["v"] == 1


async def test_related_to_is_acl_filtered(api: Api, people: dict[str, Any]) -> None:
    a = (await api.post("/classes/Item", {"n": 1}, master=True)).json()["objectId"]
    b = (await api.post("/classes/Item", {"n": 2, "ACL": {}}, master=True)).json()["objectId"]
    owner = (await api.post("/classes/Box", {"items": {"__op": "AddRelation", "objects": [
        ptr("Item", a), ptr("Item", b)]}}, master=True)).json()["objectId"]
    where = json.dumps({"$relatedTo": {"object": ptr("Box", owner), "key": "items"}})
    got = (await api.get("/classes/Item", headers=people["bob_h"], params={"where": where})).json()["results"]
    assert [i["n"] for i in got] == [1]


async def _class(api: Api, name: str, clp: dict[str, Any], fields: dict[str, Any] | None = None) -> None:
    r = await api.post(f"/schemas/{name}", {"className": name, "fields": fields or {}, "classLevelPermissions": clp},
                       master=True)
    assert r.status_code == 200, r.text


async def test_clp_operations(api: Api, people: dict[str, Any]) -> None:
    await _role(api, "clinician", users=[people["bob"]])
    await _class(api, "Chart", {"find": {"role:clinician": True}, "get": {"role:clinician": True},
                                "count": {"role:clinician": True}, "create": {"role:clinician": True},
                                "update": {"role:clinician": True}, "delete": {}, "addField": {}},
                 {"note": {"type": "String"}})
    cat, bob = people["cat_h"], people["bob_h"]
    r = await api.post("/classes/Chart", {"note": "x"}, headers=cat)
    assert r.json() == {"code": 119, "error": "Permission denied for action create on class Chart."}
    r = await api.post("/classes/Chart", {"note": "x"}, headers=bob)
    assert r.status_code == 201
    oid = r.json()["objectId"]
    assert (await api.get("/classes/Chart", headers=cat)).json()["code"] == 119
    assert (await api.get(f"/classes/Chart/{oid}", headers=cat)).json()["code"] == 119
    assert (await api.get("/classes/Chart", headers=cat, params={"count": "1", "limit": "0"})).json()["code"] == 119
    assert (await api.get("/classes/Chart", headers=bob)).status_code == 200
    assert (await api.put(f"/classes/Chart/{oid}", {"note": "y"}, headers=bob)).status_code == 200
    assert (await api.delete(f"/classes/Chart/{oid}", headers=bob)).json()["code"] == 119
    r = await api.put(f"/classes/Chart/{oid}", {"newfield": 1}, headers=bob)
    assert r.json()["code"] == 119  # addField is master-only here
    assert (await api.delete(f"/classes/Chart/{oid}", master=True)).status_code == 200


async def test_requires_authentication(api: Api, people: dict[str, Any]) -> None:
    await _class(api, "Diary", {"find": {"requiresAuthentication": True}, "create": {"*": True},
                                "get": {"requiresAuthentication": True}})
    r = await api.get("/classes/Diary")
    assert r.status_code == 404 and r.json()["code"] == 101
    assert (await api.get("/classes/Diary", headers=people["cat_h"])).status_code == 200


async def test_pointer_permissions(api: Api, people: dict[str, Any]) -> None:
    await _class(api, "Plan", {"find": {"pointerFields": ["owner"]}, "get": {"pointerFields": ["owner"]},
                               "update": {"pointerFields": ["owner"]}, "create": {"*": True},
                               "readUserFields": ["readers"], "writeUserFields": []},
                 {"owner": {"type": "Pointer", "targetClass": "_User"}, "readers": {"type": "Array"},
                  "x": {"type": "Number"}})
    mine = (await api.post("/classes/Plan", {"owner": ptr("_User", people["ada"]),
                                             "readers": [ptr("_User", people["cat"])]})).json()["objectId"]
    await api.post("/classes/Plan", {"owner": ptr("_User", people["bob"])})
    ada = (await api.get("/classes/Plan", headers=people["ada_h"])).json()["results"]
    assert [p["objectId"] for p in ada] == [mine]
    cat = (await api.get("/classes/Plan", headers=people["cat_h"])).json()["results"]
    assert [p["objectId"] for p in cat] == [mine]
    assert (await api.put(f"/classes/Plan/{mine}", {"x": 1}, headers=people["bob_h"])).status_code == 404
    assert (await api.put(f"/classes/Plan/{mine}", {"x": 1}, headers=people["cat_h"])).status_code == 404
    assert (await api.put(f"/classes/Plan/{mine}", {"x": 1}, headers=people["ada_h"])).status_code == 200
    assert (await api.get("/classes/Plan")).json()["code"] == 119


async def test_clp_default_acl(api: Api, people: dict[str, Any]) -> None:
    await _class(api, "Log", {"find": {"*": True}, "get": {"*": True}, "create": {"*": True},
                              "ACL": {"currentUser": {"read": True, "write": True}}}, {"t": {"type": "Number"}})
    oid = (await api.post("/classes/Log", {"t": 1}, headers=people["ada_h"])).json()["objectId"]
    got = (await api.get(f"/classes/Log/{oid}", master=True)).json()
    assert got["ACL"] == {people["ada"]: {"read": True, "write": True}}
    assert (await api.get(f"/classes/Log/{oid}", headers=people["bob_h"])).status_code == 404


PROTECTED_CLP = {"find": {"*": True}, "get": {"*": True}, "count": {"*": True}, "create": {"*": True},
                 "update": {"*": True},
                 "protectedFields": {"*": ["mrn", "diagnosis"], "role:clinician": ["mrn"], "userField:patient": []}}


@pytest.fixture
async def chart(api: Api, people: dict[str, Any]) -> str:
    await _role(api, "clinician", users=[people["bob"]])
    await _class(api, "Record", PROTECTED_CLP, {"mrn": {"type": "String"}, "diagnosis": {"type": "String"},
                                                "patient": {"type": "Pointer", "targetClass": "_User"}})
    r = await api.post("/classes/Record", {"mrn": "M-1", "diagnosis": "OSA", "title": "r1",
                                           "patient": ptr("_User", people["ada"])}, master=True)
    return r.json()["objectId"]


async def test_protected_fields_hidden_by_group(api: Api, people: dict[str, Any], chart: str) -> None:
    cat = (await api.get(f"/classes/Record/{chart}", headers=people["cat_h"])).json()
    assert "mrn" not in cat and "diagnosis" not in cat and cat["title"] == "r1"
    bob = (await api.get(f"/classes/Record/{chart}", headers=people["bob_h"])).json()
    assert "mrn" not in bob and bob["diagnosis"] == "OSA"
    ada = (await api.get(f"/classes/Record/{chart}", headers=people["ada_h"])).json()
    assert ada["mrn"] == "M-1" and ada["diagnosis"] == "OSA"
    master = (await api.get(f"/classes/Record/{chart}", master=True)).json()
    assert master["mrn"] == "M-1"


PROBES = [
    {"where": json.dumps({"mrn": "M-1"})},
    {"where": json.dumps({"$or": [{"title": "zzz"}, {"mrn": {"$regex": "^M"}}]})},
    {"where": json.dumps({"mrn": {"$exists": True}}), "count": "1", "limit": "0"},
    {"where": json.dumps({"mrn.x": 1})},
    {"order": "mrn"},
    {"order": "-title,mrn"},
    {"where": json.dumps({"title": {"$select": {"query": {"className": "Record", "where": {}}, "key": "mrn"}}})},
    {"where": json.dumps({"self": {"$inQuery": {"className": "Record", "where": {"mrn": "M-1"}}}})},
]


@pytest.mark.parametrize("params", PROBES, ids=[f"probe{i}" for i in range(len(PROBES))])
async def test_protected_fields_are_no_query_oracle(api: Api, people: dict[str, Any], chart: str,
                                                     params: dict[str, str]) -> None:
    r = await api.get("/classes/Record", headers=people["cat_h"], params=params)
    assert r.status_code == 400 and r.json()["code"] == 119, r.text
    r = await api.post("/batch", {"requests": [{"method": "GET", "path": "/parse/classes/Record",
                                                "body": {k: json.loads(v) if k == "where" else v
                                                         for k, v in params.items()}}]}, headers=people["cat_h"])
    assert r.json()[0]["error"]["code"] == 119


async def test_protected_fields_through_keys_include_and_batch(api: Api, people: dict[str, Any], chart: str) -> None:
    r = await api.get("/classes/Record", headers=people["cat_h"], params={"keys": "mrn,title"})
    assert r.json()["results"][0].keys() >= {"title"} and "mrn" not in r.json()["results"][0]
    holder = (await api.post("/classes/Holder", {"rec": ptr("Record", chart)}, master=True)).json()["objectId"]
    got = (await api.get(f"/classes/Holder/{holder}", headers=people["cat_h"], params={"include": "rec"})).json()
    assert got["rec"]["title"] == "r1" and "mrn" not in got["rec"] and "diagnosis" not in got["rec"]
    r = await api.post("/batch", {"requests": [{"method": "GET", "path": f"/parse/classes/Record/{chart}"}]},
                       headers=people["cat_h"])
    assert "mrn" not in r.json()[0]["success"]


SERVER_OWNED = [
    ({"_rperm": ["*"]}, 105), ({"_wperm": ["*"]}, 105), ({"_acl": {}}, 105), ({"_hashed_password": "x"}, 105),
    ({"objectId": "abcdefghij"}, 105), ({"a$b": 1}, 105), ({"__proto__": {"x": 1}}, 105),
    ({"constructor": {"prototype": {}}}, 105), ({"x": {"prototype": 1}}, 105),
]


@pytest.mark.parametrize(("body", "code"), SERVER_OWNED, ids=[next(iter(b)) for b, _ in SERVER_OWNED])
async def test_server_owned_keys_are_refused(api: Api, people: dict[str, Any], body: dict[str, Any],
                                             code: int) -> None:
    oid = (await api.post("/classes/Note", {"n": 1}, master=True)).json()["objectId"]
    r = await api.put(f"/classes/Note/{oid}", body, headers=people["ada_h"])
    if "objectId" in body:
        assert r.status_code == 200  # Parse ignores objectId in an update body; the id never changes
    else:
        assert r.status_code == 400 and r.json()["code"] == code, r.text
    r = await api.post("/classes/Note", body, headers=people["ada_h"])
    assert r.status_code == 400 and r.json()["code"] == code
    got = (await api.get(f"/classes/Note/{oid}", master=True)).json()
    assert set(got) == {"objectId", "createdAt", "updatedAt", "n"}


async def test_master_key_bypasses_everything(api: Api, people: dict[str, Any], chart: str) -> None:
    r = await api.get("/classes/Record", master=True, params={"where": json.dumps({"mrn": "M-1"}), "order": "mrn"})
    assert r.json()["results"][0]["mrn"] == "M-1"
