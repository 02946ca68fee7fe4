"""Two server processes (two apps) sharing one Redis: a write on A reaches a websocket subscriber on B."""

from __future__ import annotations

import warnings

import fakeredis

from engine.app import create_app
from livequery.pubsub import RedisPubSub
from tests.conftest import make_settings
from tests.livequery.test_websocket import HM, LOOPBACK, connect, subscribe

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def _app(server: fakeredis.FakeServer):  # type: ignore[no-untyped-def]
    app = create_app(make_settings(database_uri="memory://", live_query_redis_url="redis://fake"))
    # The URL above only selects Redis; the connection itself goes to the shared in-process fake server.
    app.state.engine.livequery.pubsub = RedisPubSub(fakeredis.aioredis.FakeRedis(server=server))
    return app


def test_write_on_one_app_reaches_subscriber_on_another() -> None:
    server = fakeredis.FakeServer()
    with TestClient(_app(server), client=LOOPBACK) as a, TestClient(_app(server), client=LOOPBACK) as b:
        # B needs the class in its own schema; in production both processes share one database.
        assert b.post("/parse/classes/Fan", json={"n": 0}, headers=HM).status_code == 201
        with b.websocket_connect("/parse") as ws:
            connect(ws)
            assert subscribe(ws, 1, {"className": "Fan", "where": {"n": {"$gte": 1}}})["op"] == "subscribed"
            assert a.post("/parse/classes/Fan", json={"n": 1, "who": "a"}, headers=HM).status_code == 201
            ev = ws.receive_json()
            assert ev["op"] == "create" and ev["object"]["who"] == "a" and ev["object"]["className"] == "Fan"


def test_the_writers_schema_travels_with_the_event() -> None:
    """B never saw the class (its schema cache predates it): the event's own schema and CLP are used."""
    server = fakeredis.FakeServer()
    with TestClient(_app(server), client=LOOPBACK) as a, TestClient(_app(server), client=LOOPBACK) as b:
        with b.websocket_connect("/parse") as ws:
            connect(ws)
            assert subscribe(ws, 1, {"className": "Late", "where": {}})["op"] == "subscribed"
            assert a.post("/parse/classes/Late", json={"n": 1}, headers=HM).status_code == 201
            ev = ws.receive_json()
            assert ev["op"] == "create" and ev["object"]["n"] == 1
