"""LiveQuery end to end in-process: websocket + REST writes through one Starlette TestClient (lifespan runs)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

with warnings.catch_warnings():  # Starlette nags about httpx vs httpx2; the suite uses httpx on purpose
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.app import create_app
from tests.conftest import APP_ID, MASTER, make_settings

H = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
HM = {**H, "X-Parse-Master-Key": MASTER}
LOOPBACK = ("127.0.0.1", 50000)


@pytest.fixture
def client() -> Iterator[TestClient]:
    # The master key is honoured from loopback only; TestClient's default peer is "testclient".
    with TestClient(create_app(make_settings(database_uri="memory://")), client=LOOPBACK) as c:
        yield c


def connect(ws: Any, **extra: Any) -> dict[str, Any]:
    ws.send_json({"op": "connect", "applicationId": APP_ID, **extra})
    msg = ws.receive_json()
    assert msg["op"] == "connected", msg
    return msg


def subscribe(ws: Any, rid: int, query: dict[str, Any], **extra: Any) -> dict[str, Any]:
    ws.send_json({"op": "subscribe", "requestId": rid, "query": query, **extra})
    return ws.receive_json()


def signup(c: TestClient, name: str) -> tuple[str, str]:
    r = c.post("/parse/users", json={"username": name, "password": "pw-123456"}, headers=H)
    assert r.status_code == 201, r.text
    return r.json()["objectId"], r.json()["sessionToken"]


def test_create_update_delete_events(client: TestClient) -> None:
    with client.websocket_connect("/parse") as ws:
        connect(ws, installationId="inst-1")
        sub = subscribe(ws, 1, {"className": "Msg", "where": {"room": "a"}})
        assert sub["op"] == "subscribed" and sub["requestId"] == 1
        r = client.post("/parse/classes/Msg", json={"room": "a", "text": "hi"}, headers=HM)
        oid = r.json()["objectId"]
        ev = ws.receive_json()
        assert ev["op"] == "create" and ev["requestId"] == 1 and ev["installationId"] == "inst-1"
        obj = ev["object"]
        assert obj["className"] == "Msg" and obj["objectId"] == oid and obj["text"] == "hi"
        assert isinstance(obj["createdAt"], str) and "original" not in ev
        client.put(f"/parse/classes/Msg/{oid}", json={"text": "edited"}, headers=HM)
        ev = ws.receive_json()
        assert ev["op"] == "update" and ev["object"]["text"] == "edited" and ev["original"]["text"] == "hi"
        client.put(f"/parse/classes/Msg/{oid}", json={"room": "b"}, headers=HM)
        assert ws.receive_json()["op"] == "leave"
        client.put(f"/parse/classes/Msg/{oid}", json={"room": "a"}, headers=HM)
        assert ws.receive_json()["op"] == "enter"
        client.delete(f"/parse/classes/Msg/{oid}", headers=HM)
        ev = ws.receive_json()
        assert ev["op"] == "delete" and ev["object"]["objectId"] == oid
        ws.send_json({"op": "unsubscribe", "requestId": 1})
        assert ws.receive_json() == {"op": "unsubscribed", "clientId": ev["clientId"], "requestId": 1}


def test_acl_protected_object_only_reaches_its_reader(client: TestClient) -> None:
    alice, alice_token = signup(client, "alice")
    _, bob_token = signup(client, "bob")
    with client.websocket_connect("/parse") as a, client.websocket_connect("/parse") as b:
        connect(a, sessionToken=alice_token)
        connect(b, sessionToken=bob_token)
        assert subscribe(a, 1, {"className": "Note"})["op"] == "subscribed"
        assert subscribe(b, 1, {"className": "Note"})["op"] == "subscribed"
        acl = {alice: {"read": True, "write": True}}
        client.post("/parse/classes/Note", json={"t": "secret", "ACL": acl}, headers=HM)
        client.post("/parse/classes/Note", json={"t": "public"}, headers=HM)
        assert a.receive_json()["object"]["t"] == "secret"
        assert a.receive_json()["object"]["t"] == "public"
        # bob's first event is the public one: the secret one was never sent to him
        assert b.receive_json()["object"]["t"] == "public"


def test_logout_stops_delivery(client: TestClient) -> None:
    alice, token = signup(client, "carol")
    acl = {alice: {"read": True}}
    with client.websocket_connect("/parse") as ws:
        connect(ws)
        assert subscribe(ws, 7, {"className": "Note"}, sessionToken=token)["op"] == "subscribed"
        client.post("/parse/classes/Note", json={"n": 1, "ACL": acl}, headers=HM)
        assert ws.receive_json()["object"]["n"] == 1
        assert client.post("/parse/logout", headers={**H, "X-Parse-Session-Token": token}).status_code == 200
        client.post("/parse/classes/Note", json={"n": 2, "ACL": acl}, headers=HM)
        client.post("/parse/classes/Note", json={"n": 3}, headers=HM)  # public, but the session is gone
        ws.send_json({"op": "unsubscribe", "requestId": 7})
        assert ws.receive_json()["op"] == "unsubscribed"  # nothing was queued before it


def test_invalid_session_token_at_subscribe(client: TestClient) -> None:
    with client.websocket_connect("/parse") as ws:
        connect(ws, sessionToken="r:nope")
        err = subscribe(ws, 3, {"className": "Note"})
        assert err == {"op": "error", "code": 209, "error": "Invalid session token", "reconnect": False,
                       "requestId": 3}


def test_bad_messages(client: TestClient) -> None:
    with client.websocket_connect("/parse") as ws:
        ws.send_json({"op": "subscribe", "requestId": 1, "query": {"className": "X"}})
        assert ws.receive_json()["code"] == 2  # not connected yet
        ws.send_text("{not json")  # ignored
        ws.send_json({"op": "connect", "applicationId": "other-app"})
        assert ws.receive_json()["code"] == 4
        ws.send_json({"op": "connect", "applicationId": APP_ID, "masterKey": "wrong"})
        assert ws.receive_json()["code"] == 4
        connect(ws)
        ws.send_json({"op": "dance"})
        assert ws.receive_json()["code"] == 3
        ws.send_json({"op": "subscribe", "requestId": "1", "query": {"className": "X"}})
        err = ws.receive_json()
        assert err["code"] == 1 and err["reconnect"] is True
        ws.send_json({"op": "subscribe", "requestId": 2, "query": {"className": "X", "where": {"a": {"$nope": 1}}}})
        assert ws.receive_json()["code"] == 102
        ws.send_json({"op": "unsubscribe", "requestId": 99})
        assert ws.receive_json()["code"] == 2
        ws.send_text("x" * 70_000)
        assert ws.receive_json()["code"] == 1


def test_master_connection_sees_acl_protected_objects() -> None:
    settings = make_settings(database_uri="memory://", live_query_master_key=True)
    with TestClient(create_app(settings), client=LOOPBACK) as client, client.websocket_connect("/parse") as ws:
        connect(ws, masterKey=MASTER)
        subscribe(ws, 1, {"className": "Note", "where": {"n": {"$gt": 1}}, "keys": ["n"]})
        client.post("/parse/classes/Note", json={"n": 1, "t": "x", "ACL": {}}, headers=HM)
        client.post("/parse/classes/Note", json={"n": 2, "t": "x", "ACL": {}}, headers=HM)
        obj = ws.receive_json()["object"]
        assert obj["n"] == 2 and "t" not in obj and obj["ACL"] == {}


def test_master_key_is_not_honoured_unless_configured(client: TestClient) -> None:
    """As Parse's liveQuery keyPairs: by default a masterKey on `connect` makes an ordinary client."""
    with client.websocket_connect("/parse") as ws:
        connect(ws, masterKey=MASTER)
        subscribe(ws, 1, {"className": "Note", "where": {}})
        client.post("/parse/classes/Note", json={"n": 1, "ACL": {}}, headers=HM)
        client.post("/parse/classes/Note", json={"n": 2}, headers=HM)
        assert ws.receive_json()["object"]["n"] == 2


def test_update_replaces_the_query_and_fields_is_keys(client: TestClient) -> None:
    with client.websocket_connect("/parse") as ws:
        connect(ws)
        subscribe(ws, 1, {"className": "Room", "where": {"name": "a"}})
        ws.send_json({"op": "update", "requestId": 1,
                      "query": {"className": "Room", "where": {"name": "b"}, "fields": ["name"]}})
        assert ws.receive_json()["op"] == "subscribed"
        client.post("/parse/classes/Room", json={"name": "a", "x": 1}, headers=HM)
        client.post("/parse/classes/Room", json={"name": "b", "x": 2}, headers=HM)
        ev = ws.receive_json()
        assert ev["requestId"] == 1 and ev["object"]["name"] == "b" and "x" not in ev["object"]


def test_file_values_in_events_carry_a_signed_url_the_subscriber_can_fetch(client: TestClient) -> None:
    uid, token = signup(client, "fay")
    up = client.post("/parse/files/night.pdf", content=b"%PDF-1.4 night",
                     headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Session-Token": token,
                              "Content-Type": "application/pdf"})
    assert up.status_code == 201, up.text
    name = up.json()["name"]
    assert client.post("/parse/schemas/Report", json={"className": "Report", "fields": {"doc": {"type": "File"}}},
                       headers=HM).status_code == 200
    with client.websocket_connect("/parse") as ws:
        connect(ws, sessionToken=token)
        assert subscribe(ws, 1, {"className": "Report", "where": {}})["op"] == "subscribed"
        r = client.post("/parse/classes/Report", json={"doc": {"__type": "File", "name": name},
                                                       "ACL": {uid: {"read": True, "write": True}}},
                        headers={**H, "X-Parse-Session-Token": token})
        assert r.status_code == 201, r.text
        ev = ws.receive_json()
        doc = ev["object"]["doc"]
        assert doc["name"] == name and "sig=" in doc["url"], ev
        path = doc["url"].split("://", 1)[1].split("/", 1)[1]
        assert client.get("/" + path).content == b"%PDF-1.4 night"
