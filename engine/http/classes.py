"""/classes/{className}[/{objectId}]: decode the call → read or write pipeline → Parse-shaped reply."""

from __future__ import annotations

from engine.errors import ErrorCode, ParseError
from engine.http import installations, sessions, users
from engine.http.call import ApiCall, ApiResult, body_object
from engine.pipeline.read import run_find, run_get
from engine.pipeline.write import run_create, run_delete, run_update


def _installations_master_only(call: ApiCall, operation: str) -> None:
    if call.params["class_name"] == "_Installation" and not call.auth.is_master:
        raise ParseError(ErrorCode.OPERATION_FORBIDDEN,
                         f"Clients aren't allowed to perform the {operation} operation on the installation collection.")


async def find(call: ApiCall) -> ApiResult:
    _installations_master_only(call, "find")
    class_name = call.params["class_name"]
    found = await run_find(call.services, call.auth, class_name, call.query)
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
    got = await run_get(call.services, call.auth, call.params["class_name"], call.params["object_id"], call.query)
    return ApiResult(got)


async def create(call: ApiCall) -> ApiResult:
    class_name = call.params["class_name"]
    # Users and sessions carry secrets (password hashes, tokens): only their own logic writes them.
    if class_name == "_User":
        return await users.signup(call)
    if class_name == "_Session":
        return await sessions.create(call)
    if class_name == "_Installation":
        return await installations.create(call)
    created = await run_create(call.services, call.auth, class_name, body_object(call))
    location = f"{call.services.settings.public_url()}/classes/{class_name}/{created.object_id}"
    return ApiResult(created.body, status=201, headers={"Location": location})


async def update(call: ApiCall) -> ApiResult:
    class_name = call.params["class_name"]
    if class_name == "_User":
        return await users.update(call)
    if class_name == "_Installation":
        return await installations.update(call)
    body = await run_update(call.services, call.auth, class_name, call.params["object_id"], body_object(call))
    return ApiResult(body)


async def delete(call: ApiCall) -> ApiResult:
    _installations_master_only(call, "delete")
    class_name = call.params["class_name"]
    if class_name == "_User":
        return await users.delete(call)
    await run_delete(call.services, call.auth, class_name, call.params["object_id"])
    return ApiResult({})
