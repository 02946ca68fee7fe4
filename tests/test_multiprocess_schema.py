"""Two server processes on one database: a class or field added by one is seen, and kept, by the other."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine.pipeline import schema_store
from tests.conftest import APP_ID, MASTER, make_settings, start_app

H = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER}


async def test_schema_changes_cross_processes(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(schema_store, "REFRESH_SECONDS", 0.0)
    uri = f"sqlite:///{tmp_path}/shared.db"
    app_a, a = await start_app(make_settings(database_uri=uri))
    app_b, b = await start_app(make_settings(database_uri=uri))
    async with a, b:
        assert (await a.post("/parse/classes/Shared", json={"x": 1}, headers=H)).status_code == 201
        await asyncio.sleep(0)
        r = await b.get("/parse/classes/Shared", headers={"X-Parse-Application-Id": APP_ID})
        assert r.status_code == 200 and [o["x"] for o in r.json()["results"]] == [1]
        # B adds a field to its (older) copy of the class: A's field must survive the merge.
        assert (await b.post("/parse/classes/Shared", json={"y": "b"}, headers=H)).status_code == 201
        await app_a.state.engine.schemas.load()  # what is stored, not A's cached copy
        fields = (await a.get("/parse/schemas/Shared", headers=H)).json()["fields"]
        assert fields["x"] == {"type": "Number"} and fields["y"] == {"type": "String"}
    await app_a.state.engine.stop()
    await app_b.state.engine.stop()


async def test_clp_change_reaches_the_other_process(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(schema_store, "REFRESH_SECONDS", 0.0)
    uri = f"sqlite:///{tmp_path}/shared.db"
    app_a, a = await start_app(make_settings(database_uri=uri))
    app_b, b = await start_app(make_settings(database_uri=uri))
    client = {"X-Parse-Application-Id": APP_ID}
    async with a, b:
        await a.post("/parse/classes/Locked", json={"x": 1}, headers=H)
        assert (await b.get("/parse/classes/Locked", headers=client)).status_code == 200
        r = await a.put("/parse/schemas/Locked", json={"classLevelPermissions": {"find": {}, "get": {}}}, headers=H)
        assert r.status_code == 200
        app_b.state.engine.schemas._loaded_at = 0.0  # as if the 5 s schema TTL had passed
        r = await b.get("/parse/classes/Locked", headers=client)
        assert r.status_code == 400 and r.json()["code"] == 119
    await app_a.state.engine.stop()
    await app_b.state.engine.stop()
