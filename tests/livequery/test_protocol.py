"""Client frames → typed messages (or the right error code); server messages and event objects."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from engine.schema.model import FieldDef, FieldType, new_class
from engine.storage.base import StoredObject, freeze
from engine.wire import ACL
from livequery import protocol
from livequery.protocol import Connect, ProtocolError, Subscribe, Unsubscribe, parse_message


def _code(frame: object) -> int:
    with pytest.raises(ProtocolError) as exc:
        parse_message(json.dumps(frame))
    return exc.value.code


def test_connect_subscribe_unsubscribe_parse() -> None:
    c = parse_message(json.dumps({"op": "connect", "applicationId": "a", "javascriptKey": "js", "sessionToken": "r:1",
                                  "installationId": "i"}))
    assert c == Connect("a", None, ("js",), "r:1", "i")
    s = parse_message(json.dumps({"op": "update", "requestId": 2, "sessionToken": "t",
                                  "query": {"className": "M", "where": {"x": 1}, "keys": ["x"], "watch": ["y"]}}))
    assert isinstance(s, Subscribe) and s.is_update and s.query.keys == ("x",) and s.query.watch == ("y",)
    assert parse_message('{"op":"unsubscribe","requestId":5}') == Unsubscribe(5)


def test_malformed_json_is_ignored() -> None:
    assert parse_message("{nope") is None


@pytest.mark.parametrize("frame", [
    [1], {"requestId": 1}, {"op": "connect"}, {"op": "connect", "applicationId": "a", "extra": 1},
    {"op": "subscribe", "requestId": "1", "query": {"className": "M"}},
    {"op": "subscribe", "requestId": True, "query": {"className": "M"}},
    {"op": "subscribe", "requestId": 1, "query": {"className": ""}},
    {"op": "subscribe", "requestId": 1, "query": {"className": "M", "where": []}},
    {"op": "subscribe", "requestId": 1, "query": {"className": "M", "keys": []}},
    {"op": "subscribe", "requestId": 1, "query": {"className": "M", "watch": ["a", "a"]}},
    {"op": "subscribe", "requestId": 1, "query": {"className": "M", "other": 1}},
])
def test_schema_violations_are_code_1(frame: object) -> None:
    assert _code(frame) == protocol.BAD_MESSAGE


def test_unknown_op_is_code_3() -> None:
    assert _code({"op": "query", "requestId": 1}) == protocol.UNKNOWN_OP


def test_frame_size_and_depth_caps() -> None:
    with pytest.raises(ProtocolError):
        parse_message("x" * (protocol.MAX_FRAME + 1))
    deep: object = 1
    for _ in range(100):
        deep = {"a": deep}
    assert _code({"op": "subscribe", "requestId": 1, "query": {"className": "M", "where": deep}}) == 1


def test_server_messages() -> None:
    assert protocol.error(2, "x", reconnect=True) == {"op": "error", "code": 2, "error": "x", "reconnect": True,
                                                      "requestId": None}
    ev = protocol.event("create", "c", 1, {"objectId": "o"}, installation_id="i")
    assert ev == {"op": "create", "clientId": "c", "requestId": 1, "object": {"objectId": "o"}, "installationId": "i"}
    assert "installationId" not in protocol.event("create", "c", 1, {})


def test_object_json_dates_relations_and_keys() -> None:
    cls = new_class("M", {"rel": FieldDef(FieldType.RELATION, "Other"), "when": FieldDef(FieldType.DATE)})
    t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    obj = StoredObject("M", "o1", t, t, ACL(frozenset({"*"})), freeze({"when": t, "x": 1, "y": 2}))
    row = protocol.object_json(cls, obj)
    assert row["createdAt"] == "2026-01-02T03:04:05.000Z"
    assert row["when"] == {"__type": "Date", "iso": "2026-01-02T03:04:05.000Z"}
    assert row["rel"] == {"__type": "Relation", "className": "Other"} and row["className"] == "M"
    assert set(protocol.only_keys(row, ("x",))) == {"className", "objectId", "createdAt", "updatedAt", "ACL", "x"}
