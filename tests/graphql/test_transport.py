"""The /graphql transport: credentials as REST, Parse-shaped errors, limits, introspection, schema regeneration,
users and sessions, cloud functions, and one run with the `gql` client library."""

from __future__ import annotations

from typing import Any

import httpx
from gql import Client, gql as parse_gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport

from engine.cloud import FunctionRequest
from tests.conftest import APP_ID, MASTER, Api
from tests.graphql.helpers import data, error, gql, headers, make_night_class


async def test_app_id_and_session_are_checked_before_graphql(api: Api) -> None:
    r = await api.client.post("/graphql", json={"query": "{ health }"})
    assert r.status_code == 403 and "errors" not in r.json()
    r = await api.client.post("/graphql", json={"query": "{ health }"},
                              headers={**headers(), "X-Parse-Session-Token": "r:nope"})
    assert r.status_code == 400 and r.json() == {"code": 209, "error": "Invalid session token"}
    r = await api.client.post("/graphql", json={"query": "{ health }"}, headers={**headers(),
                              "_ApplicationId": "x"})
    assert r.json() == {"data": {"health": True}}


async def test_get_queries_and_refuses_mutations_over_get(api: Api) -> None:
    r = await api.client.get("/graphql", params={"query": "{ health }"}, headers=headers())
    assert r.status_code == 200 and r.json() == {"data": {"health": True}}
    r = await api.client.get("/graphql", params={"query": "mutation { logOut(input: {}) { ok } }"},
                             headers=headers())
    assert r.status_code == 405 and r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_transport_errors(api: Api) -> None:
    h = headers()
    r = await api.client.post("/graphql", json=[{"query": "{ health }"}], headers=h)
    assert r.status_code == 400 and r.json()["errors"][0]["message"] == "Operation batching disabled."
    r = await api.client.post("/graphql", content=b"{ health }", headers={**h, "Content-Type": "text/plain"})
    assert r.status_code == 400 and r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    r = await api.client.post("/graphql", content=b"{nope", headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 400 and "errors" in r.json()
    r = await gql(api, "{ health ")
    assert r.status_code == 400 and r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    r = await api.client.post("/graphql", json={"query": "query A { health }", "operationName": "X"}, headers=h)
    assert r.json()["errors"][0] == {"message": 'Unknown operation named "X".',
                                     "extensions": {"code": "OPERATION_RESOLUTION_FAILURE"}}
    r = await gql(api, "{ sleepStudys { count } }")
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED" and "Did you mean" not in err["message"]
    r = await gql(api, "{ sleepStudys { count } }", master=True)
    assert "Did you mean" in r.json()["errors"][0]["message"]
    r = await api.client.options("/graphql", headers={"Origin": "http://x"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    r = await gql(api, "{ health }")
    assert r.headers["access-control-allow-origin"] == "*"


async def test_introspection_is_for_the_master_key_unless_public(api: Api, app_factory: Any) -> None:
    q = "{ __schema { queryType { name } } }"
    r = await gql(api, q)
    assert r.status_code == 403 and r.json()["errors"][0]["message"] == "Introspection is not allowed"
    r = await gql(api, '{ __type(name: "User") { name } }')
    assert r.status_code == 403
    assert (await data(api, "{ __typename }")) == {"__typename": "Query"}
    assert (await data(api, q, master=True))["__schema"]["queryType"]["name"] == "Query"
    _, public = await app_factory(graphql_public_introspection=True)
    assert (await data(public, q))["__schema"]["queryType"]["name"] == "Query"


async def test_depth_fields_and_aliases_are_bounded(app_factory: Any) -> None:
    _, api = await app_factory(graphql_max_depth=2, graphql_max_fields=20, graphql_max_aliases=2)
    deep = "{ users { edges { node { objectId } } } }"  # depth 3
    err = await error(api, deep)
    assert err["status"] == 400 and err["extensions"]["code"] == 155 and "depth" in err["message"]
    assert (await gql(api, deep, master=True)).status_code == 200  # the master key is exempt, as in Parse
    wide = "{ " + " ".join(f"a{i}: health" for i in range(3)) + " }"
    assert "aliases" in (await error(api, wide))["message"]
    fragment = "fragment F on Query { health __typename } { ...F ...F ...F ...F ...F ...F ...F ...F }"
    err = await error(api, fragment)
    assert "fields" in err["message"]
    assert (await data(api, "{ a0: health a1: health }")) == {"a0": True, "a1": True}


async def test_a_field_added_over_schemas_is_queryable_at_once(api: Api) -> None:
    await make_night_class(api)
    err = await error(api, "{ nights { edges { node { snoreIndex } } } }", master=True)
    assert err["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    r = await api.put("/schemas/Night", {"className": "Night", "fields": {"snoreIndex": {"type": "Number"}}},
                      master=True)
    assert r.status_code == 200, r.text
    made = await data(api, "mutation { createNight(input: {fields: {snoreIndex: 3}}) { night { snoreIndex } } }")
    assert made["createNight"]["night"] == {"snoreIndex": 3.0}
    r = await api.post("/schemas/Brand", {"className": "Brand", "fields": {"n": {"type": "String"}}}, master=True)
    assert r.status_code == 200
    assert (await data(api, "{ brands { count } }", master=True)) == {"brands": {"count": 0}}


async def test_sign_up_log_in_viewer_log_out(api: Api) -> None:
    up = await data(api, """mutation { signUp(input: {fields: {username: "dana", password: "pw-123456",
        email: "dana@example.com"}, clientMutationId: "s"}) { clientMutationId viewer { sessionToken
        user { objectId username email ACL { public { read } } } } } }""")
    assert up["signUp"]["clientMutationId"] == "s"
    viewer = up["signUp"]["viewer"]
    assert viewer["sessionToken"].startswith("r:") and viewer["user"]["username"] == "dana"
    assert viewer["user"]["ACL"]["public"] is None  # enforcePrivateUsers
    dup = await error(api, 'mutation { signUp(input: {fields: {username: "dana", password: "x1234567"}}) '
                           '{ viewer { sessionToken } } }')
    assert dup["extensions"]["code"] == 202
    bad = await error(api, 'mutation { logIn(input: {username: "dana", password: "wrong"}) '
                           '{ viewer { sessionToken } } }')
    assert bad["extensions"]["code"] == 101 and bad["message"] == "Invalid username/password."
    login = await data(api, 'mutation { logIn(input: {username: "dana", password: "pw-123456"}) '
                            '{ viewer { sessionToken user { username } } } }')
    token = login["logIn"]["viewer"]["sessionToken"]
    me = await data(api, "{ viewer { sessionToken user { username email } } }", token=token)
    assert me["viewer"] == {"sessionToken": token, "user": {"username": "dana", "email": "dana@example.com"}}
    anon = await gql(api, "{ viewer { sessionToken } }")
    assert anon.json()["data"] is None and anon.json()["errors"][0]["extensions"]["code"] == 209
    out = await data(api, 'mutation { logOut(input: {clientMutationId: "o"}) { ok clientMutationId } }', token=token)
    assert out["logOut"] == {"ok": True, "clientMutationId": "o"}
    r = await gql(api, "{ health }", token=token)
    assert r.status_code == 400 and r.json()["code"] == 209
    users = await data(api, "{ users { count } }")
    assert users["users"]["count"] == 0  # private users: an anonymous caller sees none


async def test_reset_password_answers_ok(api: Api) -> None:
    await api.signup("erin", email="erin@example.com")
    out = await data(api, 'mutation { resetPassword(input: {email: "erin@example.com"}) { ok } }')
    assert out == {"resetPassword": {"ok": True}}


async def test_call_cloud_code_runs_the_function_as_the_caller(app_factory: Any) -> None:
    app, api = await app_factory()

    async def who(req: FunctionRequest) -> Any:
        return {"user": req.user.object_id if req.user else None, "params": req.params}

    app.state.engine.cloud.define("whoAmI")(who)
    uid, token = await api.signup("fay")
    out = await data(api, 'mutation { callCloudCode(input: {functionName: whoAmI, params: {a: 1}}) { result } }',
                     token=token)
    assert out["callCloudCode"]["result"] == {"user": uid, "params": {"a": 1}}
    err = await error(api, "mutation { callCloudCode(input: {functionName: nope}) { result } }")
    assert err["status"] == 400 and err["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_hooks_fire_for_graphql_writes(app_factory: Any) -> None:
    app, api = await app_factory()
    seen: list[str] = []
    await make_night_class(api)

    async def before(req: Any) -> None:
        if req.object.get("title") == "refuse":
            from engine.errors import ErrorCode, ParseError
            raise ParseError(ErrorCode.VALIDATION_ERROR, "no")
        seen.append(str(req.object.get("title")))

    app.state.engine.cloud.before_save("Night")(before)
    await data(api, 'mutation { createNight(input: {fields: {title: "ok"}}) { night { objectId } } }')
    err = await error(api, 'mutation { createNight(input: {fields: {title: "refuse"}}) { night { objectId } } }')
    assert err["extensions"]["code"] == 142 and err["message"] == "no"
    assert seen == ["ok"]


async def test_with_the_gql_client_library(api: Api) -> None:
    await make_night_class(api)
    transport = HTTPXAsyncTransport(url="http://testserver/graphql", headers={"X-Parse-Application-Id": APP_ID,
                                                                             "X-Parse-Master-Key": MASTER},
                                    transport=api.client._transport)
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        made = await session.execute(parse_gql(
            'mutation { createNight(input: {fields: {title: "g", hours: 6}}) { night { id title } } }'))
        assert made["createNight"]["night"]["title"] == "g"
        request = parse_gql("query($h: Float) { nights(where: {hours: {equalTo: $h}}) "
                            "{ count edges { node { title } } } }")
        request.variable_values = {"h": 6}
        found = await session.execute(request)
        assert found["nights"]["count"] == 1
        try:
            await session.execute(parse_gql('{ night(id: "missing") { title } }'))
            raise AssertionError("expected an error")
        except TransportQueryError as exc:
            assert exc.errors is not None and exc.errors[0]["extensions"]["code"] == 101
    assert isinstance(api.client, httpx.AsyncClient)
