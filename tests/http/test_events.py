"""Committed writes are published on the app's event bus (what LiveQuery listens to)."""

from __future__ import annotations

from typing import Any

from engine.events import Event, ObjectDeleted, ObjectSaved
from tests.conftest import Api


async def test_writes_publish_after_commit(api: Api) -> None:
    bus = api.client._transport.app.state.engine.services.events  # type: ignore[attr-defined]
    seen: list[Event] = []

    async def listener(event: Event) -> None:
        seen.append(event)

    async def broken(event: Any) -> None:
        raise RuntimeError("a listener failure must not fail the write")

    bus.subscribe(broken)
    bus.subscribe(listener)
    oid = (await api.post("/classes/Note", {"n": 1}, master=True)).json()["objectId"]
    assert (await api.put(f"/classes/Note/{oid}", {"n": 2}, master=True)).status_code == 200
    assert (await api.delete(f"/classes/Note/{oid}", master=True)).status_code == 200
    r = await api.post("/batch", {"requests": [{"method": "POST", "path": "/parse/classes/Note", "body": {"n": 3}}]},
                       master=True)
    assert "success" in r.json()[0]
    kinds = [(type(e).__name__, e.obj.fields.get("n")) for e in seen]
    assert kinds == [("ObjectSaved", 1), ("ObjectSaved", 2), ("ObjectDeleted", 2), ("ObjectSaved", 3)]
    update = seen[1]
    assert isinstance(update, ObjectSaved) and update.original is not None and update.original.fields["n"] == 1
    assert isinstance(seen[2], ObjectDeleted)
    bus.unsubscribe(listener)
    await api.post("/classes/Note", {"n": 4}, master=True)
    assert len(seen) == 4
