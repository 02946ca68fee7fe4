"""The small routes Parse Dashboard calls (issue 18): master key only, answered in Parse's shapes, and serverInfo's
feature flags true exactly where a route serves them."""

from __future__ import annotations

import pytest

from engine.http import routes
from engine.http.misc import features
from tests.conftest import Api

# Every route added for the Dashboard, as (method, path, body).
DASHBOARD_ROUTES = [
    ("GET", "/scriptlog", None),
    ("GET", "/hooks/functions", None),
    ("GET", "/hooks/functions/f", None),
    ("POST", "/hooks/functions", {"functionName": "f", "url": "http://127.0.0.1:9/x"}),
    ("PUT", "/hooks/functions/f", {"url": "http://127.0.0.1:9/x"}),
    ("DELETE", "/hooks/functions/f", None),
    ("GET", "/hooks/triggers", None),
    ("GET", "/hooks/triggers/SleepStudy/beforeSave", None),
    ("POST", "/hooks/triggers", {"className": "SleepStudy", "triggerName": "beforeSave", "url": "http://x/"}),
    ("PUT", "/hooks/triggers/SleepStudy/beforeSave", {"url": "http://127.0.0.1:9/x"}),
    ("DELETE", "/hooks/triggers/SleepStudy/beforeSave", None),
    ("GET", "/push_audiences", None),
    ("GET", "/push_audiences/abc", None),
    ("POST", "/push_audiences", {"name": "all", "query": "{}"}),
    ("PUT", "/push_audiences/abc", {"name": "x"}),
    ("DELETE", "/push_audiences/abc", None),
    ("GET", "/cloud_code/jobs", None),
    ("GET", "/cloud_code/jobs/data", None),
]


@pytest.mark.parametrize(("method", "path", "body"), DASHBOARD_ROUTES)
async def test_every_dashboard_route_needs_the_master_key(api: Api, method: str, path: str, body: object) -> None:
    r = await api.request(method, path, body)
    assert r.status_code == 403, r.text
    assert r.json() == {"code": 119, "error": "unauthorized: master key is required"}
    # A signed-in user is no closer: these routes read logs and configure outbound calls.
    _, token = await api.signup("mallory")
    r = await api.request(method, path, body, headers=api.as_user(token))
    assert r.status_code == 403 and r.json()["code"] == 119


async def test_nothing_was_stored_by_the_refused_calls(api: Api) -> None:
    for method, path, body in DASHBOARD_ROUTES:
        await api.request(method, path, body)
    assert (await api.get("/hooks/functions", master=True)).json() == []
    assert (await api.get("/hooks/triggers", master=True)).json() == []
    assert (await api.get("/push_audiences", master=True)).json() == {"results": []}


async def test_server_info_offers_what_the_dashboard_pages_need(api: Api) -> None:
    info = (await api.get("/serverInfo", master=True)).json()
    f = info["features"]
    assert all(f["globalConfig"].values()) and set(f["globalConfig"]) == {"create", "read", "update", "delete"}
    assert f["hooks"] == {"create": True, "read": True, "update": True, "delete": True}
    assert f["cloudCode"] == {"jobs": True}
    assert f["logs"] == {"level": True, "size": True, "order": True, "until": True, "from": True}
    # No push is sent by this server: only the audiences it really stores are offered.
    assert f["push"] == {"immediatePush": False, "scheduledPush": False, "storedPushData": False,
                         "pushAudiences": True, "localization": False}


def test_features_follow_the_route_table_not_a_typed_in_list() -> None:
    def without(prefix: str) -> routes.misc.Serves:
        return lambda method, path: not path.startswith(prefix) and routes._serves(method, path)

    assert features(without("/scriptlog"))["logs"]["level"] is False
    assert set(features(without("/hooks/triggers"))["hooks"].values()) == {False}
    assert features(without("/cloud_code"))["cloudCode"]["jobs"] is False
    assert features(without("/push_audiences"))["push"]["pushAudiences"] is False
    assert features(routes._serves)["logs"]["level"] is True


async def test_schemas_hide_parse_internal_classes(api: Api) -> None:
    # Make each internal class exist, as a running server does once its page is used.
    await api.put("/config", {"params": {"sleepGoalHours": 8}}, master=True)
    await api.get("/hooks/functions", master=True)
    await api.get("/push_audiences", master=True)
    await api.get("/cloud_code/jobs", master=True)
    names = {c["className"] for c in (await api.get("/schemas", master=True)).json()["results"]}
    hidden = {"_JobStatus", "_PushStatus", "_Hooks", "_GlobalConfig", "_GraphQLConfig", "_JobSchedule", "_Audience",
              "_Idempotency"}
    assert names & hidden == set()
    assert {"_User", "_Role", "_Session", "_Installation", "SleepStudy"} <= names
    # Hidden from the list, still readable by name (as Parse's volatile classes are).
    assert (await api.get("/schemas/_GlobalConfig", master=True)).status_code == 200


async def test_push_audiences_round_trip_with_the_query_parsed(api: Api) -> None:
    r = await api.post("/push_audiences", {"name": "CPAP users", "query": '{"deviceType":"ios"}'}, master=True)
    assert r.status_code == 201, r.text
    audience_id = r.json()["objectId"]
    listed = (await api.get("/push_audiences", master=True)).json()["results"]
    assert [(a["name"], a["query"]) for a in listed] == [("CPAP users", {"deviceType": "ios"})]
    r = await api.put(f"/push_audiences/{audience_id}", {"name": "CPAP"}, master=True)
    assert r.status_code == 200, r.text
    got = (await api.get(f"/push_audiences/{audience_id}", master=True)).json()
    assert got["name"] == "CPAP" and got["query"] == {"deviceType": "ios"}
    assert (await api.delete(f"/push_audiences/{audience_id}", master=True)).json() == {}
    assert (await api.get("/push_audiences", master=True)).json() == {"results": []}
    # Push itself is still refused, as serverInfo says.
    assert (await api.post("/push", {"where": {}, "data": {"alert": "x"}}, master=True)).json()["code"] == 115


async def test_dashboard_jobs_page_calls_answer_in_parse_shapes(api: Api) -> None:
    data = (await api.get("/cloud_code/jobs/data", master=True)).json()
    assert set(data) == {"in_use", "jobs"} and isinstance(data["jobs"], list)
    r = await api.get("/cloud_code/jobs", master=True, params={"per_page": "50"})
    assert r.status_code == 200 and r.json() == []


async def test_dashboard_text_plain_call_reaches_the_new_routes(api: Api) -> None:
    # The Dashboard's SDK sends every call as a text/plain POST with the verb and keys in the body.
    body = '{"_method":"GET","_ApplicationId":"testapp","_MasterKey":"test-master-key","_ClientVersion":"js8.5.0"}'
    for path in ("/hooks/functions", "/hooks/triggers", "/push_audiences", "/scriptlog"):
        r = await api.client.post("/parse" + path, content=body, headers={"Content-Type": "text/plain"})
        assert r.status_code == 200, (path, r.text)
        assert r.headers.get("access-control-allow-origin") == "*"


async def test_graphql_console_preflight_and_master_query(api: Api) -> None:
    # The Dashboard's GraphQL console preflights, then POSTs with the app id and master key headers.
    r = await api.client.options("/graphql", headers={
        "Origin": "http://127.0.0.1:4040", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-parse-application-id,x-parse-master-key"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "x-parse-master-key" in r.headers["access-control-allow-headers"].lower()
    r = await api.client.post("/graphql", json={"query": "{ health }"}, headers=api.headers(master=True))
    assert r.status_code == 200 and r.json() == {"data": {"health": True}}
