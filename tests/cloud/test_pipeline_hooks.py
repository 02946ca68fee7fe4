"""Cloud code wired into the request path: trigger order and counts over REST, batch and server-side writes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.cloud.hook_events import EVENTS
from tests.conftest import ROOT, Api

HOOKS = str(ROOT / "tests" / "cloud" / "hookdir")


@pytest.fixture
async def capi(app_factory: Any) -> Api:
    EVENTS.clear()
    _, api = await app_factory(cloud=HOOKS, hook_timeout=0.3)
    for name in ("Night", "Study", "Chain"):
        await api.post(f"/schemas/{name}", {"className": name}, master=True)
    EVENTS.clear()
    return api


async def test_save_triggers_fire_once_in_order_and_changes_are_echoed(capi: Api) -> None:
    h = capi.headers(**{"X-Parse-Cloud-Context": json.dumps({"tag": "t1"})})
    r = await capi.post("/classes/Night", {"label": "  Deep ", "scratch": 1}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["normalized"] == "deep"
    oid = r.json()["objectId"]
    assert EVENTS == ["beforeSave:Night:  Deep :t1", "afterSave:Night:  Deep :t1"]
    got = (await capi.get(f"/classes/Night/{oid}", master=True)).json()
    assert got["normalized"] == "deep" and "scratch" not in got
    EVENTS.clear()
    r = await capi.put(f"/classes/Night/{oid}", {"label": "REM", "scratch": 2}, master=True)
    assert r.json()["normalized"] == "rem" and r.json()["scratch"] == {"__op": "Delete"}
    assert EVENTS == ["beforeSave:Night:REM:None", "afterSave:Night:REM:None", "original:  Deep "]


async def test_rejections_keep_codes_and_hide_tracebacks(capi: Api) -> None:
    r = await capi.post("/classes/Night", {"minutes": -1})
    assert r.status_code == 400 and r.json() == {"code": 142, "error": "minutes must be positive"}
    r = await capi.post("/classes/Night", {"label": "boom"})
    assert r.json() == {"code": 141, "error": "kaboom inside the hook"}
    assert "Traceback" not in r.text
    r = await capi.post("/classes/Night", {"label": "slow"})
    assert r.json()["code"] == 141
    assert (await capi.get("/classes/Night", master=True)).json()["results"] == []


async def test_after_save_failure_keeps_the_write(capi: Api) -> None:
    r = await capi.post("/classes/Night", {"label": "after-fails"})
    assert r.status_code == 201
    assert len((await capi.get("/classes/Night", master=True)).json()["results"]) == 1


async def test_batch_writes_run_the_same_triggers(capi: Api) -> None:
    r = await capi.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/classes/Night", "body": {"label": "A"}},
        {"method": "POST", "path": "/parse/classes/Night", "body": {"label": "B", "minutes": -5}}]})
    assert "success" in r.json()[0] and r.json()[1]["error"]["code"] == 142
    assert r.json()[0]["success"]["normalized"] == "a"
    assert EVENTS == ["beforeSave:Night:A:None", "afterSave:Night:A:None", "beforeSave:Night:B:None"]


async def test_creates_stored_together_each_run_their_after_save(capi: Api) -> None:
    _, token = await capi.signup("ada")
    r = await capi.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/classes/Study", "body": {"title": t}} for t in ("a", "b", "c")]},
        headers=capi.as_user(token))
    created = [o["success"]["objectId"] for o in r.json()]
    assert EVENTS.count("afterSave:Study") == 3
    rows = (await capi.get("/classes/AuditLog", master=True)).json()["results"]
    assert sorted(row["entityId"] for row in rows) == sorted(created)
    assert all(row["action"] == "create" and row["actor"]["className"] == "_User" for row in rows)


async def test_delete_triggers_and_rejection(capi: Api) -> None:
    keep = (await capi.post("/classes/Night", {"label": "keep", "locked": True})).json()["objectId"]
    gone = (await capi.post("/classes/Night", {"label": "gone"})).json()["objectId"]
    EVENTS.clear()
    r = await capi.delete(f"/classes/Night/{keep}")
    assert r.json() == {"code": 119, "error": "locked nights cannot be deleted"}
    assert (await capi.delete(f"/classes/Night/{gone}")).json() == {}
    assert EVENTS == ["beforeDelete:Night:keep", "beforeDelete:Night:gone", "afterDelete:Night:gone"]
    assert (await capi.get(f"/classes/Night/{keep}", master=True)).status_code == 200


async def test_find_triggers_rewrite_query_and_results(capi: Api) -> None:
    await capi.post("/classes/Night", {"label": "shown"})
    await capi.post("/classes/Night", {"label": "secret", "hidden": True})
    EVENTS.clear()
    rows = (await capi.get("/classes/Night")).json()["results"]
    assert [r["label"] for r in rows] == ["shown"] and rows[0]["seenByAfterFind"] is True
    assert EVENTS == ["beforeFind:Night", "afterFind:Night"]
    got = (await capi.get(f"/classes/Night/{rows[0]['objectId']}")).json()
    assert got["seenByAfterFind"] is True


async def test_functions(capi: Api) -> None:
    when = {"__type": "Date", "iso": "2026-01-02T03:04:05.000Z"}
    r = await capi.post("/functions/hello", {"name": "ada", "when": when})
    EVENTS.clear()
    assert r.json() == {"result": {"greeting": "hi ada", "when": when, "master": False}}
    r = await capi.post("/functions/makeNight", {})
    night = r.json()["result"]
    assert night["__type"] == "Object" and night["className"] == "Night" and night["normalized"] == "from function"
    # The hook's own writes run triggers too (server-side writes), each once and in order.
    assert EVENTS == ["beforeSave:Night:From Function:None", "afterSave:Night:From Function:None",
                      "beforeSave:Chain"]
    r = await capi.post("/functions/nights", {})
    assert [n["label"] for n in r.json()["result"]] == ["From Function"]
    for name in ("nope", "__proto__", "constructor", "__init__", "toString"):
        r = await capi.post(f"/functions/{name}", {})
        assert r.status_code == 400 and r.json() == {"code": 141, "error": f'Invalid function: "{name}"'}
    assert (await capi.post("/functions/whoami", {})).json()["code"] == 142
    _, token = await capi.signup("ada")
    assert (await capi.post("/functions/whoami", {}, headers=capi.as_user(token))).json() == {"result": "ada"}
    assert (await capi.post("/functions/adminOnly", {})).json()["code"] == 142
    assert (await capi.post("/functions/adminOnly", {}, master=True)).json() == {"result": "ok"}
    assert (await capi.post("/functions/typed", {"n": "x"})).json()["code"] == 142
    assert (await capi.post("/functions/typed", {"n": 4})).json() == {"result": 8}
    r = await capi.post("/functions/sleepy", {})
    assert r.json()["code"] == 141


async def test_jobs(capi: Api) -> None:
    assert (await capi.post("/jobs/tally", {"n": 1})).status_code == 403
    r = await capi.post("/jobs/tally", {"n": 7}, master=True)
    assert r.status_code == 200 and r.json() == {}
    job_id = r.headers["x-parse-job-status-id"]
    status: dict[str, Any] = {}
    for _ in range(50):
        status = (await capi.get(f"/classes/_JobStatus/{job_id}", master=True)).json()
        if status["status"] != "running":
            break
        await asyncio.sleep(0.02)
    assert status["status"] == "succeeded" and status["jobName"] == "tally" and status["params"] == {"n": 7}
    labels = [n["label"] for n in (await capi.get("/classes/Night", master=True)).json()["results"]]
    assert "job 7" in labels
    r = await capi.post("/jobs", {"jobName": "broken"}, master=True)
    job_id = r.headers["x-parse-job-status-id"]
    for _ in range(50):
        status = (await capi.get(f"/classes/_JobStatus/{job_id}", master=True)).json()
        if status["status"] != "running":
            break
        await asyncio.sleep(0.02)
    assert status["status"] == "failed" and status["message"] == "job went wrong"
    assert (await capi.post("/jobs/nope", {}, master=True)).json()["code"] == 141
    assert (await capi.get("/classes/_JobStatus")).json()["code"] == 119


async def test_audit_log_is_server_written_only(capi: Api) -> None:
    _, token = await capi.signup("ada")
    h = capi.as_user(token)
    r = await capi.post("/classes/Study", {"title": "PSG"}, headers=h)
    assert r.status_code == 201
    rows = (await capi.get("/classes/AuditLog", master=True)).json()["results"]
    assert len(rows) == 1 and rows[0]["action"] == "create" and rows[0]["entityType"] == "Study"
    assert rows[0]["entityId"] == r.json()["objectId"] and rows[0]["actor"]["className"] == "_User"
    audit_id = rows[0]["objectId"]
    actor = {"__type": "Pointer", "className": "_User", "objectId": "x"}
    r = await capi.post("/classes/AuditLog", {"actor": actor, "entityType": "x", "entityId": "x", "action": "x",
                                              "summary": "forged"}, headers=h)
    assert r.json()["code"] == 119
    assert (await capi.put(f"/classes/AuditLog/{audit_id}", {"summary": "edited"}, headers=h)).json()["code"] == 119
    assert (await capi.delete(f"/classes/AuditLog/{audit_id}", headers=h)).json()["code"] == 119
    r = await capi.post("/batch", {"requests": [{"method": "DELETE", "path": f"/parse/classes/AuditLog/{audit_id}"}]},
                        headers=h)
    assert r.json()[0]["error"]["code"] == 119
    assert len((await capi.get("/classes/AuditLog", master=True)).json()["results"]) == 1


async def test_login_and_logout_triggers(capi: Api) -> None:
    uid, _ = await capi.signup("ada")
    EVENTS.clear()
    r = await capi.post("/login", {"username": "ada", "password": "pw-123456"})
    assert r.status_code == 200
    assert EVENTS == ["beforeLogin:ada", "afterLogin:ada"]
    await capi.post("/logout", headers=capi.as_user(r.json()["sessionToken"]))
    assert EVENTS[-1] == "afterLogout"
    await capi.put(f"/users/{uid}", {"banned": True}, master=True)
    r = await capi.post("/login", {"username": "ada", "password": "pw-123456"})
    assert r.json() == {"code": 101, "error": "banned"}
