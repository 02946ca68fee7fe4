"""/schemas: decode the call → pipeline/schemas.py (where the master-key rule lives) → Parse's class JSON."""

from __future__ import annotations

from engine.http.call import ApiCall, ApiResult, body_object
from engine.pipeline import schemas
from engine.schema.rest import class_to_rest_json


async def list_all(call: ApiCall) -> ApiResult:
    return ApiResult({"results": [class_to_rest_json(c) for c in schemas.list_classes(call.services, call.ctx)]})


async def get_one(call: ApiCall) -> ApiResult:
    return ApiResult(class_to_rest_json(schemas.get_class(call.services, call.ctx, call.params["class_name"])))


async def create(call: ApiCall) -> ApiResult:
    cls = await schemas.create_class(call.services, call.ctx, body_object(call), call.params.get("class_name"))
    return ApiResult(class_to_rest_json(cls, id_index="never"))


async def update(call: ApiCall) -> ApiResult:
    body = body_object(call)
    cls = await schemas.update_class(call.services, call.ctx, call.params["class_name"], body)
    return ApiResult(class_to_rest_json(cls, id_index="always" if "indexes" in body else "when-others"))


async def delete(call: ApiCall) -> ApiResult:
    await schemas.delete_class(call.services, call.ctx, call.params["class_name"])
    return ApiResult({})
