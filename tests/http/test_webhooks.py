"""/hooks/functions and /hooks/triggers (Parse's HooksRouter), and the webhooks being called: stored in `_Hooks`,
master key only, outbound calls bounded and limited to allowed hosts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MASTER, Api
from tests.http.webhook_receiver import Receiver

HOOKS = str(Path(__file__).parent / "dashboard_hooks")
WEBHOOK_KEY = "webhook-key-for-tests"


async def _app(app_factory: Any, **overrides: Any) -> Api:
    settings: dict[str, Any] = {"webhook_allowed_hosts": ("127.0.0.1",), "webhook_key": WEBHOOK_KEY, **overrides}
    _, api = await app_factory(**settings)
    return api


# ---- the HooksRouter contract ----

async def test_function_hooks_crud_as_parse(app_factory: Any, receiver: Receiver) -> None:
    api = await _app(app_factory)
    url = receiver.url("/score")
    r = await api.post("/hooks/functions", {"functionName": "scoreNight", "url": url}, master=True)
    assert r.status_code == 200 and r.json() == {"functionName": "scoreNight", "url": url}
    assert (await api.get("/hooks/functions", master=True)).json() == [{"functionName": "scoreNight", "url": url}]
    assert (await api.get("/hooks/functions/scoreNight", master=True)).json() == {"functionName": "scoreNight",
                                                                                 "url": url}
    r = await api.post("/hooks/functions", {"functionName": "scoreNight", "url": url}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 143
    other = receiver.url("/score2")
    r = await api.put("/hooks/functions/scoreNight", {"url": other}, master=True)
    assert r.json() == {"functionName": "scoreNight", "url": other}
    assert (await api.get("/hooks/functions", master=True)).json() == [{"functionName": "scoreNight", "url": other}]
    r = await api.put("/hooks/functions/scoreNight", {"__op": "Delete"}, master=True)
    assert r.status_code == 200 and r.json() == {}
    assert (await api.get("/hooks/functions", master=True)).json() == []
    r = await api.get("/hooks/functions/scoreNight", master=True)
    assert r.json() == {"code": 143, "error": "no function named: scoreNight is defined"}
    r = await api.put("/hooks/functions/scoreNight", {"url": url}, master=True)
    assert r.json()["code"] == 143
    # Once deleted, the function is gone from the server too.
    assert (await api.post("/functions/scoreNight", {}, master=True)).json()["code"] == 141


async def test_trigger_hooks_crud_as_parse(app_factory: Any, receiver: Receiver) -> None:
    api = await _app(app_factory)
    url = receiver.url("/t")
    hook = {"className": "LabNote", "triggerName": "afterSave", "url": url}
    assert (await api.post("/hooks/triggers", hook, master=True)).json() == hook
    assert (await api.get("/hooks/triggers", master=True)).json() == [hook]
    assert (await api.get("/hooks/triggers/LabNote/afterSave", master=True)).json() == hook
    r = await api.post("/hooks/triggers", hook, master=True)
    assert r.json() == {"code": 143, "error": "class LabNote already has trigger afterSave"}
    r = await api.get("/hooks/triggers/LabNote/beforeSave", master=True)
    assert r.json() == {"code": 143, "error": "class LabNote does not exist"}
    assert (await api.delete("/hooks/triggers/LabNote/afterSave", master=True)).json() == {}
    assert (await api.get("/hooks/triggers", master=True)).json() == []


@pytest.mark.parametrize("body", [
    {"url": "http://127.0.0.1/x"},
    {"functionName": "f"},
    {"className": "LabNote", "triggerName": "beforeSave"},
    {"className": "LabNote", "triggerName": "beforeEverything", "url": "http://127.0.0.1/x"},
    {"className": "LabNote", "triggerName": "beforeFind", "url": "http://127.0.0.1/x"},
    {"functionName": "bad name!", "url": "http://127.0.0.1/x"},
])
async def test_invalid_declarations_answer_143(app_factory: Any, body: dict[str, Any]) -> None:
    api = await _app(app_factory)
    path = "/hooks/triggers" if "className" in body else "/hooks/functions"
    r = await api.post(path, body, master=True)
    assert r.status_code == 400 and r.json()["code"] == 143, r.text
    assert (await api.get(path, master=True)).json() == []


# ---- SSRF bounds ----

@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data",  # not an allowed host
    "http://localhost:1/x",  # the same machine under another name is another host
    "file:///etc/passwd",
    "gopher://127.0.0.1/x",
    "http://user:pw@127.0.0.1/x",
    "http:///nohost",
    "http://127.0.0.1:99999/x",
])
async def test_webhook_urls_outside_the_allowed_hosts_are_refused(app_factory: Any, url: str) -> None:
    api = await _app(app_factory)
    r = await api.post("/hooks/functions", {"functionName": "f", "url": url}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 143, r.text
    assert (await api.get("/hooks/functions", master=True)).json() == []


async def test_no_webhook_is_accepted_until_hosts_are_allowed(app_factory: Any, receiver: Receiver) -> None:
    _, api = await app_factory()  # the default: no allowed host
    r = await api.post("/hooks/functions", {"functionName": "f", "url": receiver.url("/x")}, master=True)
    assert r.json()["code"] == 143 and "not allowed" in r.json()["error"]
    assert receiver.calls == []


async def test_allowed_host_with_port_only_allows_that_port(app_factory: Any, receiver: Receiver) -> None:
    api = await _app(app_factory, webhook_allowed_hosts=(f"127.0.0.1:{receiver.port}",))
    ok = await api.post("/hooks/functions", {"functionName": "f", "url": receiver.url("/x")}, master=True)
    assert ok.status_code == 200, ok.text
    r = await api.post("/hooks/functions", {"functionName": "g", "url": "http://127.0.0.1:1/x"}, master=True)
    assert r.json()["code"] == 143


async def test_redirects_are_not_followed(app_factory: Any, receiver: Receiver) -> None:
    api = await _app(app_factory)
    receiver.answer("/elsewhere", {"success": "followed"})
    url = receiver.answer("/redirect", b"", status=302, headers={"Location": receiver.url("/elsewhere")})
    await api.post("/hooks/functions", {"functionName": "hop", "url": url}, master=True)
    r = await api.post("/functions/hop", {}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 143 and "redirect" in r.json()["error"]
    assert receiver.bodies("/elsewhere") == []


async def test_oversized_and_malformed_answers_fail_with_143(app_factory: Any, receiver: Receiver) -> None:
    api = await _app(app_factory, webhook_max_response_bytes=1000)
    big = receiver.answer("/big", {"success": "x" * 5000})
    bad = receiver.answer("/bad", b"<html>oops</html>")
    await api.post("/hooks/functions", {"functionName": "big", "url": big}, master=True)
    await api.post("/hooks/functions", {"functionName": "bad", "url": bad}, master=True)
    r = await api.post("/functions/big", {}, master=True)
    assert r.json()["code"] == 143 and "larger than 1000 bytes" in r.json()["error"]
    assert (await api.post("/functions/bad", {}, master=True)).json() == {"code": 143, "error": "Malformed response"}


async def test_a_stalled_webhook_times_out(app_factory: Any, receiver: Receiver) -> None:
    api = await _app(app_factory, webhook_timeout=0.3)
    receiver.answer("/stall", {"success": 1})
    await api.post("/hooks/functions", {"functionName": "slow", "url": receiver.url("/stall")}, master=True)
    r = await api.post("/functions/slow", {}, master=True)
    assert r.json() == {"code": 143, "error": "webhook call failed"}


# ---- calling function webhooks ----

async def test_function_webhook_gets_parse_body_and_key(app_factory: Any, receiver: Receiver) -> None:
    api = await _app(app_factory)
    url = receiver.answer("/score", {"success": {"score": 87, "stage": "N3"}})
    await api.post("/hooks/functions", {"functionName": "scoreNight", "url": url}, master=True)
    user_id, token = await api.signup("tech", password="pw-secret-1")
    when = {"__type": "Date", "iso": "2026-01-02T00:00:00.000Z"}
    r = await api.post("/functions/scoreNight", {"night": 3, "when": when},
                       headers=api.as_user(token, **{"X-Parse-Installation-Id": "inst-1"}))
    assert r.status_code == 200 and r.json() == {"result": {"score": 87, "stage": "N3"}}
    [(path, headers, body)] = receiver.calls
    assert headers["x-parse-webhook-key"] == WEBHOOK_KEY
    assert headers["content-type"] == "application/json"
    assert body["functionName"] == "scoreNight" and body["master"] is False
    assert body["params"] == {"night": 3, "when": when}
    assert body["installationId"] == "inst-1"
    assert body["user"]["objectId"] == user_id and body["user"]["username"] == "tech"
    sent = json.dumps(body)
    for secret in (token, "pw-secret-1", MASTER):
        assert secret not in sent
    assert "x-parse-session-token" not in {k.lower() for k in body["headers"]}


async def test_function_webhook_error_answers(app_factory: Any, receiver: Receiver) -> None:
    api = await _app(app_factory)
    plain = receiver.answer("/plain", {"error": "night not scorable"})
    coded = receiver.answer("/coded", {"error": {"code": 142, "error": "missing channel"}})
    await api.post("/hooks/functions", {"functionName": "plain", "url": plain}, master=True)
    await api.post("/hooks/functions", {"functionName": "coded", "url": coded}, master=True)
    assert (await api.post("/functions/plain", {}, master=True)).json() == {"code": 141, "error": "night not scorable"}
    assert (await api.post("/functions/coded", {}, master=True)).json() == {"code": 142, "error": "missing channel"}


# ---- calling trigger webhooks ----

async def test_before_save_webhook_changes_and_refuses_saves(app_factory: Any, receiver: Receiver) -> None:
    api = await _app(app_factory)
    url = receiver.answer("/bs", {"success": {"status": "reviewed", "results": "AHI 12"}})
    await api.post("/hooks/triggers", {"className": "LabNote", "triggerName": "beforeSave", "url": url},
                   master=True)
    r = await api.post("/classes/LabNote", {"status": "draft"}, master=True)
    assert r.status_code == 201, r.text
    stored = (await api.get(f"/classes/LabNote/{r.json()['objectId']}", master=True)).json()
    assert stored["status"] == "reviewed" and stored["results"] == "AHI 12"
    [body] = receiver.bodies("/bs")
    assert body["triggerName"] == "beforeSave" and body["object"]["className"] == "LabNote"
    assert body["object"]["status"] == "draft" and body["master"] is True
    receiver.answer("/bs", {"error": "studies are locked"})
    r = await api.post("/classes/LabNote", {"status": "draft"}, master=True)
    assert r.status_code == 400 and r.json() == {"code": 141, "error": "studies are locked"}
    assert (await api.get("/classes/LabNote", master=True, params={"count": "1", "limit": "0"})).json()["count"] == 1


async def test_after_save_and_delete_webhooks_see_the_object(app_factory: Any, receiver: Receiver) -> None:
    api = await _app(app_factory)
    for trigger in ("afterSave", "beforeDelete", "afterDelete"):
        url = receiver.answer(f"/{trigger}", {"success": True})
        r = await api.post("/hooks/triggers", {"className": "LabNote", "triggerName": trigger, "url": url},
                           master=True)
        assert r.status_code == 200, r.text
    created = (await api.post("/classes/LabNote", {"status": "draft"}, master=True)).json()
    await api.put(f"/classes/LabNote/{created['objectId']}", {"status": "final"}, master=True)
    saves = receiver.bodies("/afterSave")
    assert [b["object"]["status"] for b in saves] == ["draft", "final"]
    assert saves[1]["original"]["status"] == "draft"
    # beforeDelete refusing keeps the object; then allowing lets it go and afterDelete hears of it.
    receiver.answer("/beforeDelete", {"error": "keep clinical records"})
    r = await api.delete(f"/classes/LabNote/{created['objectId']}", master=True)
    assert r.json() == {"code": 141, "error": "keep clinical records"}
    assert (await api.get(f"/classes/LabNote/{created['objectId']}", master=True)).status_code == 200
    receiver.answer("/beforeDelete", {"success": True})
    assert (await api.delete(f"/classes/LabNote/{created['objectId']}", master=True)).status_code == 200
    [gone] = receiver.bodies("/afterDelete")
    assert gone["object"]["objectId"] == created["objectId"]
    # An afterSave webhook that fails does not fail the save (Parse only logs it).
    receiver.answer("/afterSave", {"error": "downstream down"})
    assert (await api.post("/classes/LabNote", {"status": "x"}, master=True)).status_code == 201


# ---- webhooks and the app's own Python code ----

async def test_python_code_owns_its_names(app_factory: Any, receiver: Receiver) -> None:
    api = await _app(app_factory, cloud=HOOKS)
    url = receiver.answer("/x", {"success": "from webhook"})
    r = await api.post("/hooks/functions", {"functionName": "codeOwned", "url": url}, master=True)
    assert r.json()["code"] == 143 and "cloud code" in r.json()["error"]
    r = await api.post("/hooks/triggers", {"className": "TitrationLog", "triggerName": "beforeSave", "url": url},
                       master=True)
    assert r.json()["code"] == 143
    assert (await api.get("/hooks/functions", master=True)).json() == []
    assert (await api.post("/functions/codeOwned", {}, master=True)).json() == {"result": "from python"}
    assert receiver.calls == []


@pytest.mark.skipif(os.environ.get("TEST_STORE") in ("mongo", "postgres"),
                    reason="needs two apps on one SQLite file (the mongo/postgres doubles are per app)")
async def test_stored_webhooks_come_back_after_restart_and_code_still_wins(
        app_factory: Any, receiver: Receiver, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hooks.db'}"
    api = await _app(app_factory, database_uri=db)
    url = receiver.answer("/x", {"success": "from webhook"})
    for name in ("codeOwned", "remote"):
        assert (await api.post("/hooks/functions", {"functionName": name, "url": url}, master=True)).status_code == 200
    again = await _app(app_factory, database_uri=db, cloud=HOOKS)
    assert (await again.post("/functions/remote", {}, master=True)).json() == {"result": "from webhook"}
    # Deployed code now owns `codeOwned`: it runs, and the stored webhook is listed but never called for it.
    assert (await again.post("/functions/codeOwned", {}, master=True)).json() == {"result": "from python"}
    assert len(receiver.calls) == 1
