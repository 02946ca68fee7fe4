"""LiveQuery cloud hooks, as a websocket client sees them: beforeConnect, beforeSubscribe, afterEvent."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from engine.app import create_app
from engine.cloud import (
    CloudObject,
    ConnectRequest,
    ErrorCode,
    LiveEventRequest,
    ParseError,
    SubscribeRequest,
)
from tests.conftest import make_settings
from tests.livequery.test_websocket import HM, LOOPBACK, H, connect, signup, subscribe

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SEEN: list[Any] = []


@pytest.fixture
def client() -> Iterator[TestClient]:
    SEEN.clear()
    app = create_app(make_settings(database_uri="memory://"))
    cloud = app.state.engine.cloud

    @cloud.before_connect
    def refuse_banned(req: ConnectRequest) -> None:
        SEEN.append(("connect", req.client_id, req.user["username"] if req.user else None, req.event))
        if req.session_token == "banned":
            raise ParseError(ErrorCode.VALIDATION_ERROR, "not on this ward")

    @cloud.before_subscribe("Ward")
    def only_own_ward(req: SubscribeRequest) -> None:
        SEEN.append(("subscribe", req.request_id, req.user["username"] if req.user else None))
        if req.user is None:
            raise ParseError(ErrorCode.OPERATION_FORBIDDEN, "log in to follow a ward")
        req.query.equal_to("ward", "north")  # narrowed, whatever the client asked
        req.query.select("ward", "bed")

    @cloud.after_event("Ward")
    def rewrite(req: LiveEventRequest) -> object:
        SEEN.append(("event", req.event, req.original is not None, req.request_id))
        if req.object.get("quiet"):
            return False
        if req.object.get("boom"):
            raise ParseError(ErrorCode.SCRIPT_FAILED, "hook says no")
        replaced = CloudObject(req.class_name, req.object.object_id, {"bed": f"bed {req.object.get('bed')}"},
                               created_at=req.object.created_at, updated_at=req.object.updated_at)
        return replaced

    with TestClient(app, client=LOOPBACK) as c:
        yield c


def test_before_connect_refusal_reaches_the_client(client: TestClient) -> None:
    with client.websocket_connect("/parse") as ws:
        ws.send_json({"op": "connect", "applicationId": H["X-Parse-Application-Id"], "sessionToken": "banned"})
        msg = ws.receive_json()
        assert msg == {"op": "error", "code": 142, "error": "not on this ward", "reconnect": False, "requestId": None}
        # Not connected: a subscribe is refused as from an unknown client.
        subscribe_msg = subscribe(ws, 1, {"className": "Ward", "where": {}})
        assert subscribe_msg["code"] == 2
    _, token = signup(client, "nurse")
    with client.websocket_connect("/parse") as ws:
        cid = connect(ws, sessionToken=token)["clientId"]
    assert ("connect", cid, "nurse", "connect") in SEEN


def test_before_subscribe_refuses_and_rewrites(client: TestClient) -> None:
    with client.websocket_connect("/parse") as ws:
        connect(ws)
        refused = subscribe(ws, 1, {"className": "Ward", "where": {}})
        assert refused == {"op": "error", "code": 119, "error": "log in to follow a ward", "reconnect": False,
                           "requestId": 1}
    _, token = signup(client, "nurse")
    with client.websocket_connect("/parse") as ws:
        connect(ws, sessionToken=token)
        assert subscribe(ws, 7, {"className": "Ward", "where": {}})["op"] == "subscribed"
        client.post("/parse/classes/Ward", json={"ward": "south", "bed": 1}, headers=HM)  # filtered by the hook
        client.post("/parse/classes/Ward", json={"ward": "north", "bed": 2, "quiet": True}, headers=HM)  # dropped
        client.post("/parse/classes/Ward", json={"ward": "north", "bed": 3, "boom": True}, headers=HM)
        client.post("/parse/classes/Ward", json={"ward": "north", "bed": 4}, headers=HM)
        err = ws.receive_json()
        assert err == {"op": "error", "code": 141, "error": "hook says no", "reconnect": False, "requestId": 7}
        ev = ws.receive_json()
        assert ev["op"] == "create" and ev["requestId"] == 7
        assert ev["object"]["bed"] == "bed 4" and ev["object"]["className"] == "Ward"
        assert "ward" not in ev["object"] and "objectId" in ev["object"]
    assert ("subscribe", 7, "nurse") in SEEN
    assert ("event", "create", False, 7) in SEEN


def test_registration_rules() -> None:
    from engine.cloud import Cloud, TriggerType

    cloud = Cloud("t")
    cloud.before_connect(lambda req: None)
    assert cloud.has_trigger(TriggerType.BEFORE_CONNECT, "@Connect")
    with pytest.raises(ValueError, match="_Session"):
        cloud.before_subscribe("_Session")
    with pytest.raises(TypeError, match="class name"):
        cloud.register_trigger(TriggerType.BEFORE_SUBSCRIBE, "@Connect", lambda req: None)
    with pytest.raises(ValueError, match="before_connect"):
        cloud.register_trigger(TriggerType.BEFORE_CONNECT, "Night", lambda req: None)
