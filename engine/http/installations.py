"""/installations writes: a device saves its own record, de-duplicated (find and delete live in classes.py)."""

from __future__ import annotations

from engine.http.call import ApiCall, ApiResult, body_object
from engine.pipeline.installations import create_installation, update_installation


async def create(call: ApiCall) -> ApiResult:
    saved = await create_installation(call.services, call.auth, body_object(call))
    if not saved.created:
        return ApiResult(saved.body)
    location = f"{call.services.settings.public_url()}/installations/{saved.object_id}"
    return ApiResult(saved.body, status=201, headers={"Location": location})


async def update(call: ApiCall) -> ApiResult:
    return ApiResult(await update_installation(call.services, call.auth, call.params["object_id"], body_object(call)))
