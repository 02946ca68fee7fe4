"""The LiveQuery protocol with odd frames: every frame is answered in protocol shape or ignored, never a crash.

After each generated frame a sentinel `unsubscribe` (always answered) is sent, so the test knows which answers
belong to that frame without timeouts; a dead connection surfaces as an exception from the TestClient.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, strategies as st

with warnings.catch_warnings():  # Starlette nags about httpx vs httpx2; the suite uses httpx on purpose
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.app import create_app
from tests.conftest import APP_ID, MASTER, make_settings
from tests.fuzz.checks import leaks
from tests.fuzz.strategies import SCHEMA_CLASSES, json_values, scalars, texts, wheres

SENTINEL = 987_654_321
SERVER_OPS = {"connected", "subscribed", "unsubscribed", "error", "create", "update", "enter", "leave", "delete"}
HM = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER, "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(make_settings()), client=("127.0.0.1", 50000)) as c:
        yield c


request_ids = st.integers(min_value=-(2**63), max_value=2**64) | scalars
queries = st.fixed_dictionaries({}, optional={
    "className": st.sampled_from(SCHEMA_CLASSES + ("_User", "_Session", "Nope", "")) | scalars,
    "where": wheres | scalars, "keys": st.lists(texts, max_size=3) | scalars,
    "watch": st.lists(texts, max_size=3) | scalars}) | scalars
connects = st.fixed_dictionaries({"op": st.just("connect")}, optional={
    "applicationId": st.just(APP_ID) | scalars, "masterKey": st.just(MASTER) | scalars,
    "sessionToken": scalars, "installationId": scalars, "javascriptKey": scalars, "clientKey": scalars,
    "extra": scalars})
subscribes = st.fixed_dictionaries({"op": st.sampled_from(("subscribe", "update"))}, optional={
    "requestId": request_ids, "query": queries, "sessionToken": scalars, "extra": scalars})
unsubscribes = st.fixed_dictionaries({"op": st.just("unsubscribe")}, optional={"requestId": request_ids})
odd = st.dictionaries(texts, json_values, max_size=3) | json_values
frames = (connects | subscribes | unsubscribes | odd).map(lambda m: json.dumps(m, allow_nan=True)) | st.sampled_from(
    ("", "{", "x" * 70_000, "[" * 3000, '{"op":' * 500, "\ud800", "null", '{"op":"connect"}' * 2))


def _exchange(ws: Any, frame: str | bytes) -> list[dict[str, Any]]:
    if isinstance(frame, bytes):
        ws.send_bytes(frame)
    else:
        ws.send_text(frame)
    ws.send_text(json.dumps({"op": "unsubscribe", "requestId": SENTINEL}))
    answers: list[dict[str, Any]] = []
    while True:
        msg = ws.receive_json()
        answers.append(msg)
        if msg.get("requestId") == SENTINEL and msg.get("op") in ("error", "unsubscribed"):
            return answers


@given(script=st.lists(frames | st.binary(max_size=30), min_size=1, max_size=6), connect_first=st.booleans())
def test_frames_are_answered_in_protocol_shape(client: TestClient, script: list[Any], connect_first: bool) -> None:
    with client.websocket_connect("/parse") as ws:
        if connect_first:
            ws.send_json({"op": "connect", "applicationId": APP_ID})
            assert ws.receive_json()["op"] == "connected"
        for frame in script:
            for msg in _exchange(ws, frame):
                sent = frame if isinstance(frame, str) else frame.decode("latin-1")
                assert isinstance(msg, dict) and msg.get("op") in SERVER_OPS, (frame[:300], msg)
                assert not leaks(json.dumps(msg), sent), (frame[:300], msg)
                if msg["op"] == "error":
                    assert isinstance(msg.get("code"), int) and isinstance(msg.get("error"), str), msg


def test_server_still_delivers_events_after_fuzzing(client: TestClient) -> None:
    with client.websocket_connect("/parse") as ws:
        ws.send_json({"op": "connect", "applicationId": APP_ID, "masterKey": MASTER})
        assert ws.receive_json()["op"] == "connected"
        ws.send_json({"op": "subscribe", "requestId": 1, "query": {"className": "FuzzLive", "where": {"n": 1}}})
        assert ws.receive_json()["op"] == "subscribed"
        r = client.post("/parse/classes/FuzzLive", json={"n": 1}, headers=HM)
        assert r.status_code == 201, r.text
        ev = ws.receive_json()
        assert ev["op"] == "create" and ev["object"]["n"] == 1
