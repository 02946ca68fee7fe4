"""`_JobStatus` and background jobs (`POST /jobs/<name>`, master key): one status row per run, server-written."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from engine.cloud.request import JobRequest
from engine.cloud.runner import call_hook, run_job
from engine.errors import ErrorCode, ParseError
from engine.pipeline.context import RequestContext, Services, require_master
from engine.pipeline.functions import decode_params
from engine.pipeline.hooks import data_api
from engine.query.where import Compare
from engine.storage.base import Changes, SetValue, StoredObject
from engine.wire import new_object_id, now

JOB_STATUS = "_JobStatus"
log = logging.getLogger("engine.jobs")
# Running jobs are referenced here so the event loop does not drop them half-way.
_RUNNING: set[asyncio.Task[None]] = set()


def _keep(task: asyncio.Task[None]) -> None:
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


async def _set_status(svc: Services, job_id: str, values: Mapping[str, Any]) -> None:
    # Status rows are the server's own bookkeeping (clients may never write `_JobStatus`): no hooks, no CLP.
    jobs = svc.schemas.require(JOB_STATUS)
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


async def run_job_inline(svc: Services, name: str, params: Mapping[str, Any]) -> Any:
    """Run job ``name`` to completion in this process with the master key and return its result (the CLI's
    ``sleeplab <job>`` commands); no `_JobStatus` row, errors propagate."""
    if svc.cloud.job_fn(name) is None:
        raise ParseError(ErrorCode.SCRIPT_FAILED, "Invalid job.")
    req = JobRequest(job_name=name, data=data_api(svc, RequestContext().as_master()), job_id="",
                     message=lambda text: log.info("job %s: %s", name, text), params=decode_params(dict(params)))
    return await run_job(svc.cloud, name, req)


async def run_start_hooks(svc: Services) -> None:
    """Every ``@on_start`` hook, in registration order, with the master key; a failure stops the start."""
    for hook in svc.cloud.start_hooks():
        req = JobRequest(job_name=hook.name, data=data_api(svc, RequestContext().as_master()), job_id="",
                         message=lambda text: log.info("on_start: %s", text))
        await call_hook(hook.fn, req, timeout=None)


async def start_job(svc: Services, ctx: RequestContext, name: object, params: Mapping[str, Any]) -> str:
    """Starts the job in the background; returns its `_JobStatus` id."""
    require_master(ctx)
    if not isinstance(name, str) or svc.cloud.job_fn(name) is None:
        raise ParseError(ErrorCode.SCRIPT_FAILED, "Invalid job.")
    jobs = await svc.schemas.ensure_class(JOB_STATUS)
    stamp = now()
    status = StoredObject(JOB_STATUS, new_object_id(), stamp, stamp).with_fields(
        {"jobName": name, "source": "api", "status": "running", "params": dict(params)})
    await svc.storage.create(jobs, status)

    def message(text: str) -> None:
        _keep(asyncio.get_running_loop().create_task(_set_status(svc, status.object_id, {"message": str(text)})))

    req = JobRequest(job_name=name, data=data_api(svc, ctx.as_master()), job_id=status.object_id, message=message,
                     params=decode_params(dict(params)))
    _keep(asyncio.get_running_loop().create_task(_run(svc, name, req)))
    return status.object_id
