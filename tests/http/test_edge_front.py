"""The REST mount's pure-ASGI front (engine/http/front.py) answers exactly what the Starlette stack it bypasses
answered: every request below goes through both, on the same app, and the status, headers (in order) and body
must match byte for byte. Plus the route index of engine/http/routes.py against a plain scan of the table."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from engine.http import routes
from engine.http.front import EngineApp
from tests.conftest import APP_ID, MASTER, make_settings, start_app

JSON = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
MASTER_H = {**JSON, "X-Parse-Master-Key": MASTER}


@pytest.fixture
async def pair() -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, EngineApp]]:
    app, fast = await start_app(make_settings(allow_origin=("https://lab.example", "https://other.example"),
                                              graphql_path="/parse/graphql"))
    assert isinstance(app, EngineApp) and app.rest is not None

    async def starlette_only(scope: Scope, receive: Receive, send: Send) -> None:
        await Starlette.__call__(app, scope, receive, send)

    slow = httpx.AsyncClient(transport=httpx.ASGITransport(app=starlette_only, client=("127.0.0.1", 12345)),
                             base_url="http://testserver")
    async with fast, slow:
        yield fast, slow, app
    await app.state.engine.stop()


async def _same(pair: tuple[httpx.AsyncClient, httpx.AsyncClient, Any], method: str, path: str,
                **kw: Any) -> httpx.Response:
    fast, slow, _ = pair
    a = await fast.request(method, path, **kw)
    b = await slow.request(method, path, **kw)
    assert (a.status_code, a.headers.multi_items(), a.content) == (b.status_code, b.headers.multi_items(), b.content)
    return a


async def test_reads_errors_and_preflights_are_answered_as_the_starlette_stack_did(pair: Any) -> None:
    fast = pair[0]
    made = await fast.post("/parse/classes/Note", json={"text": "night"}, headers=MASTER_H)
    oid = made.json()["objectId"]
    got = await _same(pair, "GET", f"/parse/classes/Note/{oid}", headers=MASTER_H)
    assert got.json()["text"] == "night"
    assert got.headers["access-control-allow-origin"] == "https://lab.example"  # the first allowed origin
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/parse/CLASSES/Note/{oid}/", {"headers": MASTER_H}),  # Express: case-insensitive, trailing /
        ("GET", "/parse/classes/Note", {"headers": MASTER_H, "params": [("keys", "text"), ("keys", "n"),
                                                                         ("where", '{"text":"night"}')]}),
        ("GET", "/parse/classes/Note", {"headers": MASTER_H, "params": {"where": "{not json"}}),
        ("GET", "/parse/classes/Note/nope", {"headers": JSON}),
        ("GET", f"/parse/classes/Note/{oid}", {"headers": {**JSON, "Origin": "https://other.example"}}),
        ("GET", f"/parse/classes/Note/{oid}", {"headers": {**JSON, "Origin": "https://evil.example"}}),
        ("GET", f"/parse/classes/Note/{oid}", {"headers": {"X-Parse-Application-Id": "wrong"}}),
        ("GET", f"/parse/classes/Note/{oid}", {"headers": {**JSON, "X-Parse-Master-Key": "wrong"}}),
        ("GET", f"/parse/classes/Note/{oid}", {"headers": {**JSON, "X-Parse-Session-Token": "r:nope"}}),
        ("GET", f"/parse/classes/Note/{oid}", {"headers": {**JSON, "X-Parse-Master-Key": "k" * 2000}}),
        ("HEAD", f"/parse/classes/Note/{oid}", {"headers": MASTER_H}),
        ("POST", "/parse/classes/Note", {"headers": JSON, "content": b"[1, 2]"}),
        ("POST", "/parse/classes/Note", {"headers": JSON, "content": b"{bad"}),
        ("POST", f"/parse/classes/Note/{oid}", {"headers": {"Content-Type": "text/plain"}, "content":
                                                b'{"_method": "GET", "_ApplicationId": "testapp"}'}),
        ("POST", "/parse//functions/missing", {"headers": JSON, "json": {}}),
        ("GET", "/parse/health", {}),
        ("GET", "/parse", {"headers": JSON}),
        ("GET", "/parse/", {"headers": JSON}),
        ("GET", "/parse/no/such/route", {"headers": JSON}),
        ("PATCH", f"/parse/classes/Note/{oid}", {"headers": MASTER_H}),
        ("TRACE", "/parse/classes/Note", {"headers": JSON}),  # not a REST method: Starlette's 405 either way
        ("OPTIONS", "/parse/classes/Note", {"headers": {"Origin": "https://other.example"}}),
        ("OPTIONS", "/parse/graphql", {}),
        ("GET", "/parse/apps/choose_password", {}),
        ("GET", "/parse/files/testapp/none.txt", {}),
    ]
    for method, path, kw in cases:
        await _same(pair, method, path, **kw)


async def test_writes_go_through_either_way(pair: Any) -> None:
    fast, slow, _ = pair
    for client in (fast, slow):
        made = await client.post("/parse/classes/Note", json={"text": "a"}, headers=MASTER_H)
        assert made.status_code == 201 and made.headers["location"].endswith(made.json()["objectId"])
        assert made.headers["access-control-expose-headers"] == "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id"


async def test_graphql_under_the_mount_stays_graphql_for_get_and_post(pair: Any) -> None:
    fast = pair[0]
    answer = await fast.post("/parse/graphql", json={"query": "{ health }"}, headers=JSON)
    assert answer.status_code == 200 and answer.json() == {"data": {"health": True}}
    put = await _same(pair, "PUT", "/parse/graphql", headers=JSON)  # not GraphQL's method: the REST 404
    assert put.json()["code"] == 101


async def test_a_body_past_the_limit_is_refused_in_parse_shape(app_factory: Any) -> None:
    _, api = await app_factory(max_body_bytes=64)
    answer = await api.post("/classes/Note", {"text": "x" * 200}, master=True)
    assert answer.status_code == 413 and answer.json() == {"code": 116, "error": "request entity too large"}


def _sample(pattern: str) -> str:
    """A path a route pattern matches, its parameters filled in."""
    return re.sub(r"\(\?P<\w+>\[\^/\]\+\)", "x1", pattern[1:].removesuffix("/?$"))


def test_the_route_index_picks_what_a_scan_of_the_table_picks() -> None:
    paths = {_sample(r.pattern.pattern) for r in routes.ROUTES}
    paths |= {p.upper() for p in paths} | {p + "/" for p in paths} | {"/", "/classes", "/x1", "/users/me/x"}
    for method in ("GET", "POST", "PUT", "DELETE"):
        for path in paths:
            scanned = next((r for r in routes.ROUTES if r.method == method and r.pattern.match(path)), None)
            indexed = next((r for r in routes._BY_SEGMENT.get((method, routes._first_segment(path)), ())
                            if r.pattern.match(path)), None)
            assert scanned is indexed, (method, path)
