"""LiveQuery connection lifecycle in-process: the `connect` deadline and the websocket cap."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator

import pytest

with warnings.catch_warnings():  # Starlette nags about httpx vs httpx2; the suite uses httpx on purpose
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from engine.app import create_app
from tests.conftest import APP_ID, make_settings


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = make_settings(database_uri="memory://", live_query_connect_timeout=0.5, max_websockets=2)
    with TestClient(create_app(settings)) as c:
        yield c


def test_socket_without_connect_is_closed_after_the_deadline(client: TestClient) -> None:
    started = time.monotonic()
    with client.websocket_connect("/parse") as ws, pytest.raises(WebSocketDisconnect) as exc:
        ws.receive_json()
    assert exc.value.code == 1008
    assert time.monotonic() - started < 10


def test_connect_in_time_keeps_the_socket(client: TestClient) -> None:
    with client.websocket_connect("/parse") as ws:
        ws.send_json({"op": "connect", "applicationId": APP_ID})
        assert ws.receive_json()["op"] == "connected"
        time.sleep(0.8)  # past the connect deadline: a connected socket is not subject to it
        ws.send_json({"op": "unsubscribe", "requestId": 9})
        assert ws.receive_json()["op"] == "error"


def test_sockets_over_the_cap_are_refused_with_parse_json(client: TestClient) -> None:
    with client.websocket_connect("/parse") as a, client.websocket_connect("/parse") as b:
        for ws in (a, b):
            ws.send_json({"op": "connect", "applicationId": APP_ID})
            assert ws.receive_json()["op"] == "connected"
        with pytest.raises(WebSocketDenialResponse) as exc, client.websocket_connect("/parse"):
            pass
        assert exc.value.status_code == 503 and exc.value.json()["code"] == 155
    with client.websocket_connect("/parse") as c:  # slots are given back when sockets end
        c.send_json({"op": "connect", "applicationId": APP_ID})
        assert c.receive_json()["op"] == "connected"
