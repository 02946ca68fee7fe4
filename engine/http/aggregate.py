"""GET /aggregate/{className} (master key): `pipeline`, or `distinct` + `where`."""

from __future__ import annotations

from typing import Any

import orjson

from engine.errors import ErrorCode, ParseError
from engine.http.call import ApiCall, ApiResult
from engine.pipeline.aggregate import run_aggregate, run_distinct

ALLOWED = frozenset({"pipeline", "distinct", "where", "hint", "explain", "readPreference", "rawValues",
                     "rawFieldNames", "comment", "includeReadPreference", "subqueryReadPreference"})


def _json_param(value: Any, name: str) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ParseError(ErrorCode.INVALID_JSON, f"{name} is not valid JSON") from exc
    return value


async def aggregate(call: ApiCall) -> ApiResult:
    call.require_master()
    params = {**call.query, **call.body}
    for key in params:
        if key not in ALLOWED:
            raise ParseError(ErrorCode.INVALID_QUERY, f"Invalid parameter for query: {key}")
    cls = call.services.schemas.require(call.params["class_name"])
    if "distinct" in params:
        where = _json_param(params.get("where"), "where")
        return ApiResult({"results": await run_distinct(call.services, cls, params["distinct"], where)})
    if "pipeline" not in params:
        raise ParseError(ErrorCode.INVALID_QUERY, "pipeline or distinct is required")
    pipeline = _json_param(params["pipeline"], "pipeline")
    return ApiResult({"results": await run_aggregate(call.services, cls, pipeline)})
