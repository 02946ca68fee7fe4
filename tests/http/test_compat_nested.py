"""Parse compatibility: operations on dotted keys answer the new value on its path (issue 14, item 5)."""

from __future__ import annotations

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
