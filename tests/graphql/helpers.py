"""A tiny GraphQL-over-HTTP client for the ASGI app, plus a class every GraphQL test works on."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import APP_ID, MASTER, Api

NIGHT_SCHEMA = {
    "className": "Night",
    "fields": {
        "title": {"type": "String"},
        "hours": {"type": "Number"},
        "startedAt": {"type": "Date"},
        "subject": {"type": "Pointer", "targetClass": "_User"},
        "tags": {"type": "Array"},
        "metrics": {"type": "Object"},
        "done": {"type": "Boolean"},
        "reviewers": {"type": "Relation", "targetClass": "_User"},
        "diagnosis": {"type": "String"},
    },
    "classLevelPermissions": {
        "find": {"*": True}, "get": {"*": True}, "count": {"*": True}, "create": {"*": True},
        "update": {"*": True}, "delete": {"*": True}, "addField": {},
        "protectedFields": {"*": ["diagnosis"]},
    },
}


def headers(*, master: bool = False, token: str | None = None) -> dict[str, str]:
    h = {"X-Parse-Application-Id": APP_ID}
    if master:
        h["X-Parse-Master-Key"] = MASTER
    if token:
        h["X-Parse-Session-Token"] = token
    return h


async def gql(api: Api, query: str, variables: dict[str, Any] | None = None, *, master: bool = False,
              token: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return await api.client.post("/graphql", json=body, headers=headers(master=master, token=token))


async def data(api: Api, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
    r = await gql(api, query, variables, **kw)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    return body["data"]


async def error(api: Api, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    r = await gql(api, query, variables, **kw)
    body = r.json()
    assert body.get("errors"), body
    first: dict[str, Any] = body["errors"][0]
    first["status"] = r.status_code
    return first


async def make_night_class(api: Api) -> None:
    r = await api.post("/schemas/Night", NIGHT_SCHEMA, master=True)
    assert r.status_code == 200, r.text
