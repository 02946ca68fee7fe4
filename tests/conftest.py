"""Each test gets its own app on a fresh in-memory store, driven in-process through httpx's ASGI transport."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.app import create_app
from engine.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
APP_ID = "testapp"
MASTER = "test-master-key"


def fresh_database() -> str:
    """A new embedded SQLite database: tests run on the real default store (mongomock only for MongoDB)."""
    return f"sqlite:///{tempfile.mkdtemp(prefix='sleeplab-test-')}/test.db"


# Engine tests run on the template's own schema (no CLPs): the shipped schema/sleeplab.json locks every clinical
# class to signed-in roles, which the sleep-lab app's own tests (tests/app, tests/js/sleeplab) exercise.
SEED_SCHEMA = ROOT / "tests" / "fixtures" / "sleeplab-seed-schema.json"
APP_SCHEMA = ROOT / "schema" / "sleeplab.json"


def make_settings(**overrides: Any) -> Settings:
    base = Settings(app_id=APP_ID, master_key=MASTER, schema_path=str(SEED_SCHEMA),
                    server_url="http://testserver/parse", database_uri=fresh_database())
    return base.with_overrides(overrides)


class Api:
    """A Parse REST client bound to one in-process app."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    def headers(self, master: bool = False, **extra: str) -> dict[str, str]:
        h = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
        if master:
            h["X-Parse-Master-Key"] = MASTER
        h.update(extra)
        return h

    async def request(self, method: str, path: str, body: Any = None, *, master: bool = False,
                      params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        h = self.headers(master) if headers is None else headers
        return await self.client.request(method, "/parse" + path, json=body, params=params, headers=h)

    async def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, body, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def put(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, body, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kw)

    def as_user(self, token: str, **extra: str) -> dict[str, str]:
        return self.headers(**{"X-Parse-Session-Token": token, **extra})

    async def signup(self, username: str, password: str = "pw-123456", **fields: Any) -> tuple[str, str]:
        """Sign a user up; returns (objectId, sessionToken)."""
        r = await self.post("/users", {"username": username, "password": password, **fields})
        assert r.status_code == 201, r.text
        return r.json()["objectId"], r.json()["sessionToken"]


def _store_override(settings: Settings) -> Any:
    """TEST_STORE=mongo runs the HTTP suites on the MongoDB adapter (mongomock-motor) instead of SQLite;
    TEST_STORE=postgres on a throw-away PostgreSQL cluster (tests/pg_cluster.py), a fresh schema per app."""
    if os.environ.get("TEST_STORE") == "postgres":
        from engine.storage.postgres import PostgresAdapter
        from tests import pg_cluster

        try:
            uri = pg_cluster.cluster().fresh_uri(schema_file=settings.schema_path or "")
            return PostgresAdapter(uri, max_time_ms=settings.database_max_time_ms)
        except RuntimeError as exc:  # no PostgreSQL on this machine: say so, do not fail
            pytest.skip(str(exc))
    if os.environ.get("TEST_STORE") != "mongo":
        return None
    from mongomock_motor import AsyncMongoMockClient

    from engine.storage.mongo import MongoAdapter

    return MongoAdapter("mongodb://127.0.0.1/test", client=AsyncMongoMockClient())


async def start_app(settings: Settings, storage: Any = None) -> tuple[Any, httpx.AsyncClient]:
    app = create_app(settings, storage if storage is not None else _store_override(settings))
    await app.state.engine.start()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 12345))
    return app, httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    app, client = await start_app(make_settings())
    async with client:
        yield Api(client)
    await app.state.engine.stop()


@pytest.fixture
async def app_factory() -> AsyncIterator[Any]:
    """Start apps with custom settings; each is stopped at the end of the test."""
    started: list[tuple[Any, httpx.AsyncClient]] = []

    async def make(**overrides: Any) -> tuple[Any, Api]:
        app, client = await start_app(make_settings(**overrides))
        started.append((app, client))
        return app, Api(client)

    yield make
    for app, client in started:
        await client.aclose()
        await app.state.engine.stop()


@pytest.fixture
def pg_uri() -> str:
    """A URI onto an empty schema of the session's throw-away PostgreSQL cluster (tests/pg_cluster.py)."""
    from tests import pg_cluster

    reason = pg_cluster.unavailable_reason()
    if reason:
        pytest.skip(reason)
    try:
        return pg_cluster.cluster().fresh_uri()
    except RuntimeError as exc:
        pytest.skip(str(exc))
