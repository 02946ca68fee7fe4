"""/config (Parse.Config), /purge/{className} and /push (answered: push is not configured)."""

from __future__ import annotations

from engine.errors import ErrorCode, ParseError
from engine.http.call import ApiCall, ApiResult, body_object
from engine.pipeline.config import read_config, update_config
from engine.query.where import MATCH_ALL


async def get_config(call: ApiCall) -> ApiResult:
    return ApiResult(await read_config(call.services, master=call.auth.is_master))


async def put_config(call: ApiCall) -> ApiResult:
    call.require_master()
    await update_config(call.services, body_object(call))
    return ApiResult({"result": True})


async def purge(call: ApiCall) -> ApiResult:
    """Every object of the class goes; the class and its schema stay."""
    call.require_master()
    svc = call.services
    cls = svc.schemas.require(call.params["class_name"])
    await svc.storage.delete(cls, MATCH_ALL)
    if cls.name == "_Role":
        svc.roles.clear()
    return ApiResult({})


async def push(call: ApiCall) -> ApiResult:
    call.require_master()
    raise ParseError(ErrorCode.PUSH_MISCONFIGURED, "Missing push configuration: push is not configured on this server.")
