"""/hooks/functions and /hooks/triggers (master key): Parse's HooksRouter over the `_Hooks` webhooks."""

from __future__ import annotations

from engine.http.call import ApiCall, ApiResult, body_object
from engine.pipeline import webhook_store


def _trigger_where(call: ApiCall) -> dict[str, str]:
    return {"className": call.params["class_name"], "triggerName": call.params["trigger_name"]}


async def get_functions(call: ApiCall) -> ApiResult:
    return ApiResult(await webhook_store.list_functions(call.services, call.ctx, call.params.get("function_name")))


async def get_triggers(call: ApiCall) -> ApiResult:
    where = _trigger_where(call) if "class_name" in call.params else {}
    return ApiResult(await webhook_store.list_triggers(call.services, call.ctx, where.get("className"),
                                                       where.get("triggerName")))


async def create(call: ApiCall) -> ApiResult:
    return ApiResult(await webhook_store.create_hook(call.services, call.ctx, body_object(call)))


async def put_function(call: ApiCall) -> ApiResult:
    # Parse's handlePut: `{"__op": "Delete"}` deletes, any other body sets the url.
    call.require_master()
    body = body_object(call)
    where = {"functionName": call.params["function_name"]}
    if body.get("__op") == "Delete":
        return ApiResult(await webhook_store.delete_hook(call.services, call.ctx, where))
    return ApiResult(await webhook_store.update_hook(call.services, call.ctx, {**where, "url": body.get("url")}))


async def put_trigger(call: ApiCall) -> ApiResult:
    call.require_master()
    body = body_object(call)
    where = _trigger_where(call)
    if body.get("__op") == "Delete":
        return ApiResult(await webhook_store.delete_hook(call.services, call.ctx, where))
    return ApiResult(await webhook_store.update_hook(call.services, call.ctx, {**where, "url": body.get("url")}))


async def delete_function(call: ApiCall) -> ApiResult:
    where = {"functionName": call.params["function_name"]}
    return ApiResult(await webhook_store.delete_hook(call.services, call.ctx, where))


async def delete_trigger(call: ApiCall) -> ApiResult:
    return ApiResult(await webhook_store.delete_hook(call.services, call.ctx, _trigger_where(call)))
