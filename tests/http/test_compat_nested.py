"""Parse compatibility: operations on dotted keys answer the new value on its path (issue 14, item 5)."""

from __future__ import annotations

import os
from typing import Any


async def test_increment_and_add_on_dotted_keys_echo_the_new_values(app_factory: Any) -> None:
    _, api = await app_factory(allow_client_class_creation=True)
    made = await api.post("/classes/Thing", {"objectField": {"number": 5, "tags": ["a"], "other": "kept"},
                                             "top": 1})
    oid = made.json()["objectId"]
    r = await api.put(f"/classes/Thing/{oid}", {"objectField.number": {"__op": "Increment", "amount": 2},
                                                 "objectField.tags": {"__op": "Add", "objects": ["b"]},
                                                 "top": {"__op": "Increment", "amount": 1}})
    assert r.status_code == 200, r.text
    body = r.json()
    # As Parse's sanitizeDatabaseResult: only the changed paths, nested, merged under their top-level key.
    assert body["objectField"] == {"number": 7, "tags": ["a", "b"]} and body["top"] == 2
    got = (await api.get(f"/classes/Thing/{oid}")).json()
    assert got["objectField"] == {"number": 7, "tags": ["a", "b"], "other": "kept"}
    r = await api.put(f"/classes/Thing/{oid}", {"objectField.deep.count": {"__op": "Increment", "amount": 3}})
    assert r.json()["objectField"] == {"deep": {"count": 3}}


async def test_ops_into_arrays_by_index(app_factory: Any) -> None:
    # parse-server: `obj.increment('items.0.count', 15)` on an Array field (Parse's enforceFieldExists reads
    # `<array>.<index>` as a path into the array); the answer carries the whole array, the SDK keeps every element.
    _, api = await app_factory(allow_client_class_creation=True)
    made = await api.post("/classes/Cart", {"items": [{"value": "a", "count": 5}, {"value": "b", "count": 1}]})
    oid = made.json()["objectId"]
    r = await api.put(f"/classes/Cart/{oid}", {"items.0.count": {"__op": "Increment", "amount": 15},
                                                "items.1.count": {"__op": "Increment", "amount": 4}})
    assert r.status_code == 200, r.text
    assert r.json()["items"] == [{"value": "a", "count": 20}, {"value": "b", "count": 5}]
    got = (await api.get(f"/classes/Cart/{oid}")).json()
    assert got["items"] == [{"value": "a", "count": 20}, {"value": "b", "count": 5}]
    # A named key into an array, or an index far past its end, is refused whole: nothing is written.
    r = await api.put(f"/classes/Cart/{oid}", {"items.first.count": {"__op": "Increment", "amount": 1}})
    assert r.status_code == 400 and r.json()["code"] == 105
    if os.environ.get("TEST_STORE") == "mongo":
        return  # MongoDB applies positional paths itself (it pads past the end, within its own bound)
    r = await api.put(f"/classes/Cart/{oid}", {"items.0.count": {"__op": "Increment", "amount": 1},
                                                "items.99.count": {"__op": "Increment", "amount": 1}})
    assert r.status_code == 400 and r.json()["code"] == 111
    assert (await api.get(f"/classes/Cart/{oid}")).json()["items"][0]["count"] == 20
