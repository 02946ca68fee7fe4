"""/classes/{className}[/{objectId}]: decode the call → read or write pipeline → Parse-shaped reply."""

from __future__ import annotations

from engine.errors import ErrorCode, ParseError
from engine.http import sessions, users
from engine.http.call import ApiCall, ApiResult, body_object
from engine.pipeline.read import run_find, run_get
from engine.pipeline.write import run_create, run_delete, run_update


async def find(call: ApiCall) -> ApiResult:
    class_name = call.params["class_name"]
    results, count = await run_find(call.services, call.auth, class_name, call.query)
    body: dict[str, object] = {"results": results}
    if count is not None:
        body["count"] = count
    return ApiResult(body)


async def get(call: ApiCall) -> ApiResult:
    if "where" in call.query:
        raise ParseError(ErrorCode.INVALID_QUERY, "Improper encode of parameter")
    got = await run_get(call.services, call.auth, call.params["class_name"], call.params["object_id"], call.query)
    return ApiResult(got)


async def create(call: ApiCall) -> ApiResult:
    class_name = call.params["class_name"]
    # Users and sessions carry secrets (password hashes, tokens): only their own logic writes them.
    if class_name == "_User":
        return await users.signup(call)
    if class_name == "_Session":
        return await sessions.create(call)
    created = await run_create(call.services, call.auth, class_name, body_object(call))
    location = f"{call.services.settings.public_url()}/classes/{class_name}/{created.object_id}"
    return ApiResult(created.body, status=201, headers={"Location": location})


async def update(call: ApiCall) -> ApiResult:
    class_name = call.params["class_name"]
    if class_name == "_User":
        return await users.update(call)
    body = await run_update(call.services, call.auth, class_name, call.params["object_id"], body_object(call))
    return ApiResult(body)


async def delete(call: ApiCall) -> ApiResult:
    class_name = call.params["class_name"]
    if class_name == "_User":
        return await users.delete(call)
    await run_delete(call.services, call.auth, class_name, call.params["object_id"])
    return ApiResult({})
