"""Orphans: deleting an object keeps its files (as Parse); `sleeplab files orphans [--delete]` finds and removes
files no object references."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from engine.cli import files_orphans
from engine.files.orphans import find_orphans
from tests.files.test_files_http import PDF, note_class, path_of, upload


async def test_orphans_are_listed_and_removed(app_factory: Any, capsys: pytest.CaptureFixture[str]) -> None:
    app, api = await app_factory()
    await note_class(api)
    _, token = await api.signup("ron")
    kept, in_array, dropped, never = [(await upload(api, f"{n}.pdf", PDF, token)).json() for n in "abcd"]
    r = await api.post("/classes/Note", {"doc": {"__type": "File", "name": kept["name"]},
                                          "docs": [{"__type": "File", "name": in_array["name"]}]}, master=True)
    assert r.status_code == 201
    gone = await api.post("/classes/Note", {"doc": {"__type": "File", "name": dropped["name"]}}, master=True)
    assert (await api.delete(f"/classes/Note/{gone.json()['objectId']}", master=True)).status_code == 200
    # As in Parse, the deleted object's file is still there.
    assert (await api.client.get(path_of(dropped["url"]))).status_code == 200

    engine = app.state.engine
    young = await find_orphans(engine.storage, engine.files.adapter, min_age=timedelta(hours=1))
    assert young.orphans == ()  # fresh uploads may still be attached by their client

    # The command runs its own event loop, as from a shell.
    assert await asyncio.to_thread(files_orphans, engine.settings, delete=False, older_than=0) == 0
    listed = capsys.readouterr().out.splitlines()
    assert sorted(line.split("\t")[0] for line in listed) == sorted([dropped["name"], never["name"]])

    report = await find_orphans(engine.storage, engine.files.adapter, min_age=timedelta(0), delete=True)
    assert report.deleted == 2
    assert (await api.client.get(path_of(dropped["url"]))).status_code == 404
    assert (await api.client.get(path_of(kept["url"]))).status_code == 200
    assert (await api.client.get(path_of(in_array["url"]))).status_code == 200
