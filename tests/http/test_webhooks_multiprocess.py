"""Webhooks registered through one server process reach every other process on the same database before its next
request (`sleeplab serve --workers N`): two apps in one test process stand in for two workers. Their webhook TTL is
made an hour on stores with a change feed, so only the feed can explain what the second app sees."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mongomock_motor import AsyncMongoMockClient

from engine.http import edge
from engine.storage.base import HOOKS_TOPIC, change_count, has_change_feed
from engine.storage.mongo import MongoAdapter
from engine.storage.postgres import PostgresAdapter
from engine.storage.sqlite import SQLiteAdapter
from tests.conftest import Api, make_settings, start_app
from tests.http.webhook_receiver import Receiver

HOUR = 3600.0
HOOKS_CODE = str(Path(__file__).parent / "dashboard_hooks")
ALLOWED = {"webhook_allowed_hosts": ("127.0.0.1",), "webhook_key": "k"}


class Worker:
    """One app standing in for one worker process; ``finds`` lists the classes its store was asked to find in
    (through ``find``, or SQLite's ``find_encoded`` that the read path prefers)."""

    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app, self.api = app, Api(client)
        self.services = app.state.engine.services
        self.finds: list[str] = []
        for method in ("find", "find_encoded"):
            if hasattr(self.services.storage, method):
                self._spy(method)

    def _spy(self, method: str) -> None:
        storage = self.services.storage
        real = getattr(storage, method)

        async def spy(cls: Any, *args: Any, **kwargs: Any) -> Any:
            self.finds.append(cls.name)
            return await real(cls, *args, **kwargs)

        setattr(storage, method, spy)

    def hooks_count(self) -> int:
        return change_count(self.services.storage, HOOKS_TOPIC)

    async def heard(self, before: int) -> None:
        """Wait until this worker's change feed counted a `_Hooks` write made elsewhere: at once on SQLite (the
        counter is shared memory), within milliseconds on PostgreSQL (NOTIFY arrives on another connection)."""
        for _ in range(200):
            if self.hooks_count() != before:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the change feed never counted the _Hooks write")


class Cluster:
    def __init__(self, make: Any) -> None:
        self._make = make
        self.started: list[tuple[Any, httpx.AsyncClient]] = []

    async def worker(self, **overrides: Any) -> Worker:
        app, client = await start_app(make_settings(**{**ALLOWED, **overrides}), self._make())
        self.started.append((app, client))
        worker = Worker(app, client)
        if has_change_feed(worker.services.storage):
            worker.services.webhooks.ttl = HOUR
        return worker

    async def stop(self) -> None:
        for app, client in self.started:
            await client.aclose()
            await app.state.engine.stop()


@pytest.fixture(params=["sqlite", "postgres"])
async def cluster(request: pytest.FixtureRequest, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Cluster]:
    monkeypatch.setattr(edge, "SCHEMA_TTL_SECONDS", HOUR)  # the schema, too, is fresh only through the feed
    if request.param == "postgres":
        uri = request.getfixturevalue("pg_uri")
        made = Cluster(lambda: PostgresAdapter(uri))
    else:
        path = str(tmp_path / "shared.db")
        made = Cluster(lambda: SQLiteAdapter(path))
    yield made
    await made.stop()


@pytest.fixture
def receiver_paths(receiver: Receiver) -> Iterator[Receiver]:
    receiver.answer("/score", {"success": "v1"})
    receiver.answer("/score2", {"success": "v2"})
    receiver.answer("/bs", {"success": {"status": "reviewed"}})
    receiver.answer("/bs2", {"success": {"status": "second look"}})
    yield receiver


def _calls(receiver: Receiver, path: str) -> int:
    return len(receiver.bodies(path))


async def _status_saved_by(worker: Worker, status: str) -> str:
    r = await worker.api.post("/classes/LabNote", {"status": status}, master=True)
    assert r.status_code == 201, r.text
    return str((await worker.api.get(f"/classes/LabNote/{r.json()['objectId']}", master=True)).json()["status"])


async def test_registered_changed_and_deleted_webhooks_reach_the_other_worker(
        cluster: Cluster, receiver_paths: Receiver) -> None:
    rec = receiver_paths
    a, b = await cluster.worker(), await cluster.worker()
    # B has served a request (and so loaded its webhooks) before A registers anything.
    assert (await b.api.post("/functions/score", {}, master=True)).json()["code"] == 141

    before = b.hooks_count()
    r = await a.api.post("/hooks/functions", {"functionName": "score", "url": rec.url("/score")}, master=True)
    assert r.status_code == 200, r.text
    r = await a.api.post("/hooks/triggers", {"className": "LabNote", "triggerName": "beforeSave",
                                             "url": rec.url("/bs")}, master=True)
    assert r.status_code == 200, r.text
    await b.heard(before)
    assert (await b.api.post("/functions/score", {}, master=True)).json() == {"result": "v1"}
    assert await _status_saved_by(b, "draft") == "reviewed"
    assert (_calls(rec, "/score"), _calls(rec, "/bs")) == (1, 1)

    before = b.hooks_count()
    assert (await a.api.put("/hooks/functions/score", {"url": rec.url("/score2")}, master=True)).status_code == 200
    assert (await a.api.put("/hooks/triggers/LabNote/beforeSave", {"url": rec.url("/bs2")},
                            master=True)).status_code == 200
    await b.heard(before)
    assert (await b.api.post("/functions/score", {}, master=True)).json() == {"result": "v2"}
    assert await _status_saved_by(b, "draft") == "second look"
    assert (_calls(rec, "/score"), _calls(rec, "/bs"), _calls(rec, "/score2"), _calls(rec, "/bs2")) == (1, 1, 1, 1)

    before = b.hooks_count()
    assert (await a.api.put("/hooks/functions/score", {"__op": "Delete"}, master=True)).status_code == 200
    assert (await a.api.delete("/hooks/triggers/LabNote/beforeSave", master=True)).status_code == 200
    await b.heard(before)
    r = await b.api.post("/functions/score", {}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 141
    assert await _status_saved_by(b, "draft") == "draft"
    assert len(rec.calls) == 4  # nothing called after the delete


async def test_graphql_sees_a_webhook_function_registered_elsewhere(cluster: Cluster, receiver_paths: Receiver) -> None:
    a, b = await cluster.worker(), await cluster.worker(mount_graphql=True)
    before = b.hooks_count()
    url = receiver_paths.url("/score")
    assert (await a.api.post("/hooks/functions", {"functionName": "score", "url": url}, master=True)).status_code == 200
    await b.heard(before)
    r = await b.api.client.post("/graphql", json={"query": "mutation { callCloudCode(input: {functionName: score})"
                                                           " { result } }"}, headers=b.api.headers(master=True))
    assert r.json() == {"data": {"callCloudCode": {"result": "v1"}}}, r.text


async def test_requests_without_a_hooks_change_never_query_hooks(cluster: Cluster, receiver_paths: Receiver) -> None:
    a, b = await cluster.worker(), await cluster.worker()
    before = b.hooks_count()
    url = receiver_paths.url("/score")
    assert (await a.api.post("/hooks/functions", {"functionName": "score", "url": url}, master=True)).status_code == 200
    await b.heard(before)
    assert (await b.api.post("/functions/score", {}, master=True)).json() == {"result": "v1"}
    b.finds.clear()
    for _ in range(5):
        assert (await b.api.post("/functions/score", {}, master=True)).status_code == 200
        assert await _status_saved_by(b, "draft") == "draft"
    assert "_Hooks" not in b.finds and "LabNote" in b.finds  # the spy sees this worker's queries

    # A change: many requests arriving together share one re-sync.
    before = b.hooks_count()
    await a.api.put("/hooks/functions/score", {"url": receiver_paths.url("/score2")}, master=True)
    await b.heard(before)
    answers = await asyncio.gather(*(b.api.post("/functions/score", {}, master=True) for _ in range(20)))
    assert {r.json()["result"] for r in answers} == {"v2"}
    assert b.finds.count("_Hooks") == 1


async def test_python_code_and_the_host_list_still_win_on_a_resync(
        cluster: Cluster, receiver_paths: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    a = await cluster.worker()
    b = await cluster.worker(cloud=HOOKS_CODE)  # deployed code owns `codeOwned`
    c = await cluster.worker(webhook_allowed_hosts=())  # a worker that allows no webhook host
    before = b.hooks_count(), c.hooks_count()
    url = receiver_paths.url("/score")
    for name in ("codeOwned", "score"):
        r = await a.api.post("/hooks/functions", {"functionName": name, "url": url}, master=True)
        assert r.status_code == 200, r.text
    await b.heard(before[0])
    await c.heard(before[1])
    with caplog.at_level(logging.WARNING, logger="engine.cloud.webhooks"):
        assert (await b.api.post("/functions/codeOwned", {}, master=True)).json() == {"result": "from python"}
        assert (await b.api.post("/functions/score", {}, master=True)).json() == {"result": "v1"}
        r = await c.api.post("/functions/score", {}, master=True)
        assert r.status_code == 400 and r.json()["code"] == 141
        for _ in range(3):  # later requests neither re-read nor log again
            await c.api.post("/functions/score", {}, master=True)
    assert len(receiver_paths.calls) == 1
    refused = [m.getMessage() for m in caplog.records if "not registered" in m.getMessage()]
    assert len([m for m in refused if "codeOwned" in m and "defined in cloud code" in m]) == 1
    assert len([m for m in refused if "'score'" in m and "not allowed" in m]) == 1
    assert c.finds.count("_Hooks") == 1


async def test_a_store_without_a_change_feed_resyncs_after_the_ttl(receiver_paths: Receiver) -> None:
    shared: Any = AsyncMongoMockClient()  # two adapters on one (in-memory) MongoDB database
    cluster = Cluster(lambda: MongoAdapter("mongodb://127.0.0.1/test", client=shared))
    try:
        a, b = await cluster.worker(), await cluster.worker()
        assert not has_change_feed(b.services.storage)
        url = receiver_paths.url("/score")
        assert (await a.api.post("/hooks/functions", {"functionName": "score", "url": url},
                                 master=True)).status_code == 200
        b.finds.clear()
        r = await b.api.post("/functions/score", {}, master=True)  # within the TTL: B has not looked yet
        assert r.json()["code"] == 141 and "_Hooks" not in b.finds
        # As if the 5 s had passed, for the schema cache too (B has not seen `_Hooks` created either).
        b.services.webhooks._loaded_at -= b.services.webhooks.ttl
        b.services.schemas._loaded_at -= b.services.webhooks.ttl
        assert (await b.api.post("/functions/score", {}, master=True)).json() == {"result": "v1"}
        assert b.finds.count("_Hooks") == 1
    finally:
        await cluster.stop()
