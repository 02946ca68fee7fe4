"""/classes/{className}[/{objectId}]: decode the call → read or write pipeline → Parse-shaped reply."""

from __future__ import annotations

from engine.http import sessions, users
from engine.http.call import ApiCall, ApiResult, body_object
from engine.pipeline.read import run_find, run_get
from engine.pipeline.write import run_create, run_delete, run_update
from engine.query.options import find_options


def _options(call: ApiCall, single: bool = False):  # type: ignore[no-untyped-def]
    s = call.services.settings
    params = {k: v for k, v in call.query.items() if not (single and k == "where")}
    return find_options(params, default_limit=s.default_limit, max_limit=s.max_limit, single=single)


async def find(call: ApiCall) -> ApiResult:
    class_name = call.params["class_name"]
    opts = _options(call)
    results, count = await run_find(call.services, call.auth, class_name, call.query.get("where"), opts)
    body: dict[str, object] = {"results": results}
    if count is not None:
        body["count"] = count
    return ApiResult(body)


async def get(call: ApiCall) -> ApiResult:
    opts = _options(call, single=True)
    return ApiResult(await run_get(call.services, call.auth, call.params["class_name"], call.params["object_id"], opts))


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
