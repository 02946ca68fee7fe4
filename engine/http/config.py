"""/config (Parse.Config), /purge/{className} and /push (answered: push is not configured)."""

from __future__ import annotations

from engine.errors import ErrorCode, ParseError
from engine.http.call import ApiCall, ApiResult, body_object
from engine.pipeline import door
from engine.pipeline.config import read_config, update_config


async def get_config(call: ApiCall) -> ApiResult:
    return ApiResult(await read_config(call.services, call.ctx))


async def put_config(call: ApiCall) -> ApiResult:
    await update_config(call.services, call.ctx, body_object(call))
    return ApiResult({"result": True})


async def purge(call: ApiCall) -> ApiResult:
    await door.purge(call.services, call.ctx, call.params["class_name"])
    return ApiResult({})


async def push(call: ApiCall) -> ApiResult:
    call.require_master()
    raise ParseError(ErrorCode.PUSH_MISCONFIGURED, "Missing push configuration: push is not configured on this server.")
