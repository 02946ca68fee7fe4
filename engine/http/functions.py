"""/functions/{name} (cloud functions) and /jobs/{name} (background jobs with their `_JobStatus`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from engine.cloud.objects import CloudObject, encode_result
from engine.cloud.request import FunctionRequest, JobRequest
from engine.cloud.runner import run_function, run_job
from engine.errors import ErrorCode, ParseError
from engine.http.call import ApiCall, ApiResult
from engine.pipeline.context import Services
from engine.pipeline.hooks import META, RequestMeta, data_api, user_object
from engine.query.where import Compare
from engine.security.auth import MASTER
from engine.storage.base import Changes, SetValue, StoredObject
from engine.wire import decode, new_object_id, now

log = logging.getLogger("engine.jobs")
# Running jobs are referenced here so the event loop does not drop them half-way.
_RUNNING: set[asyncio.Task[None]] = set()


def decode_params(value: Any) -> Any:
    """Parse decodes function params: Dates, Files, GeoPoints..., and pointers and objects as Parse.Objects."""
    if isinstance(value, Mapping):
        if value.get("__type") in ("Object", "Pointer") and isinstance(value.get("className"), str):
            rest = {k: v for k, v in value.items() if k not in ("__type", "className")}
            return CloudObject.from_json(value["className"], rest)
        if "__type" in value:
            return decode(value)
        return {k: decode_params(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_params(v) for v in value]
    return value


async def call_function(call: ApiCall) -> ApiResult:
    svc, auth = call.services, call.auth
    name = call.params["name"]
    params = decode_params({**call.query, **call.body})
    meta = META.get(RequestMeta())
    req = FunctionRequest(function_name=name, data=data_api(svc, auth), params=params,
                          user=await user_object(svc, auth), master=auth.is_master,
                          installation_id=auth.installation_id, ip=meta.ip, headers=meta.headers, context=meta.context)
    result = await run_function(svc.cloud, name, req, svc.settings.hook_timeout, user_roles=auth.role_names)
    return ApiResult({"result": encode_result(result)})


async def _set_status(svc: Services, job_id: str, values: Mapping[str, Any]) -> None:
    jobs = svc.schemas.require("_JobStatus")
    ops = tuple(((k,), SetValue(v)) for k, v in values.items())
    await svc.storage.update(jobs, Compare(("objectId",), "eq", job_id), Changes(updated_at=now(), ops=ops))


async def _run(svc: Services, name: str, req: JobRequest) -> None:
    try:
        await run_job(svc.cloud, name, req)
    except ParseError as exc:
        await _set_status(svc, req.job_id, {"status": "failed", "message": exc.message, "finishedAt": now()})
        return
    except Exception:
        log.exception("job %s failed", name)
        await _set_status(svc, req.job_id, {"status": "failed", "message": "Job failed.", "finishedAt": now()})
        return
    await _set_status(svc, req.job_id, {"status": "succeeded", "finishedAt": now()})


async def start_job(call: ApiCall) -> ApiResult:
    call.require_master()
    svc = call.services
    body = {**call.query, **call.body}
    name = call.params.get("name") or body.pop("jobName", None)
    if not isinstance(name, str) or svc.cloud.job_fn(name) is None:
        raise ParseError(ErrorCode.SCRIPT_FAILED, "Invalid job.")
    params = {k: v for k, v in body.items() if k != "jobName"}
    jobs = await svc.schemas.ensure_class("_JobStatus")
    stamp = now()
    status = StoredObject("_JobStatus", new_object_id(), stamp, stamp).with_fields(
        {"jobName": name, "source": "api", "status": "running", "params": params})
    await svc.storage.create(jobs, status)

    def message(text: str) -> None:
        task = asyncio.get_running_loop().create_task(_set_status(svc, status.object_id, {"message": str(text)}))
        _RUNNING.add(task)
        task.add_done_callback(_RUNNING.discard)

    req = JobRequest(job_name=name, data=data_api(svc, MASTER), job_id=status.object_id, message=message,
                     params=decode_params(params))
    task = asyncio.get_running_loop().create_task(_run(svc, name, req))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return ApiResult({}, headers={"X-Parse-Job-Status-Id": status.object_id})
