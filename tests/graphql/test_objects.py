"""Per-class queries and mutations over /graphql, as master, as a signed-in user and anonymously."""

from __future__ import annotations

import base64

from tests.conftest import Api
from tests.graphql.helpers import data, error, gql, make_night_class

CREATE = """mutation($fields: CreateNightFieldsInput) {
  createNight(input: {fields: $fields, clientMutationId: "c1"}) {
    clientMutationId night { id objectId title hours startedAt done tags { ... on Element { value } } metrics }
  }
}"""


async def _create(api: Api, fields: dict, **kw: object) -> dict:
    out = await data(api, CREATE, {"fields": fields}, **kw)
    assert out["createNight"]["clientMutationId"] == "c1"
    return out["createNight"]["night"]


async def test_create_get_update_delete_roundtrip(api: Api) -> None:
    await make_night_class(api)
    night = await _create(api, {"title": "one", "hours": 7.5, "startedAt": "2024-03-01T22:30:00.000Z", "done": True,
                                "tags": ["rem", 3], "metrics": {"ahi": 4}})
    assert base64.b64decode(night["id"]).decode() == f"Night:{night['objectId']}"
    assert night["tags"] == [{"value": "rem"}, {"value": 3}]
    assert night["startedAt"] == "2024-03-01T22:30:00.000Z" and night["metrics"] == {"ahi": 4}

    got = await data(api, "query($id: ID!) { night(id: $id) { objectId title } }", {"id": night["id"]})
    assert got["night"] == {"objectId": night["objectId"], "title": "one"}
    got = await data(api, "query($id: ID!) { night(id: $id) { title } }", {"id": night["objectId"]})
    assert got["night"]["title"] == "one"  # a bare objectId works too

    upd = await data(api, """mutation($id: ID!) { updateNight(input: {id: $id, fields: {title: null, hours: 8}}) {
        night { title hours } } }""", {"id": night["id"]})
    assert upd["updateNight"]["night"] == {"title": None, "hours": 8.0}
    rest = (await api.get(f"/classes/Night/{night['objectId']}")).json()
    assert "title" not in rest and rest["hours"] == 8

    gone = await data(api, "mutation($id: ID!) { deleteNight(input: {id: $id}) { night { objectId hours } } }",
                      {"id": night["id"]})
    assert gone["deleteNight"]["night"] == {"objectId": night["objectId"], "hours": 8.0}
    err = await error(api, "query($id: ID!) { night(id: $id) { objectId } }", {"id": night["id"]})
    assert err["extensions"]["code"] == 101 and err["message"] == "Object not found."


async def test_find_where_order_and_relay_paging(api: Api) -> None:
    await make_night_class(api)
    for i in range(5):
        await _create(api, {"title": f"n{i}", "hours": float(i), "tags": ["a"] if i % 2 else ["b"]})
    q = """query($where: NightWhereInput, $first: Int, $after: String, $last: Int) {
      nights(where: $where, order: [hours_DESC], first: $first, after: $after, last: $last) {
        count edges { cursor node { title hours } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
    out = (await data(api, q, {"first": 2}))["nights"]
    assert out["count"] == 5 and [e["node"]["title"] for e in out["edges"]] == ["n4", "n3"]
    assert out["pageInfo"]["hasNextPage"] is True and out["pageInfo"]["hasPreviousPage"] is False
    assert out["edges"][0]["cursor"] == base64.b64encode(b"arrayconnection:0").decode()
    nxt = (await data(api, q, {"first": 2, "after": out["pageInfo"]["endCursor"]}))["nights"]
    assert [e["node"]["title"] for e in nxt["edges"]] == ["n2", "n1"] and nxt["pageInfo"]["hasPreviousPage"]
    tail = (await data(api, q, {"last": 2}))["nights"]
    assert [e["node"]["title"] for e in tail["edges"]] == ["n1", "n0"]

    async def titles(where: dict) -> list[str]:
        found = (await data(api, q, {"where": where}))["nights"]
        return sorted(e["node"]["title"] for e in found["edges"])

    assert await titles({"hours": {"greaterThan": 2}}) == ["n3", "n4"]
    assert await titles({"hours": {"in": [0, 4]}}) == ["n0", "n4"]
    assert await titles({"title": {"notIn": ["n0", "n1", "n2"]}}) == ["n3", "n4"]
    assert await titles({"title": {"matchesRegex": "^n[12]$"}}) == ["n1", "n2"]
    assert await titles({"tags": {"contains": ["a"]}}) == ["n1", "n3"]
    assert await titles({"OR": [{"hours": {"equalTo": 0}}, {"hours": {"equalTo": 1}}]}) == ["n0", "n1"]
    assert await titles({"NOR": [{"hours": {"lessThan": 3}}]}) == ["n3", "n4"]
    assert await titles({"AND": [{"hours": {"greaterThanOrEqualTo": 1}}, {"hours": {"lessThanOrEqualTo": 2}}]}) \
        == ["n1", "n2"]
    assert await titles({"metrics": {"exists": True}}) == []
    only_count = (await data(api, "{ nights { count } }"))["nights"]
    assert only_count == {"count": 5}
    bad = await error(api, "{ nights(first: -1) { count } }")
    assert bad["extensions"]["code"] == 102 and bad["message"] == "First should be a positive number"


async def test_pointers_link_create_and_link_have_and_nested_selection(api: Api) -> None:
    await make_night_class(api)
    uid, token = await api.signup("pat", email="pat@example.com")
    night = (await data(api, """mutation($uid: ID!) { createNight(input: {fields: {title: "p", subject: {link: $uid}}})
        { night { objectId subject { objectId username } } } }""", {"uid": uid}, token=token))["createNight"]["night"]
    assert night["subject"] == {"objectId": uid, "username": "pat"}
    made = await data(api, """mutation { createNight(input: {fields: {title: "c",
        subject: {createAndLink: {username: "newbie", password: "pw-123456"}}}}) { night { title } } }""",
                      master=True)
    assert made["createNight"]["night"]["title"] == "c"
    found = await data(api, """{ nights(where: {subject: {have: {username: {equalTo: "pat"}}}}) {
        edges { node { title subject { username } } } } }""", token=token)
    assert [e["node"] for e in found["nights"]["edges"]] == [{"title": "p", "subject": {"username": "pat"}}]
    none = await data(api, '{ nights(where: {subject: {haveNot: {username: {equalTo: "pat"}}}}) { count } }',
                      master=True)
    assert none["nights"]["count"] == 1
    bad = await error(api, 'mutation { createNight(input: {fields: {subject: {}}}) { night { objectId } } }')
    assert bad["extensions"]["code"] == 106


async def test_relations_add_remove_and_query(api: Api) -> None:
    await make_night_class(api)
    a, _ = await api.signup("ra")
    b, _ = await api.signup("rb")
    made = await data(api, """mutation($ids: [ID!]) { createNight(input: {fields: {title: "r",
        reviewers: {add: $ids}}}) { night { objectId reviewers { count edges { node { objectId } } } } } }""",
                      {"ids": [a, b]}, master=True)
    night = made["createNight"]["night"]
    assert night["reviewers"]["count"] == 2
    upd = await data(api, """mutation($id: ID!, $rm: [ID!]) { updateNight(input: {id: $id, fields: {reviewers:
        {remove: $rm}}}) { night { reviewers { edges { node { objectId } } } } } }""",
                     {"id": night["objectId"], "rm": [a]}, master=True)
    assert [e["node"]["objectId"] for e in upd["updateNight"]["night"]["reviewers"]["edges"]] == [b]


async def test_acl_input_hides_objects_from_others(api: Api) -> None:
    await make_night_class(api)
    alice, alice_token = await api.signup("alice")
    _, bob_token = await api.signup("bob")
    q = """mutation($uid: ID!) { createNight(input: {fields: {title: "private",
        ACL: {users: [{userId: $uid, read: true, write: true}]}}}) {
        night { objectId ACL { users { userId read write } public { read } } } } }"""
    night = (await data(api, q, {"uid": alice}, token=alice_token))["createNight"]["night"]
    assert night["ACL"]["public"] is None
    assert base64.b64decode(night["ACL"]["users"][0]["userId"]).decode() == f"_User:{alice}"
    await _create(api, {"title": "public"})
    find = '{ nights { count edges { node { title } } } }'
    assert sorted(e["node"]["title"] for e in (await data(api, find, token=alice_token))["nights"]["edges"]) == [
        "private", "public"]
    for kw in ({"token": bob_token}, {}):
        seen = (await data(api, find, **kw))["nights"]
        assert seen["count"] == 1 and [e["node"]["title"] for e in seen["edges"]] == ["public"]
        err = await error(api, "query($id: ID!) { night(id: $id) { title } }", {"id": night["objectId"]}, **kw)
        assert err["extensions"]["code"] == 101
        err = await error(api, 'mutation($id: ID!) { updateNight(input: {id: $id, fields: {title: "x"}}) '
                               '{ night { title } } }', {"id": night["objectId"]}, **kw)
        assert err["extensions"]["code"] == 101
        err = await error(api, "query($id: ID!) { node(id: $id) { id } }", {"id": night_id(night)}, **kw)
        assert err["extensions"]["code"] == 101
    assert (await data(api, find, master=True))["nights"]["count"] == 2


def night_id(night: dict) -> str:
    return base64.b64encode(f"Night:{night['objectId']}".encode()).decode()


async def test_protected_fields_are_never_returned(api: Api) -> None:
    await make_night_class(api)
    _, token = await api.signup("carol")
    night = await _create(api, {"title": "t", "diagnosis": "OSA"}, master=True)
    q = "query($id: ID!) { night(id: $id) { title diagnosis } }"
    for kw in ({"token": token}, {}):
        assert (await data(api, q, {"id": night["id"]}, **kw))["night"] == {"title": "t", "diagnosis": None}
        found = await data(api, "{ nights { edges { node { diagnosis } } } }", **kw)
        assert found["nights"]["edges"] == [{"node": {"diagnosis": None}}]
        err = await error(api, '{ nights(where: {diagnosis: {equalTo: "OSA"}}) { count } }', **kw)
        assert err["extensions"]["code"] == 119  # filtering on it would reveal it, as over REST
    assert (await data(api, q, {"id": night["id"]}, master=True))["night"]["diagnosis"] == "OSA"


async def test_clp_denial_is_permission_denied(api: Api) -> None:
    r = await api.post("/schemas/Locked", {"className": "Locked", "fields": {"a": {"type": "String"}},
                                           "classLevelPermissions": {"find": {}, "get": {}, "create": {},
                                                                     "update": {}, "delete": {}, "count": {}}},
                       master=True)
    assert r.status_code == 200, r.text
    err = await error(api, "{ lockeds { count } }")
    assert err["extensions"]["code"] == 119
    err = await error(api, 'mutation { createLocked(input: {fields: {a: "x"}}) { locked { objectId } } }')
    assert err["extensions"]["code"] == 119
    assert (await data(api, "{ lockeds { count } }", master=True))["lockeds"]["count"] == 0


async def test_get_of_unknown_id_answers_not_found_with_null_data(api: Api) -> None:
    r = await gql(api, '{ user(id: "nope") { objectId } }')
    assert r.status_code == 200
    body = r.json()
    assert body["data"] is None and body["errors"][0]["path"] == ["user"]
    assert body["errors"][0]["extensions"] == {"code": 101}


async def test_nested_pointer_selections_cost_one_query_per_level(app_factory: object) -> None:
    app, api = await app_factory()  # type: ignore[operator]
    await make_night_class(api)
    for i in range(6):
        uid, _ = await api.signup(f"u{i}")
        await _create(api, {"title": f"t{i}", "subject": {"link": uid}}, master=True)
    storage = app.state.engine.storage
    calls: list[str] = []
    # Stores that serve their stored JSON as it is (SQLite) read through find_encoded; the others through find.
    methods = [name for name in ("find", "find_encoded") if hasattr(storage, name)]
    originals = {name: getattr(storage, name) for name in methods}

    def counting(original):  # type: ignore[no-untyped-def]
        async def call(cls, where, opts):  # type: ignore[no-untyped-def]
            calls.append(cls.name)
            return await original(cls, where, opts)
        return call

    for name in methods:
        setattr(storage, name, counting(originals[name]))
    out = await data(api, "{ nights { edges { node { title subject { username } } } } }", master=True)
    for name in methods:
        setattr(storage, name, originals[name])
    assert len(out["nights"]["edges"]) == 6 and all(e["node"]["subject"]["username"] for e in out["nights"]["edges"])
    assert calls.count("Night") == 1 and calls.count("_User") == 1, calls
