"""/cloud_code/jobs (master key): the Dashboard's view of deployed jobs and their `_JobSchedule` rows.

The rows are plain objects of the master-only `_JobSchedule` class, so every write goes through the door;
scheduling itself (running a row at its time) is not done by Parse Server either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.http.call import ApiCall, ApiResult, body_object
from engine.pipeline import door
from engine.wire import now

SCHEDULE = "_JobSchedule"


async def _scheduled(call: ApiCall) -> list[Any]:
    call.require_master()  # a read makes no class: one that does not exist lists nothing
    return (await door.find(call.services, call.ctx, SCHEDULE, {"limit": 1000})).results


async def list_jobs(call: ApiCall) -> ApiResult:
    return ApiResult(await _scheduled(call))


async def jobs_data(call: ApiCall) -> ApiResult:
    scheduled = await _scheduled(call)
    return ApiResult({"in_use": [row.get("jobName") for row in scheduled],
                      "jobs": call.services.cloud.job_names()})


def _schedule(call: ApiCall) -> dict[str, Any]:
    raw = body_object(call).get("job_schedule")
    if not isinstance(raw, Mapping):
        raise ParseError(ErrorCode.INVALID_JSON, "job_schedule must be an object")
    name = raw.get("jobName")
    if name is not None and name not in call.services.cloud.job_names():
        # Parse answers code 1 (HTTP 500); a refused input is a 400 here, with Parse's message.
        raise ParseError(ErrorCode.SCRIPT_FAILED, "Cannot Schedule a job that is not deployed")
    out = dict(raw)
    out.setdefault("startAfter", now().isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    return out


async def create_job(call: ApiCall) -> ApiResult:
    call.require_master()
    await call.services.schemas.ensure_class(SCHEDULE)
    saved = await door.create(call.services, call.ctx, SCHEDULE, _schedule(call))
    return ApiResult(saved.body)


async def edit_job(call: ApiCall) -> ApiResult:
    call.require_master()
    body = await door.update(call.services, call.ctx, SCHEDULE, call.params["object_id"], _schedule(call))
    return ApiResult(body)


async def delete_job(call: ApiCall) -> ApiResult:
    call.require_master()
    await door.delete(call.services, call.ctx, SCHEDULE, call.params["object_id"])
    return ApiResult({})
