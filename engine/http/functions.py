"""/functions/{name} (cloud functions) and /jobs/{name} (background jobs): decode → pipeline → encode."""

from __future__ import annotations

from engine.http.call import ApiCall, ApiResult
from engine.pipeline.functions import call_function as run_function
from engine.pipeline.jobs import start_job as run_job


async def call_function(call: ApiCall) -> ApiResult:
    result = await run_function(call.services, call.ctx, call.params["name"], {**call.query, **call.body})
    # A Python function that returns nothing is JavaScript's `undefined`: Parse's `{result: undefined}`
    # serializes as `{}`, and the SDK's `Parse.Cloud.run` then resolves to `undefined`, not `null`.
    return ApiResult({} if result is None else {"result": result})


async def start_job(call: ApiCall) -> ApiResult:
    body = {**call.query, **call.body}
    name = call.params.get("name") or body.get("jobName")
    params = {k: v for k, v in body.items() if k != "jobName"}
    job_id = await run_job(call.services, call.ctx, name, params)
    return ApiResult({}, headers={"X-Parse-Job-Status-Id": job_id})
