"""Two `sleeplab serve` processes on one PostgreSQL database (issue: several engine processes share a database).

The database, not either process, decides: racing sign-ups for one username create exactly one user, increments
sent through both processes at once all count, a `transaction: true` batch that fails half-way leaves nothing
behind as seen from the other process, and a class-level permission changed through one process is enforced by
the other on its next request (LISTEN/NOTIFY invalidates its schema cache)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import ROOT, ServerProcess, free_port

pytestmark = pytest.mark.e2e
MASTER = "pg-procs-master-" + secrets.token_hex(4)
APP = "pgprocs"


def _headers(*, master: bool = False, token: str | None = None) -> dict[str, str]:
    headers = {"X-Parse-Application-Id": APP, "Content-Type": "application/json"}
    if master:
        headers["X-Parse-Master-Key"] = MASTER
    if token:
        headers["X-Parse-Session-Token"] = token
    return headers


@pytest.fixture
def servers(pg_uri: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = {"PARSE_SERVER_DATABASE_URI": pg_uri, "PARSE_SERVER_MASTER_KEY": MASTER,
           "PARSE_SERVER_APPLICATION_ID": APP}
    started: list[ServerProcess] = []
    try:
        # One after the other: the first provisions the schema, the second finds it there.
        for name in ("a", "b"):
            args = ["--schema", str(ROOT / "schema" / "sleeplab.json")]
            proc = ServerProcess(args, env, tmp_path, tmp_path / f"server-{name}.log", free_port())
            started.append(proc.start())
        yield started[0], started[1]
    finally:
        for proc in started:
            proc.stop()


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
    return await client.post(url, json=body, headers=_headers(**kw))


async def test_racing_sign_ups_make_exactly_one_user(servers: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = servers
    async with httpx.AsyncClient(timeout=30) as client:
        for round_ in range(8):
            name = f"racer-{round_}-{secrets.token_hex(3)}"
            answers = await asyncio.gather(*[
                _post(client, f"{server.url}/users", {"username": name, "password": "pw-" + name})
                for server in (a, b, a, b)])
            codes = sorted(r.status_code for r in answers)
            assert codes.count(201) == 1, [r.text for r in answers]
            refused = [r.json() for r in answers if r.status_code != 201]
            assert all(body["code"] == 202 for body in refused), refused
            found = await client.get(f"{b.url}/users", params={"where": f'{{"username":"{name}"}}', "count": "1"},
                                     headers=_headers(master=True))
            assert found.json()["count"] == 1


async def test_increments_through_both_processes_all_count(servers: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = servers
    async with httpx.AsyncClient(timeout=30) as client:
        made = await _post(client, f"{a.url}/classes/Tally", {"n": 0}, master=True)
        assert made.status_code == 201, made.text
        oid = made.json()["objectId"]
        bump = {"n": {"__op": "Increment", "amount": 1}}
        answers = await asyncio.gather(*[
            client.put(f"{server.url}/classes/Tally/{oid}", json=bump, headers=_headers(master=True))
            for server in [a, b] * 20])
        assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.status_code != 200]
        # Each answer carries the value its own increment produced: 1..40, each once.
        assert sorted(r.json()["n"] for r in answers) == list(range(1, 41))
        final = await client.get(f"{b.url}/classes/Tally/{oid}", headers=_headers(master=True))
        assert final.json()["n"] == 40


async def test_a_failed_transaction_leaves_nothing_in_the_other_process(
        servers: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = servers
    async with httpx.AsyncClient(timeout=30) as client:
        seeded = await _post(client, f"{a.url}/classes/Ledger", {"entry": "opening", "amount": 1}, master=True)
        assert seeded.status_code == 201, seeded.text
        path = "/parse/classes/Ledger"
        batch = {"transaction": True, "requests": [
            {"method": "POST", "path": path, "body": {"entry": "first", "amount": 2}},
            {"method": "POST", "path": path, "body": {"entry": "second", "amount": 3}},
            # A String into the Number column: refused by the schema, so the whole batch must roll back.
            {"method": "POST", "path": path, "body": {"entry": "third", "amount": "three"}},
        ]}
        failed = await _post(client, f"{a.url}/batch", batch, master=True)
        assert failed.status_code >= 400, failed.text
        assert failed.json()["code"] == 111
        rows = await client.get(f"{b.url}/classes/Ledger", headers=_headers(master=True))
        assert [row["entry"] for row in rows.json()["results"]] == ["opening"]
        batch["requests"] = batch["requests"][:2]
        done = await _post(client, f"{b.url}/batch", batch, master=True)
        assert done.status_code == 200 and all("success" in item for item in done.json()), done.text
        rows = await client.get(f"{a.url}/classes/Ledger", params={"order": "amount"}, headers=_headers(master=True))
        assert [row["amount"] for row in rows.json()["results"]] == [1, 2, 3]


async def test_a_permission_change_in_one_process_is_enforced_by_the_other(
        servers: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = servers
    async with httpx.AsyncClient(timeout=30) as client:
        made = await _post(client, f"{a.url}/classes/Notice", {"text": "hello"}, master=True)
        assert made.status_code == 201, made.text
        before = await client.get(f"{b.url}/classes/Notice", headers=_headers())
        assert before.status_code == 200 and len(before.json()["results"]) == 1
        locked = await client.put(f"{a.url}/schemas/Notice", headers=_headers(master=True), json={
            "classLevelPermissions": {"find": {}, "get": {}, "count": {}, "create": {}, "update": {},
                                      "delete": {}, "addField": {}}})
        assert locked.status_code == 200, locked.text
        # The notification travels asynchronously; the other process must honour it within moments, not minutes.
        for _ in range(50):
            after = await client.get(f"{b.url}/classes/Notice", headers=_headers())
            if after.status_code != 200:
                break
            await asyncio.sleep(0.1)
        assert after.status_code == 400 and after.json()["code"] == 119, after.text  # Parse: 400 for 119
