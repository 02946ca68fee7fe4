"""/classes/{className}[/{objectId}] (and its aliases /users, /roles, /sessions, /installations): decode → door →
encode. No rule lives here: the door applies them all, so /batch and the hook data API get the same answers."""

from __future__ import annotations

from engine.errors import ErrorCode, ParseError
from engine.http.call import ApiCall, ApiResult, body_object
from engine.pipeline import door

# Where a created object lives, for the `Location` header (Parse answers with the alias route).
_ALIASES = {"_User": "users", "_Session": "sessions", "_Installation": "installations"}


async def find(call: ApiCall) -> ApiResult:
    found = await door.find(call.services, call.ctx, call.params["class_name"], call.query)
    if found.explain is not None:
        return ApiResult({"results": found.explain})
    body: dict[str, object] = {"results": found.results}
    if found.count is not None:
        body["count"] = found.count
    if found.redirected_class is not None:
        body["className"] = found.redirected_class
    return ApiResult(body)


async def get(call: ApiCall) -> ApiResult:
    if "where" in call.query:
        raise ParseError(ErrorCode.INVALID_QUERY, "Improper encode of parameter")
    got = await door.get(call.services, call.ctx, call.params["class_name"], call.params["object_id"], call.query)
    return ApiResult(got)


async def create(call: ApiCall) -> ApiResult:
    class_name = call.params["class_name"]
    saved = await door.create(call.services, call.ctx, class_name, body_object(call))
    if not saved.created:
        return ApiResult(saved.body)
    alias = _ALIASES.get(class_name)
    where = alias if alias is not None else f"classes/{class_name}"
    location = f"{call.services.settings.public_url()}/{where}/{saved.object_id}"
    return ApiResult(saved.body, status=201, headers={"Location": location})


async def update(call: ApiCall) -> ApiResult:
    body = await door.update(call.services, call.ctx, call.params["class_name"], call.params["object_id"],
                             body_object(call))
    return ApiResult(body)


async def delete(call: ApiCall) -> ApiResult:
    await door.delete(call.services, call.ctx, call.params["class_name"], call.params["object_id"])
    return ApiResult({})
