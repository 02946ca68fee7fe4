"""Cloud functions (`POST /functions/<name>`): the caller's params decoded, the function run as the caller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.cloud.objects import CloudObject, encode_result
from engine.cloud.request import FunctionRequest
from engine.cloud.runner import run_function
from engine.pipeline.context import RequestContext, Services
from engine.pipeline.hooks import data_api, user_object
from engine.wire import decode


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


async def call_function(svc: Services, ctx: RequestContext, name: str, params: Mapping[str, Any]) -> Any:
    """The function's result, as wire JSON; its `req.data` acts as the caller, through the same door."""
    auth = ctx.auth
    req = FunctionRequest(function_name=name, data=data_api(svc, ctx), params=decode_params(dict(params)),
                          user=await user_object(svc, auth), master=auth.is_master,
                          installation_id=auth.installation_id, ip=ctx.ip, headers=ctx.headers,
                          context=ctx.cloud_context)
    result = await run_function(svc.cloud, name, req, svc.settings.hook_timeout, user_roles=auth.role_names)
    return encode_result(result)
