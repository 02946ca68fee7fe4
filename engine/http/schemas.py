"""/schemas (master key only): read and change the declared classes the way Parse Dashboard does."""

from __future__ import annotations

from engine.http.call import ApiCall, ApiResult, body_object
from engine.schema.model import MASTER_ONLY_CLASSES
from engine.schema.rest import class_to_rest_json
from engine.security.class_access import check_append_only_schema


async def list_all(call: ApiCall) -> ApiResult:
    call.require_master()
    # Parse keeps its internal classes (`_JobStatus`, `_Idempotency`, ...) out of `_SCHEMA`, so the listing never
    # shows them; each can still be read by name.
    return ApiResult({"results": [class_to_rest_json(c) for c in call.services.schemas.all()
                                  if c.name not in MASTER_ONLY_CLASSES]})


async def get_one(call: ApiCall) -> ApiResult:
    call.require_master()
    return ApiResult(class_to_rest_json(call.services.schemas.require(call.params["class_name"])))


async def create(call: ApiCall) -> ApiResult:
    call.require_master()
    cls = await call.services.schemas.create_class(body_object(call), call.params.get("class_name"))
    return ApiResult(class_to_rest_json(cls, id_index="never"))


async def update(call: ApiCall) -> ApiResult:
    call.require_master()
    if _deletes_something(call):
        # A field delete unsets it on every object; an index delete could drop the guard that keeps a chain linear.
        check_append_only_schema(call.params["class_name"], call.services.settings.append_only_classes,
                                 "deleting a field or an index")
    cls = await call.services.schemas.update_class(call.params["class_name"], body_object(call))
    return ApiResult(class_to_rest_json(cls, id_index="always" if "indexes" in body_object(call) else "when-others"))


async def delete(call: ApiCall) -> ApiResult:
    call.require_master()
    check_append_only_schema(call.params["class_name"], call.services.settings.append_only_classes,
                             "dropping the class")
    await call.services.schemas.delete_class(call.params["class_name"])
    return ApiResult({})


def _deletes_something(call: ApiCall) -> bool:
    body = body_object(call)
    return any(isinstance(part, dict) and any(isinstance(spec, dict) and spec.get("__op") == "Delete"
                                              for spec in part.values())
               for part in (body.get("fields"), body.get("indexes")))
