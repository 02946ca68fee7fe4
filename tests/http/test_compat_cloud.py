"""Parse compatibility: cloud-code edges (issue 14, item 10)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ROOT, Api

HOOKS = str(ROOT / "tests" / "http" / "compat_hooks")


@pytest.fixture
async def capi(app_factory: Any) -> Api:
    _, api = await app_factory(cloud=HOOKS)
    return api


async def test_a_function_returning_nothing_answers_like_undefined(capi: Api) -> None:
    r = await capi.post("/functions/nothing", {})
    assert r.status_code == 200 and r.json() == {}  # Parse: {result: undefined} serializes to {}
    assert (await capi.post("/functions/zero", {})).json() == {"result": 0}


async def test_cloud_code_jobs_routes_for_the_dashboard(capi: Api) -> None:
    assert (await capi.get("/cloud_code/jobs/data")).status_code == 403  # master key only
    r = await capi.get("/cloud_code/jobs/data", master=True)
    assert r.status_code == 200 and r.json() == {"in_use": [], "jobs": ["nightlyReport"]}
    assert (await capi.get("/cloud_code/jobs", master=True)).json() == []
    r = await capi.post("/cloud_code/jobs", {"job_schedule": {"jobName": "nightlyReport", "description": "d",
                                                              "timeOfDay": "02:00:00.000Z"}}, master=True)
    assert r.status_code == 200, r.text
    oid = r.json()["objectId"]
    listed = (await capi.get("/cloud_code/jobs", master=True)).json()
    assert [(j["jobName"], j["timeOfDay"]) for j in listed] == [("nightlyReport", "02:00:00.000Z")]
    assert listed[0]["startAfter"].endswith("Z")
    assert (await capi.get("/cloud_code/jobs/data", master=True)).json()["in_use"] == ["nightlyReport"]
    r = await capi.post("/cloud_code/jobs", {"job_schedule": {"jobName": "notDeployed"}}, master=True)
    assert r.status_code == 400 and r.json() == {"code": 141, "error": "Cannot Schedule a job that is not deployed"}
    r = await capi.put(f"/cloud_code/jobs/{oid}", {"job_schedule": {"description": "new"}}, master=True)
    assert r.status_code == 200, r.text
    assert (await capi.get("/cloud_code/jobs", master=True)).json()[0]["description"] == "new"
    assert (await capi.delete(f"/cloud_code/jobs/{oid}", master=True)).json() == {}
    assert (await capi.get("/cloud_code/jobs", master=True)).json() == []
    # `_JobSchedule` stays master-only through /classes as well.
    assert (await capi.get("/classes/_JobSchedule")).status_code != 200
