"""CloudObject: a mapping of Python values with dirty-key tracking, metadata kept out of the fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.cloud import CloudObject
from engine.cloud.objects import encode_result, encode_value
from engine.wire import ACL, GeoPoint, Pointer

WHEN = datetime(2024, 5, 1, 22, 30, tzinfo=UTC)


def test_mapping_and_dirty_keys() -> None:
    obj = CloudObject("Night", "n1", {"minutes": 400, "note": "ok"})
    assert obj["minutes"] == 400 and obj.get("missing") is None and len(obj) == 2
    assert obj.dirty_keys() == frozenset()
    obj["minutes"] = 410
    obj.set("quality", 3)
    obj.unset("note")
    obj.unset("never_there")
    assert obj.dirty_keys() == {"minutes", "quality", "note", "never_there"}
    assert dict(obj) == {"minutes": 410, "quality": 3}
    del obj["quality"]
    assert "quality" not in obj
    with pytest.raises(KeyError):
        del obj["quality"]
    obj.revert("minutes")
    assert obj["minutes"] == 400 and "minutes" not in obj.dirty_keys()
    obj.revert()
    assert dict(obj) == {"minutes": 400, "note": "ok"} and not obj.is_dirty()


def test_metadata_is_not_a_field() -> None:
    obj = CloudObject("Night", "n1", {}, created_at=WHEN, acl=ACL(frozenset({"*"})))
    for key in ("objectId", "createdAt", "updatedAt", "ACL"):
        with pytest.raises(ValueError):
            obj[key] = "x"
        assert key not in obj
    with pytest.raises(ValueError):
        CloudObject("Night", None, {"objectId": "forged"})
    assert not hasattr(obj, "minutes")  # no attribute access to fields
    obj.acl = ACL(frozenset({"u1"}), frozenset({"u1"}))
    assert obj.dirty_keys() == {"ACL"}
    obj.revert()
    assert obj.acl == ACL(frozenset({"*"}))


def test_json_round_trip_and_pointer() -> None:
    obj = CloudObject(
        "Night", "n1", {"at": WHEN, "who": Pointer("_User", "u1"), "where": GeoPoint(1.0, 2.0)},
        created_at=WHEN, updated_at=WHEN, acl=ACL(frozenset({"u1"}), frozenset({"u1"})),
    )
    data = obj.to_json()
    assert data["objectId"] == "n1" and data["createdAt"] == "2024-05-01T22:30:00.000Z"
    assert data["at"] == {"__type": "Date", "iso": "2024-05-01T22:30:00.000Z"}
    assert data["ACL"] == {"u1": {"read": True, "write": True}}
    back = CloudObject.from_json("Night", data)
    assert back == obj and back.created_at == WHEN and back.acl == obj.acl
    assert obj.to_pointer() == Pointer("Night", "n1")
    with pytest.raises(ValueError):
        CloudObject("Night").to_pointer()
    assert obj.copy() == obj and obj.copy() is not obj


def test_encoding_in_fields_and_in_function_results() -> None:
    user = CloudObject("_User", "u1", {"name": "ada"})
    assert encode_value({"p": user, "l": [user]}) == {
        "p": {"__type": "Pointer", "className": "_User", "objectId": "u1"},
        "l": [{"__type": "Pointer", "className": "_User", "objectId": "u1"}],
    }
    assert encode_result({"u": user, "n": 1}) == {
        "u": {"__type": "Object", "className": "_User", "objectId": "u1", "name": "ada"},
        "n": 1,
    }
