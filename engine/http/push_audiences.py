"""/push_audiences (master key): Parse's AudiencesRouter, `_Audience` rows with their `query` stored as JSON text.

Audiences are only stored and listed: this server sends no push (`/push` answers 115), and serverInfo says so
(`features.push.immediatePush` false, `pushAudiences` true).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from engine.http.call import ApiCall, ApiResult, body_object
from engine.http.classes import create as create_object
from engine.pipeline import door

AUDIENCE = "_Audience"


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    # Parse answers `query` parsed; a row whose text is not JSON is shown as stored rather than failing the list.
    if isinstance(row.get("query"), str):
        try:
            row["query"] = orjson.loads(row["query"])
        except orjson.JSONDecodeError:
            pass
    return row


async def _ready(call: ApiCall) -> None:
    # No class is made here: a read of a class that does not exist is empty (or 101), and door.create makes it on
    # the first write, so reading (a read-only master key too) writes nothing.
    call.require_master()


async def find(call: ApiCall) -> ApiResult:
    await _ready(call)
    found = await door.find(call.services, call.ctx, AUDIENCE, call.query)
    body: dict[str, Any] = {"results": [_decoded(dict(r)) for r in found.results]}
    if found.count is not None:
        body["count"] = found.count
    return ApiResult(body)


async def get(call: ApiCall) -> ApiResult:
    await _ready(call)
    row = await door.get(call.services, call.ctx, AUDIENCE, call.params["object_id"], {})
    return ApiResult(_decoded(dict(row)))


async def create(call: ApiCall) -> ApiResult:
    await _ready(call)
    return await create_object(replace(call, params={"class_name": AUDIENCE}))


async def update(call: ApiCall) -> ApiResult:
    await _ready(call)
    return ApiResult(await door.update(call.services, call.ctx, AUDIENCE, call.params["object_id"], body_object(call)))


async def delete(call: ApiCall) -> ApiResult:
    await _ready(call)
    await door.delete(call.services, call.ctx, AUDIENCE, call.params["object_id"])
    return ApiResult({})
